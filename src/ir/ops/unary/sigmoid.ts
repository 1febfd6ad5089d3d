/** `sigmoid(x)` = 1 / (1 + exp(-x)). */
import { bin } from '../def.js';
import type { UnaryPrim } from './def.js';

export const sigmoid: UnaryPrim = {
  surface: 'sigmoid',
  scalar: (x) => 1 / (1 + Math.exp(-x)),
  vjp: (b, _x, y, g) => bin(b, 'mul', g, bin(b, 'mul', y, bin(b, 'sub', b.constant(1), y))),
  facts: { nonZero: 'always', keepsInfinity: false },
  cost: 2,
  wgsl: { scalar: (x) => `(1.0 / (1.0 + exp(-${x})))`, vec4: (x) => `(vec4f(1.0) / (vec4f(1.0) + exp(-${x})))` },
  torch: { call: 'torch.sigmoid' },
};
