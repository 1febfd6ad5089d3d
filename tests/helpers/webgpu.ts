// Shared WebGPU device for tests.
//
// getTestDevice() acquires one GpuContext per test file (vitest isolates test files, so this
// module's state is per file) and reuses it. Without an adapter:
//   * MDLC_REQUIRE_WEBGPU=1 (CI): it throws WebGpuUnavailableError, so the file FAILS;
//   * otherwise it returns undefined (once logging why), and tests skip themselves with
//     `it.skipIf(!gpu)(...)` after `const gpu = await getTestDevice();` at the top level.
// Call releaseTestDevice() in afterAll: it destroys the device and only then drops the Dawn
// instance (dropping the instance while the device lives aborts the process).
import { acquireDevice, WebGpuUnavailableError, type AcquireDeviceOptions, type GpuContext } from '../../runtime/index.js';

let pending: Promise<GpuContext | undefined> | undefined;
let current: GpuContext | undefined;
let reportedSkip = false;

/** True when the environment demands WebGPU (CI): missing WebGPU is then a failure. */
export function webgpuRequired(): boolean {
  const v = process.env.MDLC_REQUIRE_WEBGPU;
  return v !== undefined && v !== '' && v !== '0' && v.toLowerCase() !== 'false';
}

/**
 * The shared test device, or undefined when there is no adapter and WebGPU is not required.
 * Errors other than "no adapter" (e.g. requestDevice failing) always throw.
 */
export function getTestDevice(options?: AcquireDeviceOptions): Promise<GpuContext | undefined> {
  if (current?.destroyed) {
    current = undefined;
    pending = undefined;
  }
  pending ??= acquireDevice(options).then(
    (ctx) => (current = ctx),
    (err: unknown) => {
      pending = undefined; // let a later call retry
      if (err instanceof WebGpuUnavailableError && !webgpuRequired()) {
        if (!reportedSkip) {
          reportedSkip = true;
          console.warn(`[webgpu] skipping WebGPU tests: ${err.message} (set MDLC_REQUIRE_WEBGPU=1 to fail instead)`);
        }
        return undefined;
      }
      throw err;
    },
  );
  return pending;
}

/** Whether a WebGPU device is available to tests (acquires the shared device). */
export async function hasWebGpu(): Promise<boolean> {
  return (await getTestDevice()) !== undefined;
}

/** Destroys the shared device (idempotent). Use as `afterAll(releaseTestDevice)`. */
export function releaseTestDevice(): void {
  const ctx = current;
  current = undefined;
  pending = undefined;
  ctx?.destroy();
}
