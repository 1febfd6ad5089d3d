/** `abs(x)`. */
import { bin, un } from '../def.js';
import type { UnaryPrim } from './def.js';

export const abs: UnaryPrim = {
  surface: 'abs',
  scalar: Math.abs,
  vjp: (b, x, _y, g) => bin(b, 'mul', g, bin(b, 'sub', un(b, 'step', x), un(b, 'step', un(b, 'neg', x)))),
  facts: { nonZero: 'input', keepsInfinity: true },
  cost: 1,
  wgsl: { scalar: (x) => `abs(${x})` },
  torch: { call: 'torch.abs' },
};
