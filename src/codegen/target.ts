/**
 * Targets: the choices of the code generator that depend on the adapter, in one place. A
 * build is for one target, chosen from the adapter (`targetFor`): `cpu` for adapters that run
 * compute shaders on the CPU (Mesa's lavapipe/llvmpipe, SwiftShader), `gpu` for the rest.
 * Every number here was measured on lavapipe (BENCHMARKS.md has the history) unless it says
 * otherwise; none has been measured on a GPU yet.
 */

/** `register` and `tiled` are WGSL GEMMs (wgsl/gemm.ts); `packed` is the wasm renderer's (wasm/gemm.ts). */
export type GemmVariant = 'register' | 'tiled' | 'packed';

/** How the register GEMM (wgsl/gemm.ts) blocks its outputs. */
export interface RegisterGemmRules {
  /** Output rows per invocation for a GEMM of `rows` rows (uniform across the lanes of a workgroup). */
  rowsPerInvocation(rows: number): number;
  /** Invocations per workgroup for `colBlocks` blocks of columns (one block per invocation). */
  lanes(colBlocks: number): number;
}

export interface Target {
  name: 'cpu' | 'gpu' | 'wasm';
  /**
   * GEMM kernels: `register` (no workgroup memory, no barriers: barriers are ruinous where a
   * workgroup runs on one CPU thread) or `tiled` (64×64 tiles staged through workgroup memory).
   */
  gemm: GemmVariant;
  register: RegisterGemmRules;
  /** Invocations per workgroup of the one-invocation-per-element kernels (maps, reductions, rows, scatter). */
  workgroupSize(invocations: number): number;
  /** Stores of all the maps that `combine-maps` runs as one dispatch, at most. */
  combineMaxStores: number;
  /** Maps with more stores stay one element per invocation rather than four (vec4). */
  vec4MaxStores: number;
}

/**
 * lavapipe's register GEMM rows: 8 per invocation (16 vec4 accumulators). 16 had measured
 * 8–14 % faster on the transformer's large GEMMs (2-core AMD EPYC, before runtime/gpu-wait.ts);
 * on the 2-core Intel Xeon of issue 16 a whole step runs as fast with 8 (1 % apart over five
 * interleaved pairs, within their spread) and the kernels compile in about half the time: the
 * first step with an empty shader cache 7.6 → 5.8 s. 4 rows are 18 % slower.
 * Workgroups: a row of 16 invocations, or 8 where there are at most 8 column blocks.
 */
const LAVAPIPE_REGISTER: RegisterGemmRules = {
  rowsPerInvocation: () => 8,
  lanes: (colBlocks) => (colBlocks <= 8 ? 8 : 16),
};

/**
 * Adapters that run shaders on CPU threads (lavapipe, llvmpipe, SwiftShader). lavapipe runs a
 * workgroup on one thread, as SIMD lanes of 8: a kernel of fewer than 256 invocations gets
 * workgroups of 8, so that it spreads over the cores (a bias gradient over 128 columns would
 * otherwise use one core). Its LLVM compiles long, branchy kernels very slowly: six optimizer
 * updates in one map took 198 s to compile against about 1 s each, so at most 8 stores are
 * combined into one dispatch; vec4 bodies with more than 16 stores compiled several times
 * slower (30 s against 9 s) than scalar ones.
 */
export const CPU_TARGET: Target = {
  name: 'cpu',
  gemm: 'register',
  register: LAVAPIPE_REGISTER,
  workgroupSize: (invocations) => (invocations >= 4 * 64 ? 64 : 8),
  combineMaxStores: 8,
  vec4MaxStores: 16,
};

/**
 * GPUs: tiled GEMMs in workgroup memory, and workgroups of 64 for every other kernel (a GPU
 * runs a workgroup on SIMD units of 32 or 64 lanes, so smaller ones would leave lanes idle).
 * The store limits are the CPU target's: they bound compile time, which has not been measured
 * on a GPU driver.
 */
export const GPU_TARGET: Target = {
  name: 'gpu',
  gemm: 'tiled',
  register: LAVAPIPE_REGISTER,
  workgroupSize: () => 64,
  combineMaxStores: 8,
  vec4MaxStores: 16,
};

/**
 * The wasm renderer (wasm/): the same passes and fusion decisions as the CPU target, except
 * that its GEMMs pack their operands into panels, which reads any layout as fast as another:
 * no transposed copies of weights or activations (transposed-params and activation-copies
 * apply to register GEMMs only). The WGSL-only fields are the CPU target's.
 */
export const WASM_TARGET: Target = { ...CPU_TARGET, name: 'wasm', gemm: 'packed' };

/** The target for an adapter (`isSoftware`: it runs shaders on the CPU), with the GEMM variant `gemm` if given (`--gemm`). */
export function targetFor(adapter: { isSoftware: boolean }, gemm?: GemmVariant): Target {
  const t = adapter.isSoftware ? CPU_TARGET : GPU_TARGET;
  return gemm === undefined || gemm === t.gemm ? t : { ...t, gemm };
}
