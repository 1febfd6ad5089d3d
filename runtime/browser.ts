// mdlc's runtime for web pages (the package entry `mdlc/runtime/browser`): everything of
// `mdlc/runtime` that needs no Node.js — the one training loop and its backend interface, the
// WebGPU backend (pass `navigator.gpu` to `acquireDevice`), a compiled model run from its
// program plan, text as tokens, sampling, scoring, schedules, initialisation, the files of a
// checkpoint as bytes, and what a person reads during training. Files, run directories and
// dataset downloads stay in `mdlc/runtime`.
export { acquireDevice, describeAdapter, isSoftwareAdapter, GpuContext, GpuDeviceError, WebGpuUnavailableError, RAISED_LIMITS } from './device.js';
export type { AcquireDeviceOptions, AdapterInfo, DeviceLimits, GpuErrorKind, GpuErrorListener, LimitName } from './device.js';
export * from './backend.js';
export * from './loop.js';
export * from './webgpu.js';
export * from './plan.js';
export * from './text.js';
export * from './sampling.js';
export * from './score.js';
export * from './schedule.js';
export * from './init.js';
export * from './random.js';
export * from './safetensors.js';
export * from './checkpoint-files.js';
export * from './format.js';
export * from './plot.js';
