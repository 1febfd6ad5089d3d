/**
 * The position-dependency analysis (leaks.ts) against the truth: every fixture model and both
 * reference models at tiny sizes run on the reference interpreter with random parameters, one
 * input token changed at a time. Every logit that changes must depend, by the analysis, on the
 * changed token (the analysis over-approximates, so what it proves absent is absent); the
 * leaks it reports (E1201, W1202) must be real; the look-alikes it passes must have none.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { computeFacts } from '../../../src/ir/check/facts.js';
import { Dependencies, sourcesOf } from '../../../src/ir/check/leaks.js';
import { MaskAnalysis } from '../../../src/ir/check/masks.js';
import { compileSource } from '../../../src/driver/index.js';
import type { ElaboratedModel } from '../../../src/ir/elaborate/model.js';
import { interpret, tensor, type Tensor } from '../../../src/ir/interpret/index.js';
import { numElements } from '../../../src/ir/types.js';
import { rng } from '../autodiff/gradcheck.js';

const FIXTURES = join(import.meta.dirname, '..', '..', 'fixtures', 'check');
const VOCAB = 7;
const SMALL = new Map(Object.entries({ seq: 5, embed: 8, heads: 2, layers: 1, batch: 2, latent: 2, code: 4 }));

function compile(path: string, small: boolean) {
  const text = readFileSync(path, 'utf8');
  const overrides = small ? new Map([...SMALL].filter(([k]) => text.includes(`dim ${k} `))) : undefined;
  const r = compileSource({ path, text }, { data: { vocab: VOCAB }, overrides });
  return { model: r.model, codes: r.diagnostics.map((d) => d.code) };
}

/** O(1)-scale parameters, so that no dependency hides under a tiny weight. */
function params(model: ElaboratedModel, seed: number): Map<string, Tensor> {
  const r = rng(seed);
  return new Map(model.graph.params.map((p) => [p.name, tensor(p.type, Float64Array.from({ length: numElements(p.type) }, () => 1.2 * (r() - 0.5)))]));
}

interface Change {
  /** Window position (or example) changed, and the input it belongs to. */
  src: number;
  w: number;
  b: number;
  /** A logit that changed: its batch row and time position. */
  atB: number;
  atT: number;
}

/** Every (changed token → changed logit row) pair, by interpretation. */
function observedDependencies(model: ElaboratedModel): { changes: Change[]; time: number; batch?: number } {
  const { sources } = sourcesOf(model);
  const g = model.graph;
  const logits = model.logits;
  const lt = g.nodes[logits].type;
  const batch = model.batch?.axis;
  const targets = g.inputs.find((i) => i.name === 'targets')!;
  const time = targets.type.axes.find((a) => a.id !== batch?.id)!;
  const r = rng(11);
  const tokens = new Map(g.inputs.map((i) => [i.name, tensor(i.type, Int32Array.from({ length: numElements(i.type) }, () => Math.floor(r() * VOCAB)))]));
  const p = params(model, 5);
  const run = (inputs: Map<string, Tensor>) => interpret(g, { params: p, inputs }, { precision: 'f64', outputs: [logits] }).get(logits)!;
  const base = run(tokens);
  const changes: Change[] = [];
  const strides = lt.axes.map((_, i) => lt.axes.slice(i + 1).reduce((n, a) => n * a.size, 1));
  for (const info of g.inputs) {
    const s = sources.get(info.node);
    if (!s?.time || info.name === 'targets') continue;
    const it = info.type;
    for (let flat = 0; flat < numElements(it); flat++) {
      const data = Int32Array.from(tokens.get(info.name)!.data);
      data[flat] = (data[flat] + 1) % VOCAB;
      const out = run(new Map([...tokens, [info.name, tensor(it, data)]]));
      // Position of the changed token along its axes.
      const pos = new Map(it.axes.map((a, i) => [a.id, Math.floor(flat / it.axes.slice(i + 1).reduce((n, x) => n * x.size, 1)) % a.size]));
      for (let k = 0; k < base.data.length; k++) {
        if (out.data[k] === base.data[k]) continue;
        const at = new Map(lt.axes.map((a, i) => [a.id, Math.floor(k / strides[i]) % a.size]));
        changes.push({ src: info.node, w: s.time.start + pos.get(s.time.axis.id)!, b: s.batch ? pos.get(s.batch.id)! : 0, atB: batch ? (at.get(batch.id) ?? 0) : 0, atT: at.get(time.id)! });
      }
    }
  }
  return { changes, time: time.id, batch: batch?.id };
}

const cases = [
  ...readdirSync(join(FIXTURES, 'good')).map((f) => ({ name: `good/${f}`, path: join(FIXTURES, 'good', f), small: false })),
  ...readdirSync(FIXTURES)
    .filter((f) => /^(E1201|W1202)-/.test(f))
    .map((f) => ({ name: f, path: join(FIXTURES, f), small: false })),
  { name: 'models/transformer.mdl', path: 'models/transformer.mdl', small: true },
  { name: 'models/autoencoder.mdl', path: 'models/autoencoder.mdl', small: true },
];

describe('the dependency analysis against interpretation', () => {
  for (const c of cases) {
    it(`${c.name}: every observed dependency is in the analysis; reported leaks are real`, () => {
      const { model, codes } = compile(c.path, c.small);
      if (!model || model.loss === undefined || !model.graph.inputs.some((i) => i.name === 'targets')) return;
      const facts = computeFacts(model.graph);
      const { sources } = sourcesOf(model);
      const deps = new Dependencies(model.graph, new MaskAnalysis(model.graph, facts), sources);
      const { changes, time, batch } = observedDependencies(model);
      expect(changes.length).toBeGreaterThan(0);
      for (const ch of changes) {
        const at = new Map([[time, ch.atT], ...(batch !== undefined ? ([[batch, ch.atB]] as const) : [])]);
        expect(deps.covers(model.logits, ch.src, 'pos', at, ch.w), `logits at ${ch.atT} depend on window position ${ch.w}`).toBe(true);
        if (ch.b !== ch.atB) expect(deps.covers(model.logits, ch.src, 'ex', at, ch.b), `example ${ch.atB} depends on example ${ch.b}`).toBe(true);
      }
      const c0 = model.train.slices.find((s) => s.name === 'targets')!.start;
      const shifted = model.train.slices.some((s) => s.name !== 'targets' && s.start < c0);
      // A real leak: a prediction that changes with its target's window position or a later one.
      const leaks = changes.some((ch) => ch.w >= c0 + ch.atT);
      const mixes = changes.some((ch) => ch.b !== ch.atB);
      // Unshifted targets (an autoencoder) may see their own position through a bottleneck;
      // E1201 then claims only a position-preserving path, which makes such a dependency.
      if (shifted) expect(leaks, 'a real leak exactly where E1201 is reported').toBe(codes.includes('E1201'));
      else if (codes.includes('E1201')) expect(changes.some((ch) => ch.w === c0 + ch.atT)).toBe(true);
      expect(mixes, 'examples mixed exactly where W1202 is reported').toBe(codes.includes('W1202'));
    }, 60000);
  }
});

/** A comparison of positions in .mdl: key and seq with an offset, or a |key - seq| band. */
const atomText: fc.Arbitrary<string> = fc.oneof(
  fc
    .tuple(fc.constantFrom('key', 'seq'), fc.constantFrom('<', '<=', '>', '>=', '==', '!='), fc.constantFrom('key', 'seq'), fc.integer({ min: -2, max: 2 }))
    .map(([a, op, b, c]) => `${a} ${op} ${b}${c === 0 ? '' : c > 0 ? ` + ${c}` : ` - ${-c}`}`),
  fc.tuple(fc.constantFrom('<', '>', '<=', '>='), fc.integer({ min: 0, max: 3 })).map(([op, c]) => `abs(float(key - seq)) ${op} ${c}.5`),
);

/**
 * One to three masks applied to the scores, each as "mask", "keep" or a finite penalty
 * (`- 1e9 * float(m)`), one per line or nested in one expression.
 */
const masksText = fc.tuple(fc.array(fc.tuple(atomText, fc.constantFrom('mask', 'keep', 'finite')), { minLength: 1, maxLength: 3 }), fc.boolean()).map(([masks, nested]) => {
  const apply = (inner: string, [m, form]: [string, string]) =>
    form === 'keep' ? `where(${m}, ${inner}, -inf)` : form === 'mask' ? `where(${m}, -inf, ${inner})` : `(${inner} - 1e9 * float(${m}))`;
  if (nested) return `s = ${masks.reduce(apply, 's')}`;
  return masks.map((m) => `s = ${apply('s', m)}`).join('\n  ');
});

describe('E1201 on random masks: reported only where the leak is real, and wherever it is unless the masks are unreadable', () => {
  const tiny = readFileSync(join(FIXTURES, 'good', 'tiny-transformer.mdl'), 'utf8').replace('dim layers = 2', 'dim layers = 1').replace('dim seq    = 6', 'dim seq    = 5');
  it('masks of positions in a next-token model', () => {
    let checked = 0;
    let leaking = 0;
    let unread = 0;
    fc.assert(
      fc.property(masksText, (lines) => {
        const text = tiny.replace('s = where(key > seq, -inf, s)', lines);
        const r = compileSource({ path: 'r.mdl', text }, { data: { vocab: VOCAB } });
        const codes = r.diagnostics.map((d) => d.code);
        // Starved rows are NaN (every logit "changes"); other errors leave no model to run.
        if (!r.model || codes.some((c) => c !== 'E1201')) return;
        checked++;
        const { changes } = observedDependencies(r.model);
        const real = changes.some((ch) => ch.w >= 1 + ch.atT);
        if (real) leaking++;
        // Never a false report; a real leak is reported unless the analysis said it could not
        // read the masks (penalties of different sizes stacked): then it says nothing.
        if (codes.includes('E1201')) expect(real, lines).toBe(true);
        else if (real) {
          const { sources } = sourcesOf(r.model);
          const deps = new Dependencies(r.model.graph, new MaskAnalysis(r.model.graph, computeFacts(r.model.graph)), sources);
          expect(deps.terms[r.model.logits].some((t) => t.approx && t.kind === 'pos'), `${lines}: a real leak, neither reported nor approximate`).toBe(true);
          unread++;
        }
      }),
      { numRuns: 200, seed: 1201 },
    );
    expect(checked).toBeGreaterThan(50);
    expect(leaking).toBeGreaterThan(10);
    expect(leaking).toBeLessThan(checked);
    expect(unread).toBeLessThan(leaking / 4);
  }, 120000);
});

describe('E1201 and W1202 on random edits of the reference models', () => {
  // Tokens of the file swapped for other tokens of the file (as in check-fuzz.test.ts): every
  // variant that still compiles is run, and what it reports must be real.
  const WORD = /[A-Za-z_][A-Za-z0-9_]*|\d+(?:\.\d+)?(?:e-?\d+)?|[-+*/^<>]=?|\.\./g;
  for (const path of ['models/transformer.mdl', 'models/autoencoder.mdl']) {
    it(`${path}: no false report`, () => {
      const text = readFileSync(path, 'utf8');
      const toks = [...text.matchAll(WORD)].map((m) => ({ start: m.index!, end: m.index! + m[0].length }));
      const words = [...new Set(toks.map((t) => text.slice(t.start, t.end)))];
      let ran = 0;
      fc.assert(
        fc.property(fc.array(fc.tuple(fc.nat(toks.length - 1), fc.nat(words.length - 1)), { minLength: 1, maxLength: 3 }), (edits) => {
          let t = text;
          for (const [ti, wi] of [...edits].sort((a, b) => b[0] - a[0])) t = t.slice(0, toks[ti].start) + words[wi] + t.slice(toks[ti].end);
          const small = new Map([...SMALL].filter(([k]) => new RegExp(`\\bdim ${k}\\b`).test(t)));
          const r = compileSource({ path, text: t }, { data: { vocab: VOCAB }, overrides: small });
          const codes = r.diagnostics.filter((d) => d.severity === 'error').map((d) => d.code);
          if (!r.model || r.model.loss === undefined || codes.some((c) => c !== 'E1201')) return;
          if (!r.model.graph.inputs.some((i) => i.name === 'targets')) return;
          if (r.model.graph.params.some((p) => p.type.axes.some((a) => a.size > 64))) return;
          ran++;
          const { changes } = observedDependencies(r.model);
          const c0 = r.model.train.slices.find((s) => s.name === 'targets')!.start;
          const shifted = r.model.train.slices.some((s) => s.name !== 'targets' && s.start < c0);
          if (codes.includes('E1201')) expect(changes.some((ch) => ch.w >= c0 + ch.atT && (shifted || ch.w === c0 + ch.atT))).toBe(true);
          if (r.diagnostics.some((d) => d.code === 'W1202')) expect(changes.some((ch) => ch.b !== ch.atB)).toBe(true);
        }),
        { numRuns: Number(process.env.FUZZ_RUNS ?? 150), seed: 20261203 },
      );
      expect(ran).toBeGreaterThan(10);
    }, 300000);
  }
});
