/**
 * The `webgpu` backend: a generated `model.js` (mdlc build) on a WebGPU device, behind the
 * runtime's `TrainBackend` interface. Works with Dawn in Node.js and with `navigator.gpu` in
 * a browser (pass its device in `options.gpu`).
 */
import type { Feeds, StepResult, StepScalars, TensorMap, TrainBackend } from './backend.js';
import { acquireDevice, type GpuContext } from './device.js';
import { initParameters, type Init } from './init.js';
import { awaitGpu } from './gpu-wait.js';
import { type ShaderCacheWarming, startShaderCacheWarming } from './shader-cache.js';

/** What a generated `model.js` exports (see `mdlc build`). */
export interface GeneratedModule {
  Model: { create(device: GPUDevice): Promise<GeneratedModel> };
  PARAMS: readonly { name: string; size: number; init: Init }[];
  /** Every kernel's WGSL by name (generated models and plans have it): compiled ahead on lavapipe, see shader-cache.ts. */
  KERNELS?: Readonly<Record<string, string>>;
  /** The kernels a training step runs (`stepKernels`): compiled ahead before the others. */
  STEP_KERNELS?: readonly string[];
}

/**
 * `module`'s kernels' WGSL, the training step's (`first`) and the others (`later`), in the
 * module's order; all are first when the module does not say which the step runs.
 */
export function kernelsToWarm(module: Pick<GeneratedModule, 'KERNELS' | 'STEP_KERNELS'>): { first: string[]; later: string[] } {
  const kernels = Object.entries(module.KERNELS ?? {});
  const step = new Set(module.STEP_KERNELS ?? kernels.map(([name]) => name));
  return { first: kernels.filter(([name]) => step.has(name)).map(([, code]) => code), later: kernels.filter(([name]) => !step.has(name)).map(([, code]) => code) };
}

/**
 * Compile `module`'s kernels ahead on helper devices where that helps (lavapipe, shader-cache.ts):
 * the training step's first, then the rest.
 */
export function startWarming(ctx: GpuContext, module: Pick<GeneratedModule, 'KERNELS' | 'STEP_KERNELS'>): Promise<ShaderCacheWarming> {
  const { first, later } = kernelsToWarm(module);
  return startShaderCacheWarming(ctx, first, undefined, later);
}

/**
 * Await Dawn's promise `p`. On CPU adapters without Dawn's polling at full speed, which would
 * take a core from the adapter's own work (gpu-wait.ts); on GPUs as it is, where a poll's
 * millisecond would lengthen short steps and a busy core costs the GPU nothing.
 */
function settle<T>(ctx: GpuContext, p: Promise<T>): Promise<T> {
  return ctx.isSoftware ? awaitGpu(p) : p;
}

/** The generated `Model` class's surface. */
export interface GeneratedModel {
  setParams(values: ReadonlyMap<string, Float32Array<ArrayBuffer>>): void;
  getParams(): Promise<Map<string, Float32Array<ArrayBuffer>>>;
  getState(): Promise<Map<string, Float32Array<ArrayBuffer>>>;
  setState(values: ReadonlyMap<string, Float32Array<ArrayBuffer>>): void;
  trainStep(windows: Feeds, scalars: StepScalars): Promise<StepResult>;
  evalLoss(windows: Feeds): Promise<number>;
  forward(windows: Feeds): Promise<Float32Array<ArrayBuffer>>;
  destroy(): void;
}

export class WebGpuBackend implements TrainBackend {
  readonly kind = 'webgpu';
  private constructor(
    private readonly model: GeneratedModel,
    private readonly ctx: GpuContext,
    private readonly ownsDevice: boolean,
    /** Helpers still compiling evaluation's and sampling's kernels, if any: waited for before those run. */
    private warming: ShaderCacheWarming | undefined,
  ) {}

  get description(): string {
    return this.ctx.description;
  }

  /**
   * Compile the module's pipelines on a device and initialise the parameters from `seed`, as
   * the interpreter does. The device is acquired unless given; a given one is destroyed with
   * the backend only when `ownsDevice`.
   */
  static async open(module: GeneratedModule, options: { seed: number; gpu?: GpuContext; ownsDevice?: boolean; warming?: ShaderCacheWarming }): Promise<WebGpuBackend> {
    const ctx = options.gpu ?? (await acquireDevice());
    const owns = !options.gpu || !!options.ownsDevice;
    try {
      // lavapipe compiles on one thread per device: fill Mesa's shader cache from helper devices
      // first (or the caller's helpers, see src/train/backends.ts), the training step's kernels
      // before the others, which the helpers go on compiling while the first steps run.
      const warming = options.warming ?? (await settle(ctx, startWarming(ctx, module)));
      await settle(ctx, warming.first);
      const model = await settle(ctx, module.Model.create(ctx.device));
      model.setParams(initParameters(module.PARAMS, options.seed));
      return new WebGpuBackend(model, ctx, owns, warming);
    } catch (e) {
      if (owns) ctx.destroy();
      throw e;
    }
  }

  /** Device errors (validation, loss) surface as exceptions here rather than as silent zeros. */
  private async checked<T>(p: Promise<T>): Promise<T> {
    const v = await settle(this.ctx, p);
    this.ctx.throwIfErrors();
    return v;
  }

  trainStep(feeds: Feeds, scalars: StepScalars): Promise<StepResult> {
    return this.checked(this.model.trainStep(feeds, scalars));
  }
  async evalLoss(feeds: Feeds): Promise<number> {
    await this.warmed();
    return this.checked(this.model.evalLoss(feeds));
  }
  async forward(feeds: Feeds): Promise<Float32Array<ArrayBuffer>> {
    await this.warmed();
    return this.checked(this.model.forward(feeds));
  }
  /** Wait for the helpers to finish, so that this device finds the kernels in the cache rather than compiling them too. */
  private async warmed(): Promise<void> {
    if (!this.warming) return;
    await settle(this.ctx, this.warming.done);
    this.warming = undefined;
  }
  getParams(): Promise<TensorMap> {
    return this.checked(this.model.getParams());
  }
  async setParams(values: ReadonlyMap<string, Float32Array<ArrayBuffer>>): Promise<void> {
    this.model.setParams(values);
    await settle(this.ctx, this.ctx.sync());
  }
  getState(): Promise<TensorMap> {
    return this.checked(this.model.getState());
  }
  async setState(values: ReadonlyMap<string, Float32Array<ArrayBuffer>>): Promise<void> {
    this.model.setState(values);
    await settle(this.ctx, this.ctx.sync());
  }
  destroy(): void {
    this.model.destroy();
    if (this.ownsDevice) this.ctx.destroy();
  }
}
