/** `log(x)`: the natural logarithm. */
import { bin } from '../def.js';
import type { UnaryPrim } from './def.js';

export const log: UnaryPrim = {
  surface: 'log',
  scalar: Math.log,
  vjp: (b, x, _y, g) => bin(b, 'div', g, x),
  facts: { nonZero: 'unknown', keepsInfinity: false },
  cost: 2,
  wgsl: { scalar: (x) => `log(${x})` },
  torch: { call: 'torch.log' },
};
