/**
 * The wasm program: the training step, evaluation and forward pass scheduled by the same
 * passes as the WebGPU program (for the wasm target), every kernel rendered to a function of
 * one WebAssembly module, and the calls of each entry point with their tables. The runtime
 * (runtime/wasm.ts) runs it on worker threads over one shared memory:
 *
 *   [ f32 arena | i32 arena | dispatch tables | scratch of thread 0 | thread 1 | … ]
 *
 * Kernels that differ only in where their data lives share a function (they read their
 * regions from their dispatch's table), as WGSL kernels share a pipeline.
 */
import type { ElaboratedModel } from '../../ir/elaborate/model.js';
import type { TrainStep } from '../../ir/optimizer/index.js';
import type { WasmProgram } from '../../../runtime/wasm.js';
import { Labels } from '../labels.js';
import { subexpressions } from '../kernel-ir/expr.js';
import { accessesOf, exprsOf, iterationAxes } from '../kernel-ir/kernel.js';
import type { ValueTable } from '../kernel-ir/ids.js';
import type { Arena, Kernel } from '../kernel-ir/types.js';
import { assignOffsetSlots } from '../offsets.js';
import type { EntryName, ProgramIR } from '../passes/index.js';
import { flopsOf, kernelUse, scheduleProgram } from '../program.js';
import { WASM_TARGET } from '../target.js';
import { ModuleBuilder } from './encoder.js';
import type { ArenaBases } from './expr.js';
import { SCRATCH_HEADER, type GemmTuning } from './gemm.js';
import { renderWasmKernel } from './kernels.js';
import { addMath } from './math.js';

/** Every region and table starts on a 64-byte line. */
const LINE = 64;
const align = (n: number) => Math.ceil(n / LINE) * LINE;
/** Linear memory may grow to 4 GiB (the module declares it; the runtime allocates what it needs). */
const MAX_PAGES = 65536;
export const PAGE = 65536;

export interface WasmKernelInfo {
  /** The exported function's name. */
  name: string;
  kind: Kernel['kind'];
  /** Every dispatch that runs it: its IR nodes and .mdl lines. */
  uses: string[];
  flops: number;
}

export interface WasmPlan {
  program: WasmProgram;
  kernels: WasmKernelInfo[];
  /** What each call computes, in .mdl terms, by entry point. */
  what: Record<EntryName, string[]>;
}

export interface WasmPlanOptions {
  step?: TrainStep;
  trace?: (pass: string, program: ProgramIR) => void;
  tuning?: GemmTuning;
}

export function planWasmProgram(model: ElaboratedModel, options: WasmPlanOptions = {}): WasmPlan {
  const { program, layout } = scheduleProgram(model, { target: WASM_TARGET, step: options.step, trace: options.trace });
  const g = program.graph;
  const bases: ArenaBases = { f32: 0, i32: align(4 * layout.arenas.f32) };
  const tablesAt = align(bases.i32 + 4 * layout.arenas.i32);

  const m = new ModuleBuilder();
  const pow = m.importFunction('math', 'pow', ['f32', 'f32'], ['f32']);
  const math = addMath(m, pow);
  const rc = { math, bases };

  const words: number[] = [];
  const kernels: WasmKernelInfo[] = [];
  const byBody = new Map<string, number>();
  const entries: WasmProgram['entries'] = { train: [], eval: [], forward: [] };
  const what: WasmPlan['what'] = { train: [], eval: [], forward: [] };
  const labels = new Labels(g);
  let scratch = 0;
  for (const { name: entry, schedule } of program.entries) {
    for (const k of schedule.kernels) {
      k.name = `${entry}_${k.name}`;
      const offsets = k.kind === 'segmented' ? [] : assignOffsetSlots(k);
      const r = renderWasmKernel(k, offsets, rc, options.tuning);
      const key = r.body.encode().join(',');
      let index = byBody.get(key);
      if (index === undefined) {
        index = kernels.length;
        byBody.set(key, index);
        const name = `${k.kind}_${index}`;
        m.addFunction(r.body, name);
        kernels.push({ name, kind: k.kind, uses: [], flops: flopsOf(k) });
      }
      kernels[index].uses.push(kernelUse(k, g, labels));
      scratch = Math.max(scratch, r.scratch);
      entries[entry].push({ kernel: index, items: r.items, table: tablesAt + 4 * words.length, sync: true });
      what[entry].push(labels.kernel(k));
      words.push(...r.table);
      while (words.length % (LINE / 4)) words.push(0);
    }
  }
  for (const { name: entry, schedule } of program.entries) markSyncs(entries[entry], schedule.kernels, program.values);
  const staticBytes = align(tablesAt + 4 * words.length);
  m.importMemory('env', 'memory', Math.ceil(staticBytes / PAGE), MAX_PAGES, true);
  return {
    program: {
      format: 'mdlc-wasm/1',
      model: layout.model,
      module: m.encode(),
      bases,
      arenas: layout.arenas,
      staticBytes,
      tables: { at: tablesAt, words: Uint32Array.from(words) },
      scratchPerThread: align(Math.max(scratch, SCRATCH_HEADER)),
      kernels: kernels.map((k) => k.name),
      entries,
      params: layout.params,
      inputs: Object.fromEntries(layout.inputs.map((i) => [i.name, i])),
      outputs: layout.outputs,
    },
    kernels,
    what,
  };
}

/** A region of an arena, in elements: [arena, start, end). */
type Range = [Arena, number, number];

/**
 * The regions a kernel reads and writes: each access from its start to its last element over
 * the kernel's axes (a grouped GEMM's operand spans the whole group), and at least its value.
 */
function footprint(k: Kernel, values: ValueTable): { reads: Range[]; writes: Range[] } {
  const sizes = new Map(iterationAxes(k).map((a) => [a.id, a.size]));
  for (const e of exprsOf(k)) for (const x of subexpressions(e)) if (x.k === 'gather') sizes.set(x.axis.id, x.axis.size);
  const written = new Set(k.writes);
  const reads: Range[] = [];
  const writes: Range[] = [];
  for (const a of accessesOf(k)) {
    let last = 0;
    for (const [id, stride] of a.strides) last += Math.max(0, (sizes.get(id) ?? 1) - 1) * Math.abs(stride);
    const end = a.offset + Math.max(last + 1, values.get(a.value).size);
    (written.has(a.value) ? writes : reads).push([a.arena, a.offset, end]);
  }
  return { reads, writes };
}

const overlap = (a: Range, b: Range) => a[0] === b[0] && a[1] < b[2] && b[1] < a[2];
const anyOverlap = (as: readonly Range[], bs: readonly Range[]) => as.some((a) => bs.some((b) => overlap(a, b)));

/**
 * Which calls need a barrier after them: a call may start while the calls before it since the
 * last barrier are still running on other threads only when it reads nothing they write and
 * writes nothing they read or write. (The last call of an entry always ends with all threads
 * done.)
 */
function markSyncs(calls: WasmProgram['entries'][EntryName], kernels: readonly Kernel[], values: ValueTable): void {
  let since: { reads: Range[]; writes: Range[] } = { reads: [], writes: [] };
  kernels.forEach((k, i) => {
    const fp = footprint(k, values);
    const conflict = anyOverlap(fp.reads, since.writes) || anyOverlap(fp.writes, since.writes) || anyOverlap(fp.writes, since.reads);
    if (i > 0 && conflict) {
      calls[i - 1].sync = true;
      since = { reads: [], writes: [] };
    } else if (i > 0) calls[i - 1].sync = false;
    since.reads.push(...fp.reads);
    since.writes.push(...fp.writes);
  });
}
