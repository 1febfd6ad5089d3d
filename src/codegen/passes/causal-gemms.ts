/**
 * Causal GEMMs: the k range of GEMMs whose operand is zero on one side of a diagonal.
 * Attention under a causal mask multiplies matrices that are zero on one side of the diagonal: p = softmax(where(key > seq, -inf, s)) is exactly 0 where
 * key > seq, and so is the gradient through the mask. A contraction over `key` with such an
 * operand needs, for output row `seq`, only the k positions key ≤ seq (and over `seq`, for
 * output row `key`, only seq ≥ key): `kRange` on the GEMM lets the generator stop (or start)
 * the k loop at the row block's edge, skipping about half of the attention GEMMs' work.
 */
import { BINARY, preservesZero, REDUCE, reducesZerosToZero, UNARY } from '../../ir/ops/index.js';
import type { Graph } from '../../ir/types.js';
import { layoutStrides } from '../kernel-ir/layout.js';
import type { GemmKernel, Schedule } from '../kernel-ir/types.js';

/** A value is exactly zero wherever position(above) > position(below) (axis ids of the value). */
export interface ZeroPattern {
  above: number;
  below: number;
}

/** The zero pattern of each node of `g` that has one (memoised). */
export function zeroPatterns(g: Graph): (id: number) => ZeroPattern | undefined {
  const memo = new Map<number, ZeroPattern | undefined>();
  const same = (a?: ZeroPattern, b?: ZeroPattern) => !!a && !!b && a.above === b.above && a.below === b.below;
  const constant = (id: number, test: (v: number) => boolean) => {
    const a = g.nodes[id].attrs;
    return a.op === 'const' && test(a.value);
  };
  /** `iota(x) > iota(y)` (or `<`, swapped) as a pattern. */
  const compare = (id: number): ZeroPattern | undefined => {
    const n = g.nodes[id];
    if (n.attrs.op !== 'compare') return undefined;
    const [x, y] = n.inputs.map((i) => g.nodes[i].attrs);
    if (x.op !== 'iota' || y.op !== 'iota') return undefined;
    if (n.attrs.fn === 'gt') return { above: x.axis.id, below: y.axis.id };
    if (n.attrs.fn === 'lt') return { above: y.axis.id, below: x.axis.id };
    return undefined;
  };
  /** Where the value is -inf (a causal mask before a softmax). */
  const minusInf = (id: number): ZeroPattern | undefined => {
    const n = g.nodes[id];
    if (n.attrs.op === 'where' && constant(n.inputs[1], (v) => v === -Infinity)) return compare(n.inputs[0]);
    return undefined;
  };
  const zero = (id: number): ZeroPattern | undefined => {
    if (memo.has(id)) return memo.get(id);
    memo.set(id, undefined); // cycles cannot occur, but a node is never its own evidence
    const n = g.nodes[id];
    const [x, y] = n.inputs;
    let p: ZeroPattern | undefined;
    switch (n.attrs.op) {
      case 'where':
        if (constant(n.inputs[1], (v) => v === 0)) p = compare(n.inputs[0]);
        else if (same(zero(n.inputs[1]), zero(n.inputs[2]))) p = zero(n.inputs[1]);
        break;
      case 'softmax': {
        // Rows that are all -inf would be NaN, which the checker rejects; elsewhere exp(-inf) = 0.
        const m = minusInf(x);
        if (m && (m.above === n.attrs.axis.id || m.below === n.attrs.axis.id)) p = m;
        break;
      }
      case 'unary':
        // f(0) = 0 (neg, relu, gelu, ...): zeros stay zeros.
        if (preservesZero(UNARY[n.attrs.fn])) p = zero(x);
        break;
      case 'cast':
        p = zero(x);
        break;
      case 'binary': {
        // 0·y and 0/y are 0 for finite y (nonzero for the quotient): a skipped term can only
        // differ from the interpreter where the other factor is already inf or NaN.
        const z = BINARY[n.attrs.fn].facts.zero;
        if (z === 'either') p = zero(x) ?? zero(y);
        else if (z === 'left') p = zero(x);
        else if (z === 'both' && same(zero(x), zero(y))) p = zero(x);
        break;
      }
      case 'expand':
        p = zero(x);
        break;
      case 'reduce': {
        // Reducing zeros along other axes gives zeros (sum, mean, max, prod).
        const z = reducesZerosToZero(REDUCE[n.attrs.fn]) ? zero(x) : undefined;
        const over = new Set(n.attrs.axes.map((a) => a.id));
        if (z && !over.has(z.above) && !over.has(z.below)) p = z;
        break;
      }
      case 'rename': {
        const z = zero(x);
        if (z) {
          const to = new Map(n.attrs.pairs.map(([from, target]) => [from.id, target.id]));
          p = { above: to.get(z.above) ?? z.above, below: to.get(z.below) ?? z.below };
        }
        break;
      }
      default:
        break;
    }
    memo.set(id, p);
    return p;
  };
  // Filled in id (topological) order, so each node's inputs are known when it is reached and
  // the recursion stays one level deep however long a chain of statements is.
  for (let id = 0; id < g.nodes.length; id++) zero(id);
  return zero;
}

/**
 * Mark the GEMMs of `s` whose one contracted axis meets a free axis in an operand's zero
 * pattern: `keep: 'le'` when only k ≤ row contributes, `'ge'` when only k ≥ row does.
 */
export function markCausalGemms(s: Schedule, g: Graph): void {
  const zero = zeroPatterns(g);
  for (const k of s.kernels) {
    if (k.kind !== 'gemm') continue;
    const contracted = k.k.filter((a) => a.size > 1);
    if (contracted.length !== 1) continue;
    const kAxis = contracted[0].id;
    const free = new Set([...k.m, ...k.n].map((a) => a.id));
    for (const operand of [k.a, k.b]) {
      if (!s.values.isNode(operand.value)) continue;
      const node = g.nodes[operand.value];
      const p = zero(operand.value);
      if (!p) continue;
      // The pattern is over the value's axes; the kernel may see them renamed: match by stride.
      const layout = layoutStrides(node.type.axes);
      const inKernel = (axis: number) => {
        const stride = layout.get(axis);
        if (stride === undefined || node.type.axes.find((a) => a.id === axis)!.size === 1) return undefined;
        return [...operand.strides].find(([, st]) => st === stride)?.[0];
      };
      const [above, below] = [inKernel(p.above), inKernel(p.below)];
      if (above === undefined || below === undefined) continue;
      const range: GemmKernel['kRange'] = above === kAxis && free.has(below) ? { row: below, keep: 'le' } : below === kAxis && free.has(above) ? { row: above, keep: 'ge' } : undefined;
      if (range) {
        k.kRange = range;
        break;
      }
    }
  }
}
