/**
 * Property tests: parseModel never throws, is fast, and every diagnostic (and AST node) has a
 * valid span and a known code, for random text, random bytes and mutated reference models.
 * FUZZ_SEED=n reproduces a run; FUZZ_RUNS scales the number of inputs.
 */
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CATALOG } from '../../src/diagnostics/catalog.js';
import { spanFromOffsets, type Span } from '../../src/diagnostics/span.js';
import { parseModel } from '../../src/parser/index.js';

const SEED = process.env.FUZZ_SEED ? Number(process.env.FUZZ_SEED) : undefined;
const SCALE = process.env.FUZZ_RUNS ? Number(process.env.FUZZ_RUNS) / 1000 : 1;
const runs = (n: number) => Math.max(1, Math.round(n * SCALE));
/** Generous: a parse takes a few milliseconds; this only catches runaway recovery. */
// A guard against pathological (super-linear) parsing, not a speed target: generous, because
// the machine running the tests may be loaded.
const MAX_MS = 5000;

const MODELS = ['models/transformer.mdl', 'models/autoencoder.mdl'].map((p) => readFileSync(p, 'utf8'));

/** Line and column of every offset of a text, computed once (the AST has many spans). */
class Positions {
  readonly line: Int32Array;
  readonly column: Int32Array;
  readonly lines: number;
  constructor(text: string) {
    this.line = new Int32Array(text.length + 1);
    this.column = new Int32Array(text.length + 1);
    let line = 1;
    let col = 1;
    for (let i = 0; i <= text.length; i++) {
      this.line[i] = line;
      this.column[i] = col++;
      if (text.charCodeAt(i) === 10) {
        line++;
        col = 1;
      }
    }
    this.lines = line;
  }
}

/**
 * Why a span is invalid, or undefined when it is valid: inside the text, 1 <= line <= lines,
 * and its line/column agree with its offsets (as `spanFromOffsets` defines them; the shared
 * helper is used for diagnostics, the precomputed table for the many AST spans).
 */
function spanProblem(s: Span, text: string, path: string, pos: Positions, exact: boolean): string | undefined {
  if (s.file !== path) return 'wrong file';
  if (!Number.isInteger(s.start) || !Number.isInteger(s.end)) return 'offsets are not integers';
  if (!(0 <= s.start && s.start <= s.end && s.end <= text.length)) return 'offsets outside the text';
  if (!(1 <= s.line && s.line <= pos.lines)) return 'line outside the file';
  if (!(s.line <= s.endLine && s.endLine <= pos.lines)) return 'end line outside the file';
  if (!(s.column >= 1 && s.endColumn >= 1)) return 'column < 1';
  const last = Math.max(s.start, s.end - 1);
  const ref = exact
    ? spanFromOffsets(path, text, s.start, s.end)
    : { line: pos.line[s.start], column: pos.column[s.start], endLine: pos.line[last], endColumn: pos.column[last] };
  if (ref.line !== s.line || ref.column !== s.column || ref.endLine !== s.endLine || ref.endColumn !== s.endColumn) {
    return `line/column disagree with offsets (expected ${JSON.stringify(ref)})`;
  }
  return undefined;
}

function checkSpan(s: Span, text: string, path: string, what: string, pos: Positions, exact = true): void {
  const problem = spanProblem(s, text, path, pos, exact);
  if (problem) expect.fail(`${what}: ${problem}: ${JSON.stringify(s)} in ${JSON.stringify(text.slice(0, 400))}`);
}

/** Every `span` in the AST, with the node kind that holds it. */
function* spans(node: unknown, kind = 'root'): Generator<[Span, string]> {
  if (Array.isArray(node)) {
    for (const n of node) yield* spans(n, kind);
  } else if (node && typeof node === 'object') {
    const o = node as Record<string, unknown>;
    const k = typeof o.kind === 'string' ? o.kind : kind;
    for (const [key, v] of Object.entries(o)) {
      if (key === 'span') yield [v as Span, k];
      else yield* spans(v, k);
    }
  }
}

function check(text: string): void {
  const path = 'fuzz.mdl';
  const t0 = performance.now();
  let result: ReturnType<typeof parseModel>;
  try {
    result = parseModel({ path, text });
  } catch (e) {
    throw new Error(`parseModel threw on ${JSON.stringify(text.slice(0, 300))}: ${String(e)}`);
  }
  const ms = performance.now() - t0;
  if (ms > MAX_MS) expect.fail(`parse took ${ms.toFixed(0)} ms on ${JSON.stringify(text.slice(0, 400))}`);
  const pos = new Positions(text);
  let lastStart = -1;
  for (const d of result.diagnostics) {
    const what = `${d.code} ${JSON.stringify(d.message)}`;
    if (!(d.code in CATALOG) || !/^E0[01]/.test(d.code)) expect.fail(`unexpected code ${what}`);
    if (d.message.length === 0 || /[\p{Cc}\u2028\u2029]|\s+at\s+\S+\s+\(|the parser failed/u.test(d.message)) expect.fail(`bad message ${what}`);
    checkSpan(d.span, text, path, what, pos);
    for (const l of d.labels) checkSpan(l.span, text, path, `label of ${what}`, pos);
    // Diagnostics come in source order.
    if (d.span.start < lastStart) expect.fail(`diagnostics out of order at ${what}`);
    lastStart = d.span.start;
  }
  if (result.ast) for (const [s, k] of spans(result.ast)) checkSpan(s, text, path, `AST ${k}`, pos, false);
  // A parse without diagnostics always gives an AST.
  if (result.diagnostics.length === 0 && !result.ast) expect.fail(`no AST and no diagnostics for ${JSON.stringify(text)}`);
}

// ---------------------------------------------------------------- generators

const MDL_CHARS = [...'abcdemxyz_019 \n\t#"\'.,:;=+-*/^<>!()[]{}@\\\u00e9\u{1F600}\r\u2028\ufeff\0', '\ud800', '\udfff'];
const mdlishText = fc.string({ unit: fc.constantFrom(...MDL_CHARS), maxLength: 120 });
const WORDS = [
  'model', 'dim', 'axis', 'param', 'init', 'block', 'forward', 'return', 'repeat', 'as', 'over', 'loss', 'train',
  'index', 'of', 'f32', 'inf', 'true', 'false', 'x', 'data', 'vocab', 'normal', '0', '0.02', '1e-5', '"s"', '..', '->',
  '.', ',', ':', '=', '==', '<', '+', '-', '*', '/', '^', '(', ')', '[', ']', '{', '}', '\n', '#c\n',
];
const tokenSoup = fc.array(fc.constantFrom(...WORDS), { maxLength: 60 }).map((ws) => ws.join(' '));

/** Source split into tokens and the whitespace/comments between them (joined back exactly). */
function pieces(text: string): string[] {
  return text.match(/#[^\n]*|\s+|[A-Za-z_]\w*|\d+(?:\.\d+)?(?:[eE][+-]?\d+)?|"[^"\n]*"|\.\.|->|<=|>=|==|!=|[^\s\w]/g) ?? [];
}
const MODEL_PIECES = MODELS.map(pieces);
const ALL_PIECES = [...new Set(MODEL_PIECES.flat().filter((p) => p.trim() !== ''))];

type Mutation = { op: 'delete' | 'duplicate' | 'swap' | 'insert' | 'char-delete' | 'char-insert'; i: number; j: number; c: string };
const mutation: fc.Arbitrary<Mutation> = fc.record({
  op: fc.constantFrom('delete', 'duplicate', 'swap', 'insert', 'char-delete', 'char-insert'),
  i: fc.nat(),
  j: fc.nat(),
  c: fc.oneof(fc.constantFrom(...ALL_PIECES), fc.constantFrom(...MDL_CHARS)),
});

function mutate(model: number, muts: Mutation[]): string {
  const ps = [...MODEL_PIECES[model]];
  let text = '';
  for (const m of muts) {
    if (ps.length === 0) break;
    const i = m.i % ps.length;
    const j = m.j % ps.length;
    switch (m.op) {
      case 'delete':
        ps.splice(i, 1);
        break;
      case 'duplicate':
        ps.splice(i, 0, ps[i]);
        break;
      case 'swap':
        [ps[i], ps[j]] = [ps[j], ps[i]];
        break;
      case 'insert':
        ps.splice(i, 0, ' ', m.c, ' ');
        break;
      case 'char-delete': {
        const p = ps[i];
        ps[i] = p.slice(0, m.j % p.length) + p.slice((m.j % p.length) + 1);
        break;
      }
      case 'char-insert': {
        const p = ps[i];
        const at = m.j % (p.length + 1);
        ps[i] = p.slice(0, at) + m.c + p.slice(at);
        break;
      }
    }
  }
  text = ps.join('');
  return text;
}

const mutatedModel = fc
  .tuple(fc.integer({ min: 0, max: MODELS.length - 1 }), fc.array(mutation, { minLength: 1, maxLength: 6 }))
  .map(([m, muts]) => mutate(m, muts));

// ---------------------------------------------------------------- properties

describe('parser fuzzing', () => {
  const params = (numRuns: number) => ({ numRuns: runs(numRuns), seed: SEED, endOnFailure: true });

  it('random unicode strings', () => {
    fc.assert(fc.property(fc.string({ unit: 'binary', maxLength: 200 }), (t) => check(t)), params(1500));
  });

  it('random strings over the characters of .mdl', () => {
    fc.assert(fc.property(mdlishText, (t) => check(t)), params(1500));
  });

  it('random token soup', () => {
    fc.assert(fc.property(tokenSoup, (t) => check(t)), params(1500));
  });

  it('random bytes, decoded leniently', () => {
    const decoder = new TextDecoder('utf-8');
    fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), (b) => check(decoder.decode(b))), params(1000));
  });

  it('mutated reference models (delete, duplicate, swap, insert tokens or characters)', () => {
    fc.assert(fc.property(mutatedModel, (t) => check(t)), params(1500));
  });

  it('the unmutated models are clean (the mutation base is valid)', () => {
    for (const ps of MODEL_PIECES) {
      const r = parseModel({ path: 'm.mdl', text: ps.join('') });
      expect(r.diagnostics).toEqual([]);
    }
  });

  it('a single token mutation of a model rarely cascades', () => {
    // One mutation → at most a few diagnostics (usually one).
    let many = 0;
    let total = 0;
    fc.assert(
      fc.property(fc.integer({ min: 0, max: MODELS.length - 1 }), mutation, (m, mut) => {
        const r = parseModel({ path: 'm.mdl', text: mutate(m, [mut]) });
        total++;
        if (r.diagnostics.length > 2) many++;
        expect(r.diagnostics.length).toBeLessThanOrEqual(6);
      }),
      params(1000),
    );
    expect(many / total).toBeLessThan(0.03);
  });
});
