/** `a / b` (floats only). */
import { bin, un } from '../def.js';
import type { BinaryPrim } from './def.js';

export const div: BinaryPrim = {
  surface: { operator: '/' },
  scalar: (a, b) => a / b,
  int: 'float only',
  // d(x/y)/dy = -x/y^2 = -(x/y)/y
  vjp: (b, _x, y, out, g, want) => [want(0) ? bin(b, 'div', g, y) : undefined, want(1) ? un(b, 'neg', bin(b, 'div', bin(b, 'mul', g, out), y)) : undefined],
  facts: { nonZeroIfBoth: true, keepsDistribution: 'left', nonFinite: 'left', zero: 'left' },
  cost: 2,
  wgsl: (a, b) => `(${a} / ${b})`,
  torch: { operator: '/' },
};
