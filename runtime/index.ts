// mdlc's runtime (the package entry `mdlc/runtime`): what generated programs, the CLI and
// tests link against. The training loop over a backend interface, the WebGPU backend and
// device acquisition (Dawn in Node.js, navigator.gpu in browsers), data, sampling, schedules,
// initialisation, checkpoints and run directories.
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
export * from './corpus.js';
export * from './schedule.js';
export * from './init.js';
export * from './checkpoint.js';
export * from './backend.js';
export * from './loop.js';
export * from './sampling.js';
export * from './format.js';
export * from './plot.js';
export * from './run.js';
export * from './webgpu.js';
export * from './program.js';
export * from './plan.js';
export * from './text.js';
