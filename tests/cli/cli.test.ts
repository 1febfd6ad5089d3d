/**
 * The `mdlc` command line: exit codes, output formats, bad input, and training on the cpu
 * backend (the --overfit sanity check).
 */
import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run } from '../helpers/cli.js';

const tmp = mkdtempSync(join(tmpdir(), 'mdlc-cli-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const TINY = ['--set', 'embed=16', '--set', 'seq=8', '--set', 'layers=1', '--set', 'heads=2', '--batch', '4'];
const text = 'First Citizen:\nBefore we proceed any further, hear me speak.\n\nAll:\nSpeak, speak.\n'.repeat(40);
const dataFile = join(tmp, 'data.txt');
writeFileSync(dataFile, text);

describe('mdlc check', () => {
  it('exits 0 on the reference models', async () => {
    const r = await run('check', 'models/transformer.mdl', 'models/autoencoder.mdl');
    expect(r.code).toBe(0);
    expect(r.err).toContain('models/transformer.mdl: ok');
  });

  it('prints three diagnostics for a file with three syntax errors, with carets, and exits 1', async () => {
    const r = await run('check', 'tests/fixtures/syntax/three-errors.mdl');
    expect(r.code).toBe(1);
    expect(r.err.match(/^error\[E01\d\d\]/gm)?.length).toBe(3);
    expect(r.err).toMatch(/\n\s*\|\s*\^+/);
    expect(r.err).not.toMatch(/at .*\.(ts|js):\d+/);
  });

  it('reports checker errors with a help line', async () => {
    const r = await run('check', 'tests/fixtures/check/E0602-mask-key-ge-seq.mdl');
    expect(r.code).toBe(1);
    expect(r.err).toContain('error[E0602]');
    expect(r.err).toMatch(/= help: /);
  });

  it('--format json prints every diagnostic machine-readably', async () => {
    const r = await run('check', '--format', 'json', 'tests/fixtures/syntax/three-errors.mdl');
    expect(r.code).toBe(1);
    const doc = JSON.parse(r.out);
    expect(doc.diagnostics).toHaveLength(3);
    for (const d of doc.diagnostics) expect(d).toMatchObject({ code: expect.stringMatching(/^E01/), severity: 'error', file: 'tests/fixtures/syntax/three-errors.mdl', line: expect.any(Number), column: expect.any(Number) });
  });

  it('--format json prints an empty list for a clean file', async () => {
    const r = await run('check', '--format=json', 'models/transformer.mdl');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.out).diagnostics).toEqual([]);
  });

  it('--format github prints workflow annotations', async () => {
    const r = await run('check', '--format', 'github', 'tests/fixtures/syntax/three-errors.mdl');
    expect(r.code).toBe(1);
    const lines = r.out.split('\n').filter(Boolean);
    expect(lines).toHaveLength(3);
    for (const l of lines) expect(l).toMatch(/^::error file=tests\/fixtures\/syntax\/three-errors\.mdl,line=\d+,col=\d+,endLine=\d+,endColumn=\d+,title=E01\d\d::E01\d\d: /);
  });

  it('re-checks with --set overrides (128 is not divisible by 3)', async () => {
    const r = await run('check', 'models/transformer.mdl', '--set', 'heads=3');
    expect(r.code).toBe(1);
    expect(r.err).toContain('E0204');
  });

  it('exits 2 with one line on usage errors', async () => {
    for (const argv of [['check', '--bogus', 'models/transformer.mdl'], ['check', 'no/such/file.mdl'], ['check'], ['frobnicate'], ['check', '--format', 'xml', 'models/transformer.mdl'], []]) {
      const r = await run(...argv);
      expect(r.code, argv.join(' ')).toBe(2);
      expect(r.err.split('\n')[0]).toMatch(/^mdlc: |^$/);
    }
  });

  it('runs as a process through bin/mdlc.js', () => {
    if (!existsSync('dist/src/cli/main.js')) throw new Error('run `npm run build` (npm ci does it) before the tests');
    const r = spawnSync(process.execPath, ['bin/mdlc.js', 'check', 'models/transformer.mdl'], { encoding: 'utf8' });
    expect(r.status).toBe(0);
    const bad = spawnSync(process.execPath, ['bin/mdlc.js', 'check', 'tests/fixtures/syntax/three-errors.mdl'], { encoding: 'utf8' });
    expect(bad.status).toBe(1);
  });
});

describe('mdlc build', () => {
  it('--emit ir prints each node with its type and .mdl line', async () => {
    const r = await run('build', 'models/transformer.mdl', '--data', dataFile, '--emit', 'ir', ...TINY);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/%\d+ = contract over embed\(%\d+, %\d+\) : f32\[batch, seq, heads, head\] +# q {2}transformer\.mdl:\d+/);
  });

  it('--emit kernels prints the kernel IR after each pass, and rejects other values', async () => {
    const r = await run('build', 'models/transformer.mdl', '--data', dataFile, '--emit', 'kernels', ...TINY);
    expect(r.code).toBe(0);
    const passes = [...r.out.matchAll(/^== after ([\w-]+)$/gm)].map((m) => m[1]);
    expect(passes[0]).toBe('lower');
    expect(passes).toContain('segment-updates');
    expect(r.out).toMatch(/^k\d+_gemm: gemm batch \[.*\] m \[.*\] n \[.*\] k \[embed=16\]; reads %\d+/m);
    const bad = await run('build', 'models/transformer.mdl', '--data', dataFile, '--emit', 'wgsl', ...TINY);
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(/--emit must be 'ir' or 'kernels', got 'wgsl'/);
  });
});

describe('mdlc train --backend interpreter', () => {
  it('overfits one batch of the tiny transformer below 0.05', async () => {
    const r = await run('train', 'models/transformer.mdl', '--backend', 'interpreter', '--data', dataFile, '--overfit', ...TINY, '--set', 'lr=0.01', '--steps', '300', '--run-dir', join(tmp, 'overfit'));
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/overfit: ok, the loss reached 0\.0\d+ < 0\.05/);
  }, 120000);

  it('gives a one-line error and exit 1 for a missing, empty, non-UTF-8 or too-short data file', async () => {
    const empty = join(tmp, 'empty.txt');
    writeFileSync(empty, '');
    const binary = join(tmp, 'binary.txt');
    writeFileSync(binary, Buffer.from([0x66, 0xff, 0xfe, 0x00, 0x80]));
    const short = join(tmp, 'short.txt');
    writeFileSync(short, 'abc');
    for (const [file, why] of [
      [join(tmp, 'missing.txt'), /does not exist/],
      [empty, /is empty/],
      [binary, /not valid UTF-8/],
      [short, /shorter than one window/],
    ] as const) {
      const r = await run('train', 'models/transformer.mdl', '--backend', 'interpreter', '--data', file, ...TINY);
      expect(r.code, file).toBe(1);
      expect(r.err.trim().split('\n')).toHaveLength(1);
      expect(r.err).toMatch(why);
    }
  });

  it('rejects a bad --set at check time', async () => {
    const r = await run('train', 'models/transformer.mdl', '--backend', 'interpreter', '--data', dataFile, '--set', 'bogus=3');
    expect(r.code).toBe(1);
    expect(r.err).toContain('E1004');
  });
});
