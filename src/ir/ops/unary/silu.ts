/**
 * `silu(x)` = x · sigmoid(x) = x / (1 + exp(-x)) (the swish of PyTorch's `F.silu`). Its
 * derivative is s (1 + x (1 - s)), s = sigmoid(x). silu(-inf) is NaN (-inf / inf), as in
 * PyTorch; silu(+inf) is +inf.
 */
import { bin, un } from '../def.js';
import type { UnaryPrim } from './def.js';

export const silu: UnaryPrim = {
  surface: 'silu',
  scalar: (x) => x / (1 + Math.exp(-x)),
  vjp: (b, x, _y, g) => {
    const s = un(b, 'sigmoid', x);
    const slope = bin(b, 'mul', s, bin(b, 'add', b.constant(1), bin(b, 'mul', x, bin(b, 'sub', b.constant(1), s))));
    return bin(b, 'mul', g, slope);
  },
  // Zero only at 0, but very negative inputs underflow to -0: the checker may assume nothing.
  facts: { nonZero: 'unknown', keepsInfinity: true },
  // An exp, a division and an addition: a little more than sigmoid's 2.
  cost: 3,
  wgsl: {
    scalar: (x) => `silu(${x})`,
    vec4: (x) => `silu4(${x})`,
    // A function, so that an inlined operand is written (and evaluated) once; WGSL adds the
    // scalar 1.0 to each component of a vec4f.
    helpers: { code: (T, sfx) => `fn silu${sfx}(x: ${T}) -> ${T} { return x / (1.0 + exp(-x)); }\n` },
  },
  torch: { call: 'F.silu' },
};
