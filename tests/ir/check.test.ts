/**
 * The static checker, driven by fixtures: every file under tests/fixtures/check/ states what
 * it must produce in comments, and the test compares that with the diagnostics.
 *
 *   `... # expect: E0501`        a diagnostic with this code on this line (several codes may follow)
 *   `# expect-file: E1004`       a diagnostic about the whole file (no source position)
 *   `# set: heads=3, embed=32`   compile with these `--set` overrides
 *
 * The comparison is exact: every expected (code, line) must be reported, and nothing else may
 * be (errors and warnings alike). Files under good/ must check clean: no diagnostics at all.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { compileFile, compileSource, type CompileOptions } from '../../src/driver/index.js';
import { CATALOG, type Diagnostic } from '../../src/diagnostics/index.js';

const FIXTURES = join(import.meta.dirname, '..', 'fixtures', 'check');
const GOOD = join(FIXTURES, 'good');
const MODELS = join(import.meta.dirname, '..', '..', 'models');

const mdlFiles = (dir: string) =>
  readdirSync(dir)
    .filter((f) => f.endsWith('.mdl'))
    .sort();

interface Fixture {
  expected: string[];
  options: CompileOptions;
}

/** Read the expectations and options a fixture states in its comments. */
function readFixture(text: string): Fixture {
  const expected: string[] = [];
  const overrides = new Map<string, number>();
  text.split('\n').forEach((line, i) => {
    const e = /#\s*expect:\s*([A-Z]\d{4}(?:[\s,]+[A-Z]\d{4})*)/.exec(line);
    if (e) for (const code of e[1].split(/[\s,]+/)) expected.push(`${code}@${i + 1}`);
    const f = /^#\s*expect-file:\s*([A-Z]\d{4}(?:[\s,]+[A-Z]\d{4})*)/.exec(line);
    if (f) for (const code of f[1].split(/[\s,]+/)) expected.push(`${code}@file`);
    const s = /^#\s*set:\s*(.+)$/.exec(line);
    if (s) {
      for (const kv of s[1].split(',')) {
        const [k, v] = kv.split('=').map((x) => x.trim());
        overrides.set(k, Number(v));
      }
    }
  });
  return { expected: expected.sort(), options: overrides.size ? { overrides } : {} };
}

/** `CODE@LINE`, or `CODE@file` for a diagnostic about the whole file. */
const key = (d: Diagnostic) => `${d.code}@${d.span.start === 0 && d.span.end === 0 ? 'file' : d.span.line}`;

const show = (ds: readonly Diagnostic[]) => ds.map((d) => `${key(d)} ${d.severity}: ${d.message}`).join('\n');

function check(path: string) {
  const text = readFileSync(path, 'utf8');
  const fx = readFixture(text);
  const result = compileSource({ path, text }, fx.options);
  // A list, not a set: the same diagnostic reported twice (say once per repeat) is a failure.
  const actual = result.diagnostics.map(key).sort();
  return { fx, result, actual };
}

describe('bad fixtures report exactly the expected diagnostics', () => {
  for (const file of mdlFiles(FIXTURES)) {
    it(file, () => {
      const { fx, result, actual } = check(join(FIXTURES, file));
      const code = /^([EW]\d{4})-/.exec(file)?.[1];
      expect(code, 'fixture names start with the code they are about').toBeDefined();
      expect(fx.expected.map((e) => e.split('@')[0]), 'the fixture expects the code its name gives').toContain(code);
      expect(actual, show(result.diagnostics)).toEqual(fx.expected);
      expect(result.ok).toBe(CATALOG[code as keyof typeof CATALOG].severity !== 'error');
      for (const d of result.diagnostics) {
        expect(d.severity).toBe(CATALOG[d.code].severity);
        expect(d.message.length).toBeGreaterThan(0);
      }
    });
  }
});

describe('good fixtures check clean', () => {
  for (const file of mdlFiles(GOOD)) {
    it(`good/${file}`, () => {
      const { fx, result } = check(join(GOOD, file));
      expect(fx.expected).toEqual([]);
      expect(show(result.diagnostics)).toBe('');
      expect(result.ok).toBe(true);
      expect(result.model).toBeDefined();
    });
  }
});

describe('fixture coverage', () => {
  it('every diagnostic code of the checker stages has a bad fixture', () => {
    const ranges: [string, number, number][] = [
      ['E02', 1, 12],
      ['E03', 1, 11],
      ['E04', 1, 2],
      ['E05', 1, 5],
      ['E06', 1, 2],
      ['E07', 1, 4],
      ['W08', 1, 3],
      ['E10', 1, 4],
      ['E12', 1, 1],
      ['W12', 2, 2],
    ];
    const codes = ranges.flatMap(([p, a, b]) => Array.from({ length: b - a + 1 }, (_, i) => `${p}${String(a + i).padStart(2, '0')}`));
    const covered = new Set(mdlFiles(FIXTURES).map((f) => f.slice(0, 5)));
    for (const c of codes) expect(CATALOG).toHaveProperty(c);
    expect(codes.filter((c) => !covered.has(c))).toEqual([]);
  });
});

/**
 * Correct models that look like each newer rule's mistake (all under good/, so they must
 * check clean): at least two per rule.
 */
const LOOK_ALIKES: Record<string, string[]> = {
  E0311: ['explicit-broadcast.mdl', 'tiny-transformer.mdl'],
  E0502: ['weighted-sum-against-renamed-values.mdl', 'distribution-statistics.mdl'],
  E0504: ['causal-uniform-average.mdl', 'tiny-transformer.mdl'],
  E0505: ['distribution-statistics.mdl', 'tiny-transformer.mdl'],
  E0602: ['sliding-window-attention.mdl', 'sliding-window-nested.mdl', 'causal-mask-keep-form.mdl'],
  E1201: ['tiny-transformer.mdl', 'sliding-window-attention.mdl', 'prefix-lm.mdl', 'tiny-autoencoder.mdl', 'mask-as-large-negative.mdl', 'late-rows-see-early-keys.mdl'],
  W1202: ['tiny-transformer.mdl', 'tiny-autoencoder.mdl'],
};

describe('look-alikes of the newer rules', () => {
  for (const [code, files] of Object.entries(LOOK_ALIKES)) {
    it(`${code} has at least two correct look-alikes that check clean`, () => {
      expect(files.length).toBeGreaterThanOrEqual(2);
      for (const f of files) {
        const { result } = check(join(GOOD, f));
        expect(show(result.diagnostics), f).toBe('');
      }
    });
  }
});

describe('reference models', () => {
  for (const name of ['transformer', 'autoencoder']) {
    it(`${name}.mdl checks with no diagnostics`, () => {
      const r = compileFile(join(MODELS, `${name}.mdl`));
      expect(show(r.diagnostics)).toBe('');
      expect(r.ok).toBe(true);
    });
    it(`${name}.mdl checks clean with the data bound`, () => {
      const r = compileFile(join(MODELS, `${name}.mdl`), { data: { vocab: 65 } });
      expect(show(r.diagnostics)).toBe('');
      expect(r.model!.dims.get('vocab')!.value).toBe(65);
    });
  }
});

const transformerText = () => readFileSync(join(MODELS, 'transformer.mdl'), 'utf8');
const lineOf = (text: string, needle: string) => text.split('\n').findIndex((l) => l.includes(needle)) + 1;

describe('checker behaviour', () => {
  it('reports every independent error of a file, each at its line', () => {
    const path = join(GOOD, 'tiny-transformer.mdl');
    const text = readFileSync(path, 'utf8')
      .replace('dim layers = 2', 'dim layers = 2\ndim third  = embed / 3')
      .replace('param wpe[seq, embed]   init normal(0.02)', 'param wpe[seq, embed]   init normal(0.02)\nparam bias[embed] init normal(-1)')
      .replace('  h = gelu(x . w1 over embed + b1)', '  h = gelu(x . w1 over hidden + b1)')
      .replace('window: seq + 1)', 'window: seq)')
      .replace('  steps     = 20', '  steps     = 20\n  epochs    = 3\n  lr blocks.*.attn.wq = 0.5 * lr')
      .replace('  clip      = 1.0', '  clip      = -1.0');
    const r = compileSource({ path: 'several.mdl', text });
    const at = (code: string, needle: string) => `${code}@${lineOf(text, needle)}`;
    expect(r.ok).toBe(false);
    expect(r.diagnostics.map(key).sort()).toEqual(
      [
        at('E0204', 'dim third'),
        at('E0210', 'param bias'),
        at('E0302', 'over hidden + b1'),
        at('E0701', 'targets   = data'),
        at('E1001', 'epochs'),
        at('E1002', 'clip      = -1.0'),
        at('E1003', 'attn.wq'),
      ].sort(),
    );
  });

  it('reports distribution and NaN errors of one block together', () => {
    const text = transformerText()
      .replace('s = where(key > seq, -inf, s)', 's = where(key >= seq, -inf, s)')
      .replace('  v = (x . wv over embed) as [seq -> key]', '  v = x . wv over embed')
      .replace('return (p . v over key) . wo over (heads, head)', 'o = sum(p * v, over: key)\n  return o . wo over (heads, head)');
    const r = compileSource({ path: 'two.mdl', text });
    expect(r.diagnostics.map(key)).toEqual([`E0602@${lineOf(text, 'key >= seq')}`, `E0502@${lineOf(text, 'o = sum(p * v')}`]);
  });

  it('E0501 names the axes involved, points at the softmax and has a help', () => {
    const path = join(FIXTURES, 'E0501-softmax-contracted-over-wrong-axis.mdl');
    const text = readFileSync(path, 'utf8');
    const d = compileSource({ path, text }).diagnostics.find((x) => x.code === 'E0501')!;
    expect(d).toBeDefined();
    expect(d.message).toContain('`key`');
    expect(d.message).toContain('`seq`');
    expect(d.help).toBeTruthy();
    expect(d.help).toContain('key');
    expect(d.labels.map((l) => l.span.line)).toContain(lineOf(text, 'p = softmax(s, over: key)'));
  });

  it('E0501 suggests the distribution axis when the other operand has it', () => {
    const path = join(FIXTURES, 'E0501-softmax-over-seq-contracted-over-key.mdl');
    const d = compileFile(path).diagnostics.find((x) => x.code === 'E0501')!;
    expect(d.message).toMatch(/softmax over `seq`.*contracted over `key`/);
    expect(d.help).toContain('softmax over `key`');
  });

  it('E0502 and E0601 and E0602 carry a concrete help', () => {
    const get = (f: string, c: string) => compileFile(join(FIXTURES, f)).diagnostics.find((d) => d.code === c)!;
    expect(get('E0502-weights-against-values-constant-along-key.mdl', 'E0502').help).toContain('key');
    expect(get('E0601-inf-times-mask.mdl', 'E0601').help).toContain('where(mask, -inf, x)');
    const e0602 = get('E0602-mask-key-ge-seq.mdl', 'E0602');
    expect(e0602.help).toContain('key > seq');
    expect(e0602.message).toContain('seq = 0');
  });

  it('a block parameter is reported once for all its instances', () => {
    const ds = compileFile(join(FIXTURES, 'W0803-param-only-in-comparison.mdl')).diagnostics;
    expect(ds.length).toBe(1);
    expect(ds[0].message).toContain('`blocks.0.mlp.t`');
    expect(ds[0].message).toContain('`blocks.1.mlp.t`');
  });

  it('E0602 points at the mask and labels the softmax it starves', () => {
    const path = join(FIXTURES, 'E0602-scaled-after-mask.mdl');
    const text = readFileSync(path, 'utf8');
    const [d] = compileSource({ path, text }).diagnostics;
    expect(d.span.line).toBe(lineOf(text, 'key >= seq'));
    expect(d.labels.map((l) => l.span.line)).toEqual([lineOf(text, 'p = softmax(rsqrt(head) * s')]);
  });

  it('--set overrides re-run the checker: heads=3 does not divide embed=128', () => {
    const text = transformerText();
    const r = compileSource({ path: 'transformer.mdl', text }, { overrides: new Map([['heads', 3]]) });
    expect(r.ok).toBe(false);
    expect(r.diagnostics.map(key)).toEqual([`E0204@${lineOf(text, 'dim head   = embed / heads')}`]);
    expect(r.diagnostics[0].message).toContain('128');
    expect(r.diagnostics[0].message).toContain('3');
    expect(r.diagnostics[0].help).toBeTruthy();
  });

  it('--set overrides that keep the model valid check clean and change the sizes', () => {
    const r = compileSource({ path: 'transformer.mdl', text: transformerText() }, { overrides: new Map([['embed', 32], ['heads', 2], ['steps', 5]]) });
    expect(show(r.diagnostics)).toBe('');
    expect(r.model!.dims.get('head')!.value).toBe(16);
    expect(r.model!.dims.get('hidden')!.value).toBe(128);
    expect(r.model!.train.steps).toBe(5);
  });

  it('--set of an unknown name or an invalid value is E1004', () => {
    const text = transformerText();
    const unknown = compileSource({ path: 't.mdl', text }, { overrides: new Map([['emb', 32]]) });
    expect(unknown.diagnostics.map((d) => d.code)).toEqual(['E1004']);
    expect(unknown.diagnostics[0].help).toContain('embed');
    for (const [k, v] of [['steps', -1], ['steps', 2.5], ['clip', -1], ['lr', 0], ['val_fraction', 1.5], ['eval_every', 0]] as const) {
      const r = compileSource({ path: 't.mdl', text }, { overrides: new Map([[k, v]]) });
      expect(r.diagnostics.map((d) => d.code), `${k}=${v}`).toEqual(['E1004']);
    }
    const zero = compileSource({ path: 't.mdl', text }, { overrides: new Map([['embed', 0]]) });
    expect(zero.diagnostics.map((d) => d.code)).toEqual(['E0205']);
    // seq also sizes the window and the slices of the train section: still one error.
    const seq0 = compileSource({ path: 't.mdl', text }, { overrides: new Map([['seq', 0]]) });
    expect(seq0.diagnostics.map((d) => `${d.code}@${d.span.line}`)).toEqual([`E0205@${lineOf(text, 'dim seq ')}`]);
  });

  it('the transformer checks clean at seq = 8192 (masks are reasoned about symbolically)', () => {
    // Batch 1: at 12, the scores [batch, seq, heads, key] would be over the size limit (E0211).
    const big = new Map([['seq', 8192], ['batch', 1]]);
    const r = compileSource({ path: 'transformer.mdl', text: transformerText() }, { overrides: big });
    expect(show(r.diagnostics)).toBe('');
    const masked = compileSource({ path: 't.mdl', text: transformerText().replace('s = where(key > seq, -inf, s)', 's = where(key >= seq, -inf, s)') }, { overrides: big });
    expect(masked.diagnostics.map((d) => d.code)).toEqual(['E0602']);
    expect(masked.diagnostics[0].message).toContain('seq = 0');
  });

  it('E0204 names both sides of the division', () => {
    const r = compileSource({ path: 't.mdl', text: transformerText().replace('dim head   = embed / heads', 'dim head   = (embed * 2) / (heads + 1)') });
    expect(r.diagnostics.map((d) => d.message)).toEqual(['`(embed * 2)` = 256 is not divisible by `(heads + 1)` = 5']);
    const n = compileSource({ path: 't.mdl', text: transformerText().replace('dim head   = embed / heads', 'dim head   = embed / 3') });
    expect(n.diagnostics.map((d) => d.message)).toEqual(['`embed` = 128 is not divisible by 3']);
  });

  it('E0302 points at where the operand is defined and names the rename', () => {
    const path = join(FIXTURES, 'E0302-keys-not-renamed.mdl');
    const text = readFileSync(path, 'utf8');
    const [d] = compileSource({ path, text }).diagnostics;
    expect(d.help).toContain('as [seq -> key]');
    expect(d.labels.map((l) => l.span.line)).toContain(lineOf(text, 'v = x . wv over embed'));
  });

  it('E0501 offers both fixes with the axes named', () => {
    const d = compileFile(join(FIXTURES, 'E0501-softmax-contracted-over-wrong-axis.mdl')).diagnostics[0];
    expect(d.help).toContain('as [seq -> key]');
    expect(d.help).toContain('contract `over key`');
    expect(d.help).toContain('softmax over `seq`');
  });

  it('E0311 stops the cascade: the rest of the model is checked against the old value', () => {
    const ds = compileFile(join(FIXTURES, 'E0311-residual-grows-heads.mdl')).diagnostics;
    expect(ds.map((d) => d.code).sort()).toEqual(['E0311', 'W0801']);
    expect(ds.find((d) => d.code === 'E0311')!.message).toContain('the right side brings `heads`, `head`');
  });

  it('with errors, W0801 names only parameters never referenced (a skipped block or repeat body counts)', () => {
    const base = readFileSync(join(GOOD, 'tiny-transformer.mdl'), 'utf8')
      .replace('param wpe[seq, embed]   init normal(0.02)', 'param wpe[seq, embed]   init normal(0.02)\nparam wout[embed, vocab] init normal(0.02)\nparam spare[embed] init zeros')
      .replace('forward(', 'block head(x[batch, seq, embed]) {\n  return x . wout over embed\n}\n\nforward(');
    // A call the signature rejects: `head`'s body is never elaborated, yet it names `wout`.
    const badCall = base.replace('  return layernorm(x) . wte over embed', '  return head(x . wte over embed)');
    const r = compileSource({ path: 'w.mdl', text: badCall });
    expect(r.diagnostics.map((d) => d.code).sort()).toEqual(['E0306', 'W0801']);
    expect(r.diagnostics.find((d) => d.code === 'W0801')!.message).toContain('`spare`');
    // A repeat whose count fails: its body names `wout` too.
    const badRepeat = base.replace('  return layernorm(x) . wte over embed', '  repeat data.vocab {\n    x = x + head(x) . wte over vocab\n  }\n  return layernorm(x) . wte over embed');
    const q = compileSource({ path: 'w.mdl', text: badRepeat });
    expect(q.diagnostics.map((d) => d.code).sort()).toEqual(['E0206', 'W0801']);
    expect(q.diagnostics.find((d) => d.code === 'W0801')!.message).toContain('`spare`');
  });

  it('broadcast(x, over: A) is the explicit broadcast: new axes only', () => {
    const ok = compileFile(join(GOOD, 'explicit-broadcast.mdl'));
    const expand = ok.model!.graph.nodes.find((n) => n.attrs.op === 'expand');
    expect(expand?.type.axes.map((a) => a.name)).toEqual(['batch', 'seq', 'embed', 'heads']);
    const text = readFileSync(join(GOOD, 'explicit-broadcast.mdl'), 'utf8').replace('y = broadcast(y, over: heads)', 'y = broadcast(y, over: embed)');
    const bad = compileSource({ path: 'b.mdl', text });
    expect(bad.diagnostics.map((d) => d.code)).toContain('E0303');
    expect(bad.diagnostics.find((d) => d.code === 'E0303')!.message).toContain('cannot broadcast along `embed`');
  });

  it('diagnostics come out in source order', () => {
    const path = join(FIXTURES, 'E0704-input-not-bound.mdl');
    const ds = compileFile(path).diagnostics;
    const starts = ds.map((d) => d.span.start);
    expect(starts).toEqual([...starts].sort((a, b) => a - b));
  });
});

describe('fixture harness', () => {
  it('reads expectations, file-level expectations and overrides', () => {
    const fx = readFixture('# set: heads=3, embed = 32\n# expect-file: E1004\nmodel m\n  x = y   # expect: E0201 W0802\n');
    expect(fx.expected).toEqual(['E0201@4', 'E1004@file', 'W0802@4']);
    expect([...(fx.options.overrides ?? new Map())]).toEqual([
      ['heads', 3],
      ['embed', 32],
    ]);
    expect(basename('x/E0201-a.mdl')).toBe('E0201-a.mdl');
  });
});
