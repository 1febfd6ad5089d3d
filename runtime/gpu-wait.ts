/**
 * Waiting for Dawn without a spinning thread.
 *
 * Dawn's Node.js binding (the `webgpu` package) finds out that GPU work has finished by polling:
 * while any of its promises is pending (onSubmittedWorkDone, mapAsync, pipeline creation) it
 * calls its ProcessEvents again through the global `setImmediate`, back to back. The JavaScript
 * thread then runs at 100 % for as long as the GPU works. With a GPU that costs a core; with
 * lavapipe, which computes on the CPU's cores, it takes one of them from the work itself: on 2
 * cores the transformer trained at 1,400 tokens/s with the polling and at 2,400 without it, and
 * compiling kernels on two devices at once (shader-cache.ts) gained 1.3× instead of 1.8× (issue 16).
 *
 * `awaitGpu(p)` swaps the global `setImmediate` (which Dawn looks up for every poll) for one
 * that runs the first few callbacks of a wait at once, as before, and later ones after a 1 ms
 * timer, until no wait is pending. Short waits stay as fast as they were; long ones poll a
 * thousand times a second instead of hundreds of thousands. Everywhere but Node.js it just awaits.
 * WebGpuBackend uses it on CPU adapters only: on a GPU a millisecond's wait would lengthen
 * short steps, and the busy core costs the GPU nothing.
 */

/** Callbacks of a wait that run as immediates before the 1 ms timers start. */
export const IMMEDIATE_POLLS = 32;
/** Milliseconds between polls once a wait has gone on. */
export const POLL_INTERVAL_MS = 1;

type Immediate = (callback: (...args: unknown[]) => void, ...args: unknown[]) => unknown;
type Clear = (handle: unknown) => void;
interface Timers {
  setImmediate?: Immediate;
  clearImmediate?: Clear;
  setTimeout: (callback: (...args: unknown[]) => void, ms: number, ...args: unknown[]) => unknown;
  clearTimeout: Clear;
  process?: { versions?: { node?: string } };
}

const g = globalThis as unknown as Timers;
let pending = 0;
let polls = 0;
let original: { setImmediate: Immediate; clearImmediate: Clear } | undefined;
/** Handles of callbacks deferred to a timer: clearImmediate must cancel those too. */
const timed = new WeakSet<object>();

const throttledImmediate: Immediate = (callback, ...args) => {
  if (!original) return g.setTimeout(callback, 0, ...args);
  if (++polls <= IMMEDIATE_POLLS) return original.setImmediate(callback, ...args);
  const handle = g.setTimeout(callback, POLL_INTERVAL_MS, ...args);
  if (typeof handle === 'object' && handle !== null) timed.add(handle);
  return handle;
};
const throttledClear: Clear = (handle) => {
  if (typeof handle === 'object' && handle !== null && timed.has(handle)) g.clearTimeout(handle);
  else original?.clearImmediate(handle);
};

/** Whether a wait is in progress (the global setImmediate is the throttled one). */
export function gpuWaitActive(): boolean {
  return pending > 0;
}

/** Await `p`, a promise that Dawn resolves, without Dawn's polling keeping a core busy. */
export async function awaitGpu<T>(p: Promise<T>): Promise<T> {
  if (!g.process?.versions?.node || !g.setImmediate || !g.clearImmediate) return p;
  if (pending++ === 0) {
    original = { setImmediate: g.setImmediate, clearImmediate: g.clearImmediate };
    polls = 0;
    g.setImmediate = throttledImmediate;
    g.clearImmediate = throttledClear;
  }
  try {
    return await p;
  } finally {
    if (--pending === 0 && original) {
      g.setImmediate = original.setImmediate;
      g.clearImmediate = original.clearImmediate;
      original = undefined;
    }
  }
}
