/**
 * Strided iteration: the one loop nest every elementwise-like kernel of the interpreter runs
 * on (after minitorch: map, zip and reduce over strided tensors).
 *
 * A `Rows` walks a logical index space `sizes` (slowest first) for several operands at once,
 * each read or written through its own strides (stride 0 = broadcast along that axis). Axes
 * of size 1 are dropped and adjacent axes that are contiguous for every operand are merged,
 * so the innermost run (`n` elements, operand k stepping by `step[k]`) is as long as possible;
 * kernels loop over rows with the odometer and over the run with a tight loop:
 *
 *   const it = new Rows(sizes, [outStrides, inStrides]);
 *   for (let r = it.count; r > 0; r--, it.next()) {
 *     let p = it.offs[1];
 *     for (let j = 0, q = it.offs[0]; j < it.n; j++, q++, p += it.step[1]) out[q] = f(x[p]);
 *   }
 */
import type { Axis } from '../types.js';

/** Row-major strides of a layout with the given sizes (first slowest). */
export function contiguousStrides(sizes: readonly number[]): number[] {
  const strides = new Array<number>(sizes.length);
  let s = 1;
  for (let d = sizes.length - 1; d >= 0; d--) {
    strides[d] = s;
    s *= sizes[d];
  }
  return strides;
}

export function sizesOf(axes: readonly Axis[]): number[] {
  return axes.map((a) => a.size);
}

/**
 * Strides of a tensor laid out in the order of `from` (row-major), one per axis of `target`:
 * the stride of that axis in `from`, or 0 where `from` lacks it (broadcast). Every axis of
 * `from` must be in `target` (matched by identity).
 */
export function stridesAlong(from: readonly Axis[], target: readonly Axis[]): number[] {
  const own = contiguousStrides(sizesOf(from));
  const out = new Array<number>(target.length).fill(0);
  for (let i = 0; i < from.length; i++) {
    const d = target.findIndex((t) => t.id === from[i].id);
    if (d < 0) throw new Error(`internal: axis \`${from[i].name}\` is not among [${target.map((t) => t.name).join(', ')}]`);
    if (target[d].size !== from[i].size) throw new Error(`internal: axis \`${from[i].name}\` has size ${from[i].size} here and ${target[d].size} there`);
    out[d] = own[i];
  }
  return out;
}

/** Odometer over the rows of a (coalesced) strided index space shared by several operands. */
export class Rows {
  /** Length of the innermost run. */
  readonly n: number;
  /** Per operand: its stride along the innermost run. */
  readonly step: Int32Array;
  /** Per operand: the offset of the current row's first element. */
  readonly offs: Int32Array;
  /** Number of rows (0 when the space is empty). */
  readonly count: number;
  private readonly dims: number;
  private readonly sizes: Int32Array;
  /** strides[k * dims + d]: operand k's stride along outer dimension d. */
  private readonly strides: Int32Array;
  private readonly idx: Int32Array;
  private readonly ops: number;

  constructor(sizes: readonly number[], strides: readonly (readonly number[])[]) {
    const ops = strides.length;
    this.ops = ops;
    // Drop size-1 axes, then merge neighbours that are contiguous for every operand.
    const keptSizes: number[] = [];
    const keptStrides: number[][] = strides.map(() => []);
    let empty = false;
    for (let d = 0; d < sizes.length; d++) {
      const size = sizes[d];
      if (size === 0) empty = true;
      if (size === 1) continue;
      const last = keptSizes.length - 1;
      let merge = last >= 0;
      for (let k = 0; k < ops && merge; k++) if (keptStrides[k][last] !== strides[k][d] * size) merge = false;
      if (merge) {
        keptSizes[last] *= size;
        for (let k = 0; k < ops; k++) keptStrides[k][last] = strides[k][d];
      } else {
        keptSizes.push(size);
        for (let k = 0; k < ops; k++) keptStrides[k].push(strides[k][d]);
      }
    }
    const inner = keptSizes.length - 1;
    this.step = new Int32Array(ops);
    this.offs = new Int32Array(ops);
    if (inner >= 0) {
      this.n = keptSizes[inner];
      for (let k = 0; k < ops; k++) this.step[k] = keptStrides[k][inner];
    } else {
      this.n = 1;
    }
    this.dims = Math.max(inner, 0);
    this.sizes = new Int32Array(this.dims);
    this.strides = new Int32Array(ops * this.dims);
    let count = 1;
    for (let d = 0; d < this.dims; d++) {
      this.sizes[d] = keptSizes[d];
      count *= keptSizes[d];
      for (let k = 0; k < ops; k++) this.strides[k * this.dims + d] = keptStrides[k][d];
    }
    this.idx = new Int32Array(this.dims);
    this.count = empty ? 0 : count;
    if (empty) this.n = 0;
  }

  /** Advance to the next row (wraps to the first after the last). */
  next(): void {
    const { dims, sizes, strides, idx, offs, ops } = this;
    for (let d = dims - 1; d >= 0; d--) {
      if (++idx[d] < sizes[d]) {
        for (let k = 0; k < ops; k++) offs[k] += strides[k * dims + d];
        return;
      }
      idx[d] = 0;
      const back = sizes[d] - 1;
      for (let k = 0; k < ops; k++) offs[k] -= strides[k * dims + d] * back;
    }
  }
}

type Numeric = Float32Array | Float64Array | Int32Array | Uint8Array;

/**
 * dst (contiguous over `sizes`) = src read through `srcStrides` (one per dimension of
 * `sizes`, 0 = broadcast): the permutation and broadcast copy.
 */
export function copyStrided(src: Numeric, srcStrides: readonly number[], sizes: readonly number[], dst: Numeric): void {
  const it = new Rows(sizes, [contiguousStrides(sizes), srcStrides]);
  const n = it.n;
  const s = it.step[1];
  for (let r = it.count; r > 0; r--, it.next()) {
    const q = it.offs[0];
    let p = it.offs[1];
    if (s === 1) {
      for (let j = 0; j < n; j++) dst[q + j] = src[p + j];
    } else {
      for (let j = 0; j < n; j++, p += s) dst[q + j] = src[p];
    }
  }
}

/**
 * Rows over the axes `out` (a contiguous output, operand 0) reading each input laid out in
 * the order of its own axes (operands 1..), broadcast by axis identity: an input lacking an
 * axis of `out` is read with stride 0 along it.
 */
export function broadcastRows(out: readonly Axis[], inputs: readonly (readonly Axis[])[]): Rows {
  const sizes = sizesOf(out);
  return new Rows(sizes, [contiguousStrides(sizes), ...inputs.map((axes) => stridesAlong(axes, out))]);
}

/**
 * O[i] = f(a, b) at each position i of `out` (contiguous), the operands read in their own
 * layouts and broadcast by axis identity: the loop of every binary elementwise op.
 */
export function zipBroadcast(out: readonly Axis[], a: { type: { axes: readonly Axis[] }; data: ArrayLike<number> }, b: { type: { axes: readonly Axis[] }; data: ArrayLike<number> }, O: Numeric, f: (x: number, y: number) => number): void {
  const A = a.data;
  const B = b.data;
  const it = broadcastRows(out, [a.type.axes, b.type.axes]);
  const n = it.n;
  const sa = it.step[1];
  const sb = it.step[2];
  for (let r = it.count; r > 0; r--, it.next()) {
    const o = it.offs[0];
    let pa = it.offs[1];
    let pb = it.offs[2];
    for (let j = 0; j < n; j++, pa += sa, pb += sb) O[o + j] = f(A[pa], B[pb]);
  }
}
