/**
 * Compiling a model's kernels on several cores at once on lavapipe.
 *
 * lavapipe (Mesa's Vulkan driver on the CPU) compiles a compute pipeline with LLVM when the
 * pipeline is first dispatched, on its device's one queue thread: a device compiles its kernels
 * one after another, whatever `createComputePipelineAsync` promises. Mesa keeps what it
 * compiles in its shader cache on disk, which every device of the process shares (and later
 * processes). So before the model's device compiles anything, helper devices on the same
 * adapter compile the kernels, concurrently, the training step's first; the model's device
 * then finds them in the cache, and evaluation's and sampling's own are compiled while the
 * first steps run. Measured on 2 cores (issue 16): the transformer's 42 kernels take 11.9 s
 * one after another, 5.6 s on 2 helpers, then 0.25 s on the model's device.
 */
import { describeAdapter, type GpuContext, RAISED_LIMITS, snapshotInfo } from './device.js';
import { awaitGpu } from './gpu-wait.js';
import { BufferUsage, programLayouts, type ProgramLayouts } from './layouts.js';
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

/** The part of the first kernels' cost that helpers are handed at once (see warmingSchedule). */
export const UPFRONT_SHARE = 0.6;

/**
 * Who compiles what, in which order, on `n` helpers: `upfront[i]` is submitted to helper i at
 * once; `queue` is taken from in order by whichever helper runs short of work. The upfront
 * shares cover `upfront` of `first`'s cost (costliest first, each to the helper with the
 * least so far, at least one each), so that the helpers stay busy while the JavaScript thread
 * does other work (writing the generated program) and cannot hand out more; the queue holds the
 * rest of `first`, costliest first, then `later`, costliest first, so that the helpers end
 * `first` at about the same time whatever each kernel really costs, and `later` after it.
 */
export function warmingSchedule<T>(first: readonly T[], later: readonly T[], n: number, cost: (x: T) => number, upfront = UPFRONT_SHARE): { upfront: T[][]; queue: T[] } {
  const byCost = (xs: readonly T[]) => xs.map((x) => ({ x, c: cost(x) })).sort((a, b) => b.c - a.c);
  const sorted = byCost(first);
  const helpers = Array.from({ length: Math.max(0, Math.min(n, sorted.length)) }, () => ({ items: [] as T[], total: 0 }));
  const budget = (upfront * sorted.reduce((a, e) => a + e.c, 0)) / Math.max(1, helpers.length);
  const queue: T[] = [];
  for (const { x, c } of sorted) {
    const least = helpers.reduce<(typeof helpers)[number] | undefined>((a, b) => (!a || b.total < a.total ? b : a), undefined);
    if (least && (least.items.length === 0 || least.total + c <= budget)) {
      least.items.push(x);
      least.total += c;
    } else queue.push(x);
  }
  queue.push(...byCost(later).map((e) => e.x));
  return { upfront: helpers.map((h) => h.items), queue };
}

export interface WarmResult {
  /** Helper devices that compiled kernels (0: none were used). */
  devices: number;
  /** Kernels they compiled. */
  kernels: number;
  seconds: number;
}

/** Helper devices at work. */
export interface ShaderCacheWarming {
  /** Settles when the kernels asked for first are in the cache (or no helper will compile them). */
  first: Promise<WarmResult>;
  /** Settles when every kernel is, and the helpers are destroyed. */
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
 * upfront share submitted (lavapipe's queue threads then compile without the JavaScript thread),
 * so that the caller can do other work, such as writing the generated program, before awaiting
 * `first` or `done`. `later` (kernels that the first training step does not run: evaluation's,
 * sampling's) are compiled after `kernels`, while the model's device starts.
 */
export async function startShaderCacheWarming(ctx: GpuContext, kernels: readonly string[], env: Env = processEnv(), later: readonly string[] = []): Promise<ShaderCacheWarming> {
  const t0 = performance.now();
  const inNode = !!(globalThis as { process?: { versions?: { node?: string } } }).process?.versions?.node;
  const n = ctx.gpu ? compileDevices(ctx.description, kernels.length + later.length, await availableThreads(), env, inNode) : 0;
  const nothing = Promise.resolve({ devices: 0, kernels: 0, seconds: 0 });
  if (n === 0 || !ctx.gpu) return { first: nothing, done: nothing };
  const gpu = ctx.gpu;
  const schedule = warmingSchedule(
    kernels.map((code) => ({ code, first: true })),
    later.map((code) => ({ code, first: false })),
    n,
    (k) => compileCost(k.code),
  );
  // Helpers beyond the upfront shares (fewer first kernels than helpers) start on the queue.
  const upfront = Array.from({ length: Math.min(n, kernels.length + later.length) }, (_, i) => schedule.upfront[i] ?? []);
  const helpers = (await awaitGpu(Promise.all(upfront.map(() => HelperDevice.open(gpu, ctx))))).filter((h): h is HelperDevice => !!h);
  const result = (count: number) => ({ devices: helpers.length, kernels: count, seconds: (performance.now() - t0) / 1000 });
  if (!helpers.length) return { first: nothing, done: nothing };
  // A share whose helper could not be made goes to the queue's front.
  const queue = [...upfront.slice(helpers.length).flat(), ...schedule.queue];
  let firstLeft = kernels.length;
  let compiled = 0;
  let resolveFirst!: (r: WarmResult) => void;
  const first = new Promise<WarmResult>((resolve) => (resolveFirst = resolve));
  if (firstLeft === 0) resolveFirst(result(0));
  const finished = (k: { first: boolean }) => {
    compiled++;
    if (k.first && --firstLeft === 0) resolveFirst(result(compiled));
  };
  const runs = helpers.map((helper, i) => helper.run(upfront[i], queue, finished));
  const done = Promise.all(runs).then(() => {
    // Kernels left to no helper (all failed): nothing more will come.
    resolveFirst(result(compiled));
    return result(compiled);
  });
  return { first, done };
}

/**
 * A helper device: the same adapter, limits and features as the model's, whose queue compiles
 * the kernels handed to it (each compiled into a pipeline and dispatched once).
 *
 * Creating a pipeline on a lavapipe device waits while that device's queue thread compiles
 * (measured: 0.5 s behind a GEMM, against 8 ms on an idle queue), so a helper creates the
 * pipelines of its upfront share all before submitting them, and later ones one at a time,
 * each when its queue has finished the one before.
 */
class HelperDevice {
  private constructor(
    private readonly device: GPUDevice,
    private readonly layouts: ProgramLayouts,
    private readonly groups: GPUBindGroup[],
  ) {}

  static async open(gpu: GPU, ctx: GpuContext): Promise<HelperDevice | undefined> {
    const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' }).catch(() => null);
    if (!adapter) return undefined;
    // What lavapipe compiles (and the cache's key) must not differ from the model's device.
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
      return new HelperDevice(device, layouts, groups);
    } catch {
      device.destroy();
      return undefined;
    }
  }

  /**
   * Compile `codes` in one submit: settles when the queue has run their dispatches, whether or
   * not they compiled (a helper only saves time: the model's device compiles the same code and
   * reports what fails).
   */
  private compile(codes: readonly string[]): Promise<void> {
    try {
      const encoder = this.device.createCommandEncoder();
      const pass = encoder.beginComputePass();
      pass.setBindGroup(0, this.groups[0]);
      pass.setBindGroup(1, this.groups[1], [0]);
      for (const code of codes) {
        pass.setPipeline(this.device.createComputePipeline({ layout: this.layouts.pipeline, compute: { module: this.device.createShaderModule({ code }), entryPoint: 'main' } }));
        pass.dispatchWorkgroups(1);
      }
      pass.end();
      this.device.queue.submit([encoder.finish()]);
    } catch {
      return Promise.resolve();
    }
    return this.device.queue.onSubmittedWorkDone().then(
      () => undefined,
      () => undefined,
    );
  }

  /**
   * Compile `own` (submitted at once), then take from `queue` (shared with the other helpers)
   * one kernel at a time until it is empty; `finished` hears of each kernel. Settles when this
   * device's work is done, and destroys the device.
   */
  async run<K extends { code: string }>(own: readonly K[], queue: K[], finished: (k: K) => void): Promise<void> {
    if (own.length) {
      await this.compile(own.map((k) => k.code));
      own.forEach(finished);
    }
    for (let k = queue.shift(); k; k = queue.shift()) {
      await this.compile([k.code]);
      finished(k);
    }
    this.device.destroy();
  }
}

function processEnv(): Env {
  return (globalThis as { process?: { env?: Env } }).process?.env ?? {};
}
