/**
 * Rendering kernel expressions (KExpr) as WGSL. Every kernel binds the f32 arena as `arena`
 * and the i32 arena as `iarena`; axis positions are u32 variables the kernel declares.
 */
import type { Axis } from '../../ir/types.js';
import type { Access, KExpr } from '../spec.js';

export interface EmitContext {
  /** WGSL u32 expression for the current position along an iteration axis. */
  index(axis: Axis): string;
  /** The GEMM accumulator, in epilogues. */
  acc?: string;
  /** Values computed earlier in the invocation (row kernels). */
  locals?: ReadonlyMap<string, string>;
}

/**
 * A WGSL f32 literal. WGSL has no literals for infinities and NaN, and rejects constant
 * expressions that evaluate to them, so those read a bit pattern from a private variable
 * (see PRELUDE): a runtime value, never constant-folded by the WGSL compiler.
 */
export function f32Literal(v: number): string {
  if (v === Infinity) return 'pos_inf()';
  if (v === -Infinity) return '(-pos_inf())';
  if (Number.isNaN(v)) return 'nan()';
  if (Object.is(v, -0)) return '-0.0';
  // Round to f32 first so the literal is representable; keep enough digits to round-trip.
  const f = Math.fround(v);
  const a = Math.abs(f);
  let s = a !== 0 && (a < 1e-4 || a >= 1e9) ? f.toExponential(8) : f.toPrecision(9);
  if (!/[.e]/.test(s)) s += '.0';
  s = s.replace(/e\+?/, 'e');
  return f < 0 ? `(${s})` : s;
}

export function i32Literal(v: number): string {
  return v < 0 ? `(${v}i)` : `${v}i`;
}

/** `offset + Σ index(axis) * stride`, as a u32 WGSL expression. */
export function accessIndex(a: Access, cx: EmitContext, axesById?: ReadonlyMap<number, Axis>, extra?: string): string {
  const terms: string[] = [];
  if (a.offset !== 0) terms.push(`${a.offset}u`);
  for (const [id, stride] of a.strides) {
    if (stride === 0) continue;
    const axis = axesById?.get(id) ?? ({ id, name: `a${id}`, size: 0 } as Axis);
    const ix = cx.index(axis);
    terms.push(stride === 1 ? ix : `${ix} * ${stride}u`);
  }
  if (extra) terms.push(extra);
  return terms.length ? terms.join(' + ') : '0u';
}

function arenaName(a: Access): string {
  return a.arena === 'f32' ? 'arena' : 'iarena';
}

/** Every axis mentioned in an expression, by id (so index variables can be named). */
export function axesOf(e: KExpr, out = new Map<number, Axis>()): Map<number, Axis> {
  switch (e.k) {
    case 'iota':
      out.set(e.axis.id, e.axis);
      break;
    case 'gather':
      axesOf(e.index, out);
      break;
    case 'unary':
    case 'cast':
      axesOf(e.x, out);
      break;
    case 'binary':
    case 'compare':
      axesOf(e.a, out);
      axesOf(e.b, out);
      break;
    case 'where':
      axesOf(e.c, out);
      axesOf(e.a, out);
      axesOf(e.b, out);
      break;
    default:
      break;
  }
  return out;
}

export function emitExpr(e: KExpr, cx: EmitContext): string {
  switch (e.k) {
    case 'load': {
      const v = `${arenaName(e.access)}[${accessIndex(e.access, cx)}]`;
      return e.dtype === 'bool' ? `(${v} != 0i)` : v;
    }
    case 'gather': {
      const stride = e.access.strides.get(e.axis.id) ?? 0;
      const rest: Access = { ...e.access, strides: new Map([...e.access.strides].filter(([id]) => id !== e.axis.id)) };
      const idx = `u32(${emitExpr(e.index, cx)})${stride === 1 ? '' : ` * ${stride}u`}`;
      const v = `${arenaName(e.access)}[${accessIndex(rest, cx, undefined, idx)}]`;
      return e.dtype === 'bool' ? `(${v} != 0i)` : v;
    }
    case 'const':
      return e.dtype === 'f32' ? f32Literal(e.value) : i32Literal(e.value);
    case 'iota':
      return `i32(${cx.index(e.axis)})`;
    case 'acc':
      if (!cx.acc) throw new Error('internal: acc outside a GEMM epilogue');
      return cx.acc;
    case 'local': {
      const v = cx.locals?.get(e.name);
      if (!v) throw new Error(`internal: unknown local ${e.name}`);
      return v;
    }
    case 'unary': {
      const x = emitExpr(e.x, cx);
      switch (e.fn) {
        case 'neg':
          return `(-${x})`;
        case 'exp':
          return `exp(${x})`;
        case 'log':
          return `log(${x})`;
        case 'sqrt':
          return `sqrt(${x})`;
        case 'rsqrt':
          return `inverseSqrt(${x})`;
        case 'tanh':
          return `safe_tanh(${x})`;
        case 'gelu':
          return `gelu(${x})`;
        case 'gelu_grad':
          return `gelu_grad(${x})`;
        case 'relu':
          return `max(${x}, 0.0)`;
        case 'step':
          return `select(0.0, 1.0, ${x} > 0.0)`;
        case 'sigmoid':
          return `(1.0 / (1.0 + exp(-${x})))`;
        case 'abs':
          return `abs(${x})`;
        case 'square':
          return `sq(${x})`;
        case 'recip':
          return `(1.0 / ${x})`;
      }
      break;
    }
    case 'binary': {
      const a = emitExpr(e.a, cx);
      const b = emitExpr(e.b, cx);
      switch (e.fn) {
        case 'add':
          return `(${a} + ${b})`;
        case 'sub':
          return `(${a} - ${b})`;
        case 'mul':
          return `(${a} * ${b})`;
        case 'div':
          return `(${a} / ${b})`;
        case 'pow':
          return `pow(${a}, ${b})`;
        case 'max':
          return `max(${a}, ${b})`;
        case 'min':
          return `min(${a}, ${b})`;
      }
      break;
    }
    case 'compare': {
      const op = { lt: '<', le: '<=', gt: '>', ge: '>=', eq: '==', ne: '!=' }[e.fn];
      return `(${emitExpr(e.a, cx)} ${op} ${emitExpr(e.b, cx)})`;
    }
    case 'where':
      return `select(${emitExpr(e.b, cx)}, ${emitExpr(e.a, cx)}, ${emitExpr(e.c, cx)})`;
    case 'cast': {
      const x = emitExpr(e.x, cx);
      if (e.from === e.to) return x;
      if (e.from === 'bool') return e.to === 'f32' ? `select(0.0, 1.0, ${x})` : `select(0i, 1i, ${x})`;
      if (e.to === 'bool') return e.from === 'f32' ? `(${x} != 0.0)` : `(${x} != 0i)`;
      return e.to === 'f32' ? `f32(${x})` : `i32(${x})`;
    }
  }
  throw new Error(`internal: cannot emit ${(e as KExpr).k}`);
}

/** Value to store into an arena: bools go to the i32 arena as 0/1. */
export function storeValue(e: KExpr, dtype: 'f32' | 'i32' | 'bool', cx: EmitContext): string {
  const v = emitExpr(e, cx);
  return dtype === 'bool' ? `select(0i, 1i, ${v})` : v;
}

/**
 * Helper functions every kernel may call. tanh is computed from exp(-2|x|) so that large
 * arguments give ±1 instead of inf/inf = NaN (some WGSL tanh implementations overflow).
 */
export const PRELUDE = `
var<private> INF_BITS: u32 = 0x7f800000u;
fn pos_inf() -> f32 { return bitcast<f32>(INF_BITS); }
fn nan() -> f32 { return bitcast<f32>(INF_BITS | 0x400000u); }
fn sq(x: f32) -> f32 { return x * x; }
fn safe_tanh(x: f32) -> f32 {
  let e = exp(-2.0 * abs(x));
  return sign(x) * (1.0 - e) / (1.0 + e);
}
fn gelu(x: f32) -> f32 {
  return 0.5 * x * (1.0 + safe_tanh(0.7978845608 * (x + 0.044715 * x * x * x)));
}
fn gelu_grad(x: f32) -> f32 {
  let u = 0.7978845608 * (x + 0.044715 * x * x * x);
  let t = safe_tanh(u);
  return 0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * 0.7978845608 * (1.0 + 3.0 * 0.044715 * x * x);
}
`;

/** The two arena bindings every kernel declares. */
export const BINDINGS = `
@group(0) @binding(0) var<storage, read_write> arena: array<f32>;
@group(0) @binding(1) var<storage, read_write> iarena: array<i32>;
`;
