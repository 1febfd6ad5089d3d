/**
 * Opening a backend for a compiled model: `cpu` (the reference interpreter) or `webgpu` (the
 * model built into a directory, its generated model.js loaded on the adapter). Training,
 * sampling and scoring all start here.
 */
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { build, DEFAULT_LIMITS, targetFor, type BuildLimits, type BuildResult, type GemmVariant, type Target } from '../codegen/index.js';
import type { ElaboratedModel } from '../ir/elaborate/model.js';
import type { TrainStep } from '../ir/optimizer/index.js';
import type { TrainBackend } from '../../runtime/backend.js';
import type { ModelMeta } from '../../runtime/checkpoint.js';
import { acquireDevice, WebGpuUnavailableError, type GpuContext } from '../../runtime/device.js';
import { WebGpuBackend, type GeneratedModule } from '../../runtime/webgpu.js';
import { CpuBackend } from './cpu.js';

export type BackendKind = 'cpu' | 'webgpu';

export interface Adapter {
  ctx: GpuContext;
  /** What to build for (codegen/target.ts). */
  target: Target;
  limits: Partial<BuildLimits>;
}

/** The WebGPU adapter, with the target and the limits to build for; undefined when there is none. */
export async function findAdapter(): Promise<Adapter | undefined> {
  let ctx: GpuContext;
  try {
    ctx = await acquireDevice();
  } catch (e) {
    if (e instanceof WebGpuUnavailableError) return undefined;
    throw e;
  }
  const limits: Partial<BuildLimits> = {};
  for (const name of Object.keys(DEFAULT_LIMITS) as (keyof BuildLimits)[]) if (typeof ctx.limits[name] === 'number') limits[name] = ctx.limits[name];
  return { ctx, target: targetFor(ctx), limits };
}

export interface OpenOptions {
  seed: number;
  /** webgpu: where the build goes, and the source path named in its headers. */
  buildDir?: string;
  sourcePath?: string;
  meta?: Omit<ModelMeta, 'vocab'>;
  adapter?: Adapter;
  gemm?: GemmVariant;
}

export type Opened = { backend: TrainBackend; build?: BuildResult } | { backend?: undefined; build: BuildResult };

/**
 * A backend for `model`, initialised from `seed`. For webgpu the model is built first; a build
 * that does not fit the adapter's limits comes back with its diagnostics and no backend.
 * The adapter is owned by the backend from here on.
 */
export async function openBackend(kind: BackendKind, model: ElaboratedModel, step: TrainStep, options: OpenOptions): Promise<Opened> {
  if (kind === 'cpu') return { backend: new CpuBackend(model, step, options.seed) };
  const adapter = options.adapter ?? (await findAdapter());
  if (!adapter) throw new WebGpuUnavailableError();
  const outDir = options.buildDir ?? join('build', model.name);
  const built = build(model, options.sourcePath ?? `${model.name}.mdl`, { outDir, target: options.gemm ? targetFor(adapter.ctx, options.gemm) : adapter.target, limits: adapter.limits, meta: options.meta, step });
  if (!built.report) {
    adapter.ctx.destroy();
    return { build: built };
  }
  // A query per load: Node caches modules by URL, and this directory may be rebuilt in one process.
  const module = (await import(`${pathToFileURL(join(outDir, 'model.js')).href}?build=${Date.now()}`)) as GeneratedModule;
  const backend = await WebGpuBackend.open(module, { seed: options.seed, gpu: adapter.ctx, ownsDevice: true });
  return { backend, build: built };
}
