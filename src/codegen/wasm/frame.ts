/**
 * What every wasm kernel function shares: its signature `(table, lo, hi, scratch)` — the
 * dispatch's table (region offsets and, for segmented kernels, segments), the range of work
 * items this thread runs, and this thread's scratch memory — the locals that hold region
 * starts and axis positions, and loops.
 */
import type { Axis, ReduceFn } from '../../ir/types.js';
import { accessesOf } from '../kernel-ir/kernel.js';
import type { Access, Kernel } from '../kernel-ir/types.js';
import { FunctionBuilder, type SimpleOp } from './encoder.js';
import type { ArenaBases, ExprContext } from './expr.js';
import type { MathFunctions } from './math.js';

/** Parameters of every kernel function. */
export const TABLE = 0;
export const LO = 1;
export const HI = 2;
export const SCRATCH = 3;
export const KERNEL_PARAMS = ['i32', 'i32', 'i32', 'i32'] as const;

export interface RenderContext {
  math: MathFunctions;
  bases: ArenaBases;
}

export class Frame {
  readonly f = new FunctionBuilder(KERNEL_PARAMS);
  private readonly positions = new Map<number, number>();
  private readonly regions = new Map<string, number>();
  /** Segmented kernels: the local holding slot j's region start for the current segment. */
  readonly segmentSlots = new Map<number, number>();
  readonly cx: ExprContext;

  constructor(
    readonly rc: RenderContext,
    k?: Kernel,
  ) {
    this.cx = {
      f: this.f,
      math: rc.math,
      bases: rc.bases,
      pos: (id) => this.pos(id),
      region: (a) => this.region(a),
    };
    if (k) this.loadRegions(accessesOf(k));
  }

  /** The local holding the position along axis `id` (made on first use). */
  pos(id: number): number {
    let l = this.positions.get(id);
    if (l === undefined) {
      l = this.f.local('i32');
      this.positions.set(id, l);
    }
    return l;
  }

  region(a: Access): number | undefined {
    if (!a.base) return undefined;
    if (a.base.in === 'segment') {
      const l = this.segmentSlots.get(a.base.slot);
      if (l === undefined) throw new Error(`internal: segment slot ${a.base.slot} is not loaded`);
      return l;
    }
    const l = this.regions.get(`${a.base.slot}:${a.arena}`);
    if (l === undefined) throw new Error(`internal: offset slot ${a.base.slot} is not loaded`);
    return l;
  }

  /** At entry: each region read at run time, as a byte address (table slot × 4 + the arena's start). */
  private loadRegions(accesses: readonly Access[]): void {
    for (const a of accesses) {
      if (a.base?.in !== 'uniform') continue;
      const key = `${a.base.slot}:${a.arena}`;
      if (this.regions.has(key)) continue;
      const l = this.f.local('i32');
      this.f.get(TABLE).mem('i32_load', 4 * a.base.slot).i32(4).op('i32_mul').i32(this.rc.bases[a.arena]).op('i32_add').set(l);
      this.regions.set(key, l);
    }
  }

  /** Set the positions of `axes` from the flat index in local `flat` (row-major, last fastest). */
  decompose(flat: number, axes: readonly Axis[]): void {
    const f = this.f;
    let inner = 1;
    for (let i = axes.length - 1; i >= 0; i--) {
      const a = axes[i];
      if (a.size === 1) f.i32(0);
      else {
        f.get(flat);
        if (inner !== 1) f.i32(inner).op('i32_div_u');
        if (i > 0) f.i32(a.size).op('i32_rem_u');
      }
      f.set(this.pos(a.id));
      inner *= a.size;
    }
  }

  /** `for (item = lo; item < hi; item++) body(item)`. */
  items(body: (item: number) => void): void {
    const item = this.f.local('i32');
    this.f.forRange(
      item,
      () => this.f.get(LO),
      () => this.f.get(HI),
      () => body(item),
    );
  }

  /** Nested loops over the positions of `axes` (outermost first). */
  loops(axes: readonly Axis[], body: () => void): void {
    const go = (d: number) => {
      if (d === axes.length) return body();
      const a = axes[d];
      this.f.forRange(
        this.pos(a.id),
        () => this.f.i32(0),
        () => this.f.i32(a.size),
        () => go(d + 1),
      );
    };
    go(0);
  }

  /** A new scalar or vector local. */
  local(t: 'i32' | 'f32' | 'v128'): number {
    return this.f.local(t);
  }
}

/** Horizontal sum of the f32x4 on the stack: (l0 + l1) + (l2 + l3). */
export function horizontalSum(f: FunctionBuilder, v: number): void {
  f.get(v).lane('f32x4_extract', 0).get(v).lane('f32x4_extract', 1).op('f32_add');
  f.get(v).lane('f32x4_extract', 2).get(v).lane('f32x4_extract', 3).op('f32_add');
  f.op('f32_add');
}

/** Horizontal product of the f32x4 in local `v`. */
export function horizontalProduct(f: FunctionBuilder, v: number): void {
  f.get(v).lane('f32x4_extract', 0).get(v).lane('f32x4_extract', 1).op('f32_mul');
  f.get(v).lane('f32x4_extract', 2).get(v).lane('f32x4_extract', 3).op('f32_mul');
  f.op('f32_mul');
}

/** Horizontal maximum of the f32x4 in local `v` (NaN-propagating, as f32.max). */
export function horizontalMax(f: FunctionBuilder, v: number): void {
  f.get(v).lane('f32x4_extract', 0).get(v).lane('f32x4_extract', 1).op('f32_max');
  f.get(v).lane('f32x4_extract', 2).get(v).lane('f32x4_extract', 3).op('f32_max');
  f.op('f32_max');
}

/**
 * How each reduction accumulates, in one lane (`scalar`) and four (`vector`, then
 * `horizontal` across the lanes); `averages`: the result is divided by the number of elements.
 * Keyed by every reduction the IR has, so a new one is a type error here until it is rendered.
 */
export const REDUCTIONS: Record<ReduceFn, { init: number; scalar: SimpleOp; vector: SimpleOp; horizontal(f: FunctionBuilder, v: number): void; averages: boolean }> = {
  sum: { init: 0, scalar: 'f32_add', vector: 'f32x4_add', horizontal: horizontalSum, averages: false },
  mean: { init: 0, scalar: 'f32_add', vector: 'f32x4_add', horizontal: horizontalSum, averages: true },
  max: { init: -Infinity, scalar: 'f32_max', vector: 'f32x4_max', horizontal: horizontalMax, averages: false },
  prod: { init: 1, scalar: 'f32_mul', vector: 'f32x4_mul', horizontal: horizontalProduct, averages: false },
};
