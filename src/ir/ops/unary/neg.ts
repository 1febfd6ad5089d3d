/** `-x`: negation, the one unary function also defined on integers (`-key`, positions). */
import { un } from '../def.js';
import type { UnaryPrim } from './def.js';

export const neg: UnaryPrim = {
  integer: true,
  scalar: (x) => -x,
  vjp: (b, _x, _y, g) => un(b, 'neg', g),
  facts: { nonZero: 'input', keepsInfinity: true },
  cost: 1,
  wgsl: { scalar: (x) => `(-${x})` },
  torch: { operator: '-' },
};
