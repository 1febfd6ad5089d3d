/** `tanh(x)`. */
import { bin, un } from '../def.js';
import type { UnaryPrim } from './def.js';

export const tanh: UnaryPrim = {
  surface: 'tanh',
  scalar: Math.tanh,
  vjp: (b, _x, y, g) => bin(b, 'mul', g, bin(b, 'sub', b.constant(1), un(b, 'square', y))),
  facts: { nonZero: 'unknown', keepsInfinity: false },
  cost: 2,
  wgsl: {
    scalar: (x) => `safe_tanh(${x})`,
    vec4: (x) => `safe_tanh4(${x})`,
    // From exp(-2|x|), so that large arguments give ±1 instead of inf/inf = NaN (some WGSL tanh implementations overflow).
    helpers: {
      code: (T, sfx) => `fn safe_tanh${sfx}(x: ${T}) -> ${T} {
  let e = exp(-2.0 * abs(x));
  return sign(x) * (1.0 - e) / (1.0 + e);
}
`,
      everyKernel: true,
    },
  },
  torch: { call: 'torch.tanh' },
};
