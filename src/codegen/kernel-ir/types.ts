/**
 * The kernel IR: what the passes (passes/) build and rewrite and the WGSL generators (wgsl/)
 * render. A kernel describes itself: its iteration space and expressions, and the values it
 * reads and writes and the temporaries it owns, so a pass never keeps side tables in step.
 *
 * Memory model: every value lives in one of two arenas, a storage buffer of f32 (`arena`)
 * and one of i32 (`iarena`) for indices and masks, each bound once per kernel. A value is a
 * region of an arena: an offset plus row-major strides over its axes. Views (renames and
 * broadcasts) are just other strides over the same region, so they never cost a kernel.
 * One binding per arena means no binding-count limits and no aliasing rules to satisfy;
 * the buffer planner guarantees that a kernel never writes a region it also reads (except
 * the same element, for in-place parameter updates).
 */
import type { Axis, BinaryFn, CompareFn, DType, ReduceFn, UnaryFn } from '../../ir/types.js';
import type { ValueTable } from './ids.js';

export type Arena = 'f32' | 'i32';

/**
 * A stored value's id: an IR node id, or an id the value table (values.ts) gave a value the
 * compiler made (a temporary, a copy in another layout). The buffer planner gives each id a
 * region; ids are distinct by construction.
 */
export type ValueId = number;

/** A tensor stored in an arena: the value it holds and its layout (row-major over `axes`). */
export interface Value {
  node: ValueId;
  arena: Arena;
  axes: readonly Axis[];
  size: number;
}

/**
 * Where a kernel reads a region's start when it is not a literal: slot `slot` of the
 * dispatch's offsets uniform (so that the same kernel serves every layer), or the local that
 * holds slot `slot` of a segmented kernel's current segment.
 */
export type OffsetRef = { in: 'uniform'; slot: number } | { in: 'segment'; slot: number };

/** Where a tensor lives: `arena[offset + Σ index(axis) * stride(axis)]`. */
export interface Access {
  arena: Arena;
  /** The stored value accessed. The buffer planner sets `offset` from it. */
  value: ValueId;
  /** Element offset of the region in its arena. */
  offset: number;
  /** Set when the kernel reads the offset at run time instead (`offset` is then the region it stands for). */
  base?: OffsetRef;
  /** Stride per iteration axis (by axis id); axes absent here are broadcast (stride 0). */
  strides: ReadonlyMap<number, number>;
}

/** An expression evaluated per element of a kernel's iteration space. */
export type KExpr =
  | { k: 'load'; access: Access; dtype: DType }
  /** Read a table at the position held by `index` along the table's `axis`: a gather. */
  | { k: 'gather'; access: Access; dtype: DType; axis: Axis; index: KExpr }
  | { k: 'const'; value: number; dtype: Arena }
  /** The current position along an iteration axis. */
  | { k: 'iota'; axis: Axis }
  | { k: 'unary'; fn: UnaryFn; x: KExpr }
  | { k: 'binary'; fn: BinaryFn; a: KExpr; b: KExpr; dtype: Arena }
  | { k: 'compare'; fn: CompareFn; a: KExpr; b: KExpr }
  | { k: 'where'; c: KExpr; a: KExpr; b: KExpr }
  | { k: 'cast'; to: DType; from: DType; x: KExpr }
  /** The accumulator of a contraction, in a GEMM epilogue. */
  | { k: 'acc' }
  /** A value computed earlier in the same invocation (row kernels: a per-row reduction). */
  | { k: 'local'; name: string };

/** A tensor a kernel writes: region + strides over the kernel's iteration axes. */
export interface Store {
  access: Access;
  value: KExpr;
  /** IR node ids whose values this store materialises (for comments and the report). */
  nodes: number[];
}

interface KernelBase {
  /** Stable name, used for the .wgsl file and the pipeline. */
  name: string;
  /** IR nodes this kernel computes (for the comment at the top of the .wgsl file). */
  nodes: number[];
  /** `.mdl` lines they came from. */
  lines: string[];
  /** The stored values it reads (for liveness and hazards). */
  reads: ValueId[];
  /** The stored values it writes, in the order the buffer planner places them. */
  writes: ValueId[];
  /** Values it writes that are no IR node, live until their last reader (cross-entropy's per-row terms). */
  temps?: Value[];
}

/** One invocation per element of `axes` (in this order, last fastest); every store shares it. */
export interface MapKernel extends KernelBase {
  kind: 'map';
  axes: Axis[];
  stores: Store[];
}

/** One invocation per element of `axes`, looping over `over` to reduce `value`. */
export interface ReduceKernel extends KernelBase {
  kind: 'reduce';
  axes: Axis[];
  over: Axis[];
  fn: ReduceFn;
  value: KExpr;
  out: Access;
  /** Sibling reductions over the same axes, computed in the same loop (one accumulator each). */
  siblings?: { fn: ReduceFn; value: KExpr; out: Access; nodes: number[] }[];
}

/**
 * Softmax along `axis`, one invocation per row (the other axes): three passes over the row
 * (max, sum of exp, write), the input expression recomputed in each.
 */
export interface SoftmaxKernel extends KernelBase {
  kind: 'softmax';
  axes: Axis[];
  axis: Axis;
  value: KExpr;
  out: Access;
  /** More outputs computed from the softmax at the same element (`acc`), as for GEMMs. */
  extra?: { access: Access; value: KExpr; nodes: number[] }[];
}

/** Per-row cross-entropy terms logsumexp(row) − row[target], one invocation per row. */
export interface CrossEntropyRowsKernel extends KernelBase {
  kind: 'ce_rows';
  axes: Axis[];
  axis: Axis;
  logits: KExpr;
  /** The target index at the row (an i32 expression). */
  target: KExpr;
  out: Access;
}

/**
 * Deterministic scatter-add: one invocation per output element [axis, rest...] loops over
 * every index position and sums the values whose index equals its row (no atomics).
 */
export interface ScatterKernel extends KernelBase {
  kind: 'scatter';
  /** Output axes: [axis, ...rest]. */
  axes: Axis[];
  axis: Axis;
  /** The index positions looped over. */
  positions: Axis[];
  index: KExpr;
  value: KExpr;
  out: Access;
}

/**
 * Batched GEMM: C[batch, M, N] = Σ_K A[batch, M, K] · B[batch, N, K], each axis group
 * possibly several axes, operands read through strides (no transposes), and an epilogue
 * expression (`acc` is the sum) stored through `out`'s strides.
 */
export interface GemmKernel extends KernelBase {
  kind: 'gemm';
  batch: Axis[];
  m: Axis[];
  n: Axis[];
  k: Axis[];
  a: Access;
  b: Access;
  epilogue: KExpr;
  out: Access;
  /**
   * More outputs computed from the output value at the same element (`acc` in `value` is the
   * stored output, epilogue applied): an elementwise map that followed the GEMM, e.g. `h =
   * gelu(pre)` next to the pre-activation the backward pass needs.
   */
  extra?: { access: Access; value: KExpr; nodes: number[] }[];
  /**
   * Only k positions at or below (`le`), or at or above (`ge`), the output's position along
   * free axis `row` contribute: an operand is exactly zero elsewhere (a causal mask; passes/causal-gemms.ts).
   * A generator may skip the others or compute them.
   */
  kRange?: { row: number; keep: 'le' | 'ge' };
}

/**
 * Sums of squares of whole regions, invocation i summing region i (the per-parameter terms
 * of the global gradient norm): one small loop whatever the number of regions, so it
 * compiles fast and costs one dispatch.
 */
export interface SumSquaresKernel extends KernelBase {
  kind: 'sum_squares';
  parts: { input: Access; size: number; out: Access }[];
}

/**
 * Row fusion: one invocation per row (the `rows` axes) runs phases in order, each a loop over
 * `axis`: a reduction to a per-row value, or a map writing the row's elements. Later phases
 * read what earlier ones wrote for the same row, so a layernorm (mean, centre, variance,
 * normalise) or a softmax backward (sum, then scale) is one dispatch.
 */
export interface RowKernel extends KernelBase {
  kind: 'rows';
  rows: Axis[];
  axis: Axis;
  phases: (ReduceKernel | MapKernel)[];
}

/** Independent maps over different axes run as one dispatch, each on its own range of invocations. */
export interface MultiMapKernel extends KernelBase {
  kind: 'maps';
  parts: MapKernel[];
}

/**
 * One elementwise body run over the regions of several tensors of any sizes in one dispatch:
 * the optimizer's update of every parameter. Segment s covers its own range of invocations;
 * the offsets of its regions, the constants that differ between segments and its transposed
 * copy's shape come from a table (the dispatch's offsets uniform, row s), so a model with any
 * number of parameters needs one small kernel instead of a body per parameter.
 */
export interface SegmentedMapKernel extends KernelBase {
  kind: 'segmented';
  /** Elements per invocation: 4 (read and written as vec4s) when every segment's size is a multiple of 4, else 1. */
  lanes: 1 | 4;
  /** The position within a segment, the body's only axis (its `size` is not used). */
  flat: Axis;
  /**
   * The body, in order: each stores `value` into table slot `slot` at the element. Loads read
   * slot j through an access whose `base` is `{ in: 'segment', slot: j }` (stride 1 along `flat`,
   * or none: a scalar); constants that differ between segments are locals `c0`, `c1`, ….
   */
  stores: { slot: number; value: KExpr; nodes: number[] }[];
  /** The value of store `of`, also written transposed into slot `slot`: element (r, c) of a rows × cols view goes to (c, r). Segments with cols = 0 have no copy. */
  transposedCopy?: { of: number; slot: number };
  segments: SegmentRow[];
}

/** One segment of a SegmentedMapKernel: its size and its row of the table. */
export interface SegmentRow {
  /** Elements. */
  size: number;
  /** The region of each slot (the buffer planner fills in the offsets). */
  slots: Access[];
  /** Values of the constants `c0`, `c1`, … . */
  consts: number[];
  /** The rows × cols view of the transposed copy (0 × 0: none). */
  rows: number;
  cols: number;
}

/** The kernels of one entry point (training step, evaluation, forward pass), in dispatch order. */
export interface Schedule {
  kernels: Kernel[];
  /** Every stored value by id (shared by the entry points of a program). */
  values: ValueTable;
}

export type Kernel = MapKernel | ReduceKernel | SoftmaxKernel | CrossEntropyRowsKernel | ScatterKernel | GemmKernel | SumSquaresKernel | RowKernel | MultiMapKernel | SegmentedMapKernel;
