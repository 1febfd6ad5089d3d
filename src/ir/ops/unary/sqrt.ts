/** `sqrt(x)`. */
import { bin } from '../def.js';
import type { UnaryPrim } from './def.js';

export const sqrt: UnaryPrim = {
  surface: 'sqrt',
  scalar: Math.sqrt,
  // d sqrt(x) = 1 / (2 sqrt(x))
  vjp: (b, _x, y, g) => bin(b, 'div', bin(b, 'mul', g, b.constant(0.5)), y),
  facts: { nonZero: 'unknown', keepsInfinity: true },
  cost: 2,
  wgsl: { scalar: (x) => `sqrt(${x})` },
  torch: { call: 'torch.sqrt' },
};
