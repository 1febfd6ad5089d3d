/**
 * The `reduce` op: a reduction (reduce/<fn>.ts) over named axes, and the table of those
 * reductions. Adding one is one file here and one line in REDUCE.
 */
import { allInputs, describeDtype, duplicateAxis, fail, ok, unitCost, type OpDef } from '../def.js';
import { formatAxes, hasAxis, numElements } from '../../types.js';
import { alloc, contiguousStrides, Rows, sizesOf, stridesAlong } from '../../tensor/index.js';
import type { ReducePrim } from './def.js';
import { max } from './max.js';
import { mean } from './mean.js';
import { prod } from './prod.js';
import { sum } from './sum.js';

export type { ReducePrim } from './def.js';

/** Every reduction, by the name IR nodes use. */
export const REDUCE = { sum, mean, max, prod } satisfies Record<string, ReducePrim>;

export type ReduceFn = keyof typeof REDUCE;

/** Reducing zeros gives zero (what the causal GEMMs and the leak analysis assume of a reduction). */
export function reducesZerosToZero(p: ReducePrim): boolean {
  return p.combine(p.combine(p.identity, 0), 0) === 0;
}

export const reduceOp: OpDef<'reduce'> = {
  op: 'reduce',
  arity: 1,
  type: ([x], attrs) => {
    if (x.dtype === 'i32' && x.indexOf)
      return fail('E0402', `\`${attrs.fn}\` of ${describeDtype(x)}`, 'index tensors hold positions, not numbers; gather with them (`table[index]`) instead', 0);
    if (x.dtype !== 'f32') return fail('E0304', `\`${attrs.fn}\` needs a float operand, found ${describeDtype(x)}`, 'convert it with `float(...)` first', 0);
    for (const a of attrs.axes) {
      if (!hasAxis(x, a))
        return fail('E0305', `cannot take \`${attrs.fn}\` over \`${a.name}\`: the value has axes ${formatAxes(x.axes)}`, `reduce over one of ${formatAxes(x.axes)}`, 0);
    }
    const dup = duplicateAxis(attrs.axes);
    if (dup) return fail('E0303', `axis \`${dup.name}\` is named twice in \`over:\``, 'name each axis once');
    return ok({ dtype: 'f32', axes: x.axes.filter((a) => !attrs.axes.some((r) => r.id === a.id)) });
  },
  /**
   * Walks x in its own layout, combining each element into its output slot (stride 0 along the
   * reduced axes), in double, rounded once.
   */
  evaluate: ([x], attrs, out, ctx) => {
    const p = REDUCE[attrs.fn];
    const combine = p.combine;
    const X = x.data;
    const m = numElements(out);
    const acc = new Float64Array(m).fill(p.identity);
    const sizes = sizesOf(x.type.axes);
    const it = new Rows(sizes, [contiguousStrides(sizes), stridesAlong(out.axes, x.type.axes)]);
    const n = it.n;
    const so = it.step[1];
    for (let r = it.count; r > 0; r--, it.next()) {
      const o = it.offs[0];
      let q = it.offs[1];
      for (let j = 0; j < n; j++, q += so) acc[q] = combine(acc[q], X[o + j]);
    }
    if (p.averages) {
      const count = numElements({ axes: attrs.axes });
      for (let i = 0; i < m; i++) acc[i] /= count;
    }
    if (ctx.precision === 'f64') return { type: out, data: acc };
    const data = alloc('f32', m, ctx.precision);
    data.set(acc);
    return { type: out, data };
  },
  differentiable: allInputs(1),
  vjp: (b, n, g) => [REDUCE[n.attrs.fn].vjp(b, n.inputs[0], n.id, g, n.attrs.axes)],
  facts: (n, [x]) => {
    const v = new Set(x.varies);
    for (const ax of n.attrs.axes) v.delete(ax.id);
    return { varies: v, mayBeInfinite: x.mayBeInfinite, nonZero: false };
  },
  fusion: 'kernel',
  cost: unitCost,
  surface: [],
};
