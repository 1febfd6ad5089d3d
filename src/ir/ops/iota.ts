/** Positions 0..n-1 along an axis: the building block of masks (`key > seq`). */
import { noInputs, ok, unitCost, type OpDef } from './def.js';

export const iotaOp: OpDef<'iota'> = {
  op: 'iota',
  arity: 0,
  type: (_inputs, attrs) => ok({ dtype: 'i32', axes: [attrs.axis], indexOf: attrs.axis }),
  evaluate: (_inputs, attrs, out) => {
    const data = new Int32Array(attrs.axis.size);
    for (let i = 0; i < data.length; i++) data[i] = i;
    return { type: out, data };
  },
  differentiable: noInputs,
  vjp: 'none',
  facts: (n) => ({ varies: new Set([n.attrs.axis.id]), mayBeInfinite: false, nonZero: false }),
  fusion: 'free',
  cost: unitCost,
  surface: [],
};
