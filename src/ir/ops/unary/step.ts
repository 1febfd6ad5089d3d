/** step(x) = 1 where x > 0, else 0: relu's derivative (piecewise constant, so no gradient of its own). */
import type { UnaryPrim } from './def.js';

export const step: UnaryPrim = {
  scalar: (x) => (x > 0 ? 1 : 0),
  vjp: 'zero',
  facts: { nonZero: 'unknown', keepsInfinity: false },
  cost: 1,
  wgsl: { scalar: (x) => `select(0.0, 1.0, ${x} > 0.0)`, vec4: (x) => `select(vec4f(0.0), vec4f(1.0), ${x} > vec4f(0.0))` },
  torch: 'gradient only',
};
