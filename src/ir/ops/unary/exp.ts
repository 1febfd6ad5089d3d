/** `exp(x)`. */
import { bin } from '../def.js';
import type { UnaryPrim } from './def.js';

export const exp: UnaryPrim = {
  surface: 'exp',
  scalar: Math.exp,
  vjp: (b, _x, y, g) => bin(b, 'mul', g, y),
  facts: { nonZero: 'always', keepsInfinity: true },
  cost: 2,
  wgsl: { scalar: (x) => `exp(${x})` },
  torch: { call: 'torch.exp' },
};
