/** Leaves of the graph: constants, parameters, inputs and axis positions (iota). */
import { ok, type OpDef } from './def.js';
import { scalar } from '../interpret/tensor.js';

/** A scalar constant of the given dtype. */
export const constOp: OpDef<'const'> = {
  op: 'const',
  arity: 0,
  type: (_inputs, attrs) => ok({ dtype: attrs.dtype, axes: [] }),
  evaluate: (_inputs, attrs, out, ctx) => ({ type: out, data: scalar(attrs.value, attrs.dtype, ctx.precision).data }),
};

/**
 * A trained parameter. Its type is fixed at creation by the builder (leafType), the rule
 * here only documents that it takes no inputs.
 */
export const paramOp: OpDef<'param'> = {
  op: 'param',
  arity: 0,
  type: () => ok({ dtype: 'f32', axes: [] }),
  evaluate: (_inputs, attrs) => {
    throw new Error(`internal: parameter \`${attrs.name}\` is fed by the interpreter, not evaluated`);
  },
};

export const inputOp: OpDef<'input'> = {
  op: 'input',
  arity: 0,
  type: () => ok({ dtype: 'f32', axes: [] }),
  evaluate: (_inputs, attrs) => {
    throw new Error(`internal: input \`${attrs.name}\` is fed by the interpreter, not evaluated`);
  },
};

/** Positions 0..n-1 along an axis: the building block of masks (`key > seq`). */
export const iotaOp: OpDef<'iota'> = {
  op: 'iota',
  arity: 0,
  type: (_inputs, attrs) => ok({ dtype: 'i32', axes: [attrs.axis], indexOf: attrs.axis }),
  evaluate: (_inputs, attrs, out) => {
    const data = new Int32Array(attrs.axis.size);
    for (let i = 0; i < data.length; i++) data[i] = i;
    return { type: out, data };
  },
};
