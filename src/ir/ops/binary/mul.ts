/** `a * b`. */
import { bin } from '../def.js';
import type { BinaryPrim } from './def.js';

export const mul: BinaryPrim = {
  surface: { operator: '*' },
  scalar: (a, b) => a * b,
  int: Math.imul,
  vjp: (b, x, y, _out, g, want) => [want(0) ? bin(b, 'mul', g, y) : undefined, want(1) ? bin(b, 'mul', g, x) : undefined],
  facts: { nonZeroIfBoth: true, keepsDistribution: 'either', nonFinite: 'either', zero: 'either' },
  cost: 1,
  wgsl: (a, b) => `(${a} * ${b})`,
  torch: { operator: '*' },
};
