/**
 * Rendering kernel expressions (KExpr) as WGSL. Every kernel binds the f32 arena as `arena`
 * and the i32 arena as `iarena`; axis positions are u32 variables the kernel declares.
 */
import { BINARY, COMPARE, UNARY, type UnaryPrim } from '../../ir/ops/index.js';
import type { Axis, UnaryFn } from '../../ir/types.js';
import { exprType, someExpr } from '../kernel-ir/expr.js';
import type { Access, KExpr } from '../kernel-ir/types.js';
import { offsetAligned4, offsetRef } from '../offsets.js';

/** The two arena bindings every kernel declares. */
export const BINDINGS = `
@group(0) @binding(0) var<storage, read_write> arena: array<f32>;
@group(0) @binding(1) var<storage, read_write> iarena: array<i32>;
`;

/** How kernel code reads and writes single f32 elements of the arena. */
export interface ArenaView {
  /** Binding declarations (BINDINGS, or the vec4 view of binding 0) and accessors. */
  declarations: string;
  load(index: string): string;
  store(index: string, value: string): string;
}

export const F32_VIEW: ArenaView = {
  declarations: BINDINGS,
  load: (i) => `arena[${i}]`,
  store: (i, v) => `arena[${i}] = ${v};`,
};

/**
 * The f32 arena declared as `array<vec4f>` (binding 0 is the same buffer): for kernels that
 * read or write four elements at once. Its length must be a multiple of 4 elements, which the
 * buffer planner guarantees (regions and sizes are multiples of ALIGN = 16).
 */
export const VEC4_VIEW: ArenaView = {
  declarations: `
// The f32 arena viewed as vec4s (its length is a multiple of 4); arena_f32 reads one element.
@group(0) @binding(0) var<storage, read_write> arena: array<vec4f>;
@group(0) @binding(1) var<storage, read_write> iarena: array<i32>;
fn arena_f32(i: u32) -> f32 { return arena[i >> 2u][i & 3u]; }
fn arena4(i: u32) -> vec4f { return arena[i >> 2u]; }
`,
  load: (i) => `arena_f32(${i})`,
  store: (i, v) => `{ let o = ${i}; arena[o >> 2u][o & 3u] = ${v}; }`,
};

/**
 * The WGSL names of a kernel's position variables, one per axis it iterates over:
 * `i_<axis name>` (`i_seq`), numbered when two axes share a name. Asking for an axis the
 * kernel does not iterate over is a compiler bug.
 */
export function axisNames(axes: Iterable<Axis>): (axis: Axis) => string {
  const byId = new Map<number, string>();
  const taken = new Set<string>();
  for (const a of axes) {
    if (byId.has(a.id)) continue;
    let name = `i_${a.name}`;
    for (let n = 2; taken.has(name); n++) name = `i_${a.name}_${n}`;
    taken.add(name);
    byId.set(a.id, name);
  }
  return (axis) => {
    const name = byId.get(axis.id);
    if (name === undefined) throw new Error(`internal: axis ${axis.name} (#${axis.id}) is not one the kernel iterates over`);
    return name;
  };
}

export interface EmitContext {
  /** WGSL u32 expression for the current position along an iteration axis. */
  index(axis: Axis): string;
  /** How f32 elements are read (default: the plain f32 view). */
  view?: ArenaView;
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
export function accessIndex(a: Access, cx: EmitContext, extra?: string): string {
  const terms: string[] = [];
  if (a.base) terms.push(offsetRef(a.base));
  else if (a.offset !== 0) terms.push(`${a.offset}u`);
  for (const [id, stride] of a.strides) {
    if (stride === 0) continue;
    // Position variables are named by axis id (see axisNames).
    const ix = cx.index({ id, name: `#${id}`, size: 0 });
    terms.push(stride === 1 ? ix : `${ix} * ${stride}u`);
  }
  if (extra) terms.push(extra);
  return terms.length ? terms.join(' + ') : '0u';
}

/** The element of `a` at `index`, as the context's view reads it (i32 arena elements directly). */
function element(a: Access, index: string, cx: EmitContext): string {
  return a.arena === 'f32' ? (cx.view ?? F32_VIEW).load(index) : `iarena[${index}]`;
}

export function emitExpr(e: KExpr, cx: EmitContext): string {
  switch (e.k) {
    case 'load': {
      const v = element(e.access, accessIndex(e.access, cx), cx);
      return e.dtype === 'bool' ? `(${v} != 0i)` : v;
    }
    case 'gather': {
      const stride = e.access.strides.get(e.axis.id) ?? 0;
      const rest: Access = { ...e.access, strides: new Map([...e.access.strides].filter(([id]) => id !== e.axis.id)) };
      const idx = `u32(${emitExpr(e.index, cx)})${stride === 1 ? '' : ` * ${stride}u`}`;
      const v = element(e.access, accessIndex(rest, cx, idx), cx);
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
    case 'unary':
      return UNARY[e.fn].wgsl.scalar(emitExpr(e.x, cx));
    case 'binary':
      return BINARY[e.fn].wgsl(emitExpr(e.a, cx), emitExpr(e.b, cx));
    case 'compare':
      return `(${emitExpr(e.a, cx)} ${COMPARE[e.fn].operator} ${emitExpr(e.b, cx)})`;
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

/** The helper functions of the unary functions (unary/<fn>.ts's `wgsl.helpers`), `every` kernel's or those of `fns`, for f32 and then for vec4f. */
function helpers(pick: (fn: UnaryFn, everyKernel: boolean) => boolean): string {
  const all = Object.entries(UNARY) as [UnaryFn, UnaryPrim][];
  const chosen = all.filter(([fn, p]) => p.wgsl.helpers && pick(fn, p.wgsl.helpers.everyKernel === true));
  return [...chosen.map(([, p]) => p.wgsl.helpers!.code('f32', '')), ...chosen.map(([, p]) => p.wgsl.helpers!.code('vec4f', '4'))].join('');
}

/**
 * What every kernel declares first: infinities and NaN (WGSL has no literals for them), and
 * the helper functions of the unary functions that mdlc has always emitted into every kernel
 * (sq, safe_tanh, gelu, gelu_grad).
 */
export const PRELUDE = `
var<private> INF_BITS: u32 = 0x7f800000u;
fn pos_inf() -> f32 { return bitcast<f32>(INF_BITS); }
fn nan() -> f32 { return bitcast<f32>(INF_BITS | 0x400000u); }
${helpers((_fn, every) => every)}`;

/** The helper functions a kernel that applies `fns` needs besides the PRELUDE's ('' when none). */
export function extraHelpers(fns: ReadonlySet<UnaryFn>): string {
  return helpers((fn, every) => !every && fns.has(fn));
}

const VEC4_TYPE = { f32: 'vec4f', i32: 'vec4i', bool: 'vec4<bool>' } as const;

/** How `emitExpr4` reads four consecutive elements (through `arena4`, the vec4 view's), and the accumulator as a vec4. */
export interface Vec4Emit {
  /** The axis the four components run along; its position at component 0 is a multiple of 4. */
  lane: Axis;
  /** The accumulator as a vec4f (GEMM epilogues). */
  acc4?: string;
  /** Locals that hold four components already (vec4f values computed earlier in the invocation). */
  vectors?: ReadonlySet<string>;
}

/** Whether `a` can be read as one aligned vec4 along `lane`: stride 1 there, offset and other strides multiples of 4. */
export function vec4Readable(a: Access, lane: Axis): boolean {
  if (a.arena !== 'f32' || a.strides.get(lane.id) !== 1 || !offsetAligned4(a)) return false;
  for (const [id, s] of a.strides) if (id !== lane.id && s % 4 !== 0) return false;
  return true;
}

/**
 * A statement storing the vec4 `value` at four consecutive positions along `lane` of `a` (the
 * vec4 view of the arena): one vec4 store where `a` is contiguous and aligned there, else four
 * component stores.
 */
export function store4(a: Access, value: string, cx: EmitContext, lane: Axis): string {
  if (vec4Readable(a, lane)) return `arena[(${accessIndex(a, cx)}) >> 2u] = ${value};`;
  const at = (c: number) => accessIndex(a, { ...cx, index: (x) => (x.id === lane.id && c > 0 ? `(${cx.index(x)} + ${c}u)` : cx.index(x)) });
  return `{ let v = ${value};${[0, 1, 2, 3].map((c) => ` arena[(${at(c)}) >> 2u][(${at(c)}) & 3u] = v[${c}];`).join('')} }`;
}

/**
 * `e` at four consecutive positions along `v.lane`, as a WGSL vec4 expression: loads with
 * stride 1 along the lane become one vec4 read, loads that do not vary along it are read once
 * and splatted, and what has no vector form (gathers, strided loads) is built from four scalar
 * expressions. Four elements per invocation is what makes elementwise code fast on lavapipe
 * (WEBGPU-NOTES: 2.6 GB/s vs 1.3 for scalar), and it turns per-lane gathers into vector reads.
 */
export function emitExpr4(e: KExpr, cx: EmitContext, v: Vec4Emit): string {
  const scalarAt = (c: number): EmitContext => ({
    ...cx,
    index: (a) => (a.id === v.lane.id && c > 0 ? `(${cx.index(a)} + ${c}u)` : cx.index(a)),
    acc: v.acc4 ? `${v.acc4}[${c}]` : cx.acc,
  });
  const splat = (x: KExpr) => `${VEC4_TYPE[exprType(x)]}(${emitExpr(x, cx)})`;
  const perComponent = (x: KExpr) => `${VEC4_TYPE[exprType(x)]}(${[0, 1, 2, 3].map((c) => emitExpr(x, scalarAt(c))).join(', ')})`;
  /** Whether `x` differs between the four components: it reads along the lane, or holds a vector. */
  const varies = (x: KExpr): boolean =>
    someExpr(x, (y) => {
      switch (y.k) {
        case 'load':
        case 'gather':
          return (y.access.strides.get(v.lane.id) ?? 0) !== 0;
        case 'iota':
          return y.axis.id === v.lane.id;
        case 'acc':
          return true;
        case 'local':
          return v.vectors?.has(y.name) ?? false;
        default:
          return false;
      }
    });
  const go = (x: KExpr): string => {
    if (!varies(x)) return splat(x);
    switch (x.k) {
      case 'load':
        return vec4Readable(x.access, v.lane) ? `arena4(${accessIndex(x.access, cx)})` : perComponent(x);
      case 'gather':
        return perComponent(x);
      case 'iota':
        return `(vec4i(i32(${cx.index(x.axis)})) + vec4i(0i, 1i, 2i, 3i))`;
      case 'acc':
        return v.acc4 ?? perComponent(x);
      case 'unary': {
        const w = UNARY[x.fn].wgsl;
        return (w.vec4 ?? w.scalar)(go(x.x));
      }
      // WGSL applies these componentwise: the scalar spelling serves vec4 operands.
      case 'binary':
        return BINARY[x.fn].wgsl(go(x.a), go(x.b));
      case 'compare':
        return `(${go(x.a)} ${COMPARE[x.fn].operator} ${go(x.b)})`;
      case 'where':
        return `select(${go(x.b)}, ${go(x.a)}, ${go(x.c)})`;
      case 'cast': {
        const a = go(x.x);
        if (x.from === x.to) return a;
        if (x.from === 'bool') return x.to === 'f32' ? `select(vec4f(0.0), vec4f(1.0), ${a})` : `select(vec4i(0i), vec4i(1i), ${a})`;
        if (x.to === 'bool') return x.from === 'f32' ? `(${a} != vec4f(0.0))` : `(${a} != vec4i(0i))`;
        return x.to === 'f32' ? `vec4f(${a})` : `vec4i(${a})`;
      }
      case 'const':
        return splat(x);
      case 'local':
        return cx.locals?.get(x.name) ?? x.name;
    }
  };
  return go(e);
}
