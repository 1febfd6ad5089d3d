/** Elementwise primitives: unary functions, casts, binary arithmetic, comparisons, where. */
import { describeDtype, fail, ok, unionAxes, type OpDef } from './def.js';
import { numElements, type BinaryFn, type CompareFn, type TensorType, type UnaryFn } from '../types.js';
import { alloc, type TensorData } from '../interpret/tensor.js';
import { broadcastRows, type Rows } from '../interpret/strided.js';

/** Functions on floats. */
export const unaryOp: OpDef<'unary'> = {
  op: 'unary',
  arity: 1,
  type: ([x], attrs) => {
    if (x.dtype === 'f32') return ok({ dtype: 'f32', axes: x.axes });
    if (x.dtype === 'i32' && attrs.fn === 'neg' && !x.indexOf) return ok({ dtype: 'i32', axes: x.axes });
    if (x.dtype === 'i32' && x.indexOf)
      return fail('E0402', `\`${attrs.fn}\` applied to ${describeDtype(x)}`, 'index tensors hold positions, not numbers; gather with them (`table[index]`) instead', 0);
    return fail('E0304', `\`${attrs.fn}\` needs a float operand, found ${describeDtype(x)}`, 'convert it with `float(...)` first', 0);
  },
  evaluate: ([x], attrs, out, ctx) => {
    const data = alloc(out.dtype, x.data.length, ctx.precision);
    unaryKernel(attrs.fn, x.data, data);
    return { type: out, data };
  },
};

/** sqrt(2/pi), the GELU tanh-approximation constant (GPT-2). */
const GELU_C = Math.sqrt(2 / Math.PI);
const GELU_A = 0.044715;

/** gelu(x) = 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))), the tanh approximation of GPT-2. */
export function gelu(x: number): number {
  return 0.5 * x * (1 + Math.tanh(GELU_C * (x + GELU_A * x * x * x)));
}

/** d gelu / dx = 0.5 (1 + t) + 0.5 x (1 - t^2) sqrt(2/pi) (1 + 3 * 0.044715 x^2), t = tanh(...). */
export function geluGrad(x: number): number {
  const t = Math.tanh(GELU_C * (x + GELU_A * x * x * x));
  return 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * GELU_C * (1 + 3 * GELU_A * x * x);
}

function unaryKernel(fn: UnaryFn, X: TensorData, O: TensorData): void {
  const n = O.length;
  switch (fn) {
    case 'neg':
      for (let i = 0; i < n; i++) O[i] = -X[i];
      return;
    case 'exp':
      for (let i = 0; i < n; i++) O[i] = Math.exp(X[i]);
      return;
    case 'log':
      for (let i = 0; i < n; i++) O[i] = Math.log(X[i]);
      return;
    case 'sqrt':
      for (let i = 0; i < n; i++) O[i] = Math.sqrt(X[i]);
      return;
    case 'rsqrt':
      for (let i = 0; i < n; i++) O[i] = 1 / Math.sqrt(X[i]);
      return;
    case 'tanh':
      for (let i = 0; i < n; i++) O[i] = Math.tanh(X[i]);
      return;
    case 'gelu':
      for (let i = 0; i < n; i++) O[i] = gelu(X[i]);
      return;
    case 'gelu_grad':
      for (let i = 0; i < n; i++) O[i] = geluGrad(X[i]);
      return;
    case 'relu':
      // NaN propagates (a NaN must not be hidden from the checks that look for it).
      for (let i = 0; i < n; i++) {
        const x = X[i];
        O[i] = x > 0 ? x : x === x ? 0 : x;
      }
      return;
    case 'step':
      for (let i = 0; i < n; i++) O[i] = X[i] > 0 ? 1 : 0;
      return;
    case 'sigmoid':
      for (let i = 0; i < n; i++) O[i] = 1 / (1 + Math.exp(-X[i]));
      return;
    case 'abs':
      for (let i = 0; i < n; i++) O[i] = Math.abs(X[i]);
      return;
    case 'square':
      for (let i = 0; i < n; i++) {
        const x = X[i];
        O[i] = x * x;
      }
      return;
    case 'recip':
      for (let i = 0; i < n; i++) O[i] = 1 / X[i];
      return;
  }
}

export const castOp: OpDef<'cast'> = {
  op: 'cast',
  arity: 1,
  type: ([x], attrs) => ok({ dtype: attrs.to, axes: x.axes }),
  /**
   * bool → number: 0/1; number → bool: x != 0 (NaN is true); f32 → i32: truncation toward
   * zero, saturating at the i32 range, NaN → 0 (as WGSL's i32(f32)); i32 → f32: exact (then
   * rounded to f32 at f32 precision).
   */
  evaluate: ([x], attrs, out, ctx) => {
    const X = x.data;
    const n = X.length;
    const O = alloc(out.dtype, n, ctx.precision);
    if (attrs.to === 'bool') {
      for (let i = 0; i < n; i++) O[i] = X[i] !== 0 ? 1 : 0;
    } else if (attrs.to === 'i32' && x.type.dtype === 'f32') {
      for (let i = 0; i < n; i++) {
        const v = X[i];
        O[i] = v !== v ? 0 : v >= 2147483647 ? 2147483647 : v <= -2147483648 ? -2147483648 : Math.trunc(v);
      }
    } else {
      for (let i = 0; i < n; i++) O[i] = X[i];
    }
    return { type: out, data: O };
  },
};

function numericPair(a: TensorType, b: TensorType, what: string) {
  for (const [i, t] of [a, b].entries()) {
    if (t.dtype === 'bool')
      return fail('E0304', `${what} of ${describeDtype(t)}`, 'use the mask in `where(mask, a, b)`, or convert it with `float(mask)`', i);
  }
  if (a.dtype !== b.dtype) {
    const idx = a.dtype === 'i32' ? 0 : 1;
    const t = idx === 0 ? a : b;
    if (t.indexOf)
      return fail('E0402', `${what} of a float and ${describeDtype(t)}`, 'index tensors hold positions, not numbers; gather with them (`table[index]`) instead', idx);
    return fail('E0304', `${what} of a float and ${describeDtype(t)}`, 'convert the integer operand with `float(...)`', idx);
  }
  return undefined;
}

export const binaryOp: OpDef<'binary'> = {
  op: 'binary',
  arity: 2,
  type: ([a, b], attrs) => {
    const bad = numericPair(a, b, `\`${attrs.fn}\``);
    if (bad) return bad;
    if (a.dtype === 'i32' && (attrs.fn === 'div' || attrs.fn === 'pow'))
      return fail('E0304', `integer \`${attrs.fn}\` is not defined on positions`, 'convert with `float(...)` first', 0);
    return ok({ dtype: a.dtype, axes: unionAxes(a, b) });
  },
  /** IEEE double arithmetic (rounded to the output's precision); i32 wraps like two's complement. */
  evaluate: ([a, b], attrs, out, ctx) => {
    const O = alloc(out.dtype, numElements(out), ctx.precision);
    binaryKernel(attrs.fn, out.dtype === 'i32', a.data, b.data, O, broadcastRows(out.axes, [a.type.axes, b.type.axes]));
    return { type: out, data: O };
  },
};

function binaryKernel(fn: BinaryFn, int: boolean, A: TensorData, B: TensorData, O: TensorData, it: Rows): void {
  const n = it.n;
  const sa = it.step[1];
  const sb = it.step[2];
  for (let r = it.count; r > 0; r--, it.next()) {
    const o = it.offs[0];
    let pa = it.offs[1];
    let pb = it.offs[2];
    switch (fn) {
      case 'add':
        for (let j = 0; j < n; j++, pa += sa, pb += sb) O[o + j] = A[pa] + B[pb];
        break;
      case 'sub':
        for (let j = 0; j < n; j++, pa += sa, pb += sb) O[o + j] = A[pa] - B[pb];
        break;
      case 'mul':
        if (int) for (let j = 0; j < n; j++, pa += sa, pb += sb) O[o + j] = Math.imul(A[pa], B[pb]);
        else for (let j = 0; j < n; j++, pa += sa, pb += sb) O[o + j] = A[pa] * B[pb];
        break;
      case 'div':
        for (let j = 0; j < n; j++, pa += sa, pb += sb) O[o + j] = A[pa] / B[pb];
        break;
      case 'pow':
        for (let j = 0; j < n; j++, pa += sa, pb += sb) O[o + j] = Math.pow(A[pa], B[pb]);
        break;
      case 'max':
        for (let j = 0; j < n; j++, pa += sa, pb += sb) O[o + j] = Math.max(A[pa], B[pb]);
        break;
      case 'min':
        for (let j = 0; j < n; j++, pa += sa, pb += sb) O[o + j] = Math.min(A[pa], B[pb]);
        break;
    }
  }
}

export const compareOp: OpDef<'compare'> = {
  op: 'compare',
  arity: 2,
  type: ([a, b], attrs) => {
    const bad = numericPair(a, b, `comparison \`${attrs.fn}\``);
    if (bad) return bad;
    return ok({ dtype: 'bool', axes: unionAxes(a, b) });
  },
  /** IEEE comparisons: anything compared with NaN is false, except `ne` (true). */
  evaluate: ([a, b], attrs, out) => {
    const O = new Uint8Array(numElements(out));
    compareKernel(attrs.fn, a.data, b.data, O, broadcastRows(out.axes, [a.type.axes, b.type.axes]));
    return { type: out, data: O };
  },
};

function compareKernel(fn: CompareFn, A: TensorData, B: TensorData, O: Uint8Array, it: Rows): void {
  const n = it.n;
  const sa = it.step[1];
  const sb = it.step[2];
  for (let r = it.count; r > 0; r--, it.next()) {
    const o = it.offs[0];
    let pa = it.offs[1];
    let pb = it.offs[2];
    switch (fn) {
      case 'lt':
        for (let j = 0; j < n; j++, pa += sa, pb += sb) O[o + j] = A[pa] < B[pb] ? 1 : 0;
        break;
      case 'le':
        for (let j = 0; j < n; j++, pa += sa, pb += sb) O[o + j] = A[pa] <= B[pb] ? 1 : 0;
        break;
      case 'gt':
        for (let j = 0; j < n; j++, pa += sa, pb += sb) O[o + j] = A[pa] > B[pb] ? 1 : 0;
        break;
      case 'ge':
        for (let j = 0; j < n; j++, pa += sa, pb += sb) O[o + j] = A[pa] >= B[pb] ? 1 : 0;
        break;
      case 'eq':
        for (let j = 0; j < n; j++, pa += sa, pb += sb) O[o + j] = A[pa] === B[pb] ? 1 : 0;
        break;
      case 'ne':
        for (let j = 0; j < n; j++, pa += sa, pb += sb) O[o + j] = A[pa] !== B[pb] ? 1 : 0;
        break;
    }
  }
}

export const whereOp: OpDef<'where'> = {
  op: 'where',
  arity: 3,
  type: ([c, a, b]) => {
    if (c.dtype !== 'bool')
      return fail('E0304', `the condition of \`where\` must be a comparison (a mask), found ${describeDtype(c)}`, 'write a comparison such as `where(key > seq, -inf, s)`', 0);
    if (a.dtype !== b.dtype)
      return fail('E0304', `the two branches of \`where\` have different kinds: ${describeDtype(a)} and ${describeDtype(b)}`, 'make both branches floats', 2);
    return ok({ dtype: a.dtype, axes: unionAxes(a, b, c) });
  },
  /** Selects without arithmetic: where(mask, -inf, x) is exactly -inf where the mask holds. */
  evaluate: ([c, a, b], _attrs, out, ctx) => {
    const O = alloc(out.dtype, numElements(out), ctx.precision);
    const C = c.data;
    const A = a.data;
    const B = b.data;
    const it = broadcastRows(out.axes, [c.type.axes, a.type.axes, b.type.axes]);
    const n = it.n;
    const sc = it.step[1];
    const sa = it.step[2];
    const sb = it.step[3];
    for (let r = it.count; r > 0; r--, it.next()) {
      const o = it.offs[0];
      let pc = it.offs[1];
      let pa = it.offs[2];
      let pb = it.offs[3];
      for (let j = 0; j < n; j++, pc += sc, pa += sa, pb += sb) O[o + j] = C[pc] !== 0 ? A[pa] : B[pb];
    }
    return { type: out, data: O };
  },
};
