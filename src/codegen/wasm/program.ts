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
import type { Kernel } from '../kernel-ir/types.js';
import { assignOffsetSlots } from '../offsets.js';
import type { EntryName, ProgramIR } from '../passes/index.js';
import { flopsOf, kernelUse, scheduleProgram } from '../program.js';
import { WASM_TARGET } from '../target.js';
import { ModuleBuilder } from './encoder.js';
import type { ArenaBases } from './expr.js';
import type { GemmTuning } from './gemm.js';
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
      entries[entry].push({ kernel: index, items: r.items, table: tablesAt + 4 * words.length });
      what[entry].push(labels.kernel(k));
      words.push(...r.table);
      while (words.length % (LINE / 4)) words.push(0);
    }
  }
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
      scratchPerThread: align(scratch),
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
