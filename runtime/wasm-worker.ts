/**
 * The worker threads of the wasm backend (runtime/wasm.ts). Each instantiates the program's
 * module over the one shared memory, then waits for commands on a control block: run the
 * calls of an entry point (its share of each call's work items), with a barrier between calls
 * so that a kernel sees every output of the one before. Browser-safe: the source is handed to
 * `new Worker` as text (Node's `eval` workers or a Blob URL), so no file has to be found.
 */

/** Words of the control block (an Int32Array over a SharedArrayBuffer). */
export const CONTROL = {
  /** Bumped by the main thread for every command. */
  seq: 0,
  /** The command: an entry point's index, or −1 to exit. */
  cmd: 1,
  /** Workers done with the current command. */
  done: 2,
  /** Bumped (and notified) when every worker is done. */
  finished: 3,
  /** The barrier's arrivals and generation. */
  arrived: 4,
  generation: 5,
  /** Set when a kernel threw: the others skip their calls and the command ends. */
  failed: 6,
  /** From here, one word per call of the running entry point: the work items taken so far. */
  counters: 8,
} as const;

/** What the main thread sends a worker, once. */
export interface WorkerInit {
  /** A compiled WebAssembly.Module and a shared WebAssembly.Memory (typed loosely: see wasm.ts). */
  module: object;
  memory: object;
  control: SharedArrayBuffer;
  thread: number;
  threads: number;
  /** This thread's scratch memory (bytes). */
  scratch: number;
  /** Exported kernel functions, by index. */
  kernels: string[];
  /** Per entry point: its calls as [kernel, table, items, items taken at a time, barrier after] quintuples. */
  calls: Int32Array[];
  /** Post `{ finished: true }` when the last worker ends a command (where the main thread has no Atomics.waitAsync). */
  postFinished: boolean;
}

/**
 * The worker's program. It must not close over anything: it is sent as source text.
 *
 * Threads take a call's work items from its counter, a few at a time, rather than each a fixed
 * share: on a machine busy with other work a thread is often paused, and the others then run
 * its items instead of waiting for it. Which thread computes an item does not change its
 * result (every output is one item's, computed in a fixed order), so results stay the same
 * for any number of threads. A barrier separates calls only where the next one reads or
 * overwrites what the last ones write (the program's `sync`). At a barrier a thread spins
 * briefly before it sleeps (sleeping and waking costs tens of microseconds; spinning longer
 * starves the other threads on a loaded machine).
 */
function workerMain(): void {
  const SPIN = 256;
  // Node's eval workers have a global `require`; browsers' workers have `self`.
  // (Reached through globalThis: this file also type-checks for web pages, which have no Node types.)
  type Port = { onmessage: ((e: { data: unknown }) => void) | null; postMessage(m: unknown): void };
  const req = (globalThis as unknown as { require?: (id: string) => { parentPort: Port } }).require;
  const port: Port = req ? req('node:worker_threads').parentPort : (globalThis as unknown as { self: Port }).self;
  port.onmessage = (e) => {
    const d = e.data as WorkerInit;
    let fns: ((table: number, lo: number, hi: number, scratch: number) => void)[];
    try {
      const wasm = (globalThis as unknown as { WebAssembly: { Instance: new (m: object, imports: object) => { exports: Record<string, unknown> } } }).WebAssembly;
      const instance = new wasm.Instance(d.module, { env: { memory: d.memory }, math: { pow: Math.pow } });
      fns = d.kernels.map((n) => instance.exports[n] as (typeof fns)[number]);
    } catch (err) {
      port.postMessage({ error: String((err as Error)?.stack ?? err) });
      return;
    }
    const ctl = new Int32Array(d.control);
    const mem = new Int32Array((d.memory as { buffer: ArrayBufferLike }).buffer);
    // Read before saying ready: the first command may follow at once.
    let seen = Atomics.load(ctl, 0);
    port.postMessage({ ready: true });
    const T = d.threads;
    const barrier = () => {
      const gen = Atomics.load(ctl, 5);
      if (Atomics.add(ctl, 4, 1) === T - 1) {
        Atomics.store(ctl, 4, 0);
        Atomics.add(ctl, 5, 1);
        Atomics.notify(ctl, 5);
        return;
      }
      for (let i = 0; i < SPIN; i++) if (Atomics.load(ctl, 5) !== gen) return;
      while (Atomics.load(ctl, 5) === gen) Atomics.wait(ctl, 5, gen);
    };
    for (;;) {
      while (Atomics.load(ctl, 0) === seen) Atomics.wait(ctl, 0, seen);
      seen = Atomics.load(ctl, 0);
      const cmd = Atomics.load(ctl, 1);
      if (cmd < 0) return;
      const calls = d.calls[cmd];
      for (let i = 0, c = 0; i < calls.length; i += 5, c++) {
        const [fn, table, items, grab, sync] = [fns[calls[i]], calls[i + 1], calls[i + 2], calls[i + 3], calls[i + 4]];
        // This thread's scratch header: nothing packed yet for this call.
        mem[d.scratch >> 2] = -1;
        try {
          if (T === 1) {
            if (Atomics.load(ctl, 6) === 0) fn(table, 0, items, d.scratch);
          } else {
            for (;;) {
              const lo = Atomics.add(ctl, 8 + c, grab);
              if (lo >= items || Atomics.load(ctl, 6) !== 0) break;
              fn(table, lo, Math.min(items, lo + grab), d.scratch);
            }
          }
        } catch (err) {
          Atomics.store(ctl, 6, 1);
          port.postMessage({ error: `kernel ${d.kernels[calls[i]]}: ${String((err as Error)?.message ?? err)}` });
        }
        if (T > 1 && sync && i + 5 < calls.length) barrier();
      }
      if (Atomics.add(ctl, 2, 1) === T - 1) {
        Atomics.store(ctl, 2, 0);
        Atomics.add(ctl, 3, 1);
        Atomics.notify(ctl, 3);
        if (d.postFinished) port.postMessage({ finished: true });
      }
    }
  };
}

/** The worker's source text. */
export function workerSource(): string {
  return `(${workerMain.toString()})();\n`;
}
