/** 1 / x (gradients and the optimizer make it; the language writes a division). */
import { bin, un } from '../def.js';
import type { UnaryPrim } from './def.js';

export const recip: UnaryPrim = {
  scalar: (x) => 1 / x,
  vjp: (b, _x, y, g) => un(b, 'neg', bin(b, 'mul', g, un(b, 'square', y))),
  facts: { nonZero: 'always', keepsInfinity: false },
  cost: 1,
  wgsl: { scalar: (x) => `(1.0 / ${x})`, vec4: (x) => `(vec4f(1.0) / ${x})` },
  torch: { call: 'torch.reciprocal' },
};
