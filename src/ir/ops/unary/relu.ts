/** `relu(x)` = max(x, 0); NaN propagates (a NaN must not be hidden from the checks that look for it). */
import { bin, un } from '../def.js';
import type { UnaryPrim } from './def.js';

export const relu: UnaryPrim = {
  surface: 'relu',
  scalar: (x) => (x > 0 ? x : x === x ? 0 : x),
  vjp: (b, x, _y, g) => bin(b, 'mul', g, un(b, 'step', x)),
  facts: { nonZero: 'unknown', keepsInfinity: true },
  cost: 1,
  wgsl: { scalar: (x) => `max(${x}, 0.0)`, vec4: (x) => `max(${x}, vec4f(0.0))` },
  torch: { call: 'torch.relu' },
};
