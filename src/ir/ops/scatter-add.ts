/** Scatter-add: values summed into rows of a new table at index positions (the adjoint of gather, made by gradients only). */
import { fail, ok, unitCost, type OpDef } from './def.js';
import { hasAxis, numElements } from '../types.js';
import { alloc, permute } from '../tensor/index.js';
import { indexOutOfRange } from './gather.js';

/** values[I..., R...] summed into rows of a new table [axis, R...] at positions index[I...]. */
export const scatterAddOp: OpDef<'scatter_add'> = {
  op: 'scatter_add',
  arity: 2,
  type: ([values, index], attrs) => {
    if (index.dtype !== 'i32' || !index.indexOf || index.indexOf.id !== attrs.axis.id)
      return fail('E0401', `scatter-add along \`${attrs.axis.name}\` needs an index of \`${attrs.axis.name}\``, undefined, 1);
    for (const a of index.axes) {
      if (!hasAxis(values, a)) return fail('E0305', `scatter-add values lack the index axis \`${a.name}\``, undefined, 0);
    }
    const rest = values.axes.filter((a) => !hasAxis(index, a));
    if (rest.some((a) => a.id === attrs.axis.id)) return fail('E0303', `axis \`${attrs.axis.name}\` would appear twice`);
    return ok({ dtype: values.dtype, axes: [attrs.axis, ...rest] });
  },
  /**
   * out[axis = index[i], r] += values[i, r], visiting i in the index's layout order (so the
   * sums are deterministic), accumulating in the evaluation precision.
   */
  evaluate: ([values, index], attrs, out, ctx) => {
    const axis = attrs.axis;
    const rest = out.axes.slice(1);
    const V = permute(values, [...index.type.axes, ...rest]).data;
    const I = index.data;
    const row = numElements({ axes: rest });
    const O = alloc(out.dtype, numElements(out), ctx.precision);
    for (let i = 0; i < I.length; i++) {
      const v = I[i];
      if (!(v >= 0 && v < axis.size)) throw indexOutOfRange('scatter_add', v, axis, index, i);
      const dst = v * row;
      const src = i * row;
      for (let j = 0; j < row; j++) O[dst + j] += V[src + j];
    }
    return { type: out, data: O };
  },
  differentiable: () => [0],
  vjp: (b, n, g) => [b.add({ op: 'gather', axis: n.attrs.axis }, [g, n.inputs[1]])],
  facts: (n, [values]) => ({ varies: new Set([n.attrs.axis.id, ...values.varies]), mayBeInfinite: values.mayBeInfinite, nonZero: false }),
  fusion: 'kernel',
  cost: unitCost,
  surface: [],
};
