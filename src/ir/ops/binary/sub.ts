/** `a - b`. */
import { un } from '../def.js';
import type { BinaryPrim } from './def.js';

const sub2 = (a: number, b: number) => a - b;

export const sub: BinaryPrim = {
  surface: { operator: '-' },
  scalar: sub2,
  int: sub2,
  vjp: (b, _x, _y, _out, g, want) => [g, want(1) ? un(b, 'neg', g) : undefined],
  facts: { nonZeroIfBoth: false, keepsDistribution: 'no', nonFinite: 'either', zero: 'both' },
  cost: 1,
  wgsl: (a, b) => `(${a} - ${b})`,
  torch: { operator: '-' },
};
