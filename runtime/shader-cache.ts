/**
 * Compiling a model's kernels on several cores at once on lavapipe.
 *
 * lavapipe (Mesa's Vulkan driver on the CPU) compiles a compute pipeline with LLVM when the
 * pipeline is first dispatched, on its device's one queue thread: a device compiles its kernels
 * one after another, whatever `createComputePipelineAsync` promises. Mesa keeps what it
 * compiles in its shader cache on disk, which every device of the process shares (and later
 * processes). So before the model's device compiles anything, helper devices on the same
 * adapter each compile a share of the kernels, concurrently; the model's device then finds
 * every kernel in the cache. Measured on 2 cores (issue 16): the transformer's 42 kernels take
 * 14.8–17.5 s one after another, 8.0 s on 2 helpers, then 0.3 s on the model's device.
 */
import { describeAdapter, type GpuContext, RAISED_LIMITS, snapshotInfo } from './device.js';
import { awaitGpu } from './gpu-wait.js';
import { BufferUsage, programLayouts } from './layouts.js';
import { availableThreads } from './wasm.js';

/** Environment variables this reads (a parameter, so that tests can pass their own). */
export type Env = Readonly<Record<string, string | undefined>>;

/** At most this many helper devices, whatever the cores: each brings its own driver threads. */
export const MAX_COMPILE_DEVICES = 8;

/**
 * How many helper devices should compile `kernels` kernels before the model's device does: 0
 * (compile on the model's device alone) unless the adapter is lavapipe in Node.js with Mesa's
 * shader cache on, with two helpers or more of two kernels or more each (so at least two cores
 * and four kernels). `MDLC_COMPILE_DEVICES=N` sets
 * the number (0 turns the helpers off).
 */
export function compileDevices(adapter: string, kernels: number, cores: number, env: Env, inNode: boolean): number {
  const set = env.MDLC_COMPILE_DEVICES;
  if (set !== undefined && set.trim() !== '') {
    const n = Number(set);
    if (!Number.isInteger(n) || n < 0) throw new Error(`MDLC_COMPILE_DEVICES must be a whole number ≥ 0, not '${set}'`);
    return Math.min(n, kernels);
  }
  if (!inNode || !/llvmpipe|lavapipe/i.test(adapter) || !mesaCacheOn(env)) return 0;
  const n = Math.min(cores, MAX_COMPILE_DEVICES, Math.floor(kernels / 2));
  return n >= 2 ? n : 0;
}

/**
 * Whether Mesa keeps compiled shaders on disk: unless MESA_SHADER_CACHE_DISABLE (or the older
 * MESA_GLSL_CACHE_DISABLE) is set to something other than Mesa's false values.
 */
export function mesaCacheOn(env: Env): boolean {
  const off = env.MESA_SHADER_CACHE_DISABLE ?? env.MESA_GLSL_CACHE_DISABLE;
  return off === undefined || /^(0|n|no|f|false)$/i.test(off.trim());
}

/**
 * What a kernel costs lavapipe to compile, roughly: its memory accesses (each becomes per-lane
 * code with bounds checks; the transformer's kernels take 0.4–1.8 s in proportion to them).
 */
export function compileCost(code: string): number {
  return 1 + (code.match(/arena/g)?.length ?? 0);
}

/**
 * `items` in at most `n` shares of about equal total cost: the costliest first, each to the
 * share with the least so far (so one long kernel does not keep the others waiting).
 */
export function shares<T>(items: readonly T[], n: number, cost: (x: T) => number): T[][] {
  const out: { items: T[]; total: number }[] = Array.from({ length: Math.min(n, items.length) }, () => ({ items: [], total: 0 }));
  const byCost = items.map((x) => ({ x, c: cost(x) })).sort((a, b) => b.c - a.c);
  for (const { x, c } of byCost) {
    const least = out.reduce((a, b) => (b.total < a.total ? b : a));
    least.items.push(x);
    least.total += c;
  }
  return out.map((s) => s.items);
}

export interface WarmResult {
  /** Helper devices that compiled kernels (0: none were used). */
  devices: number;
  /** Kernels they compiled. */
  kernels: number;
  seconds: number;
}

/** Helper devices at work: `done` settles when they have compiled everything and are destroyed. */
export interface ShaderCacheWarming {
  done: Promise<WarmResult>;
}

/**
 * Compile `kernels` (WGSL with entry point `main`, the bind group layouts of plan.ts and the
 * generated model) on helper devices of `ctx`'s adapter, concurrently, so that Mesa's shader
 * cache holds them before `ctx.device` compiles them. Does nothing where compileDevices says
 * 0. A helper's errors are dropped: the model's own device compiles the same code and reports
 * them.
 */
export async function warmShaderCache(ctx: GpuContext, kernels: readonly string[], env: Env = processEnv()): Promise<WarmResult> {
  // Awaited without Dawn's polling, which would take a core from the compiles (gpu-wait.ts).
  return awaitGpu((await startShaderCacheWarming(ctx, kernels, env)).done);
}

/**
 * warmShaderCache in two halves: this resolves once every helper device exists and has its
 * kernels submitted (lavapipe's queue threads then compile without the JavaScript thread), so
 * that the caller can do other work, such as writing the generated program, before awaiting
 * `done`.
 */
export async function startShaderCacheWarming(ctx: GpuContext, kernels: readonly string[], env: Env = processEnv()): Promise<ShaderCacheWarming> {
  const t0 = performance.now();
  const inNode = !!(globalThis as { process?: { versions?: { node?: string } } }).process?.versions?.node;
  const n = ctx.gpu ? compileDevices(ctx.description, kernels.length, await availableThreads(), env, inNode) : 0;
  if (n === 0 || !ctx.gpu) return { done: Promise.resolve({ devices: 0, kernels: 0, seconds: 0 }) };
  const gpu = ctx.gpu;
  const parts = shares(kernels, n, compileCost);
  const submitted = await awaitGpu(Promise.all(parts.map((part) => submitOnHelper(gpu, ctx, part))));
  const done = Promise.all(submitted.map((h) => h?.finished)).then(() => ({
    devices: submitted.filter((h) => h).length,
    kernels: parts.filter((_, i) => submitted[i]).reduce((a, p) => a + p.length, 0),
    seconds: (performance.now() - t0) / 1000,
  }));
  return { done };
}

/**
 * One helper device with each of `codes` compiled into a pipeline and dispatched once, all
 * submitted; `finished` settles when the queue has run them and the device is destroyed.
 * Undefined if the device could not be made.
 */
async function submitOnHelper(gpu: GPU, ctx: GpuContext, codes: readonly string[]): Promise<{ finished: Promise<void> } | undefined> {
  const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' }).catch(() => null);
  if (!adapter) return undefined;
  // The same adapter, limits and features as the model's device: what lavapipe compiles (and
  // the cache's key) must not differ.
  if (describeAdapter(snapshotInfo(adapter)) !== ctx.description) return undefined;
  const requiredLimits: Record<string, number> = {};
  for (const name of RAISED_LIMITS) requiredLimits[name] = ctx.limits[name];
  const requiredFeatures = [...ctx.features].filter((f) => adapter.features.has(f)) as GPUFeatureName[];
  const device = await adapter.requestDevice({ label: 'mdlc shader cache', requiredLimits, requiredFeatures }).catch(() => null);
  if (!device) return undefined;
  device.addEventListener('uncapturederror', (event: Event) => event.preventDefault());
  try {
    const layouts = programLayouts(device);
    // Buffers only big enough to bind: one workgroup over zero offsets, accesses clamped.
    const groups = [
      device.createBindGroup({ layout: layouts.arenas, entries: [0, 1].map((binding) => ({ binding, resource: { buffer: device.createBuffer({ size: 4096, usage: BufferUsage.STORAGE }) } })) }),
      device.createBindGroup({ layout: layouts.offsets, entries: [{ binding: 0, resource: { buffer: device.createBuffer({ size: 4096, usage: BufferUsage.UNIFORM }), size: 4096 } }] }),
    ];
    const encoder = device.createCommandEncoder();
    const pass = encoder.beginComputePass();
    pass.setBindGroup(0, groups[0]);
    pass.setBindGroup(1, groups[1], [0]);
    for (const code of codes) {
      pass.setPipeline(device.createComputePipeline({ layout: layouts.pipeline, compute: { module: device.createShaderModule({ code }), entryPoint: 'main' } }));
      pass.dispatchWorkgroups(1);
    }
    pass.end();
    device.queue.submit([encoder.finish()]);
  } catch {
    // A helper only saves time: whatever fails here, the model's device does the work.
    device.destroy();
    return undefined;
  }
  const finished = device.queue.onSubmittedWorkDone().then(
    () => device.destroy(),
    () => device.destroy(),
  );
  return { finished };
}

function processEnv(): Env {
  return (globalThis as { process?: { env?: Env } }).process?.env ?? {};
}
