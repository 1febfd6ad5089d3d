/** `mdlc export`: the files it writes, usage errors (exit 2), model and data errors (exit 1, one line). */
import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../../src/cli/main.js';
import { sampleText } from '../export/text.js';

const tmp = mkdtempSync(join(tmpdir(), 'mdlc-cli-export-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const data = join(tmp, 'text.txt');
writeFileSync(data, sampleText(5000));

async function run(...argv: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(argv, { out: (s) => out.push(s), err: (s) => err.push(s), color: false });
  return { code, out: out.join('\n'), err: err.join('\n') };
}

describe('mdlc export', () => {
  it('writes model.py, train.py and model.mdl for the model at the sizes --set gives', async () => {
    const out = join(tmp, 'tf');
    const r = await run('export', 'models/transformer.mdl', '--target', 'pytorch', '--data', data, '--out', out, '--set', 'layers=3', '--set', 'embed=24');
    expect(r.code, r.err).toBe(0);
    expect(r.out).toContain(`exported transformer to ${out}/: model.py, train.py, model.mdl`);
    expect(readdirSync(out).sort()).toEqual(['model.mdl', 'model.py', 'train.py']);
    const model = readFileSync(join(out, 'model.py'), 'utf8');
    expect(model).toContain('class Transformer(nn.Module):');
    expect(model).toContain('nn.ModuleList(BlocksLayer() for _ in range(3))');
    expect(model).toContain('EMBED = 24');
    expect(readFileSync(join(out, 'train.py'), 'utf8')).toContain('"overrides": {"layers": 3, "embed": 24},');
    expect(readFileSync(join(out, 'model.mdl'), 'utf8')).toBe(readFileSync('models/transformer.mdl', 'utf8'));
  });

  it('needs a known --target (exit 2)', async () => {
    for (const [args, message] of [
      [[], 'export needs --target (pytorch)'],
      [['--target', 'jax'], "--target must be pytorch, got 'jax'"],
    ] as const) {
      const r = await run('export', 'models/transformer.mdl', ...args, '--data', data);
      expect(r.code).toBe(2);
      expect(r.err).toContain(message);
    }
  });

  it('reports model errors with diagnostics and data errors in one line (exit 1)', async () => {
    const bad = await run('export', 'tests/fixtures/check/E0602-mask-key-ge-seq.mdl', '--target', 'pytorch', '--data', data, '--out', join(tmp, 'bad'));
    expect(bad.code).toBe(1);
    expect(bad.err).toContain('error[E0602]');
    const missing = await run('export', 'models/transformer.mdl', '--target', 'pytorch', '--data', join(tmp, 'nope.txt'), '--out', join(tmp, 'nope'));
    expect(missing.code).toBe(1);
    expect(missing.err).toBe(`mdlc: data file ${join(tmp, 'nope.txt')} does not exist`);
  });

  it('refuses a model PyTorch cannot hold as written, in one line (exit 1)', async () => {
    const file = join(tmp, 'shadow.mdl');
    writeFileSync(file, readFileSync('models/transformer.mdl', 'utf8').replaceAll('wpe', 'modules'));
    const r = await run('export', file, '--target', 'pytorch', '--data', data, '--set', 'layers=1', '--out', join(tmp, 'shadow'));
    expect(r.code).toBe(1);
    expect(r.err).toBe('mdlc: parameter `modules` is named `modules`, which a PyTorch module cannot have as an attribute; rename it in the .mdl');
  });
});
