/**
 * `gelu(x)` = 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))), the tanh approximation of
 * GPT-2 (PyTorch's `approximate='tanh'`). Its derivative is the primitive gelu_grad.
 */
import { bin, un } from '../def.js';
import type { UnaryPrim } from './def.js';

/** sqrt(2/pi); the WGSL below writes it 0.7978845608. */
export const GELU_C = Math.sqrt(2 / Math.PI);
export const GELU_A = 0.044715;

export function gelu(x: number): number {
  return 0.5 * x * (1 + Math.tanh(GELU_C * (x + GELU_A * x * x * x)));
}

export const geluPrim: UnaryPrim = {
  surface: 'gelu',
  scalar: gelu,
  vjp: (b, x, _y, g) => bin(b, 'mul', g, un(b, 'gelu_grad', x)),
  facts: { nonZero: 'unknown', keepsInfinity: true },
  cost: 8,
  wgsl: {
    scalar: (x) => `gelu(${x})`,
    vec4: (x) => `gelu4(${x})`,
    helpers: {
      code: (T, sfx) => `fn gelu${sfx}(x: ${T}) -> ${T} {
  return 0.5 * x * (1.0 + safe_tanh${sfx}(0.7978845608 * (x + 0.044715 * x * x * x)));
}
`,
      everyKernel: true,
    },
  },
  torch: { call: 'F.gelu', args: "approximate='tanh'" },
};
