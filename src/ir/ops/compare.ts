/**
 * Comparisons (`key > seq`): the masks of `where`. The six are one primitive with a table:
 * they differ only in their operator, which .mdl, WGSL and Python all spell the same.
 */
import { ok, plainFacts, unionAxes, noInputs, unitCost, type OpDef } from './def.js';
import { numElements } from '../types.js';
import { zipBroadcast } from '../tensor/index.js';
import { numericPair } from './binary/index.js';

export interface ComparePrim {
  /** The operator, in .mdl as in WGSL and Python. */
  operator: '<' | '<=' | '>' | '>=' | '==' | '!=';
  /** IEEE comparison: anything compared with NaN is false, except `!=` (true). */
  scalar(a: number, b: number): boolean;
}

export const COMPARE = {
  lt: { operator: '<', scalar: (a, b) => a < b },
  le: { operator: '<=', scalar: (a, b) => a <= b },
  gt: { operator: '>', scalar: (a, b) => a > b },
  ge: { operator: '>=', scalar: (a, b) => a >= b },
  eq: { operator: '==', scalar: (a, b) => a === b },
  ne: { operator: '!=', scalar: (a, b) => a !== b },
} satisfies Record<string, ComparePrim>;

export type CompareFn = keyof typeof COMPARE;

export const compareOp: OpDef<'compare'> = {
  op: 'compare',
  arity: 2,
  type: ([a, b], attrs) => {
    const bad = numericPair(a, b, `comparison \`${attrs.fn}\``);
    if (bad) return bad;
    return ok({ dtype: 'bool', axes: unionAxes(a, b) });
  },
  evaluate: ([a, b], attrs, out) => {
    const f: (a: number, b: number) => boolean = COMPARE[attrs.fn].scalar;
    const O = new Uint8Array(numElements(out));
    zipBroadcast(out.axes, a, b, O, (x, y) => (f(x, y) ? 1 : 0));
    return { type: out, data: O };
  },
  differentiable: noInputs,
  vjp: 'none',
  facts: (_n, ins) => plainFacts(ins),
  fusion: 'elementwise',
  cost: unitCost,
  surface: [],
};
