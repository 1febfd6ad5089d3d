/** Leaves of the graph: constants, parameters and inputs (axis positions are iota.ts). */
import { noInputs, ok, unitCost, type OpDef } from './def.js';
import { scalar } from '../tensor/index.js';

/** A scalar constant of the given dtype. */
export const constOp: OpDef<'const'> = {
  op: 'const',
  arity: 0,
  type: (_inputs, attrs) => ok({ dtype: attrs.dtype, axes: [] }),
  evaluate: (_inputs, attrs, out, ctx) => ({ type: out, data: scalar(attrs.value, attrs.dtype, ctx.precision).data }),
  differentiable: noInputs,
  vjp: 'none',
  facts: (n) => ({ varies: new Set(), mayBeInfinite: !Number.isFinite(n.attrs.value), nonZero: n.attrs.value !== 0 && !Number.isNaN(n.attrs.value) }),
  fusion: 'free',
  cost: unitCost,
  surface: [],
};

/**
 * A leaf the interpreter is fed (a trained parameter, an input). Its type is fixed at
 * creation by the builder (leafType); the rule here only documents that it takes no inputs.
 */
function fedLeaf<K extends 'param' | 'input'>(op: K, what: string): OpDef<K> {
  return {
    op,
    arity: 0,
    type: () => ok({ dtype: 'f32', axes: [] }),
    evaluate: (_inputs, attrs: { name: string }) => {
      throw new Error(`internal: ${what} \`${attrs.name}\` is fed by the interpreter, not evaluated`);
    },
    differentiable: noInputs,
    vjp: 'none',
    facts: (n) => ({ varies: new Set(n.type.axes.map((x) => x.id)), mayBeInfinite: false, nonZero: false }),
    fusion: 'leaf',
    cost: unitCost,
    surface: [],
  };
}

export const paramOp = fedLeaf('param', 'parameter');
export const inputOp = fedLeaf('input', 'input');
