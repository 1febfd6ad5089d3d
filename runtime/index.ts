// The mdlc WebGPU runtime: device acquisition (Dawn in Node.js, navigator.gpu in browsers),
// data, schedules, parameter initialisation and checkpoints.
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
export * from './data.js';
export * from './schedule.js';
export * from './init.js';
export * from './checkpoint.js';
export * from './training.js';
