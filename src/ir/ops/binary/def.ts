/**
 * An arithmetic function of two tensors broadcast by axis name (the `binary` op's `fn`): one
 * file per function in this folder holds all of it, and binary/index.ts lists them.
 */
import type { Builder } from '../def.js';

export interface BinaryPrim {
  /** How .mdl writes it: an operator (`a + b`) or a call of two arguments (`max(a, b)`). */
  surface: { operator: '+' | '-' | '*' | '/' | '^' } | { call: string };
  /** Its value (the interpreter's semantics in double, constant folding, masks evaluated by the checker). */
  scalar(a: number, b: number): number;
  /** Its value on integers (positions: `seq + 1`), wrapping like i32, or `float only` where integers make no sense. */
  int: ((a: number, b: number) => number) | 'float only';
  /**
   * The backward rule: the cotangents of x and of y (those `want` asks for; undefined: zero),
   * given the inputs, the output `out` and the output's cotangent g (node ids).
   */
  vjp(b: Builder, x: number, y: number, out: number, g: number, want: (input: 0 | 1) => boolean): [number | undefined, number | undefined];
  facts: {
    /** Never exactly 0 where neither operand is. */
    nonZeroIfBoth: boolean;
    /** Scaling a distribution by a value constant along its axis keeps its meaning: from either operand (`x * y`), or the left one only (`x / y`). */
    keepsDistribution: 'either' | 'left' | 'no';
    /**
     * Where one operand is not finite (±inf, NaN) and the other is finite, the result is not
     * finite: whichever operand that is (`either`: +, -, ×), only the left (`/`), or `neither`
     * (a power, max, min may turn it finite). What masks of -inf survive.
     */
    nonFinite: 'either' | 'left' | 'neither';
    /**
     * Where the result is exactly 0: where `either` operand is (×, for finite operands), where
     * the `left` one is (÷), where `both` are (+, −, max, min), or `never` for sure (a power:
     * 0^0 = 1). The leak analysis and the causal GEMMs follow zeros through it.
     */
    zero: 'either' | 'left' | 'both' | 'never';
  };
  /** Inlined work per element (see unary/def.ts). */
  cost: number;
  /** WGSL of `a fn b`; WGSL applies it componentwise, so it serves f32 and vec4 operands alike. */
  wgsl(a: string, b: string): string;
  /** How the PyTorch export writes it: a Python operator, or a call with the torch.clamp bound it becomes when one operand is a number. */
  torch: { operator: '+' | '-' | '*' | '/' | '**' } | { call: string; clamp: 'min' | 'max' };
}
