/** `a + b`. */
import type { BinaryPrim } from './def.js';

const add2 = (a: number, b: number) => a + b;

export const add: BinaryPrim = {
  surface: { operator: '+' },
  scalar: add2,
  int: add2,
  vjp: (_b, _x, _y, _out, g) => [g, g],
  facts: { nonZeroIfBoth: false, keepsDistribution: 'no', nonFinite: 'either', zero: 'both' },
  cost: 1,
  wgsl: (a, b) => `(${a} + ${b})`,
  torch: { operator: '+' },
};
