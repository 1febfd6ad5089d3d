/** Gather rows of a table by an index tensor (`wte[tokens]`); its adjoint is scatter-add.ts. */
import { describeDtype, fail, ok, unitCost, type OpDef } from './def.js';
import { formatAxes, hasAxis, numElements, type Axis } from '../types.js';
import { alloc, permute, positionName, type Tensor } from '../tensor/index.js';

/** An index value outside its axis: a data error, reported with the value and where it is. */
export function indexOutOfRange(what: string, value: number, axis: Axis, index: Tensor, at: number): Error {
  return new Error(
    `${what}: index value ${value} is out of range for axis \`${axis.name}\` of size ${axis.size} (at ${positionName(index.type.axes, at)} of the index)`,
  );
}

/** table[..., axis, ...] gathered by index[I...] of axis → [I..., table axes without `axis`]. */
export const gatherOp: OpDef<'gather'> = {
  op: 'gather',
  arity: 2,
  type: ([table, index], attrs) => {
    if (index.dtype !== 'i32' || !index.indexOf)
      return fail('E0401', `a table can only be indexed by an index tensor, found ${describeDtype(index)}`, 'declare the input as `index[...] of AXIS`', 1);
    if (!hasAxis(table, attrs.axis))
      return fail('E0401', `the index holds positions of \`${attrs.axis.name}\` but the table has axes ${formatAxes(table.axes)}`, `index a table that has axis \`${attrs.axis.name}\``, 1);
    if (index.indexOf.id !== attrs.axis.id)
      return fail('E0401', `gather along \`${attrs.axis.name}\` with an index of \`${index.indexOf.name}\``, `use an index of \`${attrs.axis.name}\``, 1);
    const rest = table.axes.filter((a) => a.id !== attrs.axis.id);
    const clash = index.axes.find((a) => rest.some((r) => r.id === a.id));
    if (clash)
      return fail('E0303', `axis \`${clash.name}\` would appear twice: both the index and the table have it`, `rename one with \`as [${clash.name} -> ...]\``, 1);
    return ok({ dtype: table.dtype, axes: [...index.axes, ...rest] });
  },
  /** Copies the row table[axis = index[i]] for every position i of the index (in its layout). */
  evaluate: ([table, index], attrs, out, ctx) => {
    const axis = attrs.axis;
    const rest = table.type.axes.filter((a) => a.id !== axis.id);
    const T = permute(table, [axis, ...rest]).data;
    const I = index.data;
    const row = numElements({ axes: rest });
    const O = alloc(out.dtype, numElements(out), ctx.precision);
    for (let i = 0; i < I.length; i++) {
      const v = I[i];
      if (!(v >= 0 && v < axis.size)) throw indexOutOfRange('gather', v, axis, index, i);
      const src = v * row;
      const dst = i * row;
      for (let j = 0; j < row; j++) O[dst + j] = T[src + j];
    }
    return { type: out, data: O };
  },
  // The index carries no gradient.
  differentiable: () => [0],
  vjp: (b, n, g) => [b.add({ op: 'scatter_add', axis: n.attrs.axis }, [g, n.inputs[1]])],
  facts: (n, [table, index]) => {
    const v = new Set(table.varies);
    v.delete(n.attrs.axis.id);
    for (const x of index.varies) v.add(x);
    return { varies: v, mayBeInfinite: table.mayBeInfinite, nonZero: table.nonZero };
  },
  fusion: 'elementwise',
  cost: unitCost,
  // `table[index]` is syntax of the language, not a function.
  surface: [],
};
