/** `x as [seq -> key]`: the same data viewed with an axis replaced by another of equal size. */
import { allInputs, fail, ok, unitCost, type OpDef } from './def.js';
import { formatAxes, hasAxis } from '../types.js';

export const renameOp: OpDef<'rename'> = {
  op: 'rename',
  arity: 1,
  type: ([x], attrs) => {
    let axes = [...x.axes];
    for (const [from, to] of attrs.pairs) {
      const i = axes.findIndex((a) => a.id === from.id);
      if (i < 0) return fail('E0307', `cannot rename \`${from.name}\`: the value has axes ${formatAxes(axes)}`, `rename one of ${formatAxes(axes)}`, 0);
      if (from.size !== to.size)
        return fail('E0301', `cannot rename \`${from.name}\` (size ${from.size}) to \`${to.name}\` (size ${to.size})`, `declare \`axis ${to.name} = ${from.name}\` so the sizes agree`, 0);
      if (from.id !== to.id && hasAxis({ axes }, to))
        return fail('E0303', `renaming \`${from.name}\` to \`${to.name}\` would give the value axis \`${to.name}\` twice`, 'rename to an axis the value does not have', 0);
      axes[i] = to;
    }
    axes = axes.slice();
    return ok({ dtype: x.dtype, axes, indexOf: x.indexOf });
  },
  /** The layout is unchanged (out's axes are x's, in x's order, with substitutions): share the data. */
  evaluate: ([x], _attrs, out) => {
    if (out.axes.length !== x.type.axes.length || out.axes.some((a, i) => a.size !== x.type.axes[i].size))
      throw new Error('internal: rename changed the layout');
    return { type: out, data: x.data };
  },
  differentiable: allInputs(1),
  /**
   * The pairs apply in order (`[a -> b, b -> c]` renames a to c), so the inverse undoes them in
   * reverse order: `[c -> b, b -> a]`.
   */
  vjp: (b, n, g) => [b.add({ op: 'rename', pairs: n.attrs.pairs.map(([from, to]) => [to, from] as const).reverse() }, [g])],
  facts: (n, [x]) => {
    const map = new Map(n.attrs.pairs.map(([from, to]) => [from.id, to]));
    const v = new Set([...x.varies].map((id) => map.get(id)?.id ?? id));
    const d = x.distribution;
    const dist = d && { ...d, axis: map.get(d.axis.id) ?? d.axis };
    return { varies: v, mayBeInfinite: x.mayBeInfinite, nonZero: x.nonZero, distribution: dist };
  },
  fusion: 'view',
  cost: unitCost,
  // `x as [a -> b]` is syntax of the language, not a function.
  surface: [],
};
