/** `broadcast(x, over: A)`: x along additional axes (appended after its own); also the gradient of reductions. */
import { allInputs, duplicateAxis, fail, ok, unitCost, type OpDef } from './def.js';
import { hasAxis, numElements } from '../types.js';
import { alloc, broadcastRows } from '../tensor/index.js';

export const expandOp: OpDef<'expand'> = {
  op: 'expand',
  arity: 1,
  type: ([x], attrs) => {
    for (const a of attrs.axes) {
      if (hasAxis(x, a)) return fail('E0303', `cannot broadcast along \`${a.name}\`: the value already has it`, 'broadcast only along axes the value lacks', 0);
    }
    const dup = duplicateAxis(attrs.axes);
    if (dup) return fail('E0303', `axis \`${dup.name}\` is named twice`);
    return ok({ dtype: x.dtype, axes: [...x.axes, ...attrs.axes], indexOf: x.indexOf });
  },
  evaluate: ([x], _attrs, out, ctx) => {
    const X = x.data;
    const O = alloc(out.dtype, numElements(out), ctx.precision);
    const it = broadcastRows(out.axes, [x.type.axes]);
    const n = it.n;
    const s = it.step[1];
    for (let r = it.count; r > 0; r--, it.next()) {
      const o = it.offs[0];
      let p = it.offs[1];
      for (let j = 0; j < n; j++, p += s) O[o + j] = X[p];
    }
    return { type: out, data: O };
  },
  differentiable: allInputs(1),
  vjp: (b, n, g) => [b.add({ op: 'reduce', fn: 'sum', axes: n.attrs.axes }, [g])],
  facts: (_n, [x]) => ({ varies: new Set(x.varies), mayBeInfinite: x.mayBeInfinite, nonZero: x.nonZero, distribution: x.distribution }),
  fusion: 'view',
  cost: unitCost,
  surface: ['broadcast'],
};
