/**
 * Test harness for the wasm renderer: schedule an IR graph, plan its buffers, render every
 * kernel to one module, and run the kernels on this thread, each dispatch's items taken as
 * `threads` workers take them (a few at a time, by each thread in turn, each with its own
 * scratch memory: items write disjoint outputs, so running them in turn is what threads
 * running them at once compute). Returns the requested outputs, to compare with the
 * reference interpreter.
 */
import type { Graph } from '../../src/ir/types.js';
import type { Kernel, Schedule } from '../../src/codegen/kernel-ir/types.js';
import { scheduleAndPlan } from './program.js';
import { assignOffsetSlots } from '../../src/codegen/offsets.js';
import { ModuleBuilder } from '../../src/codegen/wasm/encoder.js';
import { addMath } from '../../src/codegen/wasm/math.js';
import { renderWasmKernel } from '../../src/codegen/wasm/kernels.js';
import { SCRATCH_HEADER, type GemmTuning } from '../../src/codegen/wasm/gemm.js';
import { grabSize, WasmJs } from '../../runtime/wasm.js';
import type { Tensor } from '../../src/ir/interpret/index.js';

export interface WasmRun {
  outputs: Map<number, Float32Array | Int32Array>;
  kinds: string[];
  kernels: Kernel[];
  /** Work items of each dispatch. */
  items: number[];
}

const align = (n: number) => Math.ceil(n / 64) * 64;

export function runOnWasm(
  graph: Graph,
  outputs: readonly number[],
  feeds: { params: ReadonlyMap<string, Tensor>; inputs: ReadonlyMap<string, Tensor> },
  options: { threads?: number; transform?: (s: Schedule) => Schedule; tuning?: GemmTuning } = {},
): WasmRun {
  const threads = options.threads ?? 1;
  const { sched, plan } = scheduleAndPlan(graph, outputs, options.transform);

  const bases = { f32: 0, i32: align(4 * plan.arenaSize.f32) };
  const tablesAt = align(bases.i32 + 4 * plan.arenaSize.i32);
  const m = new ModuleBuilder();
  const math = addMath(m, m.importFunction('math', 'pow', ['f32', 'f32'], ['f32']));
  const words: number[] = [];
  const calls: { name: string; table: number; items: number }[] = [];
  let scratch = 0;
  sched.kernels.forEach((k, i) => {
    const offsets = k.kind === 'segmented' ? [] : assignOffsetSlots(k);
    const r = renderWasmKernel(k, offsets, { math, bases }, options.tuning);
    m.addFunction(r.body, `k${i}`);
    calls.push({ name: `k${i}`, table: tablesAt + 4 * words.length, items: r.items });
    words.push(...r.table);
    scratch = Math.max(scratch, align(Math.max(r.scratch, SCRATCH_HEADER)));
  });
  const staticBytes = align(tablesAt + 4 * words.length);
  const pages = Math.ceil((staticBytes + threads * scratch + 64) / 65536);
  m.importMemory('env', 'memory', pages, pages, false);
  const bytes = m.encode();
  if (!WasmJs.validate(bytes)) throw new Error('the module does not validate');
  const memory = new WasmJs.Memory({ initial: pages, maximum: pages });
  const instance = new WasmJs.Instance(new WasmJs.Module(bytes), { env: { memory }, math: { pow: Math.pow } });
  const f32 = new Float32Array(memory.buffer);
  const i32 = new Int32Array(memory.buffer);
  new Uint32Array(memory.buffer).set(words, tablesAt / 4);
  const place = (id: number, t: Tensor) => {
    const r = plan.regions.get(id)!;
    if (r.arena === 'f32') f32.set(Float32Array.from(t.data as ArrayLike<number>), bases.f32 / 4 + r.offset);
    else i32.set(Int32Array.from(t.data as ArrayLike<number>), bases.i32 / 4 + r.offset);
  };
  for (const p of graph.params) place(p.node, feeds.params.get(p.name)!);
  for (const i of graph.inputs) place(i.node, feeds.inputs.get(i.name)!);
  for (const c of calls) {
    const fn = instance.exports[c.name] as (table: number, lo: number, hi: number, scratch: number) => void;
    for (let t = 0; t < threads; t++) i32[(staticBytes + t * scratch) / 4] = -1;
    const grab = threads === 1 ? c.items : grabSize(c.items, threads);
    for (let lo = 0, t = 0; lo < c.items; lo += grab, t = (t + 1) % threads) fn(c.table, lo, Math.min(c.items, lo + grab), staticBytes + t * scratch);
  }
  const result = new Map<number, Float32Array | Int32Array>();
  for (const o of outputs) {
    const r = plan.regions.get(o)!;
    result.set(o, r.arena === 'f32' ? f32.slice(bases.f32 / 4 + r.offset, bases.f32 / 4 + r.offset + r.size) : i32.slice(bases.i32 / 4 + r.offset, bases.i32 / 4 + r.offset + r.size));
  }
  return { outputs: result, kinds: sched.kernels.map((k) => k.kind), kernels: sched.kernels, items: calls.map((c) => c.items) };
}
