/**
 * WebAssembly for every kernel kind: one function per kernel, `(table, lo, hi, scratch)`,
 * running work items lo..hi of the dispatch (threads take a dispatch's items a few at a
 * time: runtime/wasm-worker.ts). Each output element is computed by one item in a fixed
 * order, so results do not depend on the number of threads. Elementwise work runs four lanes at a time (f32x4) along
 * the innermost axis wherever it is long enough; GEMMs are in gemm.ts.
 *
 * Work items: maps, rows of outer axes (and chunks of the innermost axis when there are few
 * rows); reductions and scatter-adds, groups of four outputs (or one); softmax, cross-entropy
 * and row kernels, rows; sums of squares, regions; segmented updates, chunks of segments.
 */
import type { Axis } from '../../ir/types.js';
import { exprType, mapExpr, variesAlong } from '../kernel-ir/expr.js';
import { segmentRowWidth, segmentTable } from '../kernel-ir/kernel.js';
import type { Access, CrossEntropyRowsKernel, Kernel, KExpr, MapKernel, MultiMapKernel, ReduceKernel, RowKernel, ScatterKernel, SegmentedMapKernel, SoftmaxKernel, SumSquaresKernel } from '../kernel-ir/types.js';
import type { FunctionBuilder } from './encoder.js';
import { scalarExpr, storedType, storeScalar, storeVector, vectorExpr, type ExprContext } from './expr.js';
import { Frame, horizontalMax, horizontalSum, REDUCTIONS, TABLE, type RenderContext } from './frame.js';
import { gemmKernel, type GemmTuning } from './gemm.js';

export interface WasmKernel {
  body: FunctionBuilder;
  /** Work items of the dispatch (threads split them). */
  items: number;
  /** The dispatch's table, u32 words: its regions' offsets by slot (segmented kernels: their segments). */
  table: number[];
  /** Scratch bytes each thread needs (GEMM packing). */
  scratch: number;
}

/** Elements of a segment per work item of the optimizer's kernel (a multiple of 4). */
const SEGMENT_CHUNK = 4096;
/** Rows at which a map stops splitting its innermost axis into chunks. */
const MAP_ROWS = 32;

function count(axes: readonly Axis[]): number {
  return axes.reduce((n, a) => n * a.size, 1);
}

/**
 * Render kernel `k`, whose accesses read their regions from offset slots (`offsets`, from
 * assignOffsetSlots) or, for segmented kernels, from its segment table.
 */
export function renderWasmKernel(k: Kernel, offsets: readonly number[], rc: RenderContext, tuning?: GemmTuning): WasmKernel {
  if (k.kind === 'gemm') return gemmKernel(k, offsets, rc, tuning);
  if (k.kind === 'segmented') return segmentedKernel(k, rc);
  const fr = new Frame(rc, k);
  const plain = (items: number): WasmKernel => ({ body: fr.f, items, table: [...offsets], scratch: 0 });
  switch (k.kind) {
    case 'map': {
      const p = planMap(k);
      fr.items((item) => p.emit(fr, item));
      return plain(p.items);
    }
    case 'maps':
      return plain(multiMap(fr, k));
    case 'reduce': {
      const p = planReduce(k);
      fr.items((item) => p.emit(fr, item));
      return plain(p.items);
    }
    case 'softmax':
      fr.items((item) => softmaxRow(fr, k, item));
      return plain(count(k.axes));
    case 'ce_rows':
      fr.items((item) => crossEntropyRow(fr, k, item));
      return plain(count(k.axes));
    case 'scatter': {
      const p = planScatter(k);
      fr.items((item) => p.emit(fr, item));
      return plain(p.items);
    }
    case 'sum_squares':
      fr.items((item) => sumSquares(fr, k, item));
      return plain(k.parts.length);
    case 'rows':
      fr.items((item) => row(fr, k, item));
      return plain(count(k.rows));
  }
}

interface Plan {
  items: number;
  emit(fr: Frame, item: number): void;
}

/** The stores of a map at the current positions: four lanes along `lane`, or one element. */
function emitStores(fr: Frame, stores: MapKernel['stores'], lane?: Axis): void {
  const cx = fr.cx;
  for (const s of stores) {
    const t = storedType(s.access, s.value);
    if (lane) storeVector(s.access, cx, lane, () => vectorExpr(s.value, cx, lane), t === 'bool');
    else storeScalar(s.access, cx, () => scalarExpr(s.value, cx));
  }
}

/**
 * A map: items are rows of the outer axes, times chunks of the innermost axis when there are
 * fewer than MAP_ROWS rows (so a map over one long axis still spreads over threads). Each item
 * runs four lanes at a time along the innermost axis, then the remainder one by one.
 */
function planMap(k: MapKernel): Plan {
  const axes = k.axes;
  if (!axes.length) return { items: 1, emit: (fr) => emitStores(fr, k.stores) };
  const lane = axes[axes.length - 1];
  const outer = axes.slice(0, -1);
  const rows = count(outer);
  const wanted = rows >= MAP_ROWS ? 1 : Math.max(1, Math.min(Math.ceil(lane.size / 64), Math.ceil(MAP_ROWS / rows)));
  const chunk = Math.ceil(Math.ceil(lane.size / wanted) / 4) * 4;
  const chunks = Math.ceil(lane.size / chunk);
  return {
    items: rows * chunks,
    emit(fr, item) {
      const f = fr.f;
      const p = fr.pos(lane.id);
      const end = fr.local('i32');
      if (chunks === 1) {
        fr.decompose(item, outer);
        f.i32(0).set(p);
        f.i32(lane.size).set(end);
      } else {
        const o = fr.local('i32');
        f.get(item).i32(chunks).op('i32_div_u').set(o);
        fr.decompose(o, outer);
        f.get(item).i32(chunks).op('i32_rem_u').i32(chunk).op('i32_mul').tee(p);
        f.i32(chunk).op('i32_add').i32(lane.size).get(p).i32(chunk).op('i32_add').i32(lane.size).op('i32_lt_u').op('select').set(end);
      }
      laneLoop(fr, p, end, lane.size >= 4, (vector) => emitStores(fr, k.stores, vector ? lane : undefined));
    },
  };
}

/**
 * From the position in local `p` up to local `end`: four at a time while four fit (when
 * `vector`), then one at a time; `body(true)` handles four lanes, `body(false)` one.
 */
function laneLoop(fr: Frame, p: number, end: number, vector: boolean, body: (vector: boolean) => void): void {
  const f = fr.f;
  if (vector) {
    f.block().loop();
    f.get(p).i32(4).op('i32_add').get(end).op('i32_gt_s').brIf(1);
    body(true);
    f.get(p).i32(4).op('i32_add').set(p);
    f.br(0).end().end();
  }
  f.block().loop();
  f.get(p).get(end).op('i32_ge_s').brIf(1);
  body(false);
  f.get(p).i32(1).op('i32_add').set(p);
  f.br(0).end().end();
}

/** Independent maps in one dispatch: their items one after another; each part runs its share of lo..hi. */
function multiMap(fr: Frame, k: MultiMapKernel): number {
  const f = fr.f;
  const plans = k.parts.map(planMap);
  const item = fr.local('i32');
  const local = fr.local('i32');
  let start = 0;
  for (const p of plans) {
    const s = start;
    // for (item = max(lo, s); item < min(hi, s + n); item++) part(item - s)
    f.forRange(
      item,
      () => f.get(1).i32(s).get(1).i32(s).op('i32_gt_s').op('select'),
      () => f.get(2).i32(s + p.items).get(2).i32(s + p.items).op('i32_lt_s').op('select'),
      () => {
        f.get(item).i32(s).op('i32_sub').set(local);
        p.emit(fr, local);
      },
    );
    start += p.items;
  }
  return start;
}

/**
 * A reduction: items are groups of four outputs along the last output axis (when it holds a
 * multiple of 4 and every value is f32), else single outputs; each loops over `over`.
 */
function planReduce(k: ReduceKernel): Plan {
  const parts = [{ fn: k.fn, value: k.value, out: k.out }, ...(k.siblings ?? [])];
  const lane = k.axes.at(-1);
  const vector = !!lane && lane.size % 4 === 0 && parts.every((p) => exprType(p.value) === 'f32');
  const scale = 1 / count(k.over);
  return {
    items: vector ? count(k.axes) / 4 : count(k.axes),
    emit(fr, item) {
      const f = fr.f;
      const cx = fr.cx;
      if (vector) {
        const o = fr.local('i32');
        const groups = lane!.size / 4;
        f.get(item).i32(groups).op('i32_div_u').set(o);
        fr.decompose(o, k.axes.slice(0, -1));
        f.get(item).i32(groups).op('i32_rem_u').i32(4).op('i32_mul').set(fr.pos(lane!.id));
      } else fr.decompose(item, k.axes);
      const accs = parts.map((p) => {
        const a = fr.local(vector ? 'v128' : 'f32');
        const init = REDUCTIONS[p.fn].init;
        if (vector) f.f32x4(init).set(a);
        else f.f32(init).set(a);
        return a;
      });
      fr.loops(k.over, () => {
        parts.forEach((p, j) => {
          f.get(accs[j]);
          if (vector) vectorExpr(p.value, cx, lane!);
          else scalarExpr(p.value, cx);
          f.op(vector ? REDUCTIONS[p.fn].vector : REDUCTIONS[p.fn].scalar).set(accs[j]);
        });
      });
      parts.forEach((p, j) => {
        const value = () => {
          f.get(accs[j]);
          if (REDUCTIONS[p.fn].averages) {
            if (vector) f.f32x4(scale).op('f32x4_mul');
            else f.f32(scale).op('f32_mul');
          }
        };
        if (vector) storeVector(p.out, cx, lane!, value);
        else storeScalar(p.out, cx, value);
      });
    },
  };
}

/**
 * The row's maximum and the sum of exp(x − max) of `value` along `axis` (four lanes at a time
 * when the row is a multiple of 4), into locals m and s.
 */
function maxAndSum(fr: Frame, value: KExpr, axis: Axis): { m: number; s: number; vector: boolean } {
  const f = fr.f;
  const cx = fr.cx;
  const vector = axis.size % 4 === 0;
  const m = fr.local('f32');
  const s = fr.local('f32');
  const p = fr.pos(axis.id);
  if (vector) {
    const mv = fr.local('v128');
    const sv = fr.local('v128');
    const ms = fr.local('v128');
    f.f32x4(-Infinity).set(mv);
    f.forRange(p, () => f.i32(0), () => f.i32(axis.size), () => {
      f.get(mv);
      vectorExpr(value, cx, axis);
      f.op('f32x4_max').set(mv);
    }, 4);
    horizontalMax(f, mv);
    f.tee(m).op('f32x4_splat').set(ms);
    f.f32x4(0).set(sv);
    f.forRange(p, () => f.i32(0), () => f.i32(axis.size), () => {
      f.get(sv);
      vectorExpr(value, cx, axis);
      f.get(ms).op('f32x4_sub').call(cx.math.exp).op('f32x4_add').set(sv);
    }, 4);
    horizontalSum(f, sv);
    f.set(s);
  } else {
    f.f32(-Infinity).set(m);
    f.forRange(p, () => f.i32(0), () => f.i32(axis.size), () => {
      f.get(m);
      scalarExpr(value, cx);
      f.op('f32_max').set(m);
    });
    f.f32(0).set(s);
    f.forRange(p, () => f.i32(0), () => f.i32(axis.size), () => {
      f.get(s);
      scalarExpr(value, cx);
      f.get(m).op('f32_sub').op('f32x4_splat').call(cx.math.exp).lane('f32x4_extract', 0).op('f32_add').set(s);
    });
  }
  return { m, s, vector };
}

/** One row of a softmax: max, sum of exp, then y = exp(x − max) / sum and the extra outputs computed from y. */
function softmaxRow(fr: Frame, k: SoftmaxKernel, item: number): void {
  const f = fr.f;
  fr.decompose(item, k.axes);
  const { m, s, vector } = maxAndSum(fr, k.value, k.axis);
  const r = fr.local('f32');
  f.f32(1).get(s).op('f32_div').set(r);
  const y = fr.local(vector ? 'v128' : 'f32');
  const cx: ExprContext = { ...fr.cx, acc: vector ? { vector: () => f.get(y) } : { scalar: () => f.get(y) } };
  const p = fr.pos(k.axis.id);
  if (vector) {
    const ms = fr.local('v128');
    const rs = fr.local('v128');
    f.get(m).op('f32x4_splat').set(ms);
    f.get(r).op('f32x4_splat').set(rs);
    f.forRange(p, () => f.i32(0), () => f.i32(k.axis.size), () => {
      vectorExpr(k.value, cx, k.axis);
      f.get(ms).op('f32x4_sub').call(cx.math.exp).get(rs).op('f32x4_mul').set(y);
      storeVector(k.out, cx, k.axis, () => f.get(y));
      for (const x of k.extra ?? []) storeVector(x.access, cx, k.axis, () => vectorExpr(x.value, cx, k.axis));
    }, 4);
  } else {
    f.forRange(p, () => f.i32(0), () => f.i32(k.axis.size), () => {
      scalarExpr(k.value, cx);
      f.get(m).op('f32_sub').op('f32x4_splat').call(cx.math.exp).lane('f32x4_extract', 0).get(r).op('f32_mul').set(y);
      storeScalar(k.out, cx, () => f.get(y));
      for (const x of k.extra ?? []) storeScalar(x.access, cx, () => scalarExpr(x.value, cx));
    });
  }
}

/** One row's cross-entropy term: logsumexp(row) − row[target]. */
function crossEntropyRow(fr: Frame, k: CrossEntropyRowsKernel, item: number): void {
  const f = fr.f;
  const cx = fr.cx;
  fr.decompose(item, k.axes);
  const { m, s } = maxAndSum(fr, k.logits, k.axis);
  scalarExpr(k.target, cx);
  f.set(fr.pos(k.axis.id));
  storeScalar(k.out, cx, () => {
    f.get(m).get(s).op('f32x4_splat').call(cx.math.log).lane('f32x4_extract', 0).op('f32_add');
    scalarExpr(k.logits, cx);
    f.op('f32_sub');
  });
}

/**
 * Deterministic scatter-add: out[axis, rest] = Σ over index positions p, in order, of
 * value[p, rest] where index[p] = axis. An item is four (or one) positions of `rest`: it zeroes
 * its column of the output, then makes one pass over the index positions adding each value
 * into the row its index names (indices outside the axis add nothing).
 */
function planScatter(k: ScatterKernel): Plan {
  const rest = k.axes.filter((a) => a.id !== k.axis.id);
  const lane = rest.at(-1);
  const vector = !!lane && lane.size % 4 === 0 && exprType(k.value) === 'f32' && !variesAlong(k.index, lane);
  const sum: KExpr = { k: 'binary', fn: 'add', a: { k: 'load', access: k.out, dtype: 'f32' }, b: k.value, dtype: 'f32' };
  return {
    items: vector ? count(rest) / 4 : count(rest),
    emit(fr, item) {
      const f = fr.f;
      const cx = fr.cx;
      if (vector) {
        const o = fr.local('i32');
        const groups = lane!.size / 4;
        f.get(item).i32(groups).op('i32_div_u').set(o);
        fr.decompose(o, rest.slice(0, -1));
        f.get(item).i32(groups).op('i32_rem_u').i32(4).op('i32_mul').set(fr.pos(lane!.id));
      } else fr.decompose(item, rest);
      const store = (value: () => void) => (vector ? storeVector(k.out, cx, lane!, value) : storeScalar(k.out, cx, value));
      fr.loops([k.axis], () => store(() => (vector ? f.f32x4(0) : f.f32(0))));
      const idx = fr.local('i32');
      fr.loops(k.positions, () => {
        scalarExpr(k.index, cx);
        f.tee(idx).i32(k.axis.size).op('i32_lt_u').if();
        f.get(idx).set(fr.pos(k.axis.id));
        store(() => (vector ? vectorExpr(sum, cx, lane!) : scalarExpr(sum, cx)));
        f.end();
      });
    },
  };
}

/** Push the byte address where `a`'s region starts. */
function regionStart(fr: Frame, a: Access): void {
  const l = fr.region(a);
  if (l !== undefined) fr.f.get(l);
  else fr.f.i32(fr.rc.bases[a.arena] + 4 * a.offset);
}

/** Region `item`'s sum of squares (four partial sums, then the remainder). */
function sumSquares(fr: Frame, k: SumSquaresKernel, item: number): void {
  const f = fr.f;
  const src = fr.local('i32');
  const dst = fr.local('i32');
  const end = fr.local('i32');
  k.parts.forEach((p, j) => {
    f.get(item).i32(j).op('i32_eq').if();
    regionStart(fr, p.input);
    f.tee(src).i32(4 * p.size).op('i32_add').set(end);
    regionStart(fr, p.out);
    f.set(dst);
    f.end();
  });
  const acc = fr.local('v128');
  const x = fr.local('v128');
  const s = fr.local('f32');
  const e = fr.local('f32');
  f.f32x4(0).set(acc);
  f.block().loop();
  f.get(src).i32(16).op('i32_add').get(end).op('i32_gt_u').brIf(1);
  f.get(src).mem('v128_load').tee(x).get(x).op('f32x4_mul').get(acc).op('f32x4_add').set(acc);
  f.get(src).i32(16).op('i32_add').set(src);
  f.br(0).end().end();
  horizontalSum(f, acc);
  f.set(s);
  f.block().loop();
  f.get(src).get(end).op('i32_ge_u').brIf(1);
  f.get(src).mem('f32_load').tee(e).get(e).op('f32_mul').get(s).op('f32_add').set(s);
  f.get(src).i32(4).op('i32_add').set(src);
  f.br(0).end().end();
  f.get(dst).get(s).mem('f32_store');
}

/** A key for "the same element of the same region" (as the WGSL row kernel's). */
function accessKey(a: Access): string {
  return `${a.arena}:${a.value}:${a.offset}:${[...a.strides].filter(([, st]) => st !== 0).sort((x, y) => x[0] - y[0]).join(';')}`;
}

/** A structural key of an expression (for sharing hoisted values). */
function exprKey(e: KExpr): string {
  return JSON.stringify(e, (_k, v) => (v instanceof Map ? [...v] : v));
}

/**
 * One row of a row kernel: its phases in order, each a loop along the row's axis (four lanes
 * at a time when the axis is a multiple of 4). A reduction phase leaves its per-row value in a
 * local that later phases read instead of memory; what does not vary along the row is
 * computed once before each loop.
 */
function row(fr: Frame, k: RowKernel, item: number): void {
  const f = fr.f;
  fr.decompose(item, k.rows);
  const vector = k.axis.size % 4 === 0;
  const locals = new Map<string, { local: number; vector: boolean }>();
  const cx: ExprContext = { ...fr.cx, locals };
  const rowValues = new Map<string, string>();
  let hoisted = 0;
  const prepare = (e: KExpr): KExpr => {
    const withRows = mapExpr(e, (x) => (x.k === 'load' && rowValues.has(accessKey(x.access)) ? { k: 'local', name: rowValues.get(accessKey(x.access))! } : undefined));
    const seen = new Map<string, string>();
    return mapExpr(withRows, (x) => {
      if (x.k === 'const' || x.k === 'local' || x.k === 'iota' || exprType(x) !== 'f32' || variesAlong(x, k.axis)) return undefined;
      const key = exprKey(x);
      let name = seen.get(key);
      if (!name) {
        name = `h${hoisted++}`;
        seen.set(key, name);
        const l = fr.local('f32');
        scalarExpr(x, cx);
        f.set(l);
        locals.set(name, { local: l, vector: false });
      }
      return { k: 'local', name };
    });
  };
  const p = fr.pos(k.axis.id);
  const loop = (body: () => void) => f.forRange(p, () => f.i32(0), () => f.i32(k.axis.size), body, vector ? 4 : 1);
  k.phases.forEach((ph, j) => {
    if (ph.kind === 'reduce') {
      const r = REDUCTIONS[ph.fn];
      const value = prepare(ph.value);
      const acc = fr.local(vector ? 'v128' : 'f32');
      if (vector) f.f32x4(r.init).set(acc);
      else f.f32(r.init).set(acc);
      loop(() => {
        f.get(acc);
        if (vector) vectorExpr(value, cx, k.axis);
        else scalarExpr(value, cx);
        f.op(vector ? r.vector : r.scalar).set(acc);
      });
      const total = fr.local('f32');
      if (vector) r.horizontal(f, acc);
      else f.get(acc);
      if (r.averages) f.f32(1 / k.axis.size).op('f32_mul');
      f.set(total);
      const name = `row${j}`;
      locals.set(name, { local: total, vector: false });
      rowValues.set(accessKey(ph.out), name);
      storeScalar(ph.out, cx, () => f.get(total));
      return;
    }
    const stores = ph.stores.map((st) => ({ ...st, value: prepare(st.value) }));
    loop(() => {
      for (const st of stores) {
        if (vector) storeVector(st.access, cx, k.axis, () => vectorExpr(st.value, cx, k.axis), storedType(st.access, st.value) === 'bool');
        else storeScalar(st.access, cx, () => scalarExpr(st.value, cx));
      }
    });
  });
}

/**
 * The optimizer's segmented kernel. Its table: word 0 the index (in words) where the work
 * items start, then the segment rows of segmentTable (first invocation, slot offsets,
 * constants, transposed copy's rows and cols), then per item its segment row's word index and
 * its element range. The body runs four lanes at a time when every segment allows (`lanes`).
 */
function segmentedKernel(k: SegmentedMapKernel, rc: RenderContext): WasmKernel {
  const fr = new Frame(rc);
  const f = fr.f;
  const width = segmentRowWidth(k);
  const slots = k.segments[0].slots.length;
  const consts = k.segments[0].consts.length;
  const rows = segmentTable(k);
  const items: number[] = [];
  k.segments.forEach((seg, s) => {
    for (let e = 0; e < seg.size; e += SEGMENT_CHUNK) items.push(1 + s * width, e, Math.min(seg.size, e + SEGMENT_CHUNK));
  });
  const table = [1 + rows.length, ...rows, ...items];
  const vector = k.lanes === 4;
  const lane = k.flat;

  const locals = new Map<string, { local: number; vector: boolean }>();
  const cx: ExprContext = { ...fr.cx, locals };
  for (let j = 0; j < slots; j++) fr.segmentSlots.set(j, fr.local('i32'));
  for (let j = 0; j < consts; j++) locals.set(`c${j}`, { local: fr.local('f32'), vector: false });
  const stored = k.stores.map((_, n) => {
    const l = fr.local(vector ? 'v128' : 'f32');
    locals.set(`v${n}`, { local: l, vector });
    return l;
  });
  // Every value first, then every store (see wgsl/kernels.ts): a later value reads an earlier one's local.
  const written = new Map<number, string>();
  const values = k.stores.map((st, n) => {
    const value = mapExpr(st.value, (x) => {
      if (x.k !== 'load' || x.access.base?.in !== 'segment' || x.access.strides.get(lane.id) !== 1) return undefined;
      const name = written.get(x.access.base.slot);
      return name === undefined ? undefined : { k: 'local', name };
    });
    written.set(st.slot, `v${n}`);
    return value;
  });
  const slotAccess = (slot: number): Access => ({ arena: 'f32', value: -1, offset: 0, base: { in: 'segment', slot }, strides: new Map([[lane.id, 1]]) });

  const at = fr.local('i32');
  const row_ = fr.local('i32');
  const e = fr.pos(lane.id);
  const end = fr.local('i32');
  fr.items((item) => {
    // at = table + 4 · (items start + 3 · item)
    f.get(TABLE).get(TABLE).mem('i32_load').get(item).i32(3).op('i32_mul').op('i32_add').i32(4).op('i32_mul').op('i32_add').set(at);
    f.get(TABLE).get(at).mem('i32_load').i32(4).op('i32_mul').op('i32_add').set(row_);
    f.get(at).mem('i32_load', 4).set(e);
    f.get(at).mem('i32_load', 8).set(end);
    for (let j = 0; j < slots; j++) f.get(row_).mem('i32_load', 4 * (1 + j)).i32(4).op('i32_mul').i32(rc.bases.f32).op('i32_add').set(fr.segmentSlots.get(j)!);
    for (let j = 0; j < consts; j++) f.get(row_).mem('f32_load', 4 * (1 + slots + j)).set(locals.get(`c${j}`)!.local);
    const copyRows = fr.local('i32');
    const copyCols = fr.local('i32');
    if (k.transposedCopy) {
      f.get(row_).mem('i32_load', 4 * (width - 2)).set(copyRows);
      f.get(row_).mem('i32_load', 4 * (width - 1)).set(copyCols);
    }
    f.forRange(e, () => f.get(e), () => f.get(end), () => {
      values.forEach((v, n) => {
        if (vector) vectorExpr(v, cx, lane);
        else scalarExpr(v, cx);
        f.set(stored[n]);
      });
      k.stores.forEach((st, n) => (vector ? storeVector(slotAccess(st.slot), cx, lane, () => f.get(stored[n])) : storeScalar(slotAccess(st.slot), cx, () => f.get(stored[n]))));
      if (k.transposedCopy) {
        // Element x = r·cols + c of the rows × cols view goes to c·rows + r of the copy.
        const { of, slot } = k.transposedCopy;
        const x = fr.local('i32');
        f.get(copyCols).if();
        for (let c = 0; c < (vector ? 4 : 1); c++) {
          f.get(e).i32(c).op('i32_add').set(x);
          f.get(fr.segmentSlots.get(slot)!).get(x).get(copyCols).op('i32_rem_u').get(copyRows).op('i32_mul').get(x).get(copyCols).op('i32_div_u').op('i32_add').i32(4).op('i32_mul').op('i32_add');
          f.get(stored[of]);
          if (vector) f.lane('f32x4_extract', c);
          f.mem('f32_store');
        }
        f.end();
      }
    }, vector ? 4 : 1);
  });
  return { body: f, items: items.length / 3, table, scratch: 0 };
}
