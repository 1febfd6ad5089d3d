/**
 * WGSL for batched GEMMs (contractions): for every (batch, m, n)
 *
 *   acc = Σ_k A[batch, m, k] · B[batch, n, k],   out[batch, m, n] = epilogue(acc)
 *
 * with every axis group possibly several axes and both operands read through arbitrary
 * strides (so transposes, broadcasts and interleaved batch axes cost no copies).
 *
 * Two variants, chosen by adapter (see /work/shared/WEBGPU-NOTES.md):
 *  - 'register' for CPU adapters (lavapipe/llvmpipe): no workgroup memory and no barriers
 *    (barriers are ruinous there). Each invocation owns a block of up to 8×8 outputs in vec4
 *    accumulators; a workgroup is a row of invocations sharing the block's rows, so loads of
 *    the "row" operand are uniform across SIMD lanes and only the "column" operand is loaded
 *    per lane. Lavapipe runs invocations as SIMD lanes and turns a per-lane load or store into
 *    one bounds-checked scalar access per lane, so per-lane accesses are made vec4 wide
 *    wherever the layout allows (the arena is then viewed as `array<vec4f>`, see below):
 *    across 4 columns (then as fast as a hand-written kernel on contiguous operands), or along
 *    k (operands stored [n][k]; the loop then steps by 4, ~0.7 of that speed).
 *  - 'tiled' for GPUs: a 64×64 output tile per 16×16 workgroup, 4×4 outputs per invocation,
 *    operands staged through workgroup memory 16 k-steps at a time.
 *
 * Addressing: each axis group is first reduced to "runs", maximal sequences of adjacent axes
 * whose strides are mergeable (stride[i] == stride[i+1] · size[i+1]) in every operand the
 * group indexes, so the usual contiguous cases become a single multiply. A flat position in a
 * group becomes an element offset by div/mod over the runs, last run fastest; row and column
 * offsets are computed once per invocation, and the k offset steps by the k stride.
 *
 * The vec4 view: binding 0 is the same f32 arena, declared `array<vec4f>` when the kernel
 * does vec4 accesses (scalar ones become `arena[i >> 2u][i & 3u]`). Vector accesses are used
 * only where every offset involved is a multiple of 4 (known here, since offsets and strides
 * are constants); the view needs the arena's length to be a multiple of 4 elements, which the
 * buffer planner guarantees (regions and sizes are multiples of ALIGN = 16). Pass
 * `{ vec4: false }` for arenas without that guarantee.
 */
import type { Axis } from '../../ir/types.js';
import { accCount, children, withChildren } from '../kernel-ir/expr.js';
import type { Access, GemmKernel, KExpr } from '../kernel-ir/types.js';
import { offsetAligned4, offsetTerm } from '../offsets.js';
import type { GemmVariant, RegisterGemmRules } from '../target.js';
import { CPU_TARGET } from '../target.js';
import { accessIndex, axisNames, emitExpr, emitExpr4, F32_VIEW, PRELUDE, store4, VEC4_VIEW, type ArenaView, type EmitContext } from './expr.js';

export interface GemmWgsl {
  code: string;
  workgroupSize: [number, number, number];
  dispatch: [number, number, number];
  /** Bytes of workgroup memory it declares (the tiled variant's tiles). */
  workgroupBytes: number;
}

export interface GemmOptions {
  /** Allow the vec4 view of the f32 arena (default true; needs an arena length divisible by 4). */
  vec4?: boolean;
  /** Register variant: the target's blocking rules (default: the CPU target's). */
  rules?: RegisterGemmRules;
  /** Register variant: override the automatic choices (for benchmarks and tests). */
  tuning?: RegisterTuning;
  /**
   * Register variant: a u32 expression that is 0 at run time but opaque to the shader compiler
   * (offsets.ts's RUNTIME_ZERO). Added to the bounds of the loops over an invocation's rows
   * before and after the k loop, it keeps them loops: unrolled, each of their memory accesses
   * became per-lane code on lavapipe, 3–5× the kernel's LLVM time. Without it (a kernel
   * rendered without the offsets uniform) those loops are written out.
   */
  runtimeZero?: string;
}

export interface RegisterTuning {
  /** Lanes along m (A is the per-lane operand) instead of n. */
  swap?: boolean;
  /** Columns per invocation: 4 or 8. */
  cols?: 4 | 8;
  /** Rows per invocation at most (a power of 2 up to 8). */
  rows?: number;
  /** Invocations per workgroup. */
  workgroup?: number;
  /** Read the row operand as vec4s along k when the loop steps by 4 (default: where possible). */
  rowVec?: boolean;
}

/** WebGPU's default (and guaranteed) limit on workgroups per dispatch dimension. */
const MAX_GROUPS_PER_DIM = 65535;

/** Tiled variant: output tile per workgroup, workgroup side, and k-steps staged at once. */
const TILE = 64;
const TILED_WORKGROUP = 16;
const TILE_K = 16;
const PER_THREAD = TILE / TILED_WORKGROUP; // 4 rows × 4 columns per invocation
/** Row pitch of the workgroup tiles: one more than the tile, so that writes along k do not hit one bank. */
const TILE_PITCH = TILE + 1;

export function gemmWgsl(spec: GemmKernel, variant: GemmVariant, options: GemmOptions = {}): GemmWgsl {
  checkSpec(spec);
  return variant === 'register' ? registerGemm(spec, options) : tiledGemm(spec);
}

function checkSpec(spec: GemmKernel): void {
  const seen = new Set<number>();
  for (const a of [...spec.batch, ...spec.m, ...spec.n, ...spec.k]) {
    if (seen.has(a.id)) throw new Error(`internal: GEMM ${spec.name}: axis ${a.name} (#${a.id}) is in two groups`);
    seen.add(a.id);
  }
  if (spec.a.arena !== 'f32' || spec.b.arena !== 'f32') throw new Error(`internal: GEMM ${spec.name}: operands must be f32`);
}

// ---------------------------------------------------------------------------------------
// Addressing helpers

/** A run of merged axes: `size` positions, `strides[j]` elements apart in operand j. */
interface Run {
  size: number;
  strides: number[];
}

function product(axes: readonly Axis[]): number {
  return axes.reduce((n, a) => n * a.size, 1);
}

function strideOf(access: Access, axis: Axis): number {
  return access.strides.get(axis.id) ?? 0;
}

/**
 * The axes of a group as runs over the given operands: size-1 axes dropped, adjacent axes
 * merged where their strides allow it in every operand.
 */
export function mergeRuns(axes: readonly Axis[], operands: readonly Access[]): Run[] {
  const runs: Run[] = [];
  for (const axis of axes) {
    if (axis.size === 1) continue;
    const strides = operands.map((o) => strideOf(o, axis));
    const last = runs[runs.length - 1];
    if (last && last.strides.every((s, j) => s === strides[j] * axis.size)) {
      last.size *= axis.size;
      last.strides = strides;
    } else {
      runs.push({ size: axis.size, strides });
    }
  }
  return runs;
}

/** u32 literal. */
function u(n: number): string {
  if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) throw new Error(`internal: GEMM constant ${n} is not a u32`);
  return `${n}u`;
}

/**
 * WGSL expression of the element offset, in operand `j`, of flat position `flat` (a WGSL u32
 * expression below the product of the run sizes).
 */
function runOffset(flat: string, runs: readonly Run[], j: number): string {
  const terms: string[] = [];
  let inner = 1;
  for (let r = runs.length - 1; r >= 0; r--) {
    const { size, strides } = runs[r];
    const stride = strides[j];
    if (stride !== 0) {
      let pos = inner === 1 ? flat : `(${flat} / ${u(inner)})`;
      if (r > 0) pos = `(${pos} % ${u(size)})`;
      terms.push(stride === 1 ? pos : `${pos} * ${u(stride)}`);
    }
    inner *= size;
  }
  return terms.length ? terms.reverse().join(' + ') : '0u';
}

/** An element offset (a multiple of `unit`, 1 or 4) in units of `unit` elements. */
function inUnits(offset: string, unit: number): string {
  return unit === 1 || offset === '0u' ? offset : `(${offset}) / ${u(unit)}`;
}

/** Sum of WGSL u32 terms, without the zero ones. */
function plus(...terms: string[]): string {
  const t = terms.filter((s) => s !== '0u' && s !== '');
  return t.length ? t.join(' + ') : '0u';
}

/** `let` declarations of the positions of `axes` (named by `axisVar`) from a flat index (last axis fastest). */
function decompose(axisVar: (a: Axis) => string, axes: readonly Axis[], flat: string, indent: string): string[] {
  const lines: string[] = [];
  let inner = 1;
  for (let i = axes.length - 1; i >= 0; i--) {
    const a = axes[i];
    let pos = inner === 1 ? flat : `(${flat} / ${u(inner)})`;
    if (i > 0) pos = `${pos} % ${u(a.size)}`;
    if (a.size === 1) pos = '0u';
    lines.unshift(`${indent}let ${axisVar(a)} = ${pos};`);
    inner *= a.size;
  }
  return lines;
}

/**
 * The dispatch grid for `natural` = (x, y, z) workgroups, at most 65535 per dimension. The
 * kernel recovers the flat workgroup index as `wid.x + nwg.x * (wid.y + nwg.y * wid.z)`; when
 * the natural grid fits it is used as is, otherwise the flat range is folded over the three
 * dimensions and the kernel skips the surplus workgroups (`guard`).
 */
function grid(natural: [number, number, number]): { dispatch: [number, number, number]; guard: boolean } {
  if (natural.every((d) => d <= MAX_GROUPS_PER_DIM)) return { dispatch: natural, guard: false };
  const total = natural[0] * natural[1] * natural[2];
  const x = Math.min(total, MAX_GROUPS_PER_DIM);
  const y = Math.min(Math.ceil(total / x), MAX_GROUPS_PER_DIM);
  // Past 65535³ workgroups z exceeds the limit too: the build reports it (E0902).
  const z = Math.ceil(total / (x * y));
  return { dispatch: [x, y, z], guard: x * y * z !== total };
}

/** Statements locating this workgroup: `col_group`, `row_block` and `batch` from its flat index. */
function locateWorkgroup(colGroups: number, rowBlocks: number, batches: number, guard: boolean): string[] {
  const lines = ['  let group = wid.x + nwg.x * (wid.y + nwg.y * wid.z);'];
  if (guard) lines.push(`  if (group >= ${u(colGroups * rowBlocks * batches)}) { return; }`);
  lines.push(
    colGroups === 1 ? '  let col_group = 0u;' : `  let col_group = group % ${u(colGroups)};`,
    rowBlocks === 1 ? '  let row_block = 0u;' : `  let row_block = ${colGroups === 1 ? 'group' : `(group / ${u(colGroups)})`} % ${u(rowBlocks)};`,
    batches === 1 ? '  let batch = 0u;' : colGroups * rowBlocks === 1 ? '  let batch = group;' : `  let batch = group / ${u(colGroups * rowBlocks)};`,
  );
  return lines;
}

/**
 * The epilogue store functions.
 *  - `store_out(value, batch, m, n)`: one output at flat positions (batch, m, n);
 *  - with `vec` (the 4 outputs along the last non-unit axis of `vecSide`, which has stride 1
 *    in `out`, and every other offset a multiple of 4): `store_out4(values, batch, m, n)`
 *    stores outputs (m, n) .. (m, n + 3) (or (m + 3, n)) as one vec4.
 * Positions outside M × N are skipped; `initInside` says that the kernel never calls
 * init_out4 there, which leaves its check out (see registerGemm).
 */
function storeFunctions(spec: GemmKernel, view: ArenaView, vecSide?: 'm' | 'n', init?: KExpr, initInside = false): string {
  const M = product(spec.m);
  const N = product(spec.n);
  const output = new Set([...spec.batch, ...spec.m, ...spec.n].map((a) => a.id));
  const axisVar = axisNames([...spec.batch, ...spec.m, ...spec.n, ...spec.k]);
  const cx: EmitContext = {
    index(axis: Axis): string {
      if (!output.has(axis.id)) throw new Error(`internal: GEMM epilogue of ${spec.name || 'a kernel'} uses axis ${axis.name} (#${axis.id}), not an output axis`);
      return axisVar(axis);
    },
    view,
    acc: 'value',
  };
  const arena = spec.out.arena === 'f32' ? 'arena' : 'iarena';
  const convert = (v: string) => (spec.out.arena === 'f32' ? v : `i32(${v})`);
  const head = [
    ...decompose(axisVar, spec.batch, 'batch', '  '),
    ...decompose(axisVar, spec.m, 'm', '  '),
    ...decompose(axisVar, spec.n, 'n', '  '),
  ];
  const index = accessIndex(spec.out, cx);
  const extra = spec.extra ?? [];
  // Extra outputs are f32 and computed from the stored output (`y`).
  const extraStores = extra.map((x) => view.store(accessIndex(x.access, cx), emitExpr(x.value, { ...cx, acc: 'y' })));
  const scalarStore = extra.length
    ? [`let y = ${emitExpr(spec.epilogue, cx)};`, view.store(index, 'y'), ...extraStores].join('\n  ')
    : arena === 'arena'
      ? view.store(index, convert(emitExpr(spec.epilogue, cx)))
      : `iarena[${index}] = ${convert(emitExpr(spec.epilogue, cx))};`;
  const fns = [['fn store_out(value: f32, batch: u32, m: u32, n: u32) {', `  if (m >= ${u(M)} || n >= ${u(N)}) { return; }`, ...head, `  ${scalarStore}`, '}'].join('\n')];
  if (vecSide) {
    const last = [...(vecSide === 'm' ? spec.m : spec.n)].reverse().find((a) => a.size > 1)!;
    // The epilogue as vec4 arithmetic: operands contiguous along `last` are read as one vec4.
    const value = emitExpr4(spec.epilogue, cx, { lane: last, acc4: 'values' });
    if (init) {
      fns.push(
        [
          `// The additive part of the epilogue at four outputs along '${last.name}': the accumulators' start.`,
          'fn init_out4(batch: u32, m: u32, n: u32) -> vec4f {',
          ...(initInside ? [] : [`  if (m >= ${u(M)} || n >= ${u(N)}) { return vec4f(0.0); }`]),
          ...head,
          `  return ${emitExpr4(init, cx, { lane: last })};`,
          '}',
        ].join('\n'),
      );
    }
    // Any arithmetic on the accumulators after the k loop makes the whole kernel slower on
    // lavapipe (measured: a scale alone costs a quarter of a 768×512×128 GEMM's time), while
    // storing them as they are and then applying the epilogue to what was stored does not:
    // store_out4 stores, post_out4 (called after every store) finishes the epilogue.
    const twoPhase = spec.epilogue.k !== 'acc' || extra.length > 0;
    const extraStores4 = extra.map((x) => `  ${store4(x.access, emitExpr4(x.value, cx, { lane: last, acc4: 'y' }), cx, last)}`);
    fns.push(
      [
        `// Four outputs along axis '${last.name}', contiguous in the output: one vec4 store.`,
        'fn store_out4(values: vec4f, batch: u32, m: u32, n: u32) {',
        `  if (m >= ${u(M)} || n >= ${u(N)}) { return; }`,
        ...head,
        `  arena[(${index}) >> 2u] = ${twoPhase ? 'values' : value};`,
        '}',
      ].join('\n'),
    );
    if (twoPhase) {
      fns.push(
        [
          `// The epilogue applied to four stored accumulators.`,
          'fn post_out4(batch: u32, m: u32, n: u32) {',
          `  if (m >= ${u(M)} || n >= ${u(N)}) { return; }`,
          ...head,
          `  let values = arena[(${index}) >> 2u];`,
          // (With no epilogue left, the stored accumulators are final: only the extra outputs are written.)
          ...(extra.length ? [`  let y = ${value};`, ...(spec.epilogue.k === 'acc' ? [] : [`  arena[(${index}) >> 2u] = y;`]), ...extraStores4] : [`  arena[(${index}) >> 2u] = ${value};`]),
          '}',
        ].join('\n'),
      );
    }
  }
  return fns.join('\n\n');
}

/** Whether the region starts at a multiple of 4 and every listed stride is one. */
function aligned4(a: Access, strides: Iterable<number>): boolean {
  if (!offsetAligned4(a)) return false;
  for (const s of strides) if (s % 4 !== 0) return false;
  return true;
}

// ---------------------------------------------------------------------------------------
// 'register': no workgroup memory, no barriers, up to 8×8 outputs per invocation

/** One side of the product: the rows (uniform across lanes) or the columns (one block per lane). */
interface Side {
  which: 'm' | 'n';
  axes: readonly Axis[];
  access: Access;
  size: number;
  /** Runs over this side's own axes in its operand. */
  runs: Run[];
  /** Runs over the batch axes in its operand. */
  batchRuns: Run[];
}

function makeSide(spec: GemmKernel, which: 'm' | 'n'): Side {
  const axes = which === 'm' ? spec.m : spec.n;
  const access = which === 'm' ? spec.a : spec.b;
  return { which, axes, access, size: product(axes), runs: mergeRuns(axes, [access]), batchRuns: mergeRuns(spec.batch, [access]) };
}

/**
 * How the per-lane (column) operand is read: 'cols' = vec4 of 4 adjacent columns (stride 1
 * along the columns), 'k' = vec4 of 4 adjacent k-steps (stride 1 along k; the loop then
 * steps by 4), 'scalar' otherwise.
 */
export type ColMode = 'cols' | 'k' | 'scalar';

interface RegisterPlan {
  swap: boolean;
  rows: Side;
  cols: Side;
  kRuns: Run[];
  TR: number;
  TC: number;
  workgroup: number;
  colMode: ColMode;
  /** Rows operand read as vec4 along k (when the loop steps by 4 anyway). */
  rowVecK: boolean;
  /** Outputs stored as vec4 along the columns. */
  vecStore: boolean;
}

function planRegister(spec: GemmKernel, swap: boolean, TC: 4 | 8, vec4: boolean, rules: RegisterGemmRules, tuning: RegisterTuning): RegisterPlan {
  const rows = makeSide(spec, swap ? 'n' : 'm');
  const cols = makeSide(spec, swap ? 'm' : 'n');
  const TR = Math.min(tuning.rows ?? rules.rowsPerInvocation(rows.size), 1 << Math.ceil(Math.log2(Math.max(1, rows.size))));
  const kRuns = mergeRuns(spec.k, [rows.access, cols.access]);
  if (kRuns.length === 0) kRuns.push({ size: 1, strides: [0, 0] });
  const inner = kRuns[kRuns.length - 1];
  const outerK = kRuns.slice(0, -1);

  let colMode: ColMode = 'scalar';
  let rowVecK = false;
  let vecStore = false;
  if (vec4) {
    const c = cols.access;
    const batchStrides = cols.batchRuns.map((r) => r.strides[0]);
    const lastCol = cols.runs[cols.runs.length - 1];
    const colsFit =
      lastCol !== undefined &&
      lastCol.strides[0] === 1 &&
      lastCol.size % 4 === 0 &&
      aligned4(c, [...batchStrides, ...cols.runs.slice(0, -1).map((r) => r.strides[0]), ...kRuns.map((r) => r.strides[1])]);
    const kFit =
      inner.strides[1] === 1 &&
      inner.size % 4 === 0 &&
      aligned4(c, [...batchStrides, ...cols.runs.map((r) => r.strides[0]), ...outerK.map((r) => r.strides[1])]);
    colMode = colsFit ? 'cols' : kFit ? 'k' : 'scalar';
    if (colMode === 'k' && tuning.rowVec !== false) {
      const r = rows.access;
      rowVecK =
        inner.strides[0] === 1 &&
        aligned4(r, [...rows.batchRuns.map((x) => x.strides[0]), ...rows.runs.map((x) => x.strides[0]), ...outerK.map((x) => x.strides[0])]);
    }
    // vec4 stores: the last non-unit column axis has stride 1 in `out`, its size and every
    // other offset of `out` a multiple of 4.
    const lastAxis = [...cols.axes].reverse().find((a) => a.size > 1);
    if (lastAxis && strideOf(spec.out, lastAxis) === 1 && lastAxis.size % 4 === 0) {
      const others = [...spec.batch, ...spec.m, ...spec.n].filter((a) => a.id !== lastAxis.id && a.size > 1).map((a) => strideOf(spec.out, a));
      vecStore = spec.out.arena === 'f32' && aligned4(spec.out, others);
    }
  }
  const colBlocks = Math.ceil(cols.size / TC);
  const workgroup = tuning.workgroup ?? rules.lanes(colBlocks);
  return { swap, rows, cols, kRuns, TR, TC, workgroup, colMode, rowVecK, vecStore };
}

/**
 * Pick the orientation and block width: lanes along n and 8 columns per lane, unless the
 * other orientation (lanes along m) or 4 columns reads and stores more as vec4s, or fills
 * many more SIMD lanes.
 */
function chooseRegister(spec: GemmKernel, vec4: boolean, rules: RegisterGemmRules, tuning: RegisterTuning = {}): RegisterPlan {
  const candidates: RegisterPlan[] = [];
  for (const swap of tuning.swap === undefined ? [false, true] : [tuning.swap]) {
    for (const TC of tuning.cols === undefined ? ([8, 4] as const) : [tuning.cols]) candidates.push(planRegister(spec, swap, TC, vec4, rules, tuning));
  }
  // Measured on lavapipe: vec4 reads of the per-lane operand (across columns best, along k
  // next) and vec4 stores matter most; idle lanes (fewer than 8 column blocks) cost less than
  // either, and half the lanes idle cost less than halving each lane's work (p·v, 32 columns:
  // 4 lanes of 8 columns ran 20–25 % faster than 8 lanes of 4). Blocks that overhang the
  // edges compute wasted outputs.
  const useful = (size: number, block: number) => size / (Math.ceil(size / block) * block);
  const score = (p: RegisterPlan) => {
    const filled = Math.min(8, Math.ceil(p.cols.size / p.TC)) / 8;
    const lanes = filled >= 0.5 ? 1 : filled;
    const reads = p.colMode === 'cols' ? 4 : p.colMode === 'k' ? 3 : 1;
    const waste = useful(p.cols.size, p.TC) * useful(p.rows.size, p.TR);
    // A causal range applies only with its row axis on the uniform side, where it skips about half the work.
    const causal = causalRange(spec, p) ? 1.6 : 1;
    return reads * (p.vecStore ? 2 : 1) * Math.sqrt(lanes) * waste * (p.swap ? 0.9 : 1) * (p.TC === 8 ? 1.1 : 1) * causal;
  };
  return candidates.reduce((best, p) => (score(p) > score(best) ? p : best));
}

/**
 * The causal k range (spec.kRange) a register plan can use: only when the range's row axis is
 * the plan's only non-unit row axis (uniform across lanes) and k is one run.
 */
function causalRange(spec: GemmKernel, plan: Pick<RegisterPlan, 'rows' | 'kRuns'>): 'le' | 'ge' | undefined {
  if (!spec.kRange || plan.kRuns.length !== 1) return undefined;
  const rows = plan.rows.axes.filter((a) => a.size > 1);
  return rows.length === 1 && rows[0].id === spec.kRange.row ? spec.kRange.keep : undefined;
}

/**
 * How the register variant's chosen plan reads its per-lane operand: 'cols' (vec4 across
 * columns, as fast as a GEMM on contiguous operands), 'k' (vec4 along k) or 'scalar'. The
 * activation-copies pass asks this to decide which operands deserve a copy in another layout.
 */
export function registerReadMode(spec: GemmKernel, rules: RegisterGemmRules = CPU_TARGET.register): ColMode {
  return registerBlocking(spec, rules).colMode;
}

/**
 * How the register variant blocks `spec` (what it renders, with the vec4 view): rows and
 * columns per invocation, the side its lanes run along, how the per-lane operand is read,
 * whether outputs are stored as vec4s, and the causal k range it applies, if any.
 */
export function registerBlocking(spec: GemmKernel, rules: RegisterGemmRules = CPU_TARGET.register): { rows: number; cols: number; lanesAlong: 'm' | 'n'; colMode: ColMode; vecStore: boolean; causal?: 'le' | 'ge' } {
  const p = chooseRegister(spec, true, rules);
  const causal = causalRange(spec, p);
  return { rows: p.TR, cols: p.TC, lanesAlong: p.swap ? 'm' : 'n', colMode: p.colMode, vecStore: p.vecStore, ...(causal ? { causal } : {}) };
}

/**
 * Splits `f(acc + t1 + t2 ...)` into the terms `t1 + t2 ...` and `f(acc)`: the register GEMM
 * starts its accumulators at the terms (bias, residual) instead of adding them after the
 * loop. Measured on lavapipe: any arithmetic on the accumulators after the loop costs about
 * a third of a 768×512×128 GEMM's time, while the same terms read before the loop cost
 * little. Returns undefined when no add sits directly above the (single) accumulator.
 */
export function splitAdditiveEpilogue(e: KExpr): { init: KExpr; rest: KExpr } | undefined {
  if (accCount(e) !== 1) return undefined;
  const terms: KExpr[] = [];
  // Strip the chain of adds directly around acc, collecting the other operands.
  const strip = (x: KExpr): KExpr => {
    if (x.k === 'binary' && x.fn === 'add' && x.dtype === 'f32') {
      const left = accCount(x.a) === 1;
      const inner = strip(left ? x.a : x.b);
      if (inner.k === 'acc') {
        terms.push(left ? x.b : x.a);
        return inner;
      }
      return left ? { ...x, a: inner } : { ...x, b: inner };
    }
    if (x.k === 'gather') return x;
    // Down the one subexpression that holds the accumulator.
    const kids = children(x);
    const i = kids.findIndex((c) => accCount(c) === 1);
    return i < 0 ? x : withChildren(x, kids.map((c, j) => (j === i ? strip(c) : c)));
  };
  const rest = strip(e);
  if (!terms.length) return undefined;
  const init = terms.reduce((a, b) => ({ k: 'binary', fn: 'add', a, b, dtype: 'f32' }) as KExpr);
  return { init, rest };
}

function registerGemm(spec: GemmKernel, options: GemmOptions): GemmWgsl {
  const vec4 = options.vec4 ?? true;
  const plan = chooseRegister(spec, vec4, options.rules ?? CPU_TARGET.register, options.tuning);
  const { swap, rows, cols, kRuns, TR, TC, workgroup, colMode, rowVecK, vecStore } = plan;
  const usesVec4 = colMode !== 'scalar' || rowVecK || vecStore;
  const view = usesVec4 ? VEC4_VIEW : F32_VIEW;
  const batches = product(spec.batch);
  const colBlocks = Math.ceil(cols.size / TC);
  const colGroups = Math.ceil(colBlocks / workgroup);
  const rowBlocks = Math.ceil(rows.size / TR);
  const { dispatch, guard } = grid([colGroups, rowBlocks, batches]);
  const inner = kRuns[kRuns.length - 1];
  const step = colMode === 'k' ? 4 : 1; // k positions per loop iteration
  const colUnit = colMode === 'scalar' ? 1 : 4; // offsets of the column operand in elements or vec4s
  const rowUnit = rowVecK ? 4 : 1;
  const [rowName, colName] = swap ? ['B', 'A'] : ['A', 'B'];

  const L: string[] = [];
  L.push(`@compute @workgroup_size(${workgroup}, 1, 1)`);
  L.push('fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lane: u32) {');
  L.push(...locateWorkgroup(colGroups, rowBlocks, batches, guard));
  L.push(`  let col0 = (col_group * ${u(workgroup)} + lane) * ${u(TC)};`);
  L.push(`  if (col0 >= ${u(cols.size)}) { return; }`);
  L.push(`  let row0 = row_block * ${u(TR)};`);
  L.push(
    `  // ${TR} rows of ${rowName} (same for every lane) and ${TC} ${swap ? 'rows' : 'columns'} of ${colName} (this lane's)` +
      `${colMode === 'cols' ? ', read as vec4s across them' : colMode === 'k' ? ', read as vec4s along k' : ''}; ` +
      `offsets${colUnit === 4 || rowUnit === 4 ? ' (in vec4s where read as vec4s)' : ''} past the edges are clamped, their results not stored.`,
  );
  const rowBase = (i: number) => `row_base${i}`;
  const colBase = (j: number) => `col_base${j}`;
  const rowAt = (i: number) => (i === 0 ? 'row0' : rows.size % TR === 0 ? `(row0 + ${u(i)})` : `min(row0 + ${u(i)}, ${u(rows.size - 1)})`);
  const rowStart = plus(offsetTerm(rows.access), runOffset('batch', rows.batchRuns, 0));
  if (rowStart.includes('batch')) L.push(`  let row_start = ${rowStart}; // ${rowName}'s region + batch offset`);
  const rowOrigin = rowStart.includes('batch') ? 'row_start' : rowStart;
  for (let i = 0; i < TR; i++) {
    L.push(`  let ${rowBase(i)} = ${inUnits(plus(rowOrigin, runOffset(rowAt(i), rows.runs, 0)), rowUnit)};`);
  }
  // Column bases: one per column, or one per 4 columns when they are read as one vec4.
  const colBaseCount = colMode === 'cols' ? TC / 4 : TC;
  const colSpan = colMode === 'cols' ? 4 : 1;
  const colAt = (j: number) => {
    const first = j * colSpan;
    if (first === 0) return 'col0';
    return cols.size % TC === 0 ? `(col0 + ${u(first)})` : `min(col0 + ${u(first)}, ${u(cols.size - colSpan)})`;
  };
  const colStart = plus(offsetTerm(cols.access), runOffset('batch', cols.batchRuns, 0));
  if (colStart.includes('batch')) L.push(`  let col_start = ${colStart}; // ${colName}'s region + batch offset`);
  const colOrigin = colStart.includes('batch') ? 'col_start' : colStart;
  for (let j = 0; j < colBaseCount; j++) {
    L.push(`  let ${colBase(j)} = ${inUnits(plus(colOrigin, runOffset(colAt(j), cols.runs, 0)), colUnit)};`);
  }
  const vecs = TC / 4;
  const accName = (i: number, v: number) => `acc${i}_${v * 4}`;
  const split = vecStore ? splitAdditiveEpilogue(spec.epilogue) : undefined;
  // The bound of the loops over the rows around the k loop (see GemmOptions.runtimeZero).
  const rowCount = options.runtimeZero ? `${u(TR)} + ${options.runtimeZero}` : u(TR);
  if (split) {
    // The accumulators' start computed in a loop over rows (as the post pass: one inlined copy
    // of the additive terms instead of one per accumulator keeps LLVM's compile short).
    L.push(`  var start: array<vec4f, ${TR * vecs}>;`);
    L.push(`  for (var r = 0u; r < ${rowCount}; r = r + 1u) {`);
    for (let v = 0; v < vecs; v++) {
      const col = v === 0 ? 'col0' : `col0 + ${u(4 * v)}`;
      L.push(`    start[r * ${u(vecs)}${v ? ` + ${u(v)}` : ''}] = init_out4(batch, ${swap ? `${col}, row0 + r` : `row0 + r, ${col}`});`);
    }
    L.push('  }');
  }
  for (let i = 0; i < TR; i++)
    for (let v = 0; v < vecs; v++) L.push(`  var ${accName(i, v)} = ${split ? `start[${i * vecs + v}]` : 'vec4f(0.0)'};`);

  // The multiply-adds of one loop iteration (`step` k positions) at k offsets kr, kc.
  const body = (indent: string): string[] => {
    const out: string[] = [];
    const rStride = inner.strides[0];
    const cStride = inner.strides[1];
    if (colMode === 'k') {
      for (let j = 0; j < TC; j++) out.push(`${indent}let c${j} = arena[${colBase(j)} + kc];`);
      if (rowVecK) for (let i = 0; i < TR; i++) out.push(`${indent}let r${i} = arena[${rowBase(i)} + kr];`);
    }
    for (let s = 0; s < step; s++) {
      const sfx = step > 1 ? `_${s}` : '';
      for (let v = 0; v < vecs; v++) {
        let value: string;
        if (colMode === 'k') value = `vec4f(${[0, 1, 2, 3].map((c) => `c${4 * v + c}[${s}]`).join(', ')})`;
        else if (colMode === 'cols') value = `arena[${plus(colBase(v), 'kc')}]`;
        else value = `vec4f(${[0, 1, 2, 3].map((c) => view.load(`${colBase(4 * v + c)} + kc`)).join(', ')})`;
        out.push(`${indent}let col${v * 4}${sfx} = ${value};`);
      }
      for (let i = 0; i < TR; i++) {
        let value: string;
        if (rowVecK) value = `r${i}[${s}]`;
        else value = view.load(plus(rowBase(i), 'kr', s === 0 ? '' : u(s * rStride)));
        out.push(`${indent}let row${i}${sfx} = ${value};`);
        for (let v = 0; v < vecs; v++) out.push(`${indent}${accName(i, v)} = fma(vec4f(row${i}${sfx}), col${v * 4}${sfx}, ${accName(i, v)});`);
      }
    }
    const rAdvance = rowVecK ? 1 : rStride * step;
    const cAdvance = colMode === 'k' ? 1 : cStride * step / colUnit;
    if (rAdvance !== 0) out.push(`${indent}kr = kr + ${u(rAdvance)};`);
    if (cAdvance !== 0) out.push(`${indent}kc = kc + ${u(cAdvance)};`);
    return out;
  };

  // k loops: one per run; outer runs fix base offsets, the innermost steps them.
  L.push(`  // The contraction over k${kRuns.length > 1 ? ` (${kRuns.length} runs of axes that do not merge)` : ''}.`);
  let indent = '  ';
  let baseR = '0u';
  let baseC = '0u';
  for (let r = 0; r < kRuns.length - 1; r++) {
    const k = `k${r}`;
    L.push(`${indent}for (var ${k} = 0u; ${k} < ${u(kRuns[r].size)}; ${k} = ${k} + 1u) {`);
    indent += '  ';
    L.push(`${indent}let kr${r} = ${plus(baseR, `${k} * ${u(kRuns[r].strides[0] / rowUnit)}`)};`);
    L.push(`${indent}let kc${r} = ${plus(baseC, `${k} * ${u(kRuns[r].strides[1] / colUnit)}`)};`);
    baseR = `kr${r}`;
    baseC = `kc${r}`;
  }
  // A causal operand (spec.kRange) with the row axis on this invocation's uniform side: the
  // loop covers only the k positions that the block's rows can use (multiples of `step`).
  const range = causalRange(spec, plan);
  const kFrom = range === 'ge' ? `(row0 / ${u(step)}) * ${u(step)}` : '0u';
  const kTo = range === 'le' ? `min(${u(inner.size)}, ((row0 + ${u(TR + step - 1)}) / ${u(step)}) * ${u(step)})` : u(inner.size);
  const perStep = (advance: number) => (range === 'ge' ? ` + (${kFrom} / ${u(step)}) * ${u(advance)}` : '');
  L.push(`${indent}var kr = ${baseR}${perStep(rowVecK ? 1 : inner.strides[0] * step)};`);
  L.push(`${indent}var kc = ${baseC}${perStep(colMode === 'k' ? 1 : (inner.strides[1] * step) / colUnit)};`);
  if (range) L.push(`${indent}// Causal: only k ${range === 'le' ? '≤' : '≥'} the row contributes (the operand is zero elsewhere).`);
  L.push(`${indent}for (var k = ${kFrom}; k < ${kTo}; k = k + ${u(step)}) {`);
  L.push(...body(indent + '  '));
  L.push(`${indent}}`);
  for (let r = kRuns.length - 2; r >= 0; r--) {
    indent = indent.slice(2);
    L.push(`${indent}}`);
  }

  L.push(`  // Epilogue and store${vecStore ? ' (4 outputs at a time)' : ''}; positions past the edges are skipped.`);
  // The stores of row `row` (an expression), its accumulators' values given by `value(v)`.
  const storeRow = (indent: string, row: string, value: (v: number) => string): string[] => {
    const out: string[] = [];
    for (let v = 0; v < vecs; v++) {
      if (vecStore) {
        const col = v === 0 ? 'col0' : `col0 + ${u(4 * v)}`;
        out.push(`${indent}store_out4(${value(v)}, batch, ${swap ? `${col}, ${row}` : `${row}, ${col}`});`);
        continue;
      }
      for (let c = 0; c < 4; c++) {
        const col = v * 4 + c === 0 ? 'col0' : `col0 + ${u(v * 4 + c)}`;
        const [m, n] = swap ? [col, row] : [row, col];
        out.push(`${indent}store_out(${value(v)}.${'xyzw'[c]}, batch, ${m}, ${n});`);
      }
    }
    return out;
  };
  if (options.runtimeZero) {
    // The accumulators go through an array so that one loop over the rows stores them all.
    L.push(`  var done: array<vec4f, ${TR * vecs}>;`);
    for (let i = 0; i < TR; i++) for (let v = 0; v < vecs; v++) L.push(`  done[${i * vecs + v}] = ${accName(i, v)};`);
    L.push(`  for (var r = 0u; r < ${rowCount}; r = r + 1u) {`);
    L.push(...storeRow('    ', 'row0 + r', (v) => `done[r * ${u(vecs)}${v ? ` + ${u(v)}` : ''}]`));
    L.push('  }');
  } else {
    for (let i = 0; i < TR; i++) L.push(...storeRow('  ', i === 0 ? 'row0' : `row0 + ${u(i)}`, (v) => accName(i, v)));
  }
  // The epilogue's second phase (see storeFunctions), once every accumulator is stored.
  const rest = split ? split.rest : spec.epilogue;
  // A loop over the rows, not unrolled: the epilogue inlined once per accumulator made LLVM
  // take seconds per kernel (a GELU after the MLP GEMM: 3.3 s), for no speed at run time.
  const post = vecStore && (rest.k !== 'acc' || !!spec.extra?.length);
  if (post) {
    L.push(`  for (var r = 0u; r < ${rowCount}; r = r + 1u) {`);
    for (let v = 0; v < vecs; v++) {
      const col = v === 0 ? 'col0' : `col0 + ${u(4 * v)}`;
      L.push(`    post_out4(batch, ${swap ? `${col}, row0 + r` : `row0 + r, ${col}`});`);
    }
    L.push('  }');
  }
  L.push('}');
  // A kernel with both phases around the k loop (accumulators started from the epilogue's
  // additive terms, finished by post_out4) compiled 3–4× slower on lavapipe with init_out4's
  // edge check (the MLP's GELU GEMM: 8.4 s of CPU against 2.3 s without it). Blocks that tile
  // M × N exactly never start past its edges, so the check goes there. Measured per kernel:
  // leaving out the other checks, or this one in kernels without a post phase, made LLVM
  // slower as often as faster (up to 4× either way), so they stay (issue 16).
  const initInside = post && rows.size % TR === 0 && cols.size % TC === 0;
  const stores = split ? storeFunctions({ ...spec, epilogue: split.rest }, view, cols.which, split.init, initInside) : storeFunctions(spec, view, vecStore ? cols.which : undefined);
  const code = `${view.declarations}${PRELUDE}\n${stores}\n\n${L.join('\n')}\n`;
  return { code, workgroupSize: [workgroup, 1, 1], dispatch, workgroupBytes: 0 };
}

// ---------------------------------------------------------------------------------------
// 'tiled': 64×64 tiles in workgroup memory, 16×16 invocations, 4×4 outputs each

function tiledGemm(spec: GemmKernel): GemmWgsl {
  const M = product(spec.m);
  const N = product(spec.n);
  const K = product(spec.k);
  const batches = product(spec.batch);
  const kRuns = mergeRuns(spec.k, [spec.a, spec.b]);
  if (kRuns.length === 0) kRuns.push({ size: 1, strides: [0, 0] });
  // Per operand: which tile elements each invocation loads. With k contiguous in memory (or
  // the rows not), neighbouring invocations take neighbouring k (kk = lid.x, rows lid.y + 16·t);
  // otherwise neighbouring rows (row = flat_lid % 64, kk = flat_lid / 64 + 4·t).
  const operands = (['a', 'b'] as const).map((name, j) => {
    const side = makeSide(spec, name === 'a' ? 'm' : 'n');
    const lastRun = side.runs[side.runs.length - 1];
    const kFast = kRuns[kRuns.length - 1].strides[j] === 1 || lastRun === undefined || lastRun.strides[0] !== 1;
    return { name, side, size: side.size, j, kFast };
  });
  const tiles: [number, number, number] = [Math.ceil(N / TILE), Math.ceil(M / TILE), batches];
  const { dispatch, guard } = grid(tiles);
  const kTiles = Math.ceil(K / TILE_K);
  const loads = (TILE * TILE_K) / (TILED_WORKGROUP * TILED_WORKGROUP); // elements of each tile per invocation
  const singleK = kRuns.length === 1;
  const inner = kRuns[kRuns.length - 1];

  const L: string[] = [];
  L.push(`var<workgroup> tile_a: array<f32, ${TILE_PITCH * TILE_K}>; // [k][m], rows ${TILE_PITCH} apart`);
  L.push(`var<workgroup> tile_b: array<f32, ${TILE_PITCH * TILE_K}>; // [k][n]`);
  L.push('');
  L.push(`@compute @workgroup_size(${TILED_WORKGROUP}, ${TILED_WORKGROUP}, 1)`);
  L.push('fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_id) lid: vec3u) {');
  L.push(...locateWorkgroup(tiles[0], tiles[1], tiles[2], guard));
  L.push(`  let row0 = row_block * ${u(TILE)};`);
  L.push(`  let col0 = col_group * ${u(TILE)};`);
  L.push(`  let flat_lid = lid.y * ${u(TILED_WORKGROUP)} + lid.x;`);
  // Row (column) offsets of the tile elements this invocation loads; rows past the edge clamped.
  for (const { side, name, size, kFast } of operands) {
    const base = (row: string) => plus(offsetTerm(side.access), runOffset('batch', side.batchRuns, 0), runOffset(row, side.runs, 0));
    const start = name === 'a' ? 'row0' : 'col0';
    const clamp = (e: string) => (size % TILE === 0 ? e : `min(${e}, ${u(size - 1)})`);
    if (kFast) {
      L.push(`  // ${name.toUpperCase()} tile: kk = lid.x, ${name === 'a' ? 'rows' : 'columns'} lid.y + 16·t.`);
      for (let t = 0; t < loads; t++) L.push(`  let ${name}_base${t} = ${base(`(${clamp(plus(start, 'lid.y', u(TILED_WORKGROUP * t)))})`)};`);
      L.push(`  let ${name}_kk = lid.x;`);
    } else {
      L.push(`  // ${name.toUpperCase()} tile: ${name === 'a' ? 'row' : 'column'} flat_lid % 64, kk = flat_lid / 64 + 4·t.`);
      L.push(`  let ${name}_base0 = ${base(`(${clamp(`${start} + flat_lid % ${u(TILE)}`)})`)};`);
      L.push(`  let ${name}_kk = flat_lid / ${u(TILE)};`);
    }
  }
  L.push(`  var acc: array<vec4f, ${PER_THREAD}>; // acc[i][j]: row lid.y + 16·i, column lid.x + 16·j`);
  L.push(`  for (var k_tile = 0u; k_tile < ${u(kTiles)}; k_tile = k_tile + 1u) {`);
  for (const { name, j, kFast } of operands) {
    for (let t = 0; t < loads; t++) {
      const kk = kFast || t === 0 ? `${name}_kk` : `${name}_kk + ${u((TILE_K / loads) * t)}`;
      const slot = kFast ? plus(`${name}_kk * ${u(TILE_PITCH)}`, 'lid.y', u(TILED_WORKGROUP * t)) : `${t === 0 ? `${name}_kk` : `(${name}_kk + ${u((TILE_K / loads) * t)})`} * ${u(TILE_PITCH)} + flat_lid % ${u(TILE)}`;
      const base = kFast ? `${name}_base${t}` : `${name}_base0`;
      const flatK = `k_tile * ${u(TILE_K)} + ${kk}`;
      const kClamped = K % TILE_K === 0 ? `(${flatK})` : `min(${flatK}, ${u(K - 1)})`;
      const kStride = inner.strides[j];
      const kOffset = singleK ? (kStride === 0 ? '0u' : kStride === 1 ? kClamped : `${kClamped} * ${u(kStride)}`) : runOffset(kClamped, kRuns, j);
      const value = `arena[${plus(base, kOffset)}]`;
      L.push(`    tile_${name}[${slot}] = ${K % TILE_K === 0 ? value : `select(0.0, ${value}, ${flatK} < ${u(K)})`};`);
    }
  }
  L.push('    workgroupBarrier();');
  L.push(`    for (var kk = 0u; kk < ${u(TILE_K)}; kk = kk + 1u) {`);
  L.push(`      let b = vec4f(${[0, 1, 2, 3].map((jj) => `tile_b[${plus(`kk * ${u(TILE_PITCH)}`, 'lid.x', u(TILED_WORKGROUP * jj))}]`).join(', ')});`);
  for (let i = 0; i < PER_THREAD; i++) L.push(`      acc[${i}] = fma(vec4f(tile_a[${plus(`kk * ${u(TILE_PITCH)}`, 'lid.y', u(TILED_WORKGROUP * i))}]), b, acc[${i}]);`);
  L.push('    }');
  L.push('    workgroupBarrier();');
  L.push('  }');
  L.push('  // Epilogue and store; positions past the edges are skipped.');
  for (let i = 0; i < PER_THREAD; i++) {
    for (let jj = 0; jj < PER_THREAD; jj++) {
      L.push(`  store_out(acc[${i}].${'xyzw'[jj]}, batch, ${plus('row0', 'lid.y', u(TILED_WORKGROUP * i))}, ${plus('col0', 'lid.x', u(TILED_WORKGROUP * jj))});`);
    }
  }
  L.push('}');
  const code = `${F32_VIEW.declarations}${PRELUDE}\n${storeFunctions(spec, F32_VIEW)}\n\n${L.join('\n')}\n`;
  // Two tiles of f32: tile_a and tile_b.
  return { code, workgroupSize: [TILED_WORKGROUP, TILED_WORKGROUP, 1], dispatch, workgroupBytes: 2 * TILE_PITCH * TILE_K * 4 };
}
