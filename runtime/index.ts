// The mdlc WebGPU runtime: device acquisition (Dawn in Node.js, navigator.gpu in browsers)
// and typed buffer helpers.
export {
  acquireDevice,
  describeAdapter,
  isSoftwareAdapter,
  GpuContext,
  GpuDeviceError,
  WebGpuUnavailableError,
  RAISED_LIMITS,
} from './device.js';
export type {
  AcquireDeviceOptions,
  AdapterInfo,
  DeviceLimits,
  GpuErrorKind,
  GpuErrorListener,
  LimitName,
} from './device.js';
export {
  BufferUsage,
  MapMode,
  STORAGE_USAGE,
  createStorageBuffer,
  createEmptyStorageBuffer,
  createUniformBuffer,
  writeBuffer,
  readBuffer,
  Readback,
} from './buffers.js';
export type { ElementType, StorageBufferOptions, TypedArray } from './buffers.js';
export * from './data.js';
export * from './schedule.js';
export * from './init.js';
export * from './checkpoint.js';
export * from './training.js';
