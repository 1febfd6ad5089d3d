/**
 * Masks as regions (regions.ts), what masks do to a softmax input (masks.ts) and the E0602
 * rule built on them (nan.ts), each against the reference interpreter on every position of
 * small random masks: comparisons of positions with offsets, through casts, renames, |x|,
 * and nested `where`s in any order.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { computeFacts } from '../../../src/ir/check/facts.js';
import { MaskAnalysis } from '../../../src/ir/check/masks.js';
import { checkNanHazards } from '../../../src/ir/check/nan.js';
import { and, contains, isNowhere, not, offset, onAxis, or, PositionForms, type Region } from '../../../src/ir/check/regions.js';
import { range } from '../../../src/ir/check/intsets.js';
import { GraphBuilder } from '../../../src/ir/graph.js';
import { interpret, type Tensor } from '../../../src/ir/interpret/index.js';
import type { Axis, CompareFn } from '../../../src/ir/types.js';
import { axes, SPAN } from '../interpret/helpers.js';

const { seq, key, heads } = axes({ seq: 5, key: 5, heads: 2 });
const AXES = { seq, key, heads };
type AxisName = keyof typeof AXES;

type Mask =
  | { kind: 'atom'; a: AxisName; ca: number; op: CompareFn; b: AxisName | 'const'; cb: number; float: boolean; renamed: boolean; abs: boolean; squared: boolean }
  | { kind: 'where'; c: Mask; x: Mask; y: Mask };

const atom = fc.record({
  kind: fc.constant('atom' as const),
  a: fc.constantFrom<AxisName>('seq', 'key', 'heads'),
  ca: fc.integer({ min: -3, max: 3 }),
  op: fc.constantFrom<CompareFn>('lt', 'le', 'gt', 'ge', 'eq', 'ne'),
  b: fc.constantFrom<AxisName | 'const'>('seq', 'key', 'const'),
  cb: fc.integer({ min: -3, max: 3 }),
  float: fc.boolean(),
  renamed: fc.boolean(),
  abs: fc.boolean(),
  // Not an offset of positions: the regions give up and the exact evaluator answers.
  squared: fc.boolean(),
});
const mask: fc.Arbitrary<Mask> = fc.letrec<{ m: Mask }>((tie) => ({
  m: fc.oneof({ maxDepth: 3, depthIdentifier: 'm' }, atom, fc.record({ kind: fc.constant('where' as const), c: tie('m'), x: tie('m'), y: tie('m') })),
})).m;

/** Positions along `a`: an iota, or for `key`, optionally `seq` positions renamed to `key`. */
function iota(g: GraphBuilder, a: AxisName, renamed: boolean): number {
  if (a === 'key' && renamed) return g.add({ op: 'rename', pairs: [[seq, key]] }, [g.add({ op: 'iota', axis: seq }, [], SPAN)], SPAN);
  return g.add({ op: 'iota', axis: AXES[a] }, [], SPAN);
}

function build(g: GraphBuilder, m: Mask): number {
  if (m.kind === 'where') return g.add({ op: 'where' }, [build(g, m.c), build(g, m.x), build(g, m.y)], SPAN);
  const num = (id: number, c: number) => {
    const x = m.float ? g.add({ op: 'cast', to: 'f32' }, [id], SPAN) : id;
    return c === 0 ? x : g.add({ op: 'binary', fn: 'add' }, [x, g.constant(m.float ? c + 0.5 : c, m.float ? 'f32' : 'i32')], SPAN);
  };
  let left = num(iota(g, m.a, m.renamed), m.ca);
  const right = m.b === 'const' ? g.constant(m.float ? m.cb + 0.25 : m.cb, m.float ? 'f32' : 'i32') : num(iota(g, m.b, false), m.cb);
  if (m.abs && m.float && m.b === 'const') left = g.add({ op: 'unary', fn: 'abs' }, [left], SPAN);
  if (m.squared) left = g.add({ op: 'binary', fn: 'mul' }, [left, left], SPAN);
  return g.add({ op: 'compare', fn: m.op }, [left, right], SPAN);
}

/** Every position over seq, key, heads. */
function* grid(): Generator<Map<number, number>> {
  for (let s = 0; s < seq.size; s++) for (let k = 0; k < key.size; k++) for (let h = 0; h < heads.size; h++) yield new Map([[seq.id, s], [key.id, k], [heads.id, h]]);
}

/** The value of tensor `t` at a position (axes it lacks are broadcast). */
function at(t: Tensor, pos: Map<number, number>): number {
  let off = 0;
  let stride = 1;
  for (let i = t.type.axes.length - 1; i >= 0; i--) {
    off += (pos.get(t.type.axes[i].id) ?? 0) * stride;
    stride *= t.type.axes[i].size;
  }
  return t.data[off];
}

const run = (g: GraphBuilder, id: number) => interpret(g.graph, { params: new Map(), inputs: new Map() }, { precision: 'f64', outputs: [id] }).get(id)!;

describe('masks of positions as regions', () => {
  it('a mask and its region agree at every position', () => {
    let symbolic = 0;
    let total = 0;
    fc.assert(
      fc.property(mask, (m) => {
        const g = new GraphBuilder();
        const id = build(g, m);
        const r = new PositionForms(g.graph.nodes).regionOf(id);
        total++;
        if (!r) return;
        symbolic++;
        const t = run(g, id);
        for (const pos of grid()) expect(contains(r, pos), JSON.stringify(m)).toBe(at(t, pos) !== 0);
      }),
      { numRuns: 300, seed: 13 },
    );
    expect(symbolic).toBeGreaterThan(total / 4);
    expect(symbolic).toBeLessThan(total);
  });

  it('union, intersection and complement are exact', () => {
    const r = (m: Mask) => {
      const g = new GraphBuilder();
      return new PositionForms(g.graph.nodes).regionOf(build(g, m));
    };
    fc.assert(
      fc.property(mask, mask, (ma, mb) => {
        const a = r(ma);
        const b = r(mb);
        if (!a || !b) return;
        const both = and(a, b);
        const either = or(a, b);
        const na = not(a);
        for (const pos of grid()) {
          if (both) expect(contains(both, pos)).toBe(contains(a, pos) && contains(b, pos));
          if (either) expect(contains(either, pos)).toBe(contains(a, pos) || contains(b, pos));
          if (na) expect(contains(na, pos)).toBe(!contains(a, pos));
        }
      }),
      { numRuns: 200, seed: 14 },
    );
  });

  it('reads the usual attention masks as offsets between key and seq', () => {
    const g = new GraphBuilder();
    const causal = g.add({ op: 'compare', fn: 'gt' }, [iota(g, 'key', true), iota(g, 'seq', false)], SPAN);
    const plusOne = g.add({ op: 'compare', fn: 'gt' }, [iota(g, 'key', false), g.add({ op: 'binary', fn: 'add' }, [iota(g, 'seq', false), g.constant(1, 'i32')], SPAN)], SPAN);
    const forms = new PositionForms(g.graph.nodes);
    const c = forms.regionOf(causal)!;
    expect(c).toEqual(offset(key.id, seq.id, [[1, Infinity]]));
    expect(forms.regionOf(plusOne)).toEqual(offset(key.id, seq.id, [[2, Infinity]]));
    // key > seq is seq - key ≤ -1 seen from the other side.
    expect(offset(seq.id, key.id, [[-Infinity, -1]])).toEqual(c);
    expect(isNowhere(and(onAxis(seq.id, range(0, 1)), onAxis(seq.id, range(3, 4)))!)).toBe(true);
  });

  it('gives up (undefined) on masks that are not offsets of positions', () => {
    const g = new GraphBuilder();
    const sq = g.add({ op: 'binary', fn: 'mul' }, [iota(g, 'key', false), iota(g, 'key', false)], SPAN);
    const m = g.add({ op: 'compare', fn: 'gt' }, [sq, iota(g, 'seq', false)], SPAN);
    const two = g.add({ op: 'binary', fn: 'mul' }, [iota(g, 'key', false), g.constant(2, 'i32')], SPAN);
    const skew = g.add({ op: 'compare', fn: 'gt' }, [two, iota(g, 'seq', false)], SPAN);
    const forms = new PositionForms(g.graph.nodes);
    expect(forms.regionOf(m)).toBeUndefined();
    expect(forms.regionOf(skew)).toBeUndefined();
  });
});

/** A softmax input masked by `m` (true: -inf) nested with a second mask in the order given. */
function maskedScores(g: GraphBuilder, m: Mask, second: Mask | undefined, keepForm: boolean, outerFirst: boolean) {
  const inf = g.constant(-Infinity);
  const zero = g.constant(0);
  const apply = (c: number, x: number) => (keepForm ? g.add({ op: 'where' }, [g.add({ op: 'compare', fn: 'eq' }, [g.add({ op: 'cast', to: 'f32' }, [c], SPAN), g.constant(0)], SPAN), x, inf], SPAN) : g.add({ op: 'where' }, [c, inf, x], SPAN));
  const a = build(g, m);
  const b = second && build(g, second);
  if (b === undefined) return apply(a, zero);
  return outerFirst ? apply(a, apply(b, zero)) : apply(b, apply(a, zero));
}

describe('what masks do to a softmax', () => {
  it('nonFinite is exactly where a mask of positions puts -inf, nested either way', () => {
    fc.assert(
      fc.property(mask, fc.option(mask), fc.boolean(), fc.boolean(), (m, second, keepForm, outerFirst) => {
        const g = new GraphBuilder();
        const id = maskedScores(g, m, second ?? undefined, keepForm, outerFirst);
        const facts = computeFacts(g.graph);
        const nf = new MaskAnalysis(g.graph, facts).nonFinite(id);
        expect(nf.wheres.length).toBeGreaterThan(0);
        if (!nf.region) return;
        const t = run(g, id);
        for (const pos of grid()) expect(contains(nf.region, pos)).toBe(!Number.isFinite(at(t, pos)));
      }),
      { numRuns: 300, seed: 15 },
    );
  });

  it('E0602 is reported exactly when some softmax row has no finite entry', () => {
    fc.assert(
      fc.property(mask, fc.option(mask), fc.boolean(), fc.boolean(), fc.constantFrom<AxisName>('key', 'seq'), (m, second, keepForm, outerFirst, over) => {
        const g = new GraphBuilder();
        const scores = maskedScores(g, m, second ?? undefined, keepForm, outerFirst);
        const t = run(g, scores);
        const axis: Axis = AXES[over];
        // The softmax needs its axis: broadcast the scores along it if the masks do not vary along it.
        const s = t.type.axes.some((a) => a.id === axis.id) ? scores : g.add({ op: 'expand', axes: [axis] }, [scores], SPAN);
        g.add({ op: 'softmax', axis }, [s], SPAN);
        const rows = new Map<string, boolean>();
        for (const pos of grid()) {
          const row = [...pos].filter(([a]) => a !== axis.id && t.type.axes.some((x) => x.id === a)).join(';');
          rows.set(row, (rows.get(row) ?? false) || Number.isFinite(at(t, pos)));
        }
        const starved = [...rows.values()].some((finite) => !finite);
        const reported = checkNanHazards(g.graph, computeFacts(g.graph)).some((d) => d.code === 'E0602');
        expect(reported, JSON.stringify({ m, second, keepForm, outerFirst, over })).toBe(starved);
      }),
      { numRuns: 300, seed: 16 },
    );
  });
});
