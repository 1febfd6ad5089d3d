/**
 * Runtime tensors of the reference interpreter: a type (dtype + named axes) and a flat
 * row-major buffer in the order of `type.axes` (first axis slowest; a scalar has `axes: []`
 * and one element). Tensors are treated as immutable: ops allocate their outputs, and an
 * op may return (or share) an input's buffer when the data is unchanged (rename, identity
 * permutations), so never write into a tensor you did not just allocate.
 *
 * Floats are stored in a Float32Array or a Float64Array according to the evaluation
 * precision; i32 in an Int32Array; bool in a Uint8Array (0/1).
 */
import { formatAxes, formatType, numElements, type Axis, type DType, type TensorType } from '../types.js';
import { copyStrided, stridesAlong, sizesOf } from './strided.js';

export type Precision = 'f32' | 'f64';

/** What an op's `evaluate` may depend on besides its inputs and attributes. */
export interface EvalContext {
  /** f32: every float result is rounded to f32 when stored (arithmetic within one op runs in double). */
  precision: Precision;
}

export type TensorData = Float32Array | Float64Array | Int32Array | Uint8Array;
export type FloatData = Float32Array | Float64Array;

export interface Tensor {
  type: TensorType;
  data: TensorData;
}

/** A zeroed buffer of `n` elements for a dtype at a precision. */
export function alloc(dtype: DType, n: number, precision: Precision): TensorData {
  switch (dtype) {
    case 'f32':
      return precision === 'f32' ? new Float32Array(n) : new Float64Array(n);
    case 'i32':
      return new Int32Array(n);
    case 'bool':
      return new Uint8Array(n);
  }
}

/** A zeroed float buffer at a precision. */
export function allocFloat(n: number, precision: Precision): FloatData {
  return precision === 'f32' ? new Float32Array(n) : new Float64Array(n);
}

function dataMatches(dtype: DType, data: TensorData): boolean {
  switch (dtype) {
    case 'f32':
      return data instanceof Float32Array || data instanceof Float64Array;
    case 'i32':
      return data instanceof Int32Array;
    case 'bool':
      return data instanceof Uint8Array;
  }
}

/**
 * A tensor of `type` holding `data` (row-major in the order of `type.axes`). A typed array of
 * the dtype's kind is used as is (not copied); a plain array is copied into a new buffer
 * (floats at `precision`, default f64; bools as 0/1).
 */
export function tensor(type: TensorType, data: TensorData | ArrayLike<number | boolean>, precision: Precision = 'f64'): Tensor {
  const n = numElements(type);
  if (data.length !== n) throw new Error(`tensor ${formatType(type)} needs ${n} elements, got ${data.length}`);
  const isTyped = ArrayBuffer.isView(data);
  if (isTyped && dataMatches(type.dtype, data as TensorData)) return { type, data: data as TensorData };
  const buf = alloc(type.dtype, n, precision);
  for (let i = 0; i < n; i++) {
    const v = Number((data as ArrayLike<number | boolean>)[i]);
    buf[i] = type.dtype === 'bool' ? (v !== 0 ? 1 : 0) : v;
  }
  return { type, data: buf };
}

export function zeros(type: TensorType, precision: Precision = 'f64'): Tensor {
  return { type, data: alloc(type.dtype, numElements(type), precision) };
}

/** Zeros of the same type and buffer kind as `t`. */
export function zerosLike(t: Tensor): Tensor {
  const Ctor = t.data.constructor as new (n: number) => TensorData;
  return { type: t.type, data: new Ctor(t.data.length) };
}

export function scalar(value: number, dtype: DType = 'f32', precision: Precision = 'f64'): Tensor {
  const data = alloc(dtype, 1, precision);
  data[0] = dtype === 'bool' ? (value !== 0 ? 1 : 0) : value;
  return { type: { dtype, axes: [] }, data };
}

/** Whether `axes` is the same set of axes (by identity) as `t`'s, in any order. */
export function sameAxisSet(a: readonly Axis[], b: readonly Axis[]): boolean {
  return a.length === b.length && a.every((x) => b.some((y) => y.id === x.id));
}

/**
 * `t` laid out in the order `axes` (a permutation of its axes, matched by identity). Returns
 * `t` itself when the order is already `axes`.
 */
export function permute(t: Tensor, axes: readonly Axis[]): Tensor {
  if (!sameAxisSet(t.type.axes, axes))
    throw new Error(`cannot permute ${formatType(t.type)} to ${formatAxes(axes)}: not the same axes`);
  if (t.type.axes.every((a, i) => a.id === axes[i].id)) return t;
  const Ctor = t.data.constructor as new (n: number) => TensorData;
  const data = new Ctor(t.data.length);
  copyStrided(t.data, stridesAlong(t.type.axes, axes), sizesOf(axes), data);
  return { type: { ...t.type, axes: [...axes] }, data };
}

/** `t` with float data in the buffer kind of `precision` (itself if it already is). */
export function atPrecision(t: Tensor, precision: Precision): Tensor {
  if (t.type.dtype !== 'f32') return t;
  if (precision === 'f32' ? t.data instanceof Float32Array : t.data instanceof Float64Array) return t;
  return { type: t.type, data: precision === 'f32' ? Float32Array.from(t.data) : Float64Array.from(t.data) };
}

/** Flat offset of the element at `at` (axis name → position; every axis must be given). */
export function offsetOf(t: Tensor | TensorType, at: Readonly<Record<string, number>>): number {
  const type = 'type' in t ? t.type : t;
  const names = Object.keys(at);
  for (const n of names) if (!type.axes.some((a) => a.name === n)) throw new Error(`${formatType(type)} has no axis \`${n}\``);
  let off = 0;
  for (const a of type.axes) {
    const i = at[a.name];
    if (i === undefined) throw new Error(`position along \`${a.name}\` missing (the tensor has axes ${formatAxes(type.axes)})`);
    if (!Number.isInteger(i) || i < 0 || i >= a.size) throw new Error(`position ${i} out of range for axis \`${a.name}\` of size ${a.size}`);
    off = off * a.size + i;
  }
  return off;
}

/** The element of `t` at `at` (axis name → position), e.g. `get(t, { batch: 1, vocab: 3 })`. */
export function get(t: Tensor, at: Readonly<Record<string, number>> = {}): number {
  return t.data[offsetOf(t, at)];
}

/** The data as a plain array (in layout order), for test assertions and printing. */
export function toArray(t: Tensor): number[] {
  return Array.from(t.data);
}

export interface TensorDiff {
  ok: boolean;
  /** Why they differ, with the first differing element (empty when ok). */
  message: string;
  maxAbsDiff: number;
  mismatches: number;
}

/**
 * Compare two tensors aligned by axis identity (any layout order): equal axis sets, and every
 * element with |a - b| <= atol + rtol * |b|. NaN matches only NaN, an infinity only itself.
 */
export function diffTensors(a: Tensor, b: Tensor, rtol = 1e-5, atol = 1e-8): TensorDiff {
  if (!sameAxisSet(a.type.axes, b.type.axes))
    return { ok: false, message: `axes differ: ${formatAxes(a.type.axes)} vs ${formatAxes(b.type.axes)}`, maxAbsDiff: Infinity, mismatches: -1 };
  const bp = permute(b, a.type.axes);
  const A = a.data;
  const B = bp.data;
  let maxAbsDiff = 0;
  let mismatches = 0;
  let first = -1;
  for (let i = 0; i < A.length; i++) {
    const x = A[i];
    const y = B[i];
    let good: boolean;
    if (x === y) good = true; // also equal infinities
    else if (x !== x || y !== y) good = x !== x && y !== y;
    else if (!Number.isFinite(x) || !Number.isFinite(y)) good = false;
    else {
      const d = Math.abs(x - y);
      good = d <= atol + rtol * Math.abs(y);
      if (d > maxAbsDiff) maxAbsDiff = d;
    }
    if (!good) {
      mismatches++;
      if (first < 0) first = i;
      if (!Number.isFinite(x) || !Number.isFinite(y)) maxAbsDiff = Infinity;
    }
  }
  if (mismatches === 0) return { ok: true, message: '', maxAbsDiff, mismatches };
  const where = positionName(a.type.axes, first);
  return {
    ok: false,
    message: `${mismatches} of ${A.length} elements differ (rtol ${rtol}, atol ${atol}); first at ${where}: ${A[first]} vs ${B[first]}`,
    maxAbsDiff,
    mismatches,
  };
}

export function allClose(a: Tensor, b: Tensor, rtol = 1e-5, atol = 1e-8): boolean {
  return diffTensors(a, b, rtol, atol).ok;
}

/** `[batch=1, vocab=3]` for flat offset `i` in the layout `axes`. */
export function positionName(axes: readonly Axis[], i: number): string {
  const parts: string[] = [];
  for (let d = axes.length - 1; d >= 0; d--) {
    parts.unshift(`${axes[d].name}=${i % axes[d].size}`);
    i = Math.floor(i / axes[d].size);
  }
  return `[${parts.join(', ')}]`;
}
