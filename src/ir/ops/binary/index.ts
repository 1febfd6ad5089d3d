/**
 * The `binary` op: an arithmetic function (binary/<fn>.ts) of two tensors broadcast by axis
 * name, and the table of those functions. Adding a function is one file here and one line in
 * BINARY.
 */
import { describeDtype, fail, ok, unionAxes, type OpDef } from '../def.js';
import { numElements, type TensorType } from '../../types.js';
import { alloc, zipBroadcast } from '../../tensor/index.js';
import type { BinaryPrim } from './def.js';
import { add } from './add.js';
import { div } from './div.js';
import { max } from './max.js';
import { min } from './min.js';
import { mul } from './mul.js';
import { pow } from './pow.js';
import { sub } from './sub.js';

export type { BinaryPrim } from './def.js';

/** Every binary function, by the name IR nodes use. */
export const BINARY = { add, sub, mul, div, pow, max, min } satisfies Record<string, BinaryPrim>;

export type BinaryFn = keyof typeof BINARY;

/** The operands' dtypes for arithmetic or a comparison `what`: both numbers of one kind, or the error. */
export function numericPair(a: TensorType, b: TensorType, what: string) {
  for (const [i, t] of [a, b].entries()) {
    if (t.dtype === 'bool')
      return fail('E0304', `${what} of ${describeDtype(t)}`, 'use the mask in `where(mask, a, b)`, or convert it with `float(mask)`', i);
  }
  if (a.dtype !== b.dtype) {
    const idx = a.dtype === 'i32' ? 0 : 1;
    const t = idx === 0 ? a : b;
    if (t.indexOf)
      return fail('E0402', `${what} of a float and ${describeDtype(t)}`, 'index tensors hold positions, not numbers; gather with them (`table[index]`) instead', idx);
    return fail('E0304', `${what} of a float and ${describeDtype(t)}`, 'convert the integer operand with `float(...)`', idx);
  }
  return undefined;
}

export const binaryOp: OpDef<'binary'> = {
  op: 'binary',
  arity: 2,
  type: ([a, b], attrs) => {
    const bad = numericPair(a, b, `\`${attrs.fn}\``);
    if (bad) return bad;
    if (a.dtype === 'i32' && BINARY[attrs.fn].int === 'float only')
      return fail('E0304', `integer \`${attrs.fn}\` is not defined on positions`, 'convert with `float(...)` first', 0);
    return ok({ dtype: a.dtype, axes: unionAxes(a, b) });
  },
  /** IEEE double arithmetic (rounded to the output's precision); i32 wraps like two's complement. */
  evaluate: ([a, b], attrs, out, ctx) => {
    const p = BINARY[attrs.fn];
    const f = out.dtype === 'i32' && p.int !== 'float only' ? p.int : p.scalar;
    const O = alloc(out.dtype, numElements(out), ctx.precision);
    zipBroadcast(out.axes, a, b, O, f);
    return { type: out, data: O };
  },
  differentiable: () => [0, 1],
  vjp: (b, n, g, wanted) => BINARY[n.attrs.fn].vjp(b, n.inputs[0], n.inputs[1], n.id, g, (i) => wanted.includes(i)),
  facts: (n, [x, y]) => {
    const f = BINARY[n.attrs.fn].facts;
    const r = {
      varies: new Set([...x.varies, ...y.varies]),
      mayBeInfinite: x.mayBeInfinite || y.mayBeInfinite,
      nonZero: f.nonZeroIfBoth && x.nonZero && y.nonZero,
    };
    // Scaling a distribution by something constant along its axis keeps the axis' meaning.
    const d = x.distribution ?? y.distribution;
    const other = x.distribution ? y : x;
    const kept = f.keepsDistribution === 'either' || (f.keepsDistribution === 'left' && x.distribution);
    return d && kept && !other.varies.has(d.axis.id) ? { ...r, distribution: d } : r;
  },
  fusion: 'elementwise',
  cost: (attrs) => BINARY[attrs.fn].cost,
  surface: [],
};
