/**
 * The `webgpu` backend: a generated `model.js` (mdlc build) on a WebGPU device, behind the
 * runtime's `TrainBackend` interface. Works with Dawn in Node.js and with `navigator.gpu` in
 * a browser (pass its device in `options.gpu`).
 */
import type { Feeds, StepResult, StepScalars, TensorMap, TrainBackend } from './backend.js';
import { acquireDevice, type GpuContext } from './device.js';
import { initParameters, type Init } from './init.js';
import { awaitGpu } from './gpu-wait.js';
import { type ShaderCacheWarming, warmShaderCache } from './shader-cache.js';

/** What a generated `model.js` exports (see `mdlc build`). */
export interface GeneratedModule {
  Model: { create(device: GPUDevice): Promise<GeneratedModel> };
  PARAMS: readonly { name: string; size: number; init: Init }[];
  /** Every kernel's WGSL by name (generated models and plans have it): compiled ahead on lavapipe, see shader-cache.ts. */
  KERNELS?: Readonly<Record<string, string>>;
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
      // lavapipe compiles on one thread per device: fill Mesa's shader cache from helper devices first.
      // (Or the helpers the caller started, see src/train/backends.ts.)
      if (options.warming) await settle(ctx, options.warming.done);
      else if (module.KERNELS) await warmShaderCache(ctx, Object.values(module.KERNELS));
      const model = await settle(ctx, module.Model.create(ctx.device));
      model.setParams(initParameters(module.PARAMS, options.seed));
      return new WebGpuBackend(model, ctx, owns);
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
  evalLoss(feeds: Feeds): Promise<number> {
    return this.checked(this.model.evalLoss(feeds));
  }
  forward(feeds: Feeds): Promise<Float32Array<ArrayBuffer>> {
    return this.checked(this.model.forward(feeds));
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
