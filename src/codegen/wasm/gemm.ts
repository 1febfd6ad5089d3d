/**
 * Batched GEMMs as WebAssembly: C[batch, m, n] = epilogue(Σ_k A[batch, m, k] · B[batch, n, k]),
 * operands read through any strides, as a packed, register-blocked SIMD kernel (the BLIS
 * scheme, shrunk to what one thread's caches hold here):
 *
 *  - The two sides of the output are the *row* side (read one element at a time and splatted)
 *    and the *column* side (read four lanes at a time). Either m or n can be the column side;
 *    the one whose innermost axis gives whole vectors to the epilogue is chosen.
 *  - A work item is one batch element and one block of `rowBlock` rows. Its rows are packed
 *    into panels of MR rows stored k-major (`[k][MR]`), and the whole column side of the batch
 *    element into panels of NR columns (`[k][NR]`), once per thread and batch element. Packing
 *    reads through the operands' strides, so layouts cost a copy of O((M + N)·K), never a
 *    transpose in memory; panels past the edges are zero.
 *  - The micro-kernel keeps MR × NR outputs in MR · NR/4 f32x4 accumulators while it walks k:
 *    per step one vector load of NR/4 column vectors and MR splat loads. A column panel (K·NR
 *    floats) stays in the L1 cache while every row panel of the item runs against it.
 *  - The epilogue (bias, GELU, residual, extra outputs) runs on the finished tile, four
 *    outputs at a time along the column side's innermost axis when it holds a multiple of 4.
 *  - A causally masked operand (kRange) shortens the k loop of each tile to the positions its
 *    rows (or columns) can use.
 */
import type { Axis } from '../../ir/types.js';
import type { Access, GemmKernel } from '../kernel-ir/types.js';
import { mergeRuns } from '../wgsl/gemm.js';
import { scalarExpr, storeScalar, storeVector, vectorExpr, type ExprContext } from './expr.js';
import { Frame, HI, LO, SCRATCH, type RenderContext } from './frame.js';
import type { WasmKernel } from './kernels.js';

export interface GemmTuning {
  /** Rows per micro-tile (the splatted side). */
  mr?: number;
  /** Columns per micro-tile, a multiple of 4 (the vector side). */
  nr?: number;
  /** Rows per work item, at most (a multiple of mr). */
  rowBlock?: number;
  /** Put the n axes on the row side and m on the column side. */
  swap?: boolean;
}

/** Measured on this machine (bench/gemm-wasm.mjs): 4 × 8 tiles (8 accumulators: V8 keeps them and the operands in the 16 xmm registers). */
export const DEFAULT_MR = 4;
export const DEFAULT_NR = 8;
/** Work items wanted per GEMM, so that threads share it evenly. */
const ITEMS_WANTED = 32;
/**
 * Bytes at the start of each thread's scratch: word 0 holds where the packed column side was
 * read from (−1: nothing packed). Threads take a dispatch's items a few at a time, so one
 * thread runs several ranges of a GEMM in turn: the column side, packed once, serves them
 * all. The runtime writes −1 before each dispatch (a later dispatch may read the same place
 * with other contents or strides).
 */
export const SCRATCH_HEADER = 64;
const MAX_ROW_BLOCK = 256;

function count(axes: readonly Axis[]): number {
  return axes.reduce((n, a) => n * a.size, 1);
}

interface Side {
  axes: readonly Axis[];
  access: Access;
  size: number;
}

/** The innermost axis of size > 1, if any. */
function innermost(axes: readonly Axis[]): Axis | undefined {
  return [...axes].reverse().find((a) => a.size > 1);
}

/** Whether the epilogue can run four outputs at a time along the column side's innermost axis. */
function vectorEpilogue(cols: Side): Axis | undefined {
  const lane = innermost(cols.axes);
  return lane && lane.size % 4 === 0 ? lane : undefined;
}

/** How a GEMM is blocked: the sides, tile and item sizes, and the causal k range it applies. */
export interface GemmPlan {
  swap: boolean;
  rows: Side;
  cols: Side;
  mr: number;
  nr: number;
  rowBlock: number;
  items: number;
  /** The epilogue's lane axis (four outputs at a time), if any. */
  lane?: Axis;
  /** The causal k range, and which side's position bounds it. */
  causal?: { keep: 'le' | 'ge'; side: 'rows' | 'cols' };
}

export function planGemm(k: GemmKernel, tuning: GemmTuning = {}): GemmPlan {
  const mr = tuning.mr ?? DEFAULT_MR;
  const nr = tuning.nr ?? DEFAULT_NR;
  if (nr % 4 !== 0) throw new Error(`internal: GEMM columns per tile ${nr} is not a multiple of 4`);
  const m: Side = { axes: k.m, access: k.a, size: count(k.m) };
  const n: Side = { axes: k.n, access: k.b, size: count(k.n) };
  const swap = tuning.swap ?? (!vectorEpilogue(n) && !!vectorEpilogue(m));
  const [rows, cols] = swap ? [n, m] : [m, n];
  const batches = count(k.batch);
  const wantedBlocks = Math.max(1, Math.ceil(ITEMS_WANTED / batches));
  const roundUp = (x: number) => Math.ceil(x / mr) * mr;
  const rowBlock = Math.max(mr, Math.min(roundUp(tuning.rowBlock ?? MAX_ROW_BLOCK), roundUp(Math.ceil(rows.size / wantedBlocks))));
  const items = batches * Math.ceil(rows.size / rowBlock);
  return { swap, rows, cols, mr, nr, rowBlock, items, lane: vectorEpilogue(cols), causal: causalSide(k, rows, cols) };
}

/**
 * The causal k range applies when the masked position is the only axis of its side that is
 * longer than 1 and k is one axis: flat positions are then positions along those axes.
 */
function causalSide(k: GemmKernel, rows: Side, cols: Side): GemmPlan['causal'] {
  if (!k.kRange || k.k.filter((a) => a.size > 1).length !== 1) return undefined;
  for (const [side, s] of [['rows', rows], ['cols', cols]] as const) {
    const long = s.axes.filter((a) => a.size > 1);
    if (long.length === 1 && long[0].id === k.kRange.row) return { keep: k.kRange.keep, side };
  }
  return undefined;
}

/**
 * Push the byte offset, within `a`, of flat position `flat` (a local) over `axes`: positions
 * from divisions over merged runs, times the strides.
 */
function flatOffset(fr: Frame, a: Access, axes: readonly Axis[], flat: number): void {
  const f = fr.f;
  const runs = mergeRuns(axes, [a]);
  let inner = 1;
  let pushed = false;
  for (let r = runs.length - 1; r >= 0; r--) {
    const { size, strides } = runs[r];
    if (strides[0] !== 0) {
      f.get(flat);
      if (inner !== 1) f.i32(inner).op('i32_div_u');
      if (r > 0) f.i32(size).op('i32_rem_u');
      f.i32(4 * strides[0]).op('i32_mul');
      if (pushed) f.op('i32_add');
      pushed = true;
    }
    inner *= size;
  }
  if (!pushed) f.i32(0);
}

/** Push the byte address where `a`'s region starts. */
function regionStart(fr: Frame, a: Access): void {
  const l = fr.region(a);
  if (l !== undefined) fr.f.get(l);
  else fr.f.i32(fr.rc.bases[a.arena] + 4 * a.offset);
}

export function gemmKernel(k: GemmKernel, offsets: readonly number[], rc: RenderContext, tuning?: GemmTuning): WasmKernel {
  if (k.out.arena !== 'f32' || k.a.arena !== 'f32' || k.b.arena !== 'f32') throw new Error(`internal: GEMM ${k.name} on an i32 operand`);
  const plan = planGemm(k, tuning);
  const { rows, cols, mr, nr, rowBlock, lane, causal } = plan;
  const K = count(k.k);
  const colPanels = Math.ceil(cols.size / nr);
  const rowBlocks = Math.ceil(rows.size / rowBlock);
  const vecs = nr / 4;
  // Scratch: a header (the column side packed last, see SCRATCH_HEADER), the finished tile,
  // the item's row panels, the batch element's column panels.
  const tileBytes = SCRATCH_HEADER + 4 * mr * nr;
  const colPanelBytes = 4 * nr * K;
  const rowPackAt = tileBytes;
  const colPackAt = rowPackAt + rowBlock * 4 * K;
  const scratch = colPackAt + colPanels * colPanelBytes;

  const fr = new Frame(rc, k);
  const f = fr.f;
  const kRuns = mergeRuns(k.k, [rows.access, cols.access]);

  /**
   * Pack `count` rows (or columns) of `side` from flat position `first` into panels of
   * `width`, k-major, at `dst`: element (row i, k) at dst + 4·((i / width)·K·width + k·width + i % width).
   * Rows past the side's edge are zero.
   */
  const pack = (side: Side, operand: 0 | 1, batchOffset: number, first: number, rowsToPack: number, width: number, dst: number) => {
    const i = fr.local('i32');
    const r = fr.local('i32');
    const src = fr.local('i32');
    const out = fr.local('i32');
    f.forRange(i, () => f.i32(0), () => f.i32(rowsToPack), () => {
      f.get(first).get(i).op('i32_add').set(r);
      // out = dst + 4·((i / width)·K·width + i % width)
      f.get(dst).get(i).i32(width).op('i32_div_u').i32(4 * K * width).op('i32_mul').op('i32_add').get(i).i32(width).op('i32_rem_u').i32(4).op('i32_mul').op('i32_add').set(out);
      f.get(r).i32(side.size).op('i32_lt_u').if();
      f.get(batchOffset);
      flatOffset(fr, side.access, side.axes, r);
      f.op('i32_add').set(src);
      copyK(operand, src, out, width);
      f.else();
      zeroK(out, width);
      f.end();
    });
  };
  /** Copy K elements from `src` (through the k runs' strides in operand `operand`) to `out`, `width` floats apart. */
  const copyK = (operand: 0 | 1, src: number, out: number, width: number) => {
    const level = (d: number, from: number) => {
      if (d === kRuns.length) {
        f.get(out).get(from).mem('f32_load').mem('f32_store');
        f.get(out).i32(4 * width).op('i32_add').set(out);
        return;
      }
      const run = kRuns[d];
      const p = fr.local('i32');
      const c = fr.local('i32');
      f.get(from).set(p);
      f.forRange(c, () => f.i32(0), () => f.i32(run.size), () => {
        level(d + 1, p);
        if (run.strides[operand] !== 0) f.get(p).i32(4 * run.strides[operand]).op('i32_add').set(p);
      });
    };
    if (kRuns.length === 0) {
      f.get(out).get(src).mem('f32_load').mem('f32_store');
      return;
    }
    level(0, src);
  };
  const zeroK = (out: number, width: number) => {
    const c = fr.local('i32');
    f.forRange(c, () => f.i32(0), () => f.i32(K), () => {
      f.get(out).f32(0).mem('f32_store');
      f.get(out).i32(4 * width).op('i32_add').set(out);
    });
  };

  // Locals of the item loop.
  const item = fr.local('i32');
  const batch = fr.local('i32');
  const rowFirst = fr.local('i32');
  const rowsHere = fr.local('i32');
  const rowBatch = fr.local('i32');
  const colBatch = fr.local('i32');
  const packedFor = fr.local('i32');
  const rowPack = fr.local('i32');
  const colPack = fr.local('i32');
  const tile = fr.local('i32');
  const zero = fr.local('i32');
  const colFirst = fr.local('i32');
  const rowAt = fr.local('i32');
  const kLo = fr.local('i32');
  const kHi = fr.local('i32');
  const pa = fr.local('i32');
  const pb = fr.local('i32');
  const paEnd = fr.local('i32');
  const panel = fr.local('i32');
  const rowPanel = fr.local('i32');
  const acc: number[] = [];
  for (let i = 0; i < mr * vecs; i++) acc.push(fr.local('v128'));
  const bv: number[] = [];
  for (let v = 0; v < vecs; v++) bv.push(fr.local('v128'));
  const av = fr.local('v128');

  f.get(SCRATCH).i32(SCRATCH_HEADER).op('i32_add').set(tile);
  f.get(SCRATCH).i32(rowPackAt).op('i32_add').set(rowPack);
  f.get(SCRATCH).i32(colPackAt).op('i32_add').set(colPack);
  f.get(SCRATCH).mem('i32_load').set(packedFor);
  f.i32(0).set(zero);
  f.forRange(item, () => f.get(LO), () => f.get(HI), () => {
    f.get(item).i32(rowBlocks).op('i32_div_u').set(batch);
    f.get(item).i32(rowBlocks).op('i32_rem_u').i32(rowBlock).op('i32_mul').set(rowFirst);
    fr.decompose(batch, k.batch);
    // Where this batch element starts in each operand.
    regionStart(fr, rows.access);
    flatOffset(fr, rows.access, k.batch, batch);
    f.op('i32_add').set(rowBatch);
    regionStart(fr, cols.access);
    flatOffset(fr, cols.access, k.batch, batch);
    f.op('i32_add').set(colBatch);
    // The column side, once per thread and batch element (weights shared by the batch: once).
    f.get(colBatch).get(packedFor).op('i32_ne').if();
    pack(cols, 1, colBatch, zero, colPanels * nr, nr, colPack);
    f.get(colBatch).set(packedFor);
    f.get(SCRATCH).get(colBatch).mem('i32_store');
    f.end();
    // This item's rows.
    f.i32(rows.size).get(rowFirst).op('i32_sub').set(rowsHere);
    f.get(rowsHere).i32(rowBlock).get(rowsHere).i32(rowBlock).op('i32_lt_s').op('select').set(rowsHere);
    pack(rows, 0, rowBatch, rowFirst, rowBlock, mr, rowPack);
    // Column panels outside, row panels inside: a column panel stays in L1 across the rows.
    f.forRange(panel, () => f.i32(0), () => f.i32(colPanels), () => {
      f.get(panel).i32(nr).op('i32_mul').set(colFirst);
      f.forRange(rowPanel, () => f.i32(0), () => f.get(rowsHere), () => {
        f.get(rowFirst).get(rowPanel).op('i32_add').set(rowAt);
        // The k range: all of it, or the causal part the tile's rows (or columns) use.
        f.i32(0).set(kLo);
        f.i32(K).set(kHi);
        if (causal) {
          const first = causal.side === 'rows' ? rowAt : colFirst;
          const width = causal.side === 'rows' ? mr : nr;
          if (causal.keep === 'ge') f.get(first).set(kLo);
          else f.get(first).i32(width).op('i32_add').tee(kHi).i32(K).get(kHi).i32(K).op('i32_lt_s').op('select').set(kHi);
        }
        microKernel();
        epilogue();
      }, mr);
    });
  });

  /** acc = Σ over k in [kLo, kHi) of the row panel's splats times the column panel's vectors; then stored to the tile. */
  function microKernel() {
    for (const a of acc) f.f32x4(0).set(a);
    // pa = rowPack + 4·((rowPanel / mr)·K·mr + kLo·mr); pb = colPack + 4·(panel·K·nr + kLo·nr)
    f.get(rowPack).get(rowPanel).i32(4 * K).op('i32_mul').op('i32_add').get(kLo).i32(4 * mr).op('i32_mul').op('i32_add').set(pa);
    f.get(colPack).get(panel).i32(4 * K * nr).op('i32_mul').op('i32_add').get(kLo).i32(4 * nr).op('i32_mul').op('i32_add').set(pb);
    f.get(pa).get(kHi).get(kLo).op('i32_sub').i32(4 * mr).op('i32_mul').op('i32_add').set(paEnd);
    f.block();
    f.get(pa).get(paEnd).op('i32_ge_u').brIf(0);
    f.loop();
    for (let v = 0; v < vecs; v++) f.get(pb).mem('v128_load', 16 * v).set(bv[v]);
    for (let r = 0; r < mr; r++) {
      f.get(pa).mem('v128_load32_splat', 4 * r).set(av);
      for (let v = 0; v < vecs; v++) f.get(acc[r * vecs + v]).get(av).get(bv[v]).op('f32x4_mul').op('f32x4_add').set(acc[r * vecs + v]);
    }
    f.get(pb).i32(4 * nr).op('i32_add').set(pb);
    f.get(pa).i32(4 * mr).op('i32_add').tee(pa).get(paEnd).op('i32_lt_u').brIf(0);
    f.end();
    f.end();
    for (let r = 0; r < mr; r++) for (let v = 0; v < vecs; v++) f.get(tile).get(acc[r * vecs + v]).mem('v128_store', 4 * (r * nr + 4 * v));
  }

  /** The epilogue over the tile's outputs inside the edges (four at a time along `lane` when it allows). */
  function epilogue() {
    const i = fr.local('i32');
    const row = fr.local('i32');
    const c = fr.local('i32');
    const col = fr.local('i32');
    const y = fr.local(lane ? 'v128' : 'f32');
    const accAt = fr.local('i32');
    f.forRange(i, () => f.i32(0), () => f.i32(mr), () => {
      f.get(rowAt).get(i).op('i32_add').tee(row).i32(rows.size).op('i32_lt_u').if();
      fr.decompose(row, rows.axes);
      f.forRange(c, () => f.i32(0), () => f.i32(nr), () => {
        f.get(colFirst).get(c).op('i32_add').tee(col).i32(cols.size).op('i32_lt_u').if();
        fr.decompose(col, cols.axes);
        f.get(tile).get(i).i32(4 * nr).op('i32_mul').op('i32_add').get(c).i32(4).op('i32_mul').op('i32_add').set(accAt);
        if (lane) {
          const cx: ExprContext = { ...fr.cx, acc: { vector: () => f.get(accAt).mem('v128_load') } };
          vectorExpr(k.epilogue, cx, lane);
          f.set(y);
          storeVector(k.out, cx, lane, () => f.get(y));
          const cy: ExprContext = { ...fr.cx, acc: { vector: () => f.get(y) } };
          for (const x of k.extra ?? []) storeVector(x.access, cy, lane, () => vectorExpr(x.value, cy, lane));
        } else {
          const cx: ExprContext = { ...fr.cx, acc: { scalar: () => f.get(accAt).mem('f32_load') } };
          scalarExpr(k.epilogue, cx);
          f.set(y);
          storeScalar(k.out, cx, () => f.get(y));
          const cy: ExprContext = { ...fr.cx, acc: { scalar: () => f.get(y) } };
          for (const x of k.extra ?? []) storeScalar(x.access, cy, () => scalarExpr(x.value, cy));
        }
        f.end();
      }, lane ? 4 : 1);
      f.end();
    });
  }

  return { body: f, items: plan.items, table: [...offsets], scratch };
}
