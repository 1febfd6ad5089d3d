/**
 * The vec4 forms of kernel expressions (four elements per invocation) and the additive split
 * of GEMM epilogues (bias and residual start the accumulators). Their numbers are checked
 * against the interpreter on lavapipe in tests/webgpu/kernels.test.ts; these check the shape
 * of the generated code at the smallest size where a wrong choice shows.
 */
import { describe, expect, it } from 'vitest';
import type { Axis } from '../../src/ir/types.js';
import type { Access, KExpr } from '../../src/codegen/kernel-ir/types.js';
import { exprType } from '../../src/codegen/kernel-ir/expr.js';
import { axisNames, emitExpr4, vec4Readable, VEC4_VIEW } from '../../src/codegen/wgsl/expr.js';
import { splitAdditiveEpilogue } from '../../src/codegen/wgsl/gemm.js';

const row: Axis = { id: 1, name: 'row', size: 3 };
const col: Axis = { id: 2, name: 'col', size: 8 };
const access = (offset: number, strides: [number, number][]): Access => ({ arena: 'f32', value: 0, offset, strides: new Map(strides) });
const load = (a: Access): KExpr => ({ k: 'load', access: a, dtype: 'f32' });
const add = (a: KExpr, b: KExpr): KExpr => ({ k: 'binary', fn: 'add', a, b, dtype: 'f32' });
const mul = (a: KExpr, b: KExpr): KExpr => ({ k: 'binary', fn: 'mul', a, b, dtype: 'f32' });
const acc: KExpr = { k: 'acc' };
// Kernels that read vec4s view the arena as vec4s: single elements are read through arena_f32.
const cx = { index: axisNames([row, col]), view: VEC4_VIEW };
const v4 = { lane: col };

describe('vec4 expressions', () => {
  it('reads an operand as one vec4 only when it is contiguous and aligned along the lane', () => {
    expect(vec4Readable(access(16, [[1, 8], [2, 1]]), col)).toBe(true);
    expect(vec4Readable(access(18, [[1, 8], [2, 1]]), col)).toBe(false); // offset not a multiple of 4
    expect(vec4Readable(access(16, [[1, 6], [2, 1]]), col)).toBe(false); // row stride 6: rows start unaligned
    expect(vec4Readable(access(16, [[1, 1], [2, 3]]), col)).toBe(false); // strided along the lane
    expect(vec4Readable({ ...access(16, [[2, 1]]), arena: 'i32' }, col)).toBe(false);
  });

  it('vector-reads contiguous operands, splats lane-invariant ones, builds strided ones per component', () => {
    const x = load(access(0, [[1, 8], [2, 1]]));
    const bias = load(access(32, [[1, 1]])); // varies along row only
    const t = load(access(64, [[1, 1], [2, 3]])); // transposed
    const code = emitExpr4(add(mul(x, bias), t), cx, v4);
    expect(code).toContain('arena4(i_row * 8u + i_col)');
    expect(code).toContain('vec4f(arena_f32(32u + i_row))');
    expect(code).toContain('vec4f(arena_f32(64u + i_row + i_col * 3u), arena_f32(64u + i_row + (i_col + 1u) * 3u), arena_f32(64u + i_row + (i_col + 2u) * 3u), arena_f32(64u + i_row + (i_col + 3u) * 3u))');
  });

  it('gives positions along the lane as i + (0, 1, 2, 3) and keeps comparisons vector-typed', () => {
    const later: KExpr = { k: 'compare', fn: 'gt', a: { k: 'iota', axis: col }, b: { k: 'iota', axis: row } };
    const e: KExpr = { k: 'where', c: later, a: { k: 'const', value: 0, dtype: 'f32' }, b: { k: 'unary', fn: 'gelu', x: load(access(0, [[1, 8], [2, 1]])) } };
    expect(exprType(e)).toBe('f32');
    expect(emitExpr4(e, cx, v4)).toBe('select(gelu4(arena4(i_row * 8u + i_col)), vec4f(0.00000000), ((vec4i(i32(i_col)) + vec4i(0i, 1i, 2i, 3i)) > vec4i(i32(i_row))))');
  });
});

describe('additive GEMM epilogues', () => {
  const bias = load(access(32, [[2, 1]]));
  const res = load(access(64, [[1, 8], [2, 1]]));

  it('moves bias and residual terms around the accumulator into its start', () => {
    const split = splitAdditiveEpilogue(add(res, add(acc, bias)))!;
    expect(split.rest).toEqual(acc);
    expect(split.init).toEqual(add(bias, res));
    const gelu = splitAdditiveEpilogue({ k: 'unary', fn: 'gelu', x: add(acc, bias) })!;
    expect(gelu.rest).toEqual({ k: 'unary', fn: 'gelu', x: acc });
    expect(gelu.init).toEqual(bias);
  });

  it('leaves epilogues alone where the accumulator is scaled before the add, or used twice', () => {
    expect(splitAdditiveEpilogue(acc)).toBeUndefined();
    expect(splitAdditiveEpilogue(mul(acc, bias))).toBeUndefined();
    // (acc * s) + b: the add is not directly around the accumulator.
    expect(splitAdditiveEpilogue(add(mul(acc, bias), res))).toBeUndefined();
    expect(splitAdditiveEpilogue(add(acc, mul(acc, bias)))).toBeUndefined();
  });
});
