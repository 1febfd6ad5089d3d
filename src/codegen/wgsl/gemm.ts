/**
 * WGSL for batched GEMMs (contractions): for every (batch, m, n)
 *
 *   acc = Σ_k A[batch, m, k] · B[batch, n, k],   out[batch, m, n] = epilogue(acc)
 *
 * with every axis group possibly several axes and both operands read through arbitrary
 * strides (so transposes, broadcasts and interleaved batch axes cost nothing).
 *
 * Two variants, chosen by adapter (see /work/shared/WEBGPU-NOTES.md):
 *  - 'register' for CPU adapters (lavapipe/llvmpipe): no workgroup memory and no barriers
 *    (barriers are ruinous there). Each invocation owns an 8×8 block of outputs held in
 *    16 vec4 accumulators; the workgroup is a row of 16 invocations that share their block
 *    rows, so the row operand's loads are uniform across the SIMD lanes.
 *  - 'tiled' for GPUs: a 64×64 output tile per 16×16 workgroup, 4×4 outputs per invocation,
 *    operands staged through workgroup memory 16 k-steps at a time.
 *
 * Addressing: each axis group is first reduced to "runs", maximal sequences of adjacent axes
 * whose strides are mergeable (stride[i] == stride[i+1] · size[i+1]) in every operand the
 * group indexes, so that the usual contiguous cases become a single multiply. A flat position
 * in a group is turned into an element offset by div/mod over the runs, last run fastest.
 */
import type { Axis } from '../../ir/types.js';
import type { Access, GemmKernel } from '../spec.js';
import { accessIndex, BINDINGS, emitExpr, PRELUDE, type EmitContext } from './expr.js';

export type GemmVariantName = 'register' | 'tiled';

export interface GemmWgsl {
  code: string;
  workgroupSize: [number, number, number];
  dispatch: [number, number, number];
}

/** WebGPU's default (and guaranteed) limit on workgroups per dispatch dimension. */
const MAX_GROUPS_PER_DIM = 65535;

/** Register variant: invocations per workgroup (one row of them). */
const REGISTER_WORKGROUP = 16;
/** Register variant: largest block of outputs per invocation (rows × columns). */
const REGISTER_ROWS = 8;
const REGISTER_COLS = 8;

/** Tiled variant: output tile per workgroup, workgroup shape, and k-steps staged at once. */
const TILE = 64;
const TILED_WORKGROUP = 16;
const TILE_K = 16;
const PER_THREAD = TILE / TILED_WORKGROUP; // 4 rows × 4 columns per invocation

export function gemmWgsl(spec: GemmKernel, variant: GemmVariantName): GemmWgsl {
  return variant === 'register' ? registerGemm(spec) : tiledGemm(spec);
}

// ---------------------------------------------------------------------------------------
// Addressing helpers

/** A run of merged axes: `size` positions, each `strides[j]` elements apart in operand j. */
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
 * expression known to be below the product of the run sizes) in a group of runs.
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

/** `let` declarations of the positions of `axes` from a flat index (last axis fastest). */
function decompose(axes: readonly Axis[], flat: string, indent: string): string[] {
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

const axisVar = (a: Axis) => `i${a.id}`;

/**
 * `store_out(value, batch, m, n)`: applies the epilogue at output position (batch, m, n), given
 * as flat indices of the three groups, and stores it; positions outside M × N are skipped.
 */
function storeFunction(spec: GemmKernel): string {
  const M = product(spec.m);
  const N = product(spec.n);
  const axes = new Map<number, Axis>();
  for (const a of [...spec.batch, ...spec.m, ...spec.n]) axes.set(a.id, a);
  const cx: EmitContext = {
    index(axis: Axis): string {
      if (!axes.has(axis.id)) throw new Error(`internal: GEMM epilogue of ${spec.name || 'a kernel'} uses axis ${axis.name} (#${axis.id}), not an output axis`);
      return axisVar(axis);
    },
    acc: 'value',
  };
  const arena = spec.out.arena === 'f32' ? 'arena' : 'iarena';
  const value = emitExpr(spec.epilogue, cx);
  const stored = spec.out.arena === 'f32' ? value : `i32(${value})`;
  const lines = [
    'fn store_out(value: f32, batch: u32, m: u32, n: u32) {',
    `  if (m >= ${u(M)} || n >= ${u(N)}) { return; }`,
    ...decompose(spec.batch, 'batch', '  '),
    ...decompose(spec.m, 'm', '  '),
    ...decompose(spec.n, 'n', '  '),
    `  ${arena}[${accessIndex(spec.out, cx, axes)}] = ${stored};`,
    '}',
  ];
  return lines.join('\n');
}

/**
 * The dispatch grid for `groups` workgroups, at most 65535 per dimension. The kernel recovers
 * the flat workgroup index as `wid.x + nwg.x * (wid.y + nwg.y * wid.z)`; when the natural
 * grid (x, y, z) fits it is used as is, otherwise the flat range is folded over the three
 * dimensions and the kernel skips the surplus workgroups (`guard`).
 */
function grid(natural: [number, number, number]): { dispatch: [number, number, number]; guard: boolean } {
  if (natural.every((d) => d <= MAX_GROUPS_PER_DIM)) return { dispatch: natural, guard: false };
  const total = natural[0] * natural[1] * natural[2];
  const x = Math.min(total, MAX_GROUPS_PER_DIM);
  const y = Math.min(Math.ceil(total / x), MAX_GROUPS_PER_DIM);
  const z = Math.ceil(total / (x * y));
  if (z > MAX_GROUPS_PER_DIM) throw new Error(`GEMM too large to dispatch: ${total} workgroups`);
  return { dispatch: [x, y, z], guard: x * y * z !== total };
}

/** Statements locating this workgroup: `col_group`, `row_block` and `batch` from the flat index. */
function locateWorkgroup(colGroups: number, rowBlocks: number, batches: number, guard: boolean): string[] {
  const lines = ['  let group = wid.x + nwg.x * (wid.y + nwg.y * wid.z);'];
  if (guard) lines.push(`  if (group >= ${u(colGroups * rowBlocks * batches)}) { return; }`);
  lines.push(
    colGroups === 1 ? '  let col_group = 0u;' : `  let col_group = group % ${u(colGroups)};`,
    rowBlocks === 1 ? '  let row_block = 0u;' : `  let row_block = (group / ${u(colGroups)}) % ${u(rowBlocks)};`,
    batches === 1 ? '  let batch = 0u;' : `  let batch = group / ${u(colGroups * rowBlocks)};`,
  );
  return lines;
}

/** The two roles of the operands: rows (uniform across a workgroup's lanes) and columns. */
interface Side {
  axes: readonly Axis[];
  access: Access;
  size: number;
  /** Runs over this side's own axes, for this side's operand. */
  runs: Run[];
  /** Offset of the batch position in this side's operand (a WGSL expression of `batch`). */
  batchOffset: string;
}

function side(spec: GemmKernel, which: 'm' | 'n'): Side {
  const axes = which === 'm' ? spec.m : spec.n;
  const access = which === 'm' ? spec.a : spec.b;
  const batchRuns = mergeRuns(spec.batch, [access]);
  return { axes, access, size: product(axes), runs: mergeRuns(axes, [access]), batchOffset: runOffset('batch', batchRuns, 0) };
}

/** `base + extra` without the noise of zero terms. */
function plus(...terms: string[]): string {
  const t = terms.filter((s) => s !== '0u' && s !== '');
  return t.length ? t.join(' + ') : '0u';
}

// ---------------------------------------------------------------------------------------
// 'register': no workgroup memory, no barriers, an 8×8 block per invocation

function registerGemm(spec: GemmKernel): GemmWgsl {
  const M = product(spec.m);
  const N = product(spec.n);
  const batches = product(spec.batch);
  const rowsOf = (n: number) => Math.min(REGISTER_ROWS, 1 << Math.ceil(Math.log2(Math.max(1, n))));
  const colsOf = (n: number) => (n <= 4 ? 4 : REGISTER_COLS);

  // The column side varies across SIMD lanes; give it the group with more blocks so that
  // narrow products (N < 64, e.g. attention's p·v) still fill the lanes.
  const blocks = (n: number) => Math.ceil(n / REGISTER_COLS);
  const swap = blocks(N) < REGISTER_WORKGROUP && blocks(M) > blocks(N);
  const rows = side(spec, swap ? 'n' : 'm');
  const cols = side(spec, swap ? 'm' : 'n');
  const TR = rowsOf(rows.size);
  const TC = colsOf(cols.size);
  const kRuns = mergeRuns(spec.k, [rows.access, cols.access]);

  const colBlocks = Math.ceil(cols.size / TC);
  const workgroup = Math.min(REGISTER_WORKGROUP, Math.max(8, 1 << Math.ceil(Math.log2(colBlocks))));
  const colGroups = Math.ceil(colBlocks / workgroup);
  const rowBlocks = Math.ceil(rows.size / TR);
  const { dispatch, guard } = grid([colGroups, rowBlocks, batches]);

  const L: string[] = [];
  L.push(`@compute @workgroup_size(${workgroup}, 1, 1)`);
  L.push('fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lane: u32) {');
  L.push(...locateWorkgroup(colGroups, rowBlocks, batches, guard));
  L.push(`  let col0 = (col_group * ${u(workgroup)} + lane) * ${u(TC)};`);
  L.push(`  if (col0 >= ${u(cols.size)}) { return; }`);
  L.push(`  let row0 = row_block * ${u(TR)};`);
  const [rowName, colName] = swap ? ['B', 'A'] : ['A', 'B'];
  L.push(`  // This block's ${TR} rows of ${rowName} and ${TC} of ${colName} (${swap ? 'roles swapped: lanes run along m' : 'lanes run along n'}); positions past the edges are clamped, their results not stored.`);
  const rowBase = (i: number) => `row_base${i}`;
  const colBase = (j: number) => `col_base${j}`;
  const clampRow = (i: number) => (rows.size % TR === 0 ? `row0 + ${u(i)}` : `min(row0 + ${u(i)}, ${u(rows.size - 1)})`);
  const clampCol = (j: number) => (cols.size % TC === 0 ? `col0 + ${u(j)}` : `min(col0 + ${u(j)}, ${u(cols.size - 1)})`);
  for (let i = 0; i < TR; i++) {
    L.push(`  let ${rowBase(i)} = ${plus(u(rows.access.offset), rows.batchOffset, runOffset(i === 0 ? 'row0' : `(${clampRow(i)})`, rows.runs, 0))};`);
  }
  for (let j = 0; j < TC; j++) {
    L.push(`  let ${colBase(j)} = ${plus(u(cols.access.offset), cols.batchOffset, runOffset(j === 0 ? 'col0' : `(${clampCol(j)})`, cols.runs, 0))};`);
  }
  const vecs = TC / 4;
  const accName = (i: number, v: number) => `acc${i}_${v * 4}`;
  for (let i = 0; i < TR; i++) for (let v = 0; v < vecs; v++) L.push(`  var ${accName(i, v)} = vec4f(0.0);`);

  // The multiply-adds of one k step, at k offsets `kr` (rows operand) and `kc` (columns operand).
  const step = (indent: string, kr: string, kc: string): string[] => {
    const out: string[] = [];
    for (let v = 0; v < vecs; v++) {
      const loads = [0, 1, 2, 3].map((c) => `arena[${colBase(4 * v + c)} + ${kc}]`);
      out.push(`${indent}let col${v * 4} = vec4f(${loads.join(', ')});`);
    }
    for (let i = 0; i < TR; i++) {
      out.push(`${indent}let row${i} = arena[${rowBase(i)} + ${kr}];`);
      for (let v = 0; v < vecs; v++) out.push(`${indent}${accName(i, v)} = fma(vec4f(row${i}), col${v * 4}, ${accName(i, v)});`);
    }
    return out;
  };

  // k loops: one per run, outer runs fixing a base offset, the innermost stepping offsets.
  const runs = kRuns.length ? kRuns : [{ size: 1, strides: [0, 0] }];
  L.push('  // The contraction: offsets into both operands step by their k strides.');
  let indent = '  ';
  let baseR = '0u';
  let baseC = '0u';
  for (let r = 0; r < runs.length - 1; r++) {
    const k = `k${r}`;
    L.push(`${indent}for (var ${k} = 0u; ${k} < ${u(runs[r].size)}; ${k} = ${k} + 1u) {`);
    indent += '  ';
    const nr = `kr${r}`;
    const nc = `kc${r}`;
    L.push(`${indent}let ${nr} = ${plus(baseR, `${k} * ${u(runs[r].strides[0])}`)};`);
    L.push(`${indent}let ${nc} = ${plus(baseC, `${k} * ${u(runs[r].strides[1])}`)};`);
    baseR = nr;
    baseC = nc;
  }
  const inner = runs[runs.length - 1];
  L.push(`${indent}var kr = ${baseR};`);
  L.push(`${indent}var kc = ${baseC};`);
  L.push(`${indent}for (var k = 0u; k < ${u(inner.size)}; k = k + 1u) {`);
  L.push(...step(indent + '  ', 'kr', 'kc'));
  if (inner.strides[0] !== 0) L.push(`${indent}  kr = kr + ${u(inner.strides[0])};`);
  if (inner.strides[1] !== 0) L.push(`${indent}  kc = kc + ${u(inner.strides[1])};`);
  L.push(`${indent}}`);
  for (let r = runs.length - 2; r >= 0; r--) {
    indent = indent.slice(2);
    L.push(`${indent}}`);
  }

  L.push('  // Epilogue and store (store_out skips positions past the edges).');
  for (let i = 0; i < TR; i++) {
    for (let v = 0; v < vecs; v++) {
      for (let c = 0; c < 4; c++) {
        const row = i === 0 ? 'row0' : `row0 + ${u(i)}`;
        const col = v * 4 + c === 0 ? 'col0' : `col0 + ${u(v * 4 + c)}`;
        const [m, n] = swap ? [col, row] : [row, col];
        L.push(`  store_out(${accName(i, v)}.${'xyzw'[c]}, batch, ${m}, ${n});`);
      }
    }
  }
  L.push('}');
  const code = `${BINDINGS}${PRELUDE}\n${storeFunction(spec)}\n\n${L.join('\n')}\n`;
  return { code, workgroupSize: [workgroup, 1, 1], dispatch };
}

// ---------------------------------------------------------------------------------------
// 'tiled': 64×64 tiles in workgroup memory, 16×16 invocations, 4×4 outputs each

function tiledGemm(spec: GemmKernel): GemmWgsl {
  throw new Error('tiled GEMM: not yet');
}
