/** Conversions between dtypes: `float(positions)`, masks as 0/1, the one-hot of cross-entropy's gradient. */
import { noInputs, ok, plainFacts, unitCost, type OpDef } from './def.js';
import { alloc } from '../tensor/index.js';

export const castOp: OpDef<'cast'> = {
  op: 'cast',
  arity: 1,
  type: ([x], attrs) => ok({ dtype: attrs.to, axes: x.axes }),
  /**
   * bool → number: 0/1; number → bool: x != 0 (NaN is true); f32 → i32: truncation toward
   * zero, saturating at the i32 range, NaN → 0 (as WGSL's i32(f32)); i32 → f32: exact (then
   * rounded to f32 at f32 precision).
   */
  evaluate: ([x], attrs, out, ctx) => {
    const X = x.data;
    const n = X.length;
    const O = alloc(out.dtype, n, ctx.precision);
    if (attrs.to === 'bool') {
      for (let i = 0; i < n; i++) O[i] = X[i] !== 0 ? 1 : 0;
    } else if (attrs.to === 'i32' && x.type.dtype === 'f32') {
      for (let i = 0; i < n; i++) {
        const v = X[i];
        O[i] = v !== v ? 0 : v >= 2147483647 ? 2147483647 : v <= -2147483648 ? -2147483648 : Math.trunc(v);
      }
    } else {
      for (let i = 0; i < n; i++) O[i] = X[i];
    }
    return { type: out, data: O };
  },
  // Piecewise constant where it is not the identity (`float` of a float elaborates to the value itself).
  differentiable: noInputs,
  vjp: 'none',
  facts: (_n, ins) => plainFacts(ins),
  fusion: 'elementwise',
  cost: unitCost,
  surface: ['float'],
};
