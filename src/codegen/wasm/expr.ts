/**
 * Kernel expressions (KExpr) as WebAssembly: one element (`scalar`: an f32, or an i32, with
 * booleans as 0/1), or four consecutive positions along a lane axis (`vector`: an f32x4,
 * i32x4, or a mask of −1/0 lanes for booleans). The wasm twin of wgsl/expr.ts.
 *
 * Addresses are bytes in the one linear memory: a region's start (a local loaded from the
 * dispatch's table, or a constant) plus 4 · Σ position · stride.
 */
import type { Axis, UnaryFn } from '../../ir/types.js';
import { exprType, someExpr } from '../kernel-ir/expr.js';
import type { Access, Arena, KExpr } from '../kernel-ir/types.js';
import type { FunctionBuilder, ValType } from './encoder.js';
import type { MathFunctions } from './math.js';

/** Where each arena starts in linear memory (bytes). */
export type ArenaBases = Readonly<Record<Arena, number>>;

export interface ExprContext {
  f: FunctionBuilder;
  math: MathFunctions;
  bases: ArenaBases;
  /** The local holding the current position along an iteration axis (by axis id). */
  pos(axisId: number): number;
  /** The local holding an access's region start in bytes, when it is read at run time (`base`). */
  region(a: Access): number | undefined;
  /** The GEMM accumulator in epilogues: pushes it as a scalar, or as four lanes. */
  acc?: { scalar?: () => void; vector?: () => void };
  /** Values computed earlier in the invocation, by name: a local, holding four lanes or one value. */
  locals?: ReadonlyMap<string, { local: number; vector: boolean }>;
  /** Scratch locals by type, reused across expressions (see `scratch`). */
  scratch?: Map<string, number[]>;
}

export type ElementType = 'f32' | 'i32' | 'bool';

/**
 * A scratch local of type `t` for one use (`key`): the same local every time, so a kernel's
 * expressions share a few. Uses at different depths of one expression take different keys.
 */
function scratch(cx: ExprContext, t: ValType, key: string | number): number {
  cx.scratch ??= new Map();
  const name = `${t}:${key}`;
  let list = cx.scratch.get(name);
  if (!list) {
    list = [cx.f.local(t)];
    cx.scratch.set(name, list);
  }
  return list[0];
}

/**
 * Push the dynamic part of the byte address of `a`'s element at the current positions and
 * return the constant part (for the memarg offset). `skip`: an axis whose term the caller
 * adds (a gather's), `extra`: pushes another i32 byte term.
 */
export function address(a: Access, cx: ExprContext, skip?: number, extra?: () => void): number {
  const f = cx.f;
  let pushed = false;
  const add = () => {
    if (pushed) f.op('i32_add');
    pushed = true;
  };
  let constant = 0;
  const local = cx.region(a);
  if (local !== undefined) {
    f.get(local);
    pushed = true;
  } else constant = cx.bases[a.arena] + 4 * a.offset;
  for (const [id, stride] of a.strides) {
    if (stride === 0 || id === skip) continue;
    if (stride < 0) throw new Error(`internal: negative stride ${stride}`);
    f.get(cx.pos(id)).i32(4 * stride).op('i32_mul');
    add();
  }
  if (extra) {
    extra();
    add();
  }
  if (!pushed) f.i32(0);
  return constant;
}

function loadScalar(a: Access, dtype: ElementType, cx: ExprContext, skip?: number, extra?: () => void): void {
  const offset = address(a, cx, skip, extra);
  cx.f.mem(a.arena === 'f32' ? 'f32_load' : 'i32_load', offset);
  if (dtype === 'bool') cx.f.i32(0).op('i32_ne');
}

/** A gather's extra address term: the index (an i32 expression) times the table's stride along the gathered axis, in bytes. */
function gatherTerm(e: Extract<KExpr, { k: 'gather' }>, cx: ExprContext): () => void {
  const stride = e.access.strides.get(e.axis.id) ?? 0;
  return () => {
    scalarExpr(e.index, cx);
    cx.f.i32(4 * stride).op('i32_mul');
  };
}

/** Call a four-lane math helper on a scalar f32 on the stack. */
function viaVector(cx: ExprContext, fn: number): void {
  cx.f.op('f32x4_splat').call(fn).lane('f32x4_extract', 0);
}

/**
 * The float functions that are the same instructions on one f32 and on four f32 lanes (their
 * `f32_` or `f32x4_` forms): `x` pushes the operand. The math helpers take four lanes, so a
 * scalar goes through them splatted.
 */
function floatUnary(fn: Exclude<UnaryFn, 'neg' | 'step'>, x: () => void, cx: ExprContext, depth: number, four: boolean): void {
  const f = cx.f;
  const T = four ? 'f32x4' : 'f32';
  const constant = (v: number) => (four ? f.f32x4(v) : f.f32(v));
  const math = (helper: number) => (four ? f.call(helper) : viaVector(cx, helper));
  switch (fn) {
    case 'exp':
    case 'log':
    case 'tanh':
    case 'gelu':
    case 'gelu_grad':
      x();
      math(cx.math[fn]);
      return;
    case 'sqrt':
      x();
      f.op(`${T}_sqrt`);
      return;
    case 'rsqrt':
      constant(1);
      x();
      f.op(`${T}_sqrt`).op(`${T}_div`);
      return;
    case 'recip':
      constant(1);
      x();
      f.op(`${T}_div`);
      return;
    case 'sigmoid':
      constant(1);
      constant(1);
      x();
      f.op(`${T}_neg`);
      math(cx.math.exp);
      f.op(`${T}_add`).op(`${T}_div`);
      return;
    case 'relu':
      x();
      constant(0);
      f.op(`${T}_max`);
      return;
    case 'abs':
      x();
      f.op(`${T}_abs`);
      return;
    case 'square': {
      const t = scratch(cx, four ? 'v128' : 'f32', depth);
      x();
      f.tee(t).get(t).op(`${T}_mul`);
      return;
    }
    case 'silu': {
      // x / (1 + exp(-x)), x evaluated once.
      const t = scratch(cx, four ? 'v128' : 'f32', depth);
      x();
      f.tee(t);
      constant(1);
      f.get(t).op(`${T}_neg`);
      math(cx.math.exp);
      f.op(`${T}_add`).op(`${T}_div`);
      return;
    }
  }
  return unrendered(fn);
}

/** Push `e` at the current positions as one value: f32, or i32 (booleans 0/1). */
export function scalarExpr(e: KExpr, cx: ExprContext, depth = 0): void {
  const f = cx.f;
  const go = (x: KExpr) => scalarExpr(x, cx, depth + 1);
  switch (e.k) {
    case 'load':
      return loadScalar(e.access, e.dtype, cx);
    case 'gather':
      return loadScalar(e.access, e.dtype, cx, e.axis.id, gatherTerm(e, cx));
    case 'const':
      if (e.dtype === 'f32') f.f32(e.value);
      else f.i32(e.value);
      return;
    case 'iota':
      f.get(cx.pos(e.axis.id));
      return;
    case 'acc':
      if (!cx.acc?.scalar) throw new Error('internal: acc outside a GEMM epilogue');
      cx.acc.scalar();
      return;
    case 'local': {
      const l = cx.locals?.get(e.name);
      if (!l) throw new Error(`internal: unknown local ${e.name}`);
      if (l.vector) throw new Error(`internal: local ${e.name} holds four lanes`);
      f.get(l.local);
      return;
    }
    case 'unary': {
      const int = exprType(e.x) === 'i32';
      switch (e.fn) {
        case 'neg':
          go(e.x);
          if (int) f.i32(-1).op('i32_mul');
          else f.op('f32_neg');
          return;
        case 'step':
          go(e.x);
          f.f32(0).op('f32_gt').op('f32_convert_i32_s');
          return;
        case 'exp':
        case 'log':
        case 'tanh':
        case 'gelu':
        case 'gelu_grad':
        case 'sqrt':
        case 'rsqrt':
        case 'recip':
        case 'sigmoid':
        case 'relu':
        case 'abs':
        case 'square':
        case 'silu':
          return floatUnary(e.fn, () => go(e.x), cx, depth, false);
      }
      return unrendered(e);
    }
    case 'binary': {
      if (e.dtype === 'i32') {
        if (e.fn === 'max' || e.fn === 'min') {
          const a = scratch(cx, 'i32', 2 * depth);
          const b = scratch(cx, 'i32', 2 * depth + 1);
          go(e.a);
          f.set(a);
          go(e.b);
          f.set(b);
          f.get(a).get(b).get(a).get(b).op(e.fn === 'max' ? 'i32_gt_s' : 'i32_lt_s').op('select');
          return;
        }
        const op = { add: 'i32_add', sub: 'i32_sub', mul: 'i32_mul' } as const;
        if (!(e.fn in op)) throw new Error(`internal: integer ${e.fn}`);
        go(e.a);
        go(e.b);
        f.op(op[e.fn as keyof typeof op]);
        return;
      }
      go(e.a);
      go(e.b);
      if (e.fn === 'pow') {
        f.call(cx.math.pow);
        return;
      }
      f.op(({ add: 'f32_add', sub: 'f32_sub', mul: 'f32_mul', div: 'f32_div', max: 'f32_max', min: 'f32_min' } as const)[e.fn]);
      return;
    }
    case 'compare': {
      go(e.a);
      go(e.b);
      const int = exprType(e.a) !== 'f32';
      const ops = int
        ? ({ lt: 'i32_lt_s', le: 'i32_le_s', gt: 'i32_gt_s', ge: 'i32_ge_s', eq: 'i32_eq', ne: 'i32_ne' } as const)
        : ({ lt: 'f32_lt', le: 'f32_le', gt: 'f32_gt', ge: 'f32_ge', eq: 'f32_eq', ne: 'f32_ne' } as const);
      f.op(ops[e.fn]);
      return;
    }
    case 'where':
      go(e.a);
      go(e.b);
      go(e.c);
      f.op('select');
      return;
    case 'cast': {
      go(e.x);
      if (e.from === e.to) return;
      if (e.from === 'bool') {
        if (e.to === 'f32') f.op('f32_convert_i32_s');
        return;
      }
      if (e.to === 'bool') {
        if (e.from === 'f32') f.f32(0).op('f32_ne');
        else f.i32(0).op('i32_ne');
        return;
      }
      f.op(e.to === 'f32' ? 'f32_convert_i32_s' : 'i32_trunc_sat_f32_s');
      return;
    }
  }
}

/** Whether `e` differs between the four lanes along `lane`. */
export function variesAcross(e: KExpr, lane: Axis, cx: Pick<ExprContext, 'locals'>): boolean {
  return someExpr(e, (y) => {
    switch (y.k) {
      case 'load':
      case 'gather':
        return (y.access.strides.get(lane.id) ?? 0) !== 0;
      case 'iota':
        return y.axis.id === lane.id;
      case 'acc':
        return true;
      case 'local':
        return cx.locals?.get(y.name)?.vector ?? false;
      default:
        return false;
    }
  });
}

/** Splat the scalar of type `t` on the stack into four lanes (booleans become masks). */
function splat(f: FunctionBuilder, t: ElementType): void {
  if (t === 'f32') f.op('f32x4_splat');
  else if (t === 'i32') f.op('i32x4_splat');
  else f.op('i32x4_splat').op('i32x4_neg');
}

/**
 * Push `e` at four consecutive positions along `lane` (the lane axis's position local holds
 * the first): loads with stride 1 along the lane are one v128 load, what does not vary is
 * computed once and splatted, and what has no vector form (a gather whose index varies, pow,
 * integer min/max) is built lane by lane.
 */
export function vectorExpr(e: KExpr, cx: ExprContext, lane: Axis, depth = 0): void {
  const f = cx.f;
  const t = exprType(e);
  if (!variesAcross(e, lane, cx)) {
    scalarExpr(e, cx, depth);
    splat(f, t);
    return;
  }
  const go = (x: KExpr) => vectorExpr(x, cx, lane, depth + 1);
  switch (e.k) {
    case 'load':
      return loadVector(e.access, e.dtype, cx, lane);
    case 'gather':
      if (!variesAcross(e.index, lane, cx)) return loadVector(e.access, e.dtype, cx, lane, e.axis.id, gatherTerm(e, cx));
      return perLane(e, cx, lane, depth);
    case 'iota':
      f.get(cx.pos(lane.id)).op('i32x4_splat').i32x4(0, 1, 2, 3).op('i32x4_add');
      return;
    case 'acc':
      if (!cx.acc?.vector) throw new Error('internal: no four-lane accumulator');
      cx.acc.vector();
      return;
    case 'local': {
      const l = cx.locals!.get(e.name)!;
      f.get(l.local);
      return;
    }
    case 'const':
      scalarExpr(e, cx, depth);
      splat(f, t);
      return;
    case 'unary': {
      const int = exprType(e.x) === 'i32';
      switch (e.fn) {
        case 'neg':
          go(e.x);
          f.op(int ? 'i32x4_neg' : 'f32x4_neg');
          return;
        case 'step':
          go(e.x);
          f.f32x4(0).op('f32x4_gt').f32x4(1).op('v128_and');
          return;
        case 'exp':
        case 'log':
        case 'tanh':
        case 'gelu':
        case 'gelu_grad':
        case 'sqrt':
        case 'rsqrt':
        case 'recip':
        case 'sigmoid':
        case 'relu':
        case 'abs':
        case 'square':
        case 'silu':
          return floatUnary(e.fn, () => go(e.x), cx, depth, true);
      }
      return unrendered(e);
    }
    case 'binary': {
      if (e.fn === 'pow') return perLane(e, cx, lane, depth);
      if (e.dtype === 'i32') {
        const op = { add: 'i32x4_add', sub: 'i32x4_sub', mul: 'i32x4_mul', max: 'i32x4_max_s', min: 'i32x4_min_s' } as const;
        if (!(e.fn in op)) throw new Error(`internal: integer ${e.fn}`);
        go(e.a);
        go(e.b);
        f.op(op[e.fn as keyof typeof op]);
        return;
      }
      go(e.a);
      go(e.b);
      f.op(({ add: 'f32x4_add', sub: 'f32x4_sub', mul: 'f32x4_mul', div: 'f32x4_div', max: 'f32x4_max', min: 'f32x4_min' } as const)[e.fn]);
      return;
    }
    case 'compare': {
      go(e.a);
      go(e.b);
      const int = exprType(e.a) !== 'f32';
      if (int) {
        f.op(({ lt: 'i32x4_lt_s', le: 'i32x4_le_s', gt: 'i32x4_gt_s', ge: 'i32x4_ge_s', eq: 'i32x4_eq', ne: 'i32x4_ne' } as const)[e.fn]);
      } else {
        f.op(({ lt: 'f32x4_lt', le: 'f32x4_le', gt: 'f32x4_gt', ge: 'f32x4_ge', eq: 'f32x4_eq', ne: 'f32x4_ne' } as const)[e.fn]);
      }
      return;
    }
    case 'where':
      go(e.a);
      go(e.b);
      go(e.c);
      f.op('v128_bitselect');
      return;
    case 'cast': {
      go(e.x);
      if (e.from === e.to) return;
      if (e.from === 'bool') {
        if (e.to === 'f32') f.f32x4(1).op('v128_and');
        else f.op('i32x4_neg');
        return;
      }
      if (e.to === 'bool') {
        if (e.from === 'f32') f.f32x4(0).op('f32x4_ne');
        else f.i32x4(0).op('i32x4_ne');
        return;
      }
      f.op(e.to === 'f32' ? 'f32x4_convert_i32x4_s' : 'i32x4_trunc_sat_f32x4_s');
      return;
    }
  }
}

/** Four lanes read along `lane`: one v128 where the stride is 1, else lane by lane (constant offsets apart). */
function loadVector(a: Access, dtype: ElementType, cx: ExprContext, lane: Axis, skip?: number, extra?: () => void): void {
  const f = cx.f;
  const stride = a.strides.get(lane.id) ?? 0;
  if (stride === 1) {
    const offset = address(a, cx, skip, extra);
    f.mem('v128_load', offset);
  } else {
    const s = scratch(cx, 'i32', 'load');
    const offset = address(a, cx, skip, extra);
    f.set(s);
    const scalarLoad = a.arena === 'f32' ? 'f32_load' : 'i32_load';
    const replace = a.arena === 'f32' ? 'f32x4_replace' : 'i32x4_replace';
    f.get(s).mem(scalarLoad, offset).op(a.arena === 'f32' ? 'f32x4_splat' : 'i32x4_splat');
    for (let c = 1; c < 4; c++) f.get(s).mem(scalarLoad, offset + 4 * c * stride).lane(replace, c);
  }
  if (dtype === 'bool') f.i32x4(0).op('i32x4_ne');
}

/** `e` evaluated lane by lane (the lane axis's position advanced by c in lane c), assembled into four lanes. */
function perLane(e: KExpr, cx: ExprContext, lane: Axis, depth: number): void {
  const f = cx.f;
  const t = exprType(e);
  const at = scratch(cx, 'i32', `lane${depth}`);
  const inner: ExprContext = { ...cx, pos: (id) => (id === lane.id ? at : cx.pos(id)) };
  for (let c = 0; c < 4; c++) {
    f.get(cx.pos(lane.id)).i32(c).op('i32_add').set(at);
    scalarExpr(e, inner, depth + 1);
    if (c === 0) f.op(t === 'f32' ? 'f32x4_splat' : 'i32x4_splat');
    else f.lane(t === 'f32' ? 'f32x4_replace' : 'i32x4_replace', c);
  }
  if (t === 'bool') f.op('i32x4_neg');
}

/** Store the scalar that `value` pushes into `a`'s element at the current positions. */
export function storeScalar(a: Access, cx: ExprContext, value: () => void): void {
  const offset = address(a, cx);
  value();
  cx.f.mem(a.arena === 'f32' ? 'f32_store' : 'i32_store', offset);
}

/**
 * Store the four lanes that `value` pushes into `a` at four consecutive positions along
 * `lane`: one v128 store where the stride is 1, else four. Masks (booleans) are stored as 0/1.
 */
export function storeVector(a: Access, cx: ExprContext, lane: Axis, value: () => void, bool = false): void {
  const f = cx.f;
  const stride = a.strides.get(lane.id) ?? 0;
  if (stride === 1) {
    const offset = address(a, cx);
    value();
    if (bool) f.op('i32x4_neg');
    f.mem('v128_store', offset);
    return;
  }
  const v = scratch(cx, 'v128', 'store');
  value();
  if (bool) f.op('i32x4_neg');
  f.set(v);
  const s = scratch(cx, 'i32', 'store');
  const offset = address(a, cx);
  f.set(s);
  const f32 = a.arena === 'f32';
  for (let c = 0; c < 4; c++) f.get(s).get(v).lane(f32 ? 'f32x4_extract' : 'i32x4_extract', c).mem(f32 ? 'f32_store' : 'i32_store', offset + 4 * c * stride);
}

/** A store's element type as it goes into its arena (`bool` for masks into the i32 arena). */
export function storedType(a: Access, value: KExpr): ElementType {
  return a.arena === 'f32' ? 'f32' : exprType(value) === 'bool' ? 'bool' : 'i32';
}

/** After a switch over every unary function: the expression is `never` there, so a function added to the IR without a case here is a type error. */
/** A unary function (or a unary expression) the renderer has no case for: a type error first. */
function unrendered(e: never): never {
  const fn = typeof e === 'string' ? e : (e as { fn: string }).fn;
  throw new Error(`internal: the wasm renderer has no unary ${fn}`);
}
