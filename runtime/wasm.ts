/**
 * The `wasm` backend: a compiled wasm program (the compiler's src/codegen/wasm/, `mdlc build
 * --backend wasm`) run on worker threads over one shared WebAssembly memory, behind the
 * runtime's `TrainBackend` interface. Works in Node.js (worker_threads) and in browsers that
 * allow shared memory (cross-origin isolated pages).
 *
 * The main thread writes a call's inputs straight into the shared memory, starts the workers
 * with one atomic store and waits for them without blocking (Atomics.waitAsync, or a message),
 * then reads the outputs where they are. Calls are queued: the training loop may ask for the
 * next step before it reads the last one's loss.
 */
import type { Feeds, StepResult, StepScalars, TensorMap, TrainBackend } from './backend.js';
import { initParameters, type Init } from './init.js';
import { permuteAxes } from './plan.js';
import { CONTROL, workerSource, type WorkerInit } from './wasm-worker.js';

export type WasmEntry = 'train' | 'eval' | 'forward';
const ENTRIES: readonly WasmEntry[] = ['train', 'eval', 'forward'];

/** A tensor in one of the arenas: its start and size in elements. */
export interface WasmSlot {
  name: string;
  arena: 'f32' | 'i32';
  offset: number;
  size: number;
  axes: { name: string; size: number }[];
}

export interface WasmParamSlot extends WasmSlot {
  init: Init;
  /** AdamW's moments (f32 arena offsets). */
  m: number;
  v: number;
  /** A copy in another axis order kept by the optimizer (perm[j]: the parameter axis that is the copy's j-th). */
  transposed?: { offset: number; perm: number[] };
}

/** A compiled wasm program, as `mdlc build --backend wasm` writes it (model.wasm + program.json). */
export interface WasmProgram {
  format: 'mdlc-wasm/1';
  model: string;
  module: Uint8Array<ArrayBuffer>;
  /** Where the f32 and i32 arenas start in memory (bytes), and their sizes (elements). */
  bases: { f32: number; i32: number };
  arenas: { f32: number; i32: number };
  /** Bytes before the threads' scratch memory: the arenas and the dispatch tables. */
  staticBytes: number;
  /** Every dispatch's table, u32 words written at byte `at`. */
  tables: { at: number; words: Uint32Array<ArrayBuffer> };
  /** Scratch bytes each thread needs (GEMM packing), after staticBytes. */
  scratchPerThread: number;
  /** The module's exported kernel functions. */
  kernels: string[];
  /**
   * Per entry point, its calls in order: the kernel, its work items, its table's address, and
   * whether the threads must all finish it before the next call starts (`sync`: a barrier).
   */
  entries: Record<WasmEntry, { kernel: number; items: number; table: number; sync: boolean }[]>;
  params: WasmParamSlot[];
  inputs: Record<string, WasmSlot>;
  outputs: { loss: WasmSlot; gradNorm: WasmSlot; logits: WasmSlot };
}

/** program.json of a wasm build: the program without its module (model.wasm beside it), tables as numbers. */
export type WasmProgramJson = Omit<WasmProgram, 'module' | 'tables'> & { module: string; tables: { at: number; words: number[] } };

export function wasmProgramToJson(p: WasmProgram, moduleFile = 'model.wasm'): WasmProgramJson {
  return { ...p, module: moduleFile, tables: { at: p.tables.at, words: [...p.tables.words] } };
}

/** The program of a wasm build from its program.json and the bytes of its model.wasm. */
export function wasmProgramFromJson(json: WasmProgramJson, module: Uint8Array<ArrayBuffer>): WasmProgram {
  if (json.format !== 'mdlc-wasm/1') throw new Error(`not an mdlc wasm program (format ${JSON.stringify(json.format)})`);
  return { ...json, module, tables: { at: json.tables.at, words: Uint32Array.from(json.tables.words) } };
}

const PAGE = 65536;

/**
 * The parts of the WebAssembly and Worker APIs used here. The project's TypeScript libraries
 * are Node's and ES2023, which do not declare them (lib.dom does), so they are typed locally.
 */
export interface WasmApi {
  Memory: new (d: { initial: number; maximum: number; shared?: boolean }) => { buffer: ArrayBufferLike };
  Module: new (bytes: Uint8Array<ArrayBuffer>) => object;
  Instance: new (module: object, imports: object) => { exports: Record<string, unknown> };
  compile(bytes: Uint8Array<ArrayBuffer>): Promise<object>;
  validate(bytes: Uint8Array<ArrayBuffer>): boolean;
}
export const WasmJs = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;
type WaitAsync = (a: Int32Array, index: number, value: number) => { async: false; value: string } | { async: true; value: Promise<string> };
const waitAsync = (Atomics as unknown as { waitAsync?: WaitAsync }).waitAsync;
interface BrowserWorker {
  postMessage(m: unknown): void;
  onmessage: ((e: { data: never }) => void) | null;
  terminate(): void;
}

/** A worker thread, in Node.js or a browser. */
interface Thread {
  post(message: unknown): void;
  onMessage(handler: (message: { ready?: boolean; error?: string; finished?: boolean }) => void): void;
  terminate(): void;
}

/**
 * Whether this is Node.js. Node's modules are imported by a name in a variable, so that a
 * bundler for web pages leaves them out and this file type-checks without Node's types.
 */
const inNode = () => !!(globalThis as { process?: { versions?: { node?: string } } }).process?.versions?.node;
const nodeModule = <T>(name: string): Promise<T> => import(/* @vite-ignore */ name) as Promise<T>;
interface NodeWorker {
  postMessage(m: unknown): void;
  on(event: 'message', handler: (m: never) => void): void;
  terminate(): Promise<number>;
}

async function spawn(source: string): Promise<Thread> {
  if (inNode()) {
    const { Worker } = await nodeModule<{ Worker: new (source: string, options: { eval: true }) => NodeWorker }>('node:worker_threads');
    const w = new Worker(source, { eval: true });
    return { post: (m) => w.postMessage(m), onMessage: (h) => w.on('message', h), terminate: () => void w.terminate() };
  }
  const url = URL.createObjectURL(new Blob([source], { type: 'text/javascript' }));
  const w = new (globalThis as unknown as { Worker: new (url: string) => BrowserWorker }).Worker(url);
  return { post: (m) => w.postMessage(m), onMessage: (h) => (w.onmessage = (e) => h(e.data)), terminate: () => w.terminate() };
}

/** The cores available: the default number of threads. */
export async function availableThreads(): Promise<number> {
  const nav = (globalThis as { navigator?: { hardwareConcurrency?: number } }).navigator;
  if (nav?.hardwareConcurrency) return nav.hardwareConcurrency;
  if (inNode()) return (await nodeModule<{ availableParallelism(): number }>('node:os')).availableParallelism();
  return 1;
}

/**
 * Work items a thread takes at a time from a call's counter: about four turns per thread, so
 * that a thread the system pauses holds up little (the others take what is left).
 */
export function grabSize(items: number, threads: number): number {
  return Math.max(1, Math.floor(items / (4 * threads)));
}

export class WasmBackend implements TrainBackend {
  readonly kind = 'wasm';
  private readonly f32: Float32Array;
  private readonly i32: Int32Array;
  private readonly ctl: Int32Array;
  private queue: Promise<unknown> = Promise.resolve();
  private failure?: string;
  /** Without Atomics.waitAsync: called when the last worker's message says a command finished. */
  private onFinished?: () => void;
  private destroyed = false;

  private constructor(
    private readonly program: WasmProgram,
    memory: { buffer: ArrayBufferLike },
    control: SharedArrayBuffer,
    private readonly threads: Thread[],
  ) {
    this.f32 = new Float32Array(memory.buffer);
    this.i32 = new Int32Array(memory.buffer);
    this.ctl = new Int32Array(control);
    for (const t of threads)
      t.onMessage((m) => {
        if (m.error) this.failure ??= m.error;
        if (m.finished) this.onFinished?.();
      });
  }

  get description(): string {
    return `WebAssembly SIMD on ${this.threads.length} thread${this.threads.length === 1 ? '' : 's'}`;
  }

  /**
   * Compile the module, start `threads` workers (default: the cores available) over a new
   * shared memory, and initialise the parameters from `seed`, as the interpreter does.
   */
  static async open(program: WasmProgram, options: { seed: number; threads?: number }): Promise<WasmBackend> {
    const n = options.threads ?? (await availableThreads());
    if (!Number.isInteger(n) || n < 1) throw new Error(`threads must be a whole number >= 1, got ${n}`);
    const pages = Math.ceil((program.staticBytes + n * program.scratchPerThread) / PAGE);
    const memory = new WasmJs.Memory({ initial: pages, maximum: pages, shared: true });
    new Uint32Array(memory.buffer).set(program.tables.words, program.tables.at / 4);
    const module = await WasmJs.compile(program.module);
    const longest = Math.max(...ENTRIES.map((e) => program.entries[e].length));
    const control = new SharedArrayBuffer(4 * (CONTROL.counters + longest));
    const source = workerSource();
    const threads = await Promise.all(Array.from({ length: n }, () => spawn(source)));
    try {
      await Promise.all(
        threads.map(
          (t, i) =>
            new Promise<void>((resolve, reject) => {
              t.onMessage((m) => (m.ready ? resolve() : m.error ? reject(new Error(`a wasm worker failed to start: ${m.error}`)) : undefined));
              const calls = ENTRIES.map((e) => Int32Array.from(program.entries[e].flatMap((c) => [c.kernel, c.table, c.items, grabSize(c.items, n), c.sync ? 1 : 0])));
              const init: WorkerInit = { module, memory, control, thread: i, threads: n, scratch: program.staticBytes + i * program.scratchPerThread, kernels: program.kernels, calls, postFinished: !waitAsync };
              t.post(init);
            }),
        ),
      );
    } catch (e) {
      for (const t of threads) t.terminate();
      throw e;
    }
    const backend = new WasmBackend(program, memory, control, threads);
    await backend.setParams(initParameters(program.params, options.seed));
    return backend;
  }

  /** Run `body` after every call queued before it. */
  private enqueue<T>(body: () => Promise<T> | T): Promise<T> {
    const next = this.queue.then(body);
    this.queue = next.catch(() => undefined);
    return next;
  }

  /** Run an entry point on every thread and wait for all of them. */
  private async run(entry: WasmEntry): Promise<void> {
    if (this.destroyed) throw new Error('the wasm backend was destroyed');
    const ctl = this.ctl;
    const finished = Atomics.load(ctl, CONTROL.finished);
    const message = waitAsync ? undefined : new Promise<void>((resolve) => (this.onFinished = resolve));
    // Every call's counter of items taken starts at zero (published by the atomic add below).
    ctl.fill(0, CONTROL.counters, CONTROL.counters + this.program.entries[entry].length);
    Atomics.store(ctl, CONTROL.cmd, ENTRIES.indexOf(entry));
    Atomics.add(ctl, CONTROL.seq, 1);
    Atomics.notify(ctl, CONTROL.seq);
    if (message) await message;
    while (Atomics.load(ctl, CONTROL.finished) === finished) {
      const w = waitAsync!(ctl, CONTROL.finished, finished);
      if (w.async) await w.value;
    }
    if (Atomics.load(ctl, CONTROL.failed)) {
      // Let the worker's message arrive: it says which kernel failed.
      await new Promise((r) => setTimeout(r, 50));
      throw new Error(`the wasm backend failed: ${this.failure ?? 'a kernel trapped'}`);
    }
  }

  private element(slot: WasmSlot, offset = slot.offset): number {
    return this.program.bases[slot.arena] / 4 + offset;
  }

  private writeFeeds(feeds: Feeds): void {
    for (const [name, data] of feeds) this.write(name, data);
  }

  private write(name: string, data: Int32Array | Float32Array): void {
    const slot = this.program.inputs[name];
    if (!slot) throw new Error(`the model has no input ${name}`);
    if (data.length !== slot.size) throw new Error(`input ${name} needs ${slot.size} values, got ${data.length}`);
    (slot.arena === 'f32' ? this.f32 : this.i32).set(data, this.element(slot));
  }

  private scalar(slot: WasmSlot): number {
    return this.f32[this.element(slot)];
  }

  private read(offset: number, size: number): Float32Array<ArrayBuffer> {
    const at = this.program.bases.f32 / 4 + offset;
    return this.f32.slice(at, at + size);
  }

  trainStep(feeds: Feeds, scalars: StepScalars): Promise<StepResult> {
    return this.enqueue(async () => {
      this.writeFeeds(feeds);
      scalars.lr.forEach((lr, i) => this.write(`lr.${i}`, new Float32Array([lr])));
      this.write('bc1', new Float32Array([scalars.bc1]));
      this.write('bc2', new Float32Array([scalars.bc2]));
      await this.run('train');
      return { loss: this.scalar(this.program.outputs.loss), gradNorm: this.scalar(this.program.outputs.gradNorm) };
    });
  }

  evalLoss(feeds: Feeds): Promise<number> {
    return this.enqueue(async () => {
      this.writeFeeds(feeds);
      await this.run('eval');
      return this.scalar(this.program.outputs.loss);
    });
  }

  forward(feeds: Feeds): Promise<Float32Array<ArrayBuffer>> {
    return this.enqueue(async () => {
      this.writeFeeds(feeds);
      await this.run('forward');
      const l = this.program.outputs.logits;
      return this.read(l.offset, l.size);
    });
  }

  getParams(): Promise<TensorMap> {
    return this.enqueue(() => new Map(this.program.params.map((p) => [p.name, this.read(p.offset, p.size)])));
  }

  setParams(values: ReadonlyMap<string, Float32Array<ArrayBuffer>>): Promise<void> {
    return this.enqueue(() => {
      for (const p of this.program.params) {
        const v = values.get(p.name);
        if (!v || v.length !== p.size) throw new Error(`parameter ${p.name} needs ${p.size} values`);
        this.f32.set(v, this.program.bases.f32 / 4 + p.offset);
        if (p.transposed) this.f32.set(permuteAxes(v, p.axes.map((a) => a.size), p.transposed.perm), this.program.bases.f32 / 4 + p.transposed.offset);
      }
    });
  }

  getState(): Promise<TensorMap> {
    return this.enqueue(() => {
      const out: TensorMap = new Map();
      for (const p of this.program.params) {
        out.set(`m.${p.name}`, this.read(p.m, p.size));
        out.set(`v.${p.name}`, this.read(p.v, p.size));
      }
      return out;
    });
  }

  setState(values: ReadonlyMap<string, Float32Array<ArrayBuffer>>): Promise<void> {
    return this.enqueue(() => {
      for (const p of this.program.params) {
        const m = values.get(`m.${p.name}`);
        const v = values.get(`v.${p.name}`);
        if (!m || !v || m.length !== p.size || v.length !== p.size) throw new Error(`optimizer state of ${p.name} is missing`);
        this.f32.set(m, this.program.bases.f32 / 4 + p.m);
        this.f32.set(v, this.program.bases.f32 / 4 + p.v);
      }
    });
  }

  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    Atomics.store(this.ctl, CONTROL.cmd, -1);
    Atomics.add(this.ctl, CONTROL.seq, 1);
    Atomics.notify(this.ctl, CONTROL.seq);
    for (const t of this.threads) t.terminate();
  }
}
