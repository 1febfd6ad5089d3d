/**
 * A reduction over named axes (the `reduce` op's `fn`): one file per reduction in this folder
 * holds all of it, and reduce/index.ts lists them. Every kernel that reduces (a reduction of
 * its own, its siblings in one loop, a phase of a row kernel) renders it from `wgsl`.
 */
import type { Axis } from '../../types.js';
import type { Builder } from '../def.js';

export interface ReducePrim {
  /** The .mdl function (`sum(x, over: seq)`). */
  surface: string;
  /** The accumulator's start, and the result over no elements. */
  identity: number;
  /** The accumulator after one more element (the interpreter's semantics, in double). */
  combine(acc: number, v: number): number;
  /** The result is the accumulator divided by the number of elements reduced (a mean). */
  averages: boolean;
  /**
   * The backward rule: the cotangent of x (over x's axes, in any order; broadcasting fills
   * the reduced ones), given x, the output y and its cotangent g (node ids) and the reduced axes.
   */
  vjp(b: Builder, x: number, y: number, g: number, axes: readonly Axis[]): number;
  wgsl: {
    /** The accumulator's start as a WGSL f32 expression. */
    init: string;
    /** The accumulator after one more value: WGSL applies it componentwise, so it serves f32 and vec4f alike. */
    combine(acc: string, v: string): string;
  };
  /** How the PyTorch export writes it: a tensor method taking `dim=`, several dims at once or (`oneDim`) one at a time. */
  torch: { method: string; oneDim?: true };
}
