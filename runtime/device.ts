// WebGPU device acquisition for mdlc.
//
// In Node.js the implementation is Dawn, through the `webgpu` npm package (dawn.node). In a
// browser, pass `navigator.gpu` as `options.gpu` and the `webgpu` package is never loaded.
//
// Two Dawn facts shape this file (see /work/shared/WEBGPU-NOTES.md):
//  * The object returned by `create()` must stay reachable for as long as any device made
//    from it is alive: if it is garbage-collected first, Dawn aborts the process
//    (`std::system_error`, futex / pthread_mutex_lock errors). `GpuContext` therefore owns
//    it in its `gpu` field, and only drops it in `destroy()`.
//  * At adapter creation Dawn prints two lines to stderr:
//      Warning: maxDynamicUniformBuffersPerPipelineLayout artificially reduced from 1000000 to 16 ...
//      Warning: maxDynamicStorageBuffersPerPipelineLayout artificially reduced from 1000000 to 16 ...
//    They are harmless (we use no dynamic offsets) and there is no Dawn toggle that silences
//    them, so we leave them alone.

/** Thrown when no WebGPU adapter can be obtained (no driver, no GPU, or no `webgpu` binary). */
export class WebGpuUnavailableError extends Error {
  override readonly name = 'WebGpuUnavailableError';
  constructor(detail?: string, options?: { cause?: unknown }) {
    super(WebGpuUnavailableError.compose(detail), options);
  }

  /** The remedy text, shared with tests and CLI messages. */
  static readonly remedy =
    'On Linux without a GPU, install Mesa\'s software Vulkan driver (lavapipe, Mesa >= 24 from ' +
    'bookworm-backports) with `sudo bash scripts/install-lavapipe.sh`, and export ' +
    'XDG_RUNTIME_DIR=/tmp before running (e.g. `export XDG_RUNTIME_DIR=/tmp`). ' +
    'Check the result with `node scripts/print-adapter.mjs`. ' +
    'Elsewhere, install a GPU driver with Vulkan, Metal or Direct3D 12 support.';

  private static compose(detail?: string): string {
    const head = 'No WebGPU adapter is available' + (detail ? ` (${detail})` : '') + '.';
    return `${head} ${WebGpuUnavailableError.remedy}`;
  }
}

/** An error that the device reported asynchronously (uncaptured error or device loss). */
export class GpuDeviceError extends Error {
  override readonly name = 'GpuDeviceError';
  constructor(
    message: string,
    /** 'validation' | 'out-of-memory' | 'internal' | 'lost' | 'unknown' */
    readonly kind: GpuErrorKind,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export type GpuErrorKind = 'validation' | 'out-of-memory' | 'internal' | 'lost' | 'unknown';

/** A plain-object copy of GPUAdapterInfo (Dawn exposes it as prototype getters). */
export interface AdapterInfo {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  /** `GPUAdapterInfo.isFallbackAdapter` where the implementation reports it. */
  isFallbackAdapter: boolean;
  subgroupMinSize?: number;
  subgroupMaxSize?: number;
}

/** The limits we raise to the adapter's maximum so that big models fit. */
export const RAISED_LIMITS = [
  'maxStorageBufferBindingSize',
  'maxBufferSize',
  'maxComputeWorkgroupStorageSize',
  'maxComputeInvocationsPerWorkgroup',
  'maxComputeWorkgroupSizeX',
  'maxComputeWorkgroupSizeY',
  'maxComputeWorkgroupSizeZ',
  'maxComputeWorkgroupsPerDimension',
  'maxStorageBuffersPerShaderStage',
] as const satisfies readonly (keyof GPUSupportedLimits)[];

export type LimitName = Exclude<keyof GPUSupportedLimits, '__brand'>;
/** A plain-object snapshot of the device's limits. */
export type DeviceLimits = Record<LimitName, number>;

export interface AcquireDeviceOptions {
  /** Passed to `requestAdapter`. Default 'high-performance'. */
  powerPreference?: GPUPowerPreference;
  /** Ask for the implementation's fallback (CPU) adapter, e.g. lavapipe next to a real GPU. */
  forceFallbackAdapter?: boolean;
  /**
   * Extra limits; merged over the adapter maxima of RAISED_LIMITS. A value above what the
   * adapter supports makes `requestDevice` fail (with an error that says which limit).
   */
  requiredLimits?: Record<string, number>;
  /** Features that must exist (acquisition fails otherwise). `subgroups` is added when available. */
  requiredFeatures?: GPUFeatureName[];
  /** Do not request `subgroups` even when the adapter has it (to test the fallback path). */
  disableSubgroups?: boolean;
  /**
   * A GPU object to use instead of loading Dawn: `navigator.gpu` in a browser, or a stub.
   * When given, the caller keeps ownership of its lifetime, but GpuContext still references it.
   */
  gpu?: GPU;
  /**
   * Dawn (dawn.node) options for `create()`, e.g. ['backend=vulkan'],
   * ['enable-dawn-features=dump_shaders'], ['adapter=llvmpipe (LLVM 15.0.6, 256 bits)'].
   * Ignored when `gpu` is given.
   */
  dawnOptions?: string[];
  /** Device label (shows in Dawn's error messages). Default 'mdlc'. */
  label?: string;
}

const SOFTWARE_PATTERN = /llvmpipe|lavapipe|swiftshader|softpipe|software|microsoft basic render|warp/i;

/** True for CPU implementations (lavapipe/llvmpipe, SwiftShader, WARP) by adapter info. */
export function isSoftwareAdapter(info: AdapterInfo): boolean {
  if (info.isFallbackAdapter) return true;
  return SOFTWARE_PATTERN.test([info.vendor, info.architecture, info.device, info.description].join(' '));
}

/** One-line description, e.g. "mesa software llvmpipe-llvm-15-0-6-256-bits- llvmpipe: Mesa 25.0.7 ...". */
export function describeAdapter(info: AdapterInfo): string {
  return [info.vendor, info.architecture, info.device, info.description]
    .filter((s) => s)
    .join(' ')
    .replace(/\s+/g, ' ')
    .trim() || 'unknown adapter';
}

/** The adapter's info as a plain object. */
export function snapshotInfo(adapter: GPUAdapter): AdapterInfo {
  // Dawn's GPUAdapterInfo exposes its fields as prototype getters; copy them out.
  const raw = (adapter.info ?? {}) as Partial<GPUAdapterInfo>;
  const info: AdapterInfo = {
    vendor: String(raw.vendor ?? ''),
    architecture: String(raw.architecture ?? ''),
    device: String(raw.device ?? ''),
    description: String(raw.description ?? ''),
    isFallbackAdapter: Boolean(
      raw.isFallbackAdapter ?? (adapter as { isFallbackAdapter?: boolean }).isFallbackAdapter ?? false,
    ),
  };
  if (typeof raw.subgroupMinSize === 'number') info.subgroupMinSize = raw.subgroupMinSize;
  if (typeof raw.subgroupMaxSize === 'number') info.subgroupMaxSize = raw.subgroupMaxSize;
  return info;
}

function snapshotLimits(limits: GPUSupportedLimits): DeviceLimits {
  const out: Record<string, number> = {};
  // GPUSupportedLimits fields are prototype getters: `for...in` sees them, Object.keys does not.
  for (const key in limits) {
    const v = (limits as unknown as Record<string, unknown>)[key];
    if (typeof v === 'number') out[key] = v;
  }
  return out as DeviceLimits;
}

let dawnGlobalsInstalled = false;

/**
 * One Dawn instance per set of options, for the whole process. A second instance created
 * after the first was released, or the first collected while the second lives, aborts the
 * process inside Dawn ("The futex facility returned an unexpected error code"), e.g. when a
 * build probes the adapter and the generated program then acquires its own device. Keeping
 * them module-referenced means the process must exit explicitly (dawn.node keeps the event
 * loop alive): the CLI and scripts call process.exit.
 */
const dawnInstances = new Map<string, GPU>();

async function loadDawn(options: string[]): Promise<GPU> {
  let mod: typeof import('webgpu');
  try {
    mod = await import('webgpu');
  } catch (cause) {
    throw new WebGpuUnavailableError(
      `the 'webgpu' package (Dawn) could not be loaded: ${(cause as Error)?.message ?? cause}`,
      { cause },
    );
  }
  if (!dawnGlobalsInstalled) {
    // GPUBufferUsage, GPUMapMode, GPUShaderStage, ... as in a browser. Never overwrite
    // globals that already exist (a browser-like environment, or another WebGPU binding).
    const g = globalThis as Record<string, unknown>;
    for (const [k, v] of Object.entries(mod.globals as Record<string, unknown>)) {
      if (!(k in g)) g[k] = v;
    }
    dawnGlobalsInstalled = true;
  }
  const key = options.join('\u0000');
  const cached = dawnInstances.get(key);
  if (cached) return cached;
  try {
    const gpu = mod.create(options);
    dawnInstances.set(key, gpu);
    return gpu;
  } catch (cause) {
    throw new WebGpuUnavailableError(`Dawn's create() failed: ${(cause as Error)?.message ?? cause}`, { cause });
  }
}

export type GpuErrorListener = (error: GpuDeviceError) => void;

/**
 * A WebGPU device together with everything that must live as long as it does.
 * Create with `acquireDevice()`; call `destroy()` when done (tests: in afterAll).
 */
export class GpuContext {
  /** Uncaptured errors and an unexpected loss, oldest first (at most MAX_KEPT_ERRORS kept). */
  private readonly pendingErrors: GpuDeviceError[] = [];
  private readonly listeners = new Set<GpuErrorListener>();
  private _lostInfo: GPUDeviceLostInfo | undefined;
  private _destroyed = false;
  /** Dropped errors when more than MAX_KEPT_ERRORS piled up. */
  private droppedErrors = 0;
  static readonly MAX_KEPT_ERRORS = 64;

  /** Resolves when the device is lost, including through `destroy()` (reason 'destroyed'). */
  readonly lost: Promise<GPUDeviceLostInfo>;

  constructor(
    /**
     * The `create()` result (or navigator.gpu). Held on purpose: Dawn aborts the process
     * if it is garbage-collected while the device is alive.
     */
    public gpu: GPU | undefined,
    readonly adapter: GPUAdapter,
    readonly device: GPUDevice,
    readonly info: AdapterInfo,
    readonly isSoftware: boolean,
    readonly limits: DeviceLimits,
    readonly features: ReadonlySet<string>,
  ) {
    device.addEventListener('uncapturederror', (event: Event) => {
      const e = (event as GPUUncapturedErrorEvent).error;
      const err = new GpuDeviceError(`WebGPU ${errorKind(e)} error: ${e?.message?.trim() ?? String(e)}`, errorKind(e), {
        cause: e,
      });
      this.record(err);
      // With a listener the error is surfaced by us; without one, let Dawn print it too.
      if (this.listeners.size > 0) event.preventDefault();
    });
    this.lost = device.lost.then((info) => {
      this._lostInfo = info;
      if (info.reason !== 'destroyed' && !this._destroyed) {
        const err = new GpuDeviceError(`WebGPU device lost (${info.reason}): ${info.message}`, 'lost', { cause: info });
        // Nobody listening: say so now rather than at the next (failing) call.
        if (this.listeners.size === 0) console.error(`[mdlc] ${err.message}`);
        this.record(err);
      }
      return info;
    });
  }

  /** Whether `subgroups` was enabled on the device (WGSL `enable subgroups;`). */
  get hasSubgroups(): boolean {
    return this.features.has('subgroups');
  }
  /** One-line adapter description for logs. */
  get description(): string {
    return describeAdapter(this.info);
  }
  /** Set once the device is lost (also after destroy()). */
  get lostInfo(): GPUDeviceLostInfo | undefined {
    return this._lostInfo;
  }
  get destroyed(): boolean {
    return this._destroyed;
  }
  /** The device is usable: not destroyed and not lost. */
  get alive(): boolean {
    return !this._destroyed && this._lostInfo === undefined;
  }

  /** Subscribe to uncaptured errors and unexpected loss. Returns an unsubscribe function. */
  onError(listener: GpuErrorListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Returns and clears the errors recorded so far. */
  takeErrors(): GpuDeviceError[] {
    this.droppedErrors = 0;
    return this.pendingErrors.splice(0);
  }

  /** Throws (and clears) the recorded errors, if any: the first one, with the count. */
  throwIfErrors(): void {
    const dropped = this.droppedErrors;
    const errors = this.takeErrors();
    if (errors.length === 0) return;
    if (errors.length === 1 && dropped === 0) throw errors[0];
    const total = errors.length + dropped;
    throw new GpuDeviceError(
      `${total} WebGPU errors; the first: ${errors[0].message}`,
      errors[0].kind,
      { cause: errors },
    );
  }

  /**
   * Waits until the queue is idle, then throws any error recorded (uncaptured errors
   * arrive asynchronously, so this is the point where they are certain to be seen).
   */
  async sync(): Promise<void> {
    this.assertAlive();
    await this.device.queue.onSubmittedWorkDone();
    this.throwIfErrors();
  }

  /**
   * Runs `fn` inside validation / out-of-memory / internal error scopes and rejects with the
   * first error raised while it ran (synchronous WebGPU calls only are attributed to the scope).
   */
  async withErrorScope<T>(fn: () => T | Promise<T>): Promise<T> {
    const d = this.device;
    d.pushErrorScope('internal');
    d.pushErrorScope('out-of-memory');
    d.pushErrorScope('validation');
    let result: T;
    let thrown: unknown;
    let failed = false;
    try {
      result = await fn();
    } catch (e) {
      failed = true;
      thrown = e;
    }
    const popped = [await d.popErrorScope(), await d.popErrorScope(), await d.popErrorScope()];
    if (failed) throw thrown;
    const first = popped.find((e) => e);
    if (first) throw new GpuDeviceError(`WebGPU ${errorKind(first)} error: ${first.message.trim()}`, errorKind(first), { cause: first });
    return result!;
  }

  /** Throws when the device was destroyed or lost. */
  assertAlive(): void {
    if (this._destroyed) throw new GpuDeviceError('WebGPU device was destroyed', 'lost');
    if (this._lostInfo) {
      throw new GpuDeviceError(`WebGPU device lost (${this._lostInfo.reason}): ${this._lostInfo.message}`, 'lost');
    }
  }

  /** Destroys the device and releases the Dawn instance. Idempotent. */
  destroy(): void {
    if (this._destroyed) return;
    this._destroyed = true;
    this.listeners.clear();
    this.device.destroy();
    // The device is gone: the GPU object may now be collected safely. Dropping it also lets
    // Node exit (dawn.node keeps the event loop alive while the instance is referenced).
    this.gpu = undefined;
  }

  private record(err: GpuDeviceError): void {
    if (this.pendingErrors.length < GpuContext.MAX_KEPT_ERRORS) this.pendingErrors.push(err);
    else this.droppedErrors++;
    for (const l of this.listeners) {
      try {
        l(err);
      } catch {
        // a listener's failure must not hide the device error
      }
    }
  }
}

function errorKind(e: GPUError | undefined): GpuErrorKind {
  const name = e?.constructor?.name ?? '';
  if (name === 'GPUValidationError') return 'validation';
  if (name === 'GPUOutOfMemoryError') return 'out-of-memory';
  if (name === 'GPUInternalError') return 'internal';
  return 'unknown';
}

/**
 * Acquire a WebGPU device with raised limits (RAISED_LIMITS at the adapter's maxima) and the
 * `subgroups` feature when the adapter has it.
 * @throws WebGpuUnavailableError when there is no adapter (the message names the remedy).
 */
export async function acquireDevice(options: AcquireDeviceOptions = {}): Promise<GpuContext> {
  const gpu = options.gpu ?? (await loadDawn(options.dawnOptions ?? []));

  let adapter: GPUAdapter | null;
  try {
    adapter = await gpu.requestAdapter({
      powerPreference: options.powerPreference ?? 'high-performance',
      ...(options.forceFallbackAdapter ? { forceFallbackAdapter: true } : {}),
    });
  } catch (cause) {
    // dawn.node throws (rather than returning null) e.g. for an unknown `adapter=` option.
    throw new WebGpuUnavailableError(`requestAdapter failed: ${(cause as Error)?.message ?? cause}`, { cause });
  }
  if (!adapter) {
    throw new WebGpuUnavailableError(
      !options.gpu && (globalThis as { process?: { platform?: string } }).process?.platform === 'linux'
        ? 'Dawn found no Vulkan driver'
        : 'requestAdapter returned null',
    );
  }

  const info = snapshotInfo(adapter);
  const requiredLimits: Record<string, number> = {};
  for (const name of RAISED_LIMITS) {
    const v = (adapter.limits as unknown as Record<string, unknown>)[name];
    if (typeof v === 'number') requiredLimits[name] = v;
  }
  Object.assign(requiredLimits, options.requiredLimits ?? {});

  const requiredFeatures = new Set<GPUFeatureName>(options.requiredFeatures ?? []);
  if (!options.disableSubgroups && adapter.features.has('subgroups')) requiredFeatures.add('subgroups');

  const label = options.label ?? 'mdlc';
  let device: GPUDevice;
  try {
    device = await adapter.requestDevice({
      label,
      requiredLimits,
      requiredFeatures: [...requiredFeatures],
    });
  } catch (cause) {
    throw new GpuDeviceError(
      `requestDevice failed on ${describeAdapter(info)}: ${(cause as Error)?.message ?? cause}`,
      'unknown',
      { cause },
    );
  }

  return new GpuContext(
    gpu,
    adapter,
    device,
    info,
    isSoftwareAdapter(info),
    snapshotLimits(device.limits),
    new Set([...device.features]),
  );
}
