/** `x ^ 2` (the language writes a square as a power of 2). */
import { bin } from '../def.js';
import type { UnaryPrim } from './def.js';

export const square: UnaryPrim = {
  scalar: (x) => x * x,
  vjp: (b, x, _y, g) => bin(b, 'mul', g, bin(b, 'mul', b.constant(2), x)),
  facts: { nonZero: 'input', keepsInfinity: true },
  cost: 1,
  wgsl: {
    // A function, so that an inlined operand is written (and evaluated) once.
    scalar: (x) => `sq(${x})`,
    vec4: (x) => `(${x} * ${x})`,
    helpers: { code: (T) => (T === 'f32' ? 'fn sq(x: f32) -> f32 { return x * x; }\n' : ''), everyKernel: true },
  },
  torch: { call: 'torch.square' },
};
