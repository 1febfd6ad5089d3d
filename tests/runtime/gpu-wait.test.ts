// awaitGpu: Dawn's polling through the global setImmediate is slowed to a timer while a wait is
// pending, and everything is put back afterwards.
import { describe, expect, it } from 'vitest';
import { awaitGpu, gpuWaitActive, IMMEDIATE_POLLS } from '../../runtime/gpu-wait.js';

/** A stand-in for Dawn: polls through the global setImmediate until `done()` says so; counts polls. */
function pollingUntil(done: () => boolean): { promise: Promise<number>; polls: () => number } {
  let polls = 0;
  const promise = new Promise<number>((resolve) => {
    const poll = () => {
      polls++;
      if (done()) resolve(polls);
      else globalThis.setImmediate(poll);
    };
    globalThis.setImmediate(poll);
  });
  return { promise, polls: () => polls };
}

describe('awaitGpu', () => {
  it('resolves with the value and restores setImmediate and clearImmediate', async () => {
    const [si, ci] = [globalThis.setImmediate, globalThis.clearImmediate];
    const seen: boolean[] = [];
    const v = await awaitGpu(
      new Promise<number>((resolve) => {
        seen.push(globalThis.setImmediate !== si, gpuWaitActive());
        setTimeout(() => resolve(42), 5);
      }).then((x) => {
        seen.push(globalThis.setImmediate !== si);
        return x;
      }),
    );
    expect(v).toBe(42);
    // Replaced while the promise was pending (the executor ran before awaitGpu installed it: false first).
    expect(seen).toEqual([false, false, true]);
    expect(globalThis.setImmediate).toBe(si);
    expect(globalThis.clearImmediate).toBe(ci);
    expect(gpuWaitActive()).toBe(false);
  });

  it('restores them when the promise rejects', async () => {
    const si = globalThis.setImmediate;
    await expect(awaitGpu(Promise.reject(new Error('device lost')))).rejects.toThrow('device lost');
    expect(globalThis.setImmediate).toBe(si);
    expect(gpuWaitActive()).toBe(false);
  });

  it('polls at once for the first polls of a wait, then about once a millisecond', async () => {
    // 40 ms of "GPU work": spinning setImmediate would poll thousands of times; throttled, about 40 + IMMEDIATE_POLLS.
    const end = performance.now() + 40;
    const spin = pollingUntil(() => performance.now() >= end);
    const polls = await awaitGpu(spin.promise);
    expect(polls).toBeGreaterThan(IMMEDIATE_POLLS);
    expect(polls).toBeLessThan(IMMEDIATE_POLLS + 45);
    // Without awaitGpu the same stand-in spins.
    const end2 = performance.now() + 40;
    const free = await pollingUntil(() => performance.now() >= end2).promise;
    expect(free).toBeGreaterThan(3 * (IMMEDIATE_POLLS + 45));
  });

  it('passes arguments through and lets clearImmediate cancel a deferred callback', async () => {
    const calls: string[] = [];
    await awaitGpu(
      new Promise<void>((resolve) => {
        // Use up the immediate polls so that the next one is a timer.
        for (let i = 0; i < IMMEDIATE_POLLS; i++) globalThis.setImmediate(() => {});
        const deferred = globalThis.setImmediate((a: string, b: string) => calls.push(`${a}${b}`), 'x', 'y');
        const cancelled = globalThis.setImmediate(() => calls.push('cancelled'));
        globalThis.clearImmediate(cancelled);
        void deferred;
        setTimeout(resolve, 10);
      }),
    );
    expect(calls).toEqual(['xy']);
  });

  it('keeps the replacement until the last of overlapping waits ends', async () => {
    const si = globalThis.setImmediate;
    let releaseA!: () => void;
    const a = awaitGpu(new Promise<void>((r) => (releaseA = r)));
    const b = awaitGpu(new Promise<void>((r) => setTimeout(r, 5)));
    await b;
    expect(globalThis.setImmediate).not.toBe(si);
    releaseA();
    await a;
    expect(globalThis.setImmediate).toBe(si);
  });
});
