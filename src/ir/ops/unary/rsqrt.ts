/** `rsqrt(x)` = 1 / sqrt(x) (a layernorm's scale). */
import { bin, un } from '../def.js';
import type { UnaryPrim } from './def.js';

export const rsqrt: UnaryPrim = {
  surface: 'rsqrt',
  scalar: (x) => 1 / Math.sqrt(x),
  // d x^-1/2 = -1/2 x^-3/2 = -1/2 y^3
  vjp: (b, _x, y, g) => bin(b, 'mul', g, bin(b, 'mul', b.constant(-0.5), bin(b, 'mul', y, un(b, 'square', y)))),
  facts: { nonZero: 'always', keepsInfinity: false },
  cost: 2,
  wgsl: { scalar: (x) => `inverseSqrt(${x})` },
  torch: { call: 'torch.rsqrt' },
};
