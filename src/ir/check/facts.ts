/**
 * Semantic facts over a graph that the checker's rules consult:
 * - which axes a value truly varies along (a broadcast axis does not count),
 * - which values are distributions over an axis (softmax outputs and what keeps that meaning),
 * - which values may hold ±inf, and which are provably non-zero,
 * - which values depend on a parameter or an input at all.
 */
import type { Span } from '../../diagnostics/span.js';
import type { Axis, Graph, IRNode } from '../types.js';

export interface NodeFacts {
  /** Axis ids the value depends on. */
  varies: Set<number>;
  distribution?: { axis: Axis; span?: Span; softmax: number };
  /** May hold an infinity written in the model (an `inf` literal, e.g. `where(mask, -inf, s)`). */
  mayBeInfinite: boolean;
  /** Provably never exactly zero. */
  nonZero: boolean;
  /** Depends on a parameter or an input (not only on constants and axis positions). */
  live: boolean;
}

export function computeFacts(graph: Graph): NodeFacts[] {
  const out: NodeFacts[] = [];
  for (const n of graph.nodes) {
    const live = n.attrs.op === 'param' || n.attrs.op === 'input' || n.inputs.some((i) => out[i].live);
    out.push({ ...factsOf(n, out), live });
  }
  return out;
}

function factsOf(n: IRNode, f: readonly NodeFacts[]): Omit<NodeFacts, 'live'> {
  const ins = n.inputs.map((i) => f[i]);
  const union = (xs: readonly NodeFacts[]) => new Set(xs.flatMap((x) => [...x.varies]));
  const a = n.attrs;
  switch (a.op) {
    case 'const':
      return { varies: new Set(), mayBeInfinite: !Number.isFinite(a.value), nonZero: a.value !== 0 && !Number.isNaN(a.value) };
    case 'param':
    case 'input':
      return { varies: new Set(n.type.axes.map((x) => x.id)), mayBeInfinite: false, nonZero: false };
    case 'iota':
      return { varies: new Set([a.axis.id]), mayBeInfinite: false, nonZero: false };
    case 'unary': {
      const [x] = ins;
      const positive = a.fn === 'exp' || a.fn === 'sigmoid' || a.fn === 'rsqrt' || a.fn === 'recip';
      const keepsInf = a.fn === 'neg' || a.fn === 'abs' || a.fn === 'square' || a.fn === 'exp' || a.fn === 'relu' || a.fn === 'gelu' || a.fn === 'sqrt';
      return {
        varies: new Set(x.varies),
        mayBeInfinite: keepsInf && x.mayBeInfinite,
        nonZero: positive || ((a.fn === 'neg' || a.fn === 'abs' || a.fn === 'square') && x.nonZero),
      };
    }
    case 'cast':
      return { varies: new Set(ins[0].varies), mayBeInfinite: false, nonZero: false };
    case 'binary': {
      const [x, y] = ins;
      const r: Omit<NodeFacts, 'live'> = {
        varies: union(ins),
        mayBeInfinite: x.mayBeInfinite || y.mayBeInfinite,
        nonZero: (a.fn === 'mul' || a.fn === 'div') && x.nonZero && y.nonZero,
      };
      // Scaling a distribution by something constant along its axis keeps the axis' meaning.
      const d = x.distribution ?? y.distribution;
      const other = x.distribution ? y : x;
      if (d && (a.fn === 'mul' || (a.fn === 'div' && x.distribution)) && !other.varies.has(d.axis.id)) r.distribution = d;
      return r;
    }
    case 'compare':
      return { varies: union(ins), mayBeInfinite: false, nonZero: false };
    case 'where': {
      const [, x, y] = ins;
      return { varies: union(ins), mayBeInfinite: x.mayBeInfinite || y.mayBeInfinite, nonZero: x.nonZero && y.nonZero };
    }
    case 'reduce': {
      const v = new Set(ins[0].varies);
      for (const ax of a.axes) v.delete(ax.id);
      return { varies: v, mayBeInfinite: ins[0].mayBeInfinite, nonZero: false };
    }
    case 'expand':
      return { varies: new Set(ins[0].varies), mayBeInfinite: ins[0].mayBeInfinite, nonZero: ins[0].nonZero, distribution: ins[0].distribution };
    case 'contract': {
      const v = union(ins);
      for (const ax of a.over) v.delete(ax.id);
      return { varies: v, mayBeInfinite: ins.some((x) => x.mayBeInfinite), nonZero: false };
    }
    case 'gather': {
      const v = new Set(ins[0].varies);
      v.delete(a.axis.id);
      for (const x of ins[1].varies) v.add(x);
      return { varies: v, mayBeInfinite: ins[0].mayBeInfinite, nonZero: ins[0].nonZero };
    }
    case 'scatter_add':
      return { varies: new Set([a.axis.id, ...ins[0].varies]), mayBeInfinite: ins[0].mayBeInfinite, nonZero: false };
    case 'rename': {
      const map = new Map(a.pairs.map(([from, to]) => [from.id, to]));
      const v = new Set([...ins[0].varies].map((id) => map.get(id)?.id ?? id));
      const d = ins[0].distribution;
      const dist = d && { ...d, axis: map.get(d.axis.id) ?? d.axis };
      return { varies: v, mayBeInfinite: ins[0].mayBeInfinite, nonZero: ins[0].nonZero, distribution: dist };
    }
    case 'softmax':
      return { varies: new Set(ins[0].varies), mayBeInfinite: false, nonZero: false, distribution: { axis: a.axis, span: n.span, softmax: n.id } };
    case 'cross_entropy':
      return { varies: new Set(), mayBeInfinite: false, nonZero: false };
  }
}
