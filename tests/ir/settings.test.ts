/**
 * Train settings are validated by one table (SETTING_RULES): the train section, `--set` and
 * the CLI's shorthands agree, and `--set` refuses dims it must not replace.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import { compileSource } from '../../src/driver/index.js';
import { SETTING_RULES } from '../../src/ir/elaborate/train.js';

const TINY_PATH = join(import.meta.dirname, '..', 'fixtures', 'check', 'good', 'tiny-transformer.mdl');
const TINY = readFileSync(TINY_PATH, 'utf8');
const withSet = (sets: [string, number][], text = TINY) => compileSource({ path: 'm.mdl', text }, { overrides: new Map(sets) });

async function cli(...argv: string[]) {
  const err: string[] = [];
  const code = await main(argv, { out: () => {}, err: (s) => err.push(s), color: false });
  return { code, err: err.join('\n') };
}

describe('one table for the file and --set', () => {
  const cases: [string, string, number][] = [
    ['steps', '  steps     = 20', 0],
    ['steps', '  steps     = 20', 2.5],
    ['clip', '  clip      = 1.0', -1],
    ['clip', '  clip      = 1.0', Infinity],
  ];
  for (const [name, line, bad] of cases) {
    it(`${name} = ${bad} is refused in the file (E1002) and by --set (E1004) with the same words`, () => {
      const inFile = compileSource({ path: 'm.mdl', text: TINY.replace(line, `  ${name} = ${bad === Infinity ? 'inf' : bad}`) });
      expect(inFile.diagnostics.map((d) => d.code)).toEqual(['E1002']);
      const rule = SETTING_RULES[name as keyof typeof SETTING_RULES].what;
      expect(inFile.diagnostics[0].message).toBe(`\`${name}\` must be ${rule}, found ${bad}`);
      if (Number.isFinite(bad)) {
        const set = withSet([[name, bad]]);
        expect(set.diagnostics.map((d) => `${d.code} ${d.message}`)).toEqual([`E1004 --set ${name}=${bad}: \`${name}\` must be ${rule}`]);
      }
    });
  }

  it('accepts the smallest valid values', () => {
    const r = withSet([['steps', 1], ['clip', 0], ['warmup', 0], ['min_lr', 0], ['eval_every', 1]]);
    expect(r.diagnostics).toEqual([]);
    expect(r.model!.train.steps).toBe(1);
  });

  it('an adamw argument uses the same rules (an infinite lr is refused)', () => {
    const r = compileSource({ path: 'm.mdl', text: TINY.replace('adamw(lr: 1e-3', 'adamw(lr: inf') });
    expect(r.diagnostics.map((d) => `${d.code} ${d.message}`)).toEqual([`E1002 \`lr:\` must be ${SETTING_RULES.lr.what}, found Infinity`]);
  });
});

describe('settings checked together', () => {
  it('min_lr above lr, from --set, is E1004', () => {
    const r = withSet([['lr', 1e-5]]);
    expect(r.diagnostics.map((d) => `${d.code} ${d.message}`)).toEqual(['E1004 --set: `min_lr` (0.0001) is above `lr` (0.00001): the schedule decays from lr down to min_lr']);
    expect(withSet([['min_lr', 0.5]]).diagnostics.map((d) => d.code)).toEqual(['E1004']);
    expect(withSet([['min_lr', 1e-3]]).diagnostics).toEqual([]);
  });
});

describe('--set of a dim', () => {
  it('refuses a dim bound from the data', () => {
    const r = withSet([['vocab', 10]]);
    expect(r.diagnostics.map((d) => `${d.code} ${d.message}`)).toEqual(['E1004 --set vocab=10: `vocab` is bound from the data (`data.vocab`), so it cannot be set']);
    expect(r.diagnostics[0].help).toMatch(/--vocab N/);
  });

  it('refuses a dim computed from others, naming them', () => {
    const r = withSet([['head', 7]]);
    expect(r.diagnostics.map((d) => `${d.code} ${d.message}`)).toEqual(['E1004 --set head=7: `head` is computed from other dims (`head = embed / heads`), so it cannot be set']);
    expect(r.diagnostics[0].help).toBe('set `embed` or `heads` instead');
  });

  it('still sets a dim the file gives a number, and those computed from it follow', () => {
    const r = withSet([['embed', 32]]);
    expect(r.diagnostics).toEqual([]);
    expect(r.model!.dims.get('head')!.value).toBe(16);
  });
});

describe('the CLI shorthands', () => {
  it('--steps 0 and --set steps=0 give the same error and exit code', async () => {
    const a = await cli('check', TINY_PATH, '--set', 'steps=0');
    const b = await cli('train', TINY_PATH, '--backend', 'interpreter', '--steps', '0');
    expect(a.code).toBe(1);
    expect(b.code).toBe(1);
    const line = `--set steps=0: \`steps\` must be ${SETTING_RULES.steps.what}`;
    expect(a.err).toContain(line);
    expect(b.err).toContain(line);
  });

  it('a value that is not a number is a usage error (exit 2)', async () => {
    for (const argv of [['--steps', 'many'], ['--seed', ''], ['--set', 'steps=']]) {
      const r = await cli('build', TINY_PATH, '--emit', 'ir', ...argv);
      expect(r.code, argv.join(' ')).toBe(2);
    }
  });
});
