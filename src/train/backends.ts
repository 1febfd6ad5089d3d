/**
 * Choosing and opening a backend for a compiled model: `webgpu` (the model built into a
 * directory, its generated model.js loaded on the adapter), `wasm` (the same kernel schedule
 * compiled to WebAssembly, run on worker threads) or `interpreter` (the reference
 * interpreter). Training, sampling and scoring all start here.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { buildLimitsOf, planBuild, targetFor, writeBuild, type BuildLimits, type BuildResult, type GemmVariant, type Target } from '../codegen/index.js';
import { planWasmProgram, type WasmPlan } from '../codegen/wasm/program.js';
import type { ElaboratedModel } from '../ir/elaborate/model.js';
import type { TrainStep } from '../ir/optimizer/index.js';
import type { TrainBackend, TrainSpec } from '../../runtime/backend.js';
import type { ModelMeta } from '../../runtime/checkpoint.js';
import { acquireDevice, WebGpuUnavailableError, type GpuContext } from '../../runtime/device.js';
import type { ShaderCacheWarming } from '../../runtime/shader-cache.js';
import { stepKernels } from '../../runtime/plan.js';
import { availableThreads, WasmBackend, wasmProgramToJson } from '../../runtime/wasm.js';
import { startWarming, WebGpuBackend, type GeneratedModule } from '../../runtime/webgpu.js';
import { CpuBackend } from './cpu.js';
import { checkWasmMemory } from './memory.js';
import { compileForRows } from './compile.js';
import type { TrainSession } from './session.js';

export type BackendKind = 'webgpu' | 'wasm' | 'interpreter';

/** What `--backend` accepts: a kind, or `cpu`, the fastest CPU backend (wasm). */
export type BackendChoice = BackendKind | 'cpu';

/** Set (to anything but 0) to hide every WebGPU adapter from the backend chooser, as on a machine without a GPU or lavapipe. */
export const NO_WEBGPU_ENV = 'MDLC_NO_WEBGPU';

export interface Adapter {
  ctx: GpuContext;
  /** What to build for (codegen/target.ts). */
  target: Target;
  limits: Partial<BuildLimits>;
}

/** The WebGPU adapter, with the target and the limits to build for; undefined when there is none (or MDLC_NO_WEBGPU hides it). */
export async function findAdapter(env: NodeJS.ProcessEnv = process.env): Promise<Adapter | undefined> {
  if (env[NO_WEBGPU_ENV] && env[NO_WEBGPU_ENV] !== '0') return undefined;
  let ctx: GpuContext;
  try {
    ctx = await acquireDevice();
  } catch (e) {
    if (e instanceof WebGpuUnavailableError) return undefined;
    throw e;
  }
  return { ctx, target: targetFor(ctx), limits: buildLimitsOf(ctx.limits) };
}

export interface Chosen {
  kind: BackendKind;
  /** The adapter, for webgpu (owned by the caller from here on). */
  adapter?: Adapter;
  /** Why it was chosen, when no backend was asked for and it is not a GPU: one line for the user. */
  note?: string;
}

/**
 * The backend to run on: the one asked for (`cpu` is wasm), or else a hardware WebGPU
 * adapter where there is one, and wasm otherwise: on CPUs it trains faster than WebGPU on a
 * software adapter such as lavapipe (measured on this project's machines: BENCHMARKS.md).
 * `keepWebGpu`: a run trained on WebGPU resumes on any adapter there is.
 */
export async function chooseBackend(requested?: BackendChoice, env: NodeJS.ProcessEnv = process.env, keepWebGpu = false): Promise<Chosen> {
  if (requested === 'cpu') return { kind: 'wasm' };
  if (requested === 'wasm' || requested === 'interpreter') return { kind: requested };
  const adapter = await findAdapter(env);
  if (adapter && keepWebGpu) return { kind: 'webgpu', adapter };
  if (requested === 'webgpu') {
    if (!adapter) throw new WebGpuUnavailableError(env[NO_WEBGPU_ENV] && env[NO_WEBGPU_ENV] !== '0' ? `${NO_WEBGPU_ENV} is set` : undefined);
    return { kind: 'webgpu', adapter };
  }
  if (adapter && !adapter.ctx.isSoftware) return { kind: 'webgpu', adapter };
  if (adapter) {
    const name = adapter.ctx.description;
    adapter.ctx.destroy();
    return { kind: 'wasm', note: `the WebGPU adapter is a software one (${name}); the wasm backend is faster on CPUs (--backend webgpu uses the adapter)` };
  }
  return { kind: 'wasm', note: 'no WebGPU adapter (no GPU)' };
}

export interface OpenOptions {
  seed: number;
  /** webgpu and wasm: where the build goes, and the source path named in its headers. */
  buildDir?: string;
  sourcePath?: string;
  meta?: Omit<ModelMeta, 'vocab'>;
  adapter?: Adapter;
  gemm?: GemmVariant;
  /** wasm: worker threads (default: the cores available). */
  threads?: number;
}

export type Opened = { backend: TrainBackend; build?: BuildResult } | { backend?: undefined; build: BuildResult };

/**
 * A backend for `model`, initialised from `seed`. For webgpu the model is built first; a build
 * that does not fit the adapter's limits comes back with its diagnostics and no backend. For
 * wasm the program is planned (and written into `buildDir` when given). The adapter is owned
 * by the backend from here on.
 */
export async function openBackend(kind: BackendKind, model: ElaboratedModel, step: TrainStep, options: OpenOptions): Promise<Opened> {
  if (kind === 'interpreter') return { backend: new CpuBackend(model, step, options.seed) };
  if (kind === 'wasm') {
    const plan = planWasmProgram(model, { step });
    const threads = options.threads ?? (await availableThreads());
    const p = plan.program;
    const tooLarge = checkWasmMemory(p.staticBytes + threads * p.scratchPerThread, threads, options.sourcePath ?? `${model.name}.mdl`);
    if (tooLarge) return { build: { diagnostics: [tooLarge], files: [] } };
    if (options.buildDir) writeWasmBuild(plan, options.buildDir);
    return { backend: await WasmBackend.open(p, { seed: options.seed, threads }) };
  }
  const adapter = options.adapter ?? (await findAdapter());
  if (!adapter) throw new WebGpuUnavailableError();
  const outDir = options.buildDir ?? join('build', model.name);
  const buildOptions = { outDir, target: options.gemm ? targetFor(adapter.ctx, options.gemm) : adapter.target, limits: adapter.limits, meta: options.meta, step };
  const planned = planBuild(model, buildOptions);
  if (!planned.plan) {
    adapter.ctx.destroy();
    return { build: { diagnostics: planned.diagnostics, files: [] } };
  }
  // On lavapipe, helper devices compile the kernels while the generated program is written.
  let warming: ShaderCacheWarming;
  try {
    const plan = planned.plan;
    warming = await startWarming(adapter.ctx, { KERNELS: Object.fromEntries(plan.kernels.map((k) => [k.name, k.code])), STEP_KERNELS: stepKernels(plan.entries) });
  } catch (e) {
    adapter.ctx.destroy();
    throw e;
  }
  const built = writeBuild(model, options.sourcePath ?? `${model.name}.mdl`, buildOptions, planned.plan, planned.step);
  // A query per load: Node caches modules by URL, and this directory may be rebuilt in one process.
  const module = (await import(`${pathToFileURL(join(outDir, 'model.js')).href}?build=${Date.now()}`)) as GeneratedModule;
  const backend = await WebGpuBackend.open(module, { seed: options.seed, gpu: adapter.ctx, ownsDevice: true, warming });
  return { backend, build: built };
}

/** Where trainLoop draws validation samples (its `samples.on`), and how to let it go. */
export interface Sampler {
  on(training: TrainBackend): Promise<{ backend: TrainBackend; spec: TrainSpec }>;
  destroy(): void;
}

/**
 * Where to draw `rows` validation samples at once: the session's model compiled for `rows`
 * rows of a batch (compileForRows), so that each token's forward pass costs rows/batch of a
 * training batch's. Opened at the first evaluation (not before the first step); `on` copies
 * the training backend's parameters into it each time. Where that is not fewer rows, or the
 * model cannot be compiled or opened so, the training backend draws them. wasm and the
 * interpreter only: on WebGPU it would be a second program to build and compile.
 */
export function samplerFor(kind: 'wasm' | 'interpreter', session: TrainSession, rows: number, options: { threads?: number } = {}): Sampler {
  type Mine = { backend: TrainBackend; spec: TrainSpec } | undefined;
  let mine: Mine;
  let opening: Promise<Mine> | undefined;
  const open = async (): Promise<Mine> => {
    const fewer = rows > 0 ? compileForRows(session.source, { overrides: new Map(Object.entries(session.meta.overrides)), vocab: session.vocab.size }, session, rows) : undefined;
    if (!fewer) return undefined;
    // Samples only save time here: where this backend cannot be had, the training one draws them.
    const backend = (await openBackend(kind, fewer.model, fewer.step, { seed: fewer.spec.seed, threads: options.threads }).catch(() => undefined))?.backend;
    return (mine = backend && { backend, spec: fewer.spec });
  };
  return {
    on: async (training) => {
      const m = await (opening ??= open());
      if (!m) return { backend: training, spec: session.spec };
      await m.backend.setParams(await training.getParams());
      return m;
    },
    destroy: () => mine?.backend.destroy(),
  };
}

/**
 * Write a wasm program into `dir`: `model.wasm`, `program.json` (layout, calls, tables) and
 * `kernels.txt` (what each function of the module computes, per dispatch). Returns the paths.
 */
export function writeWasmBuild(plan: WasmPlan, dir: string): string[] {
  mkdirSync(dir, { recursive: true });
  const p = plan.program;
  const json = wasmProgramToJson(p);
  const files = [join(dir, 'model.wasm'), join(dir, 'program.json'), join(dir, 'kernels.txt')];
  writeFileSync(files[0], p.module);
  writeFileSync(files[1], JSON.stringify(json) + '\n');
  const listing = plan.kernels.map((k) => [`${k.name}: ${k.kind} kernel, run by ${k.uses.length} dispatch${k.uses.length === 1 ? '' : 'es'}`, ...k.uses.map((u) => `  ${u}`)].join('\n'));
  writeFileSync(files[2], `${listing.join('\n\n')}\n`);
  return files;
}
