/**
 * A function on floats applied elementwise (the `unary` op's `fn`): one file per function in
 * this folder holds all of it, and unary/index.ts lists them.
 */
import type { Builder } from '../def.js';

export interface UnaryPrim {
  /** The .mdl function that applies it (`exp(x)`); absent for what the language spells otherwise (`-x`, `x ^ 2`) or only gradients use. */
  surface?: string;
  /** Also maps integers to integers (`-key`); every other function needs a float. */
  integer?: boolean;
  /**
   * Its value at x: the interpreter's semantics (in double, rounded to the output's precision
   * when stored), and what constant folding and the checker's evaluation of masks compute.
   */
  scalar(x: number): number;
  /**
   * The backward rule: the cotangent of the input, given the input x, the output y and the
   * output's cotangent g (node ids); `zero` for a piecewise-constant function, whose input
   * then carries no gradient at all.
   */
  vjp: ((b: Builder, x: number, y: number, g: number) => number) | 'zero';
  /** What the checker may assume of the output (src/ir/check/facts.ts). */
  facts: {
    /** Never exactly 0 (`always`), or wherever the input is not (`input`). */
    nonZero: 'always' | 'input' | 'unknown';
    /** May be infinite wherever the input may hold an infinity the model wrote. */
    keepsInfinity: boolean;
  };
  /** Inlined work per element: 1 for arithmetic, 2 for a transcendental function, 8 for a GELU (see codegen/passes/lower.ts). */
  cost: number;
  wgsl: WgslUnary;
  /** How the PyTorch export writes it: a call, the negation operator, or `gradient only` (never in a forward pass). */
  torch: { call: string; args?: string } | { operator: '-' } | 'gradient only';
}

/** WGSL lowering of a unary function (src/codegen/wgsl/expr.ts renders it). */
export interface WgslUnary {
  /** The expression applying it to the f32 expression `x`. */
  scalar(x: string): string;
  /** The same for a vec4f `x` (absent: `scalar` serves, the function applying componentwise). */
  vec4?(x: string): string;
  /**
   * Helper functions the expressions call, for one WGSL type (`T` f32 or vec4f; `sfx` '' or
   * '4', appended to each helper's name). `everyKernel`: part of every kernel's prelude (the
   * helpers mdlc has always emitted); otherwise added to the kernels that use the function.
   */
  helpers?: { code(T: 'f32' | 'vec4f', sfx: '' | '4'): string; everyKernel?: true };
}

/** f(0) = 0: zeros stay zeros (the leak analysis and the causal GEMMs rely on it). */
export function preservesZero(p: UnaryPrim): boolean {
  return p.scalar(0) === 0;
}

/** Not finite wherever the input is not (±inf and NaN all map to a value that is not finite): masks of -inf survive it. */
export function keepsNonFinite(p: UnaryPrim): boolean {
  return [Infinity, -Infinity, NaN].every((v) => !Number.isFinite(p.scalar(v)));
}
