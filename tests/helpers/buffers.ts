// Typed buffer helpers for the WebGPU smoke tests, over the standard WebGPU API only (no Dawn
// specifics). The generated programs manage their own buffers; only the tests use these.

/**
 * GPUBufferUsage / GPUMapMode bit values from the WebGPU specification. Spelled out here so
 * these helpers do not depend on the GPUBufferUsage global having been installed.
 */
export const BufferUsage = {
  MAP_READ: 0x0001,
  MAP_WRITE: 0x0002,
  COPY_SRC: 0x0004,
  COPY_DST: 0x0008,
  INDEX: 0x0010,
  VERTEX: 0x0020,
  UNIFORM: 0x0040,
  STORAGE: 0x0080,
  INDIRECT: 0x0100,
  QUERY_RESOLVE: 0x0200,
} as const;
export const MapMode = { READ: 0x0001, WRITE: 0x0002 } as const;

/** Default usage of storage buffers: readable and writable by shaders, copyable both ways. */
export const STORAGE_USAGE = BufferUsage.STORAGE | BufferUsage.COPY_SRC | BufferUsage.COPY_DST;

export type TypedArray = Float32Array | Int32Array | Uint32Array;
export type ElementType = 'f32' | 'i32' | 'u32';
type ArrayOf<T extends ElementType> = T extends 'f32' ? Float32Array : T extends 'i32' ? Int32Array : Uint32Array;

function align4(n: number): number {
  return Math.ceil(n / 4) * 4;
}

/** The ArrayBuffer-backed view of `data` (typed arrays over SharedArrayBuffer are copied). */
function bytesOf(data: TypedArray): Uint8Array<ArrayBuffer> {
  const u8 = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  return (data.buffer instanceof ArrayBuffer ? u8 : u8.slice()) as Uint8Array<ArrayBuffer>;
}

function arrayFromBytes<T extends ElementType>(type: T, bytes: ArrayBuffer): ArrayOf<T> {
  switch (type) {
    case 'f32':
      return new Float32Array(bytes) as ArrayOf<T>;
    case 'i32':
      return new Int32Array(bytes) as ArrayOf<T>;
    case 'u32':
      return new Uint32Array(bytes) as ArrayOf<T>;
    default:
      throw new TypeError(`unknown element type ${String(type)}`);
  }
}

export interface StorageBufferOptions {
  label?: string;
  /** Extra usage bits OR-ed into STORAGE_USAGE (e.g. BufferUsage.UNIFORM). */
  usage?: number;
}

/**
 * A storage buffer initialised with `data` (mapped at creation: no queue write needed).
 * The size is rounded up to a multiple of 4 bytes, minimum 4.
 */
export function createStorageBuffer(device: GPUDevice, data: TypedArray, options: StorageBufferOptions = {}): GPUBuffer {
  const size = Math.max(4, align4(data.byteLength));
  const buffer = device.createBuffer({
    label: options.label,
    size,
    usage: STORAGE_USAGE | (options.usage ?? 0),
    mappedAtCreation: true,
  });
  new Uint8Array(buffer.getMappedRange(0, size)).set(bytesOf(data));
  buffer.unmap();
  return buffer;
}

/** A zero-initialised storage buffer of `byteLength` bytes (rounded up to 4, minimum 4). */
export function createEmptyStorageBuffer(device: GPUDevice, byteLength: number, options: StorageBufferOptions = {}): GPUBuffer {
  if (!Number.isFinite(byteLength) || byteLength < 0) throw new RangeError(`invalid buffer size ${byteLength}`);
  return device.createBuffer({
    label: options.label,
    size: Math.max(4, align4(byteLength)),
    usage: STORAGE_USAGE | (options.usage ?? 0),
  });
}

/** A uniform buffer holding `data` (for kernel parameters such as sizes). */
export function createUniformBuffer(device: GPUDevice, data: TypedArray, label?: string): GPUBuffer {
  const size = Math.max(16, Math.ceil(data.byteLength / 16) * 16);
  const buffer = device.createBuffer({
    label,
    size,
    usage: BufferUsage.UNIFORM | BufferUsage.COPY_DST,
    mappedAtCreation: true,
  });
  new Uint8Array(buffer.getMappedRange(0, size)).set(bytesOf(data));
  buffer.unmap();
  return buffer;
}

/**
 * Writes `data` into `buffer` at `byteOffset` through the queue (ordered before later
 * submits). `data.byteLength` must be a multiple of 4.
 */
export function writeBuffer(device: GPUDevice, buffer: GPUBuffer, data: TypedArray, byteOffset = 0): void {
  device.queue.writeBuffer(buffer, byteOffset, bytesOf(data));
}

/**
 * Copies GPU buffers back to the CPU through a MAP_READ staging buffer that is reused across
 * calls (and grown when needed). Reads are serialised: one mapAsync at a time per reader.
 */
export class Readback {
  private staging: GPUBuffer | undefined;
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    readonly device: GPUDevice,
    /** Initial staging capacity in bytes. */
    initialBytes = 0,
  ) {
    if (initialBytes > 0) this.staging = this.allocate(initialBytes);
  }

  /** Current staging capacity in bytes. */
  get capacity(): number {
    return this.staging?.size ?? 0;
  }

  /** Reads `byteLength` bytes (default: the whole buffer) from `source` at `byteOffset`. */
  readBytes(source: GPUBuffer, byteLength?: number, byteOffset = 0): Promise<ArrayBuffer> {
    const length = byteLength ?? source.size - byteOffset;
    const run = this.queue.then(() => this.readNow(source, length, byteOffset));
    // Keep the chain alive after a failure so later reads still run.
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** Reads `count` elements of `type` (default: as many as fit in the buffer) at `byteOffset`. */
  async read<T extends ElementType>(source: GPUBuffer, type: T, count?: number, byteOffset = 0): Promise<ArrayOf<T>> {
    const n = count ?? Math.floor((source.size - byteOffset) / 4);
    return arrayFromBytes(type, await this.readBytes(source, n * 4, byteOffset));
  }

  readF32(source: GPUBuffer, count?: number, byteOffset = 0): Promise<Float32Array> {
    return this.read(source, 'f32', count, byteOffset);
  }
  readI32(source: GPUBuffer, count?: number, byteOffset = 0): Promise<Int32Array> {
    return this.read(source, 'i32', count, byteOffset);
  }
  readU32(source: GPUBuffer, count?: number, byteOffset = 0): Promise<Uint32Array> {
    return this.read(source, 'u32', count, byteOffset);
  }

  /** Releases the staging buffer (a later read allocates a new one). */
  destroy(): void {
    this.staging?.destroy();
    this.staging = undefined;
  }

  private allocate(bytes: number): GPUBuffer {
    return this.device.createBuffer({
      label: 'mdlc readback',
      size: Math.max(4, align4(bytes)),
      usage: BufferUsage.MAP_READ | BufferUsage.COPY_DST,
    });
  }

  private async readNow(source: GPUBuffer, byteLength: number, byteOffset: number): Promise<ArrayBuffer> {
    if (byteLength % 4 !== 0 || byteOffset % 4 !== 0) {
      throw new RangeError(`readback offset and length must be multiples of 4 (got ${byteOffset}, ${byteLength})`);
    }
    if (byteOffset + byteLength > source.size) {
      throw new RangeError(`readback of ${byteLength} bytes at ${byteOffset} exceeds buffer size ${source.size}`);
    }
    if (byteLength === 0) return new ArrayBuffer(0);
    if (!this.staging || this.staging.size < byteLength) {
      this.staging?.destroy();
      // Grow geometrically so that a sequence of growing reads does not reallocate each time.
      this.staging = this.allocate(Math.max(byteLength, 2 * (this.staging?.size ?? 0)));
    }
    const staging = this.staging;
    const encoder = this.device.createCommandEncoder({ label: 'mdlc readback' });
    encoder.copyBufferToBuffer(source, byteOffset, staging, 0, byteLength);
    this.device.queue.submit([encoder.finish()]);
    await staging.mapAsync(MapMode.READ, 0, byteLength);
    try {
      // Copy out: the mapped range is detached on unmap.
      return staging.getMappedRange(0, byteLength).slice(0);
    } finally {
      staging.unmap();
    }
  }
}

/** One-off read of a whole buffer (creates and destroys a staging buffer; prefer Readback). */
export async function readBuffer<T extends ElementType>(device: GPUDevice, source: GPUBuffer, type: T, count?: number): Promise<ArrayOf<T>> {
  const reader = new Readback(device);
  try {
    return await reader.read(source, type, count);
  } finally {
    reader.destroy();
  }
}
