/** `a ^ b` (floats only; `x ^ 2` elaborates to the unary square instead). */
import { bin, un } from '../def.js';
import type { BinaryPrim } from './def.js';

export const pow: BinaryPrim = {
  surface: { operator: '^' },
  scalar: (a, b) => Math.pow(a, b),
  int: 'float only',
  // d x^y/dx = y x^(y-1); d x^y/dy = x^y log x
  vjp: (b, x, y, out, g, want) => [
    want(0) ? bin(b, 'mul', g, bin(b, 'mul', y, bin(b, 'pow', x, bin(b, 'sub', y, b.constant(1))))) : undefined,
    want(1) ? bin(b, 'mul', g, bin(b, 'mul', out, un(b, 'log', x))) : undefined,
  ],
  facts: { nonZeroIfBoth: false, keepsDistribution: 'no', nonFinite: 'neither', zero: 'never' },
  cost: 2,
  wgsl: (a, b) => `pow(${a}, ${b})`,
  torch: { operator: '**' },
};
