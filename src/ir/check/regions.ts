/**
 * Symbolic sets of tensor positions, for reasoning about masks without visiting every
 * element. A region is a union of boxes; a box is a conjunction of constraints, each on one
 * axis position (`seq ∈ [0, 3]`) or on the offset between two (`key - seq ∈ [-inf, 0]`).
 * Masks built from axis positions, integers, + - and comparisons (`key > seq + 1`,
 * `key < seq - w`, nested `where`s of them) become regions exactly; anything else is
 * `undefined`, and callers fall back to evaluating the mask or to a conservative answer.
 * Regions are exact predicates over integer positions: union, intersection and complement
 * lose nothing, and a result that would need more than MAX_BOXES boxes is `undefined`.
 */
import type { Axis, CompareFn, IRNode } from '../types.js';
import { bottomUp } from '../graph.js';
import { add as addSets, ALL_INTS, complement, intersect, isAll, isEmpty, minOf, negate, point, range, solve, union, type IntSet } from './intsets.js';

export interface Box {
  /** Constraints `pos(axis) ∈ set`, by axis id. */
  readonly unary: ReadonlyMap<number, IntSet>;
  /** Constraints `pos(a) - pos(b) ∈ d` with a < b (axis ids), keyed `a,b`. */
  readonly rel: ReadonlyMap<string, Rel>;
}

export interface Rel {
  readonly a: number;
  readonly b: number;
  readonly d: IntSet;
}

export type Region = readonly Box[];

export const NOWHERE: Region = [];
export const EVERYWHERE: Region = [{ unary: new Map(), rel: new Map() }];

const MAX_BOXES = 64;

export function isNowhere(r: Region): boolean {
  return r.length === 0;
}

export function isEverywhere(r: Region): boolean {
  return r.some((b) => b.unary.size === 0 && b.rel.size === 0);
}

/** pos(axis) ∈ set. */
export function onAxis(axis: number, set: IntSet): Region {
  if (isEmpty(set)) return NOWHERE;
  if (isAll(set)) return EVERYWHERE;
  return [{ unary: new Map([[axis, set]]), rel: new Map() }];
}

/** pos(a) - pos(b) ∈ d. */
export function offset(a: number, b: number, d: IntSet): Region {
  if (a === b) return d.some(([lo, hi]) => lo <= 0 && 0 <= hi) ? EVERYWHERE : NOWHERE;
  if (a > b) return offset(b, a, negate(d));
  if (isEmpty(d)) return NOWHERE;
  if (isAll(d)) return EVERYWHERE;
  return [{ unary: new Map(), rel: new Map([[`${a},${b}`, { a, b, d }]]) }];
}

/** The constraint of `box` on pos(a) - pos(b), as a set of offsets (everything if none). */
export function offsetIn(box: Box, a: number, b: number): IntSet | undefined {
  if (a < b) return box.rel.get(`${a},${b}`)?.d;
  const r = box.rel.get(`${b},${a}`);
  return r && negate(r.d);
}

function andBox(x: Box, y: Box): Box | undefined {
  const unary = new Map(x.unary);
  for (const [k, s] of y.unary) {
    const t = unary.has(k) ? intersect(unary.get(k)!, s) : s;
    if (isEmpty(t)) return undefined;
    unary.set(k, t);
  }
  const rel = new Map(x.rel);
  for (const [k, r] of y.rel) {
    const t = rel.has(k) ? intersect(rel.get(k)!.d, r.d) : r.d;
    if (isEmpty(t)) return undefined;
    rel.set(k, { a: r.a, b: r.b, d: t });
  }
  return { unary, rel };
}

export function and(x: Region, y: Region): Region | undefined {
  if (isEverywhere(x) && x.length === 1) return y;
  if (isEverywhere(y) && y.length === 1) return x;
  const out: Box[] = [];
  for (const a of x) {
    for (const b of y) {
      const c = andBox(a, b);
      if (!c) continue;
      if (out.length >= MAX_BOXES) return undefined;
      out.push(c);
    }
  }
  return out;
}

export function or(x: Region, y: Region): Region | undefined {
  if (isEverywhere(x)) return EVERYWHERE;
  if (isEverywhere(y)) return EVERYWHERE;
  if (x.length + y.length > MAX_BOXES) return undefined;
  return [...x, ...y];
}

/** The complement: every position outside the region. */
export function not(r: Region): Region | undefined {
  let out: Region = EVERYWHERE;
  for (const box of r) {
    // Outside a box: some constraint of it fails.
    let outside: Region = NOWHERE;
    for (const [axis, s] of box.unary) outside = [...outside, ...onAxis(axis, complement(s))];
    for (const { a, b, d } of box.rel.values()) outside = [...outside, ...offset(a, b, complement(d))];
    const next = and(out, outside);
    if (!next) return undefined;
    out = next;
  }
  return out;
}

/** The same region over renamed axes (`map`: old axis id → new axis id). */
export function renameAxes(r: Region, map: ReadonlyMap<number, number>): Region {
  const m = (id: number) => map.get(id) ?? id;
  return r.map((box) => {
    let out: Box = { unary: new Map(), rel: new Map() };
    for (const [axis, s] of box.unary) out = andBox(out, { unary: new Map([[m(axis), s]]), rel: new Map() }) ?? out;
    for (const { a, b, d } of box.rel.values()) {
      const [x] = offset(m(a), m(b), d);
      if (x) out = andBox(out, x) ?? out;
    }
    return out;
  });
}

/** Drop every constraint that mentions one of `axes` (the region then over-approximates its projection). */
export function dropAxes(r: Region, axes: ReadonlySet<number>): Region {
  if (r.some((b) => b.unary.size === 0 && b.rel.size === 0)) return EVERYWHERE;
  return r.map((box) => ({
    unary: new Map([...box.unary].filter(([a]) => !axes.has(a))),
    rel: new Map([...box.rel].filter(([, x]) => !axes.has(x.a) && !axes.has(x.b))),
  }));
}

/** Every axis a region constrains. */
export function axesOf(r: Region): Set<number> {
  const out = new Set<number>();
  for (const box of r) {
    for (const a of box.unary.keys()) out.add(a);
    for (const x of box.rel.values()) {
      out.add(x.a);
      out.add(x.b);
    }
  }
  return out;
}

/** Does the position (axis id → index) lie in the region? Unconstrained axes may be absent. */
export function contains(r: Region, pos: ReadonlyMap<number, number>): boolean {
  return r.some((box) => {
    for (const [a, s] of box.unary) if (!inSet(s, pos.get(a) ?? 0)) return false;
    for (const x of box.rel.values()) if (!inSet(x.d, (pos.get(x.a) ?? 0) - (pos.get(x.b) ?? 0))) return false;
    return true;
  });
}

function inSet(s: IntSet, v: number): boolean {
  return s.some(([lo, hi]) => lo <= v && v <= hi);
}

/** An integer-valued function of axis positions: `c + Σ coef[axis] · pos(axis)`. */
export interface Affine {
  readonly coef: ReadonlyMap<number, number>;
  readonly c: number;
}

function scale(x: Affine, k: number): Affine {
  return { coef: new Map([...x.coef].map(([ax, v]) => [ax, v * k])), c: x.c * k };
}

function plus(x: Affine, y: Affine): Affine {
  const coef = new Map(x.coef);
  for (const [ax, v] of y.coef) coef.set(ax, (coef.get(ax) ?? 0) + v);
  for (const [ax, v] of coef) if (v === 0) coef.delete(ax);
  return { coef, c: x.c + y.c };
}

function minus(x: Affine, y: Affine): Affine {
  return plus(x, scale(y, -1));
}

/** Where `e OP 0` holds, for e with at most two axes of opposite coefficients; undefined otherwise. */
function atom(e: Affine, op: CompareFn): Region | undefined {
  const terms = [...e.coef];
  if (terms.length === 0) return solve(1, e.c, op).some(([lo, hi]) => lo <= 0 && 0 <= hi) ? EVERYWHERE : NOWHERE;
  if (terms.length === 1) return onAxis(terms[0][0], solve(terms[0][1], e.c, op));
  if (terms.length === 2 && terms[0][1] === -terms[1][1]) return offset(terms[0][0], terms[1][0], solve(terms[0][1], e.c, op));
  return undefined;
}

/**
 * Symbolic forms of the nodes of one graph, memoised: positions as affine functions, and
 * masks as regions. Both follow renames (a position of `key` in `x as [seq -> key]` is the
 * position of `seq` in x) and broadcasts.
 */
export class PositionForms {
  private affine = new Map<number, Affine | null>();
  private bools = new Map<number, Region | null>();
  constructor(private readonly nodes: readonly IRNode[]) {}

  affineOf(id: number): Affine | undefined {
    return bottomUp(this.nodes, this.affine, id, (i) => {
      if (!this.affine.has(i)) this.affine.set(i, this.computeAffine(i) ?? null);
      return this.affine.get(i) ?? undefined;
    });
  }

  /** Where a boolean mask is true; undefined if it is not (only) a function of positions. */
  regionOf(id: number): Region | undefined {
    return bottomUp(this.nodes, this.bools, id, (i) => {
      if (!this.bools.has(i)) this.bools.set(i, this.computeRegion(i) ?? null);
      return this.bools.get(i) ?? undefined;
    });
  }

  /** Old axis id → new axis id of a rename node (axes keep their place). */
  renameMap(n: IRNode): Map<number, number> {
    const from = this.nodes[n.inputs[0]].type.axes;
    return new Map(from.map((a, i) => [a.id, n.type.axes[i].id]));
  }

  private computeAffine(id: number): Affine | undefined {
    const n = this.nodes[id];
    const a = n.attrs;
    switch (a.op) {
      case 'const':
        return Number.isFinite(a.value) ? { coef: new Map(), c: a.value } : undefined;
      case 'iota':
        return { coef: new Map([[a.axis.id, 1]]), c: 0 };
      case 'cast':
        // Positions are integers: only the exact conversion i32 → f32 keeps the value.
        return a.to === 'f32' && this.nodes[n.inputs[0]].type.dtype === 'i32' ? this.affineOf(n.inputs[0]) : undefined;
      case 'expand':
        return this.affineOf(n.inputs[0]);
      case 'rename': {
        const x = this.affineOf(n.inputs[0]);
        if (!x) return undefined;
        const map = this.renameMap(n);
        return { coef: new Map([...x.coef].map(([ax, v]) => [map.get(ax) ?? ax, v])), c: x.c };
      }
      case 'unary': {
        const x = a.fn === 'neg' ? this.affineOf(n.inputs[0]) : undefined;
        return x && scale(x, -1);
      }
      case 'binary': {
        const x = this.affineOf(n.inputs[0]);
        const y = this.affineOf(n.inputs[1]);
        if (!x || !y) return undefined;
        if (a.fn === 'add') return plus(x, y);
        if (a.fn === 'sub') return plus(x, scale(y, -1));
        if (a.fn === 'mul' && x.coef.size === 0) return scale(y, x.c);
        if (a.fn === 'mul' && y.coef.size === 0) return scale(x, y.c);
        return undefined;
      }
      default:
        return undefined;
    }
  }

  private computeRegion(id: number): Region | undefined {
    const n = this.nodes[id];
    const a = n.attrs;
    switch (a.op) {
      case 'compare': {
        const x = this.affineOf(n.inputs[0]);
        const y = this.affineOf(n.inputs[1]);
        if (x && y) return atom(minus(x, y), a.fn);
        // |X| OP c, and c OP |X|: a band around a diagonal.
        const flip = { lt: 'gt', le: 'ge', gt: 'lt', ge: 'le', eq: 'eq', ne: 'ne' } as const;
        for (const [absSide, op] of [[0, a.fn], [1, flip[a.fn]]] as const) {
          const m = this.nodes[n.inputs[absSide]];
          const c = this.affineOf(n.inputs[1 - absSide]);
          const inner = m.attrs.op === 'unary' && m.attrs.fn === 'abs' ? this.affineOf(m.inputs[0]) : undefined;
          if (!inner || !c || c.coef.size > 0) continue;
          const above = atom(minus(inner, c), op); // X OP c
          const below = atom(minus(scale(inner, -1), c), op); // -X OP c
          if (!above || !below) return undefined;
          // |X| > c ⇔ X > c ∨ -X > c;  |X| < c ⇔ X < c ∧ -X < c (likewise ≥, ≤; = is ∨, ≠ is ∧).
          return op === 'gt' || op === 'ge' || op === 'eq' ? or(above, below) : and(above, below);
        }
        return undefined;
      }
      case 'rename': {
        const x = this.regionOf(n.inputs[0]);
        return x && renameAxes(x, this.renameMap(n));
      }
      case 'expand':
        return this.regionOf(n.inputs[0]);
      case 'where': {
        // A selection between masks: (c ∧ x) ∨ (¬c ∧ y).
        if (n.type.dtype !== 'bool') return undefined;
        const c = this.regionOf(n.inputs[0]);
        const x = this.regionOf(n.inputs[1]);
        const y = this.regionOf(n.inputs[2]);
        const nc = c && not(c);
        if (!c || !x || !y || !nc) return undefined;
        const l = and(c, x);
        const r = and(nc, y);
        return l && r && or(l, r);
      }
      default:
        return undefined;
    }
  }
}

/** Rows visited one by one at most, where a region relates the axis to several others. */
const ROW_BUDGET = 1 << 20;

/**
 * A row (positions of the other axes the region mentions; none: every row) in which the
 * region keeps no position along `axis` (of the value with `axes`). `decided` is false when
 * there were too many rows to visit. The rows are visited only where the region relates the
 * axis to several others, each with a few interval operations.
 */
export function rowWithNoEntry(kept: Region, axes: readonly Axis[], axis: Axis): { decided: boolean; row?: Map<number, number> } {
  const mentioned = axesOf(kept);
  const others = axes.filter((a) => a.id !== axis.id && mentioned.has(a.id));
  if (others.length <= 1) return { decided: true, row: emptyRowOfOne(kept, axis, others[0]) };
  const total = others.reduce((n, a) => n * a.size, 1);
  if (total > ROW_BUDGET) return { decided: false };
  const idx = others.map(() => 0);
  const pos = new Map<number, number>();
  for (let r = 0; r < total; r++) {
    others.forEach((a, i) => pos.set(a.id, idx[i]));
    if (!rowHasEntry(kept, pos, axis)) return { decided: true, row: new Map(pos) };
    for (let i = others.length - 1; i >= 0; i--) {
      if (++idx[i] < others[i].size) break;
      idx[i] = 0;
    }
  }
  return { decided: true };
}

/**
 * The common case, with no row enumeration at all: the masks relate the softmax axis K to at
 * most one other axis Q. A box keeps an entry in row q iff q meets its constraint on Q and
 * k - q ∈ D for some kept k, i.e. q ∈ Kset - D; a row no box covers is starved.
 */
function emptyRowOfOne(kept: Region, axis: Axis, q: Axis | undefined): Map<number, number> | undefined {
  const rows = range(0, (q?.size ?? 1) - 1);
  let covered: IntSet = [];
  for (const box of kept) {
    const kSet = intersect(box.unary.get(axis.id) ?? ALL_INTS, range(0, axis.size - 1));
    if (isEmpty(kSet)) continue;
    if (!q) return undefined; // a kept entry in the one row there is
    const qSet = intersect(box.unary.get(q.id) ?? rows, rows);
    const d = offsetIn(box, axis.id, q.id) ?? ALL_INTS;
    covered = union(covered, intersect(qSet, addSets(kSet, negate(d))));
  }
  const starved = intersect(complement(covered), rows);
  if (isEmpty(starved)) return undefined;
  return new Map(q ? [[q.id, minOf(starved)]] : []);
}

/** Does the region keep some position along `axis` in the row `pos` (positions of the other axes)? */
export function rowHasEntry(kept: Region, pos: ReadonlyMap<number, number>, axis: Axis): boolean {
  return kept.some((box) => {
    let ks: IntSet = range(0, axis.size - 1);
    for (const [a, s] of box.unary) {
      if (a === axis.id) ks = intersect(ks, s);
      else if (!s.some(([lo, hi]) => lo <= (pos.get(a) ?? 0) && (pos.get(a) ?? 0) <= hi)) return false;
    }
    for (const r of box.rel.values()) {
      if (r.a !== axis.id && r.b !== axis.id) {
        const v = (pos.get(r.a) ?? 0) - (pos.get(r.b) ?? 0);
        if (!r.d.some(([lo, hi]) => lo <= v && v <= hi)) return false;
        continue;
      }
      const other = r.a === axis.id ? r.b : r.a;
      // axis - other ∈ d  ⇒  axis ∈ pos(other) + d
      ks = intersect(ks, addSets(point(pos.get(other) ?? 0), offsetIn(box, axis.id, other)!));
    }
    return !isEmpty(ks);
  });
}
