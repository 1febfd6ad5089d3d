/**
 * The `unary` op: a function on floats (unary/<fn>.ts) applied elementwise, and the table of
 * those functions. Adding a function is one file here and one line in UNARY.
 */
import { describeDtype, fail, ok, type OpDef } from '../def.js';
import { alloc } from '../../tensor/index.js';
import type { UnaryPrim } from './def.js';
import { abs } from './abs.js';
import { exp } from './exp.js';
import { geluPrim } from './gelu.js';
import { geluGradPrim } from './gelu-grad.js';
import { log } from './log.js';
import { neg } from './neg.js';
import { recip } from './recip.js';
import { relu } from './relu.js';
import { rsqrt } from './rsqrt.js';
import { sigmoid } from './sigmoid.js';
import { silu } from './silu.js';
import { sqrt } from './sqrt.js';
import { square } from './square.js';
import { step } from './step.js';
import { tanh } from './tanh.js';

export type { UnaryPrim, WgslUnary } from './def.js';
export { keepsNonFinite, preservesZero } from './def.js';

/**
 * Every unary function, by the name IR nodes use. The order is that of the helper functions in
 * the WGSL prelude (sq, safe_tanh, gelu, gelu_grad), which gelu's helpers rely on.
 */
export const UNARY = {
  neg,
  exp,
  log,
  sqrt,
  rsqrt,
  square,
  tanh,
  gelu: geluPrim,
  gelu_grad: geluGradPrim,
  relu,
  step,
  sigmoid,
  abs,
  recip,
  silu,
} satisfies Record<string, UnaryPrim>;

export type UnaryFn = keyof typeof UNARY;

export const unaryOp: OpDef<'unary'> = {
  op: 'unary',
  arity: 1,
  type: ([x], attrs) => {
    if (x.dtype === 'f32') return ok({ dtype: 'f32', axes: x.axes });
    if (x.dtype === 'i32' && UNARY[attrs.fn].integer && !x.indexOf) return ok({ dtype: 'i32', axes: x.axes });
    if (x.dtype === 'i32' && x.indexOf)
      return fail('E0402', `\`${attrs.fn}\` applied to ${describeDtype(x)}`, 'index tensors hold positions, not numbers; gather with them (`table[index]`) instead', 0);
    return fail('E0304', `\`${attrs.fn}\` needs a float operand, found ${describeDtype(x)}`, 'convert it with `float(...)` first', 0);
  },
  evaluate: ([x], attrs, out, ctx) => {
    const f: (v: number) => number = UNARY[attrs.fn].scalar;
    const X = x.data;
    const n = X.length;
    const O = alloc(out.dtype, n, ctx.precision);
    for (let i = 0; i < n; i++) O[i] = f(X[i]);
    return { type: out, data: O };
  },
  differentiable: (attrs) => (UNARY[attrs.fn].vjp === 'zero' ? [] : [0]),
  vjp: (b, n, g) => {
    const rule = UNARY[n.attrs.fn].vjp;
    return [rule === 'zero' ? undefined : rule(b, n.inputs[0], n.id, g)];
  },
  facts: (n, [x]) => {
    const f = UNARY[n.attrs.fn].facts;
    return {
      varies: new Set(x.varies),
      mayBeInfinite: f.keepsInfinity && x.mayBeInfinite,
      nonZero: f.nonZero === 'always' || (f.nonZero === 'input' && x.nonZero),
    };
  },
  fusion: 'elementwise',
  cost: (attrs) => UNARY[attrs.fn].cost,
  surface: [],
};
