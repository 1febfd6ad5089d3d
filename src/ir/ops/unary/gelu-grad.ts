/** d gelu / dx = 0.5 (1 + t) + 0.5 x (1 - t^2) sqrt(2/pi) (1 + 3 * 0.044715 x^2), t = tanh(sqrt(2/pi) (x + 0.044715 x^3)): GELU's backward pass. */
import type { UnaryPrim } from './def.js';
import { GELU_A, GELU_C } from './gelu.js';

export function geluGrad(x: number): number {
  const t = Math.tanh(GELU_C * (x + GELU_A * x * x * x));
  return 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * GELU_C * (1 + 3 * GELU_A * x * x);
}

export const geluGradPrim: UnaryPrim = {
  scalar: geluGrad,
  vjp: () => {
    throw new Error('internal: second derivatives of gelu are not supported');
  },
  facts: { nonZero: 'unknown', keepsInfinity: false },
  cost: 8,
  wgsl: {
    scalar: (x) => `gelu_grad(${x})`,
    vec4: (x) => `gelu_grad4(${x})`,
    helpers: {
      code: (T, sfx) => `fn gelu_grad${sfx}(x: ${T}) -> ${T} {
  let u = 0.7978845608 * (x + 0.044715 * x * x * x);
  let t = safe_tanh${sfx}(u);
  return 0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * 0.7978845608 * (1.0 + 3.0 * 0.044715 * x * x);
}
`,
      everyKernel: true,
    },
  },
  torch: 'gradient only',
};
