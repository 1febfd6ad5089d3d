/**
 * From a checked model to a program plan: the training step, evaluation and forward pass
 * scheduled into kernels over one set of buffers, every kernel rendered to WGSL, and the
 * layout of parameters, optimizer state, inputs and outputs in the arenas. The TypeScript
 * emitter (emit.ts) turns the plan into `model.ts`; `report.json` is derived from it too.
 */
import type { ElaboratedModel } from '../ir/elaborate/model.js';
import { buildTrainStep, type TrainStep } from '../ir/optimizer/index.js';
import type { Axis, Graph, Init, IRNode } from '../ir/types.js';
import { Groups, planBuffers, resolveOffsets, type BufferPlan } from './buffers.js';
import { ValueTable } from './kernel-ir/ids.js';
import { segmentTable } from './kernel-ir/kernel.js';
import type { Arena, Kernel, ValueId } from './kernel-ir/types.js';
import { ASSIGNABLE_OFFSET_SLOTS, assignOffsetSlots } from './offsets.js';
import { PASSES, persistentValues, runPasses, type EntryName, type ProgramIR } from './passes/index.js';
import type { GemmVariant, Target } from './target.js';
import { renderKernel } from './wgsl/kernels.js';
import { Labels } from './labels.js';

export type { EntryName } from './passes/index.js';

export interface TensorSlot {
  name: string;
  arena: Arena;
  offset: number;
  size: number;
  /** Axis names and sizes of the layout (row-major). */
  axes: { name: string; size: number }[];
}

export interface ParamSlot extends TensorSlot {
  init: Init;
  m: number;
  v: number;
  lrGroup: number;
  weightDecay: number;
  /**
   * A second copy of the parameter in another axis order (`perm[j]` is the parameter axis that
   * is the copy's j-th), kept equal to it by the optimizer's update, for contractions that would
   * otherwise read it along the contracted axis (the slow case of the register GEMM).
   */
  transposed?: { offset: number; perm: number[] };
}

export interface KernelCall {
  /** The pipeline (distinct WGSL) this dispatch runs. */
  kernel: string;
  dispatch: [number, number, number];
  /** Arena offsets of the regions it accesses, in the kernel's offset slots (`off[...]`). */
  offsets: number[];
  /** What the dispatch computes, in .mdl terms (for the comment in model.ts). */
  what: string;
  /** An IR node it computes that has a source span (for diagnostics), if any. */
  node?: number;
}

export interface KernelSource {
  name: string;
  code: string;
  /** The comment that heads the .wgsl file: IR nodes and the .mdl lines they come from. */
  comment: string;
  kind: Kernel['kind'];
  /** Invocations per workgroup along x, y, z, and the bytes of workgroup memory it declares (device limits). */
  workgroupSize: [number, number, number];
  workgroupBytes: number;
  flops: number;
  bytes: number;
  /** Every dispatch that runs this kernel: its IR nodes and .mdl lines. */
  uses: string[];
}

export interface ProgramPlan {
  model: string;
  /** The target it was built for (target.ts) and its GEMM variant. */
  target: Target['name'];
  gemmVariant: GemmVariant;
  arenas: Record<Arena, number>;
  params: ParamSlot[];
  /** Inputs written by the host before a call: token windows and per-step scalars. */
  inputs: TensorSlot[];
  outputs: { loss: TensorSlot; gradNorm: TensorSlot; logits: TensorSlot };
  lrGroups: { input: string; pattern?: string }[];
  kernels: KernelSource[];
  entries: Record<EntryName, KernelCall[]>;
  peakBytes: number;
}

function slot(name: string, n: IRNode, offset: number): TensorSlot {
  return { name, arena: n.type.dtype === 'f32' ? 'f32' : 'i32', offset, size: n.type.axes.reduce((s, a) => s * a.size, 1), axes: n.type.axes.map((a) => ({ name: a.name, size: a.size })) };
}

export interface PlanOptions {
  target: Target;
  /** The training step, if already built. */
  step?: TrainStep;
  /** Called with the program after each pass (`--emit kernels`). */
  trace?: (pass: string, program: ProgramIR) => void;
}

/** Where a program's values live: the arenas' sizes and the parameters, inputs and outputs in them. */
export interface ProgramLayout {
  model: string;
  arenas: Record<Arena, number>;
  params: ParamSlot[];
  inputs: TensorSlot[];
  outputs: ProgramPlan['outputs'];
  lrGroups: ProgramPlan['lrGroups'];
  peakBytes: number;
}

/** A program after the passes and buffer planning, before rendering: what every renderer (WGSL, wasm) starts from. */
export interface ScheduledProgram {
  program: ProgramIR;
  layout: ProgramLayout;
}

/**
 * Run the passes over the training step, evaluation and forward pass, and place every value:
 * each entry point's kernels with their regions' offsets resolved.
 */
export function scheduleProgram(model: ElaboratedModel, options: PlanOptions): ScheduledProgram {
  const step = options.step ?? buildTrainStep(model);
  const g = step.graph;
  const logits = model.logits;
  // In-place updates: new parameters and optimizer state overwrite the old.
  const aliases = new Map<ValueId, ValueId>();
  for (const p of step.params) {
    aliases.set(p.newParam, p.param.node);
    aliases.set(p.newM, p.m);
    aliases.set(p.newV, p.v);
  }
  const values = new ValueTable(g);
  const program: ProgramIR = {
    graph: g,
    step,
    target: options.target,
    aliases,
    hostOutputs: [step.loss, step.gradNorm, logits],
    values,
    groups: new Groups(),
    entries: [
      { name: 'train', outputs: [step.loss, step.gradNorm, ...step.params.flatMap((p) => [p.newParam, p.newM, p.newV])], schedule: { kernels: [], values } },
      { name: 'eval', outputs: [step.loss], schedule: { kernels: [], values } },
      { name: 'forward', outputs: [logits], schedule: { kernels: [], values } },
    ],
    transposed: new Map(),
  };
  runPasses(program, PASSES, options.trace);
  const scheds = program.entries.map((e) => e.schedule);
  const plans = planBuffers(scheds, { persistent: persistentValues(program), aliases, groups: program.groups.all() });
  scheds.forEach((s, i) => resolveOffsets(s.kernels, plans[i]));

  const regionOf = (plan: BufferPlan, id: number) => plan.regions.get(id)!.offset;
  const trainPlan = plans[0];
  const transposed = program.transposed;
  const params: ParamSlot[] = step.params.map((p) => ({
    ...slot(p.param.name, g.nodes[p.param.node], regionOf(trainPlan, p.param.node)),
    init: p.param.init,
    m: regionOf(trainPlan, p.m),
    v: regionOf(trainPlan, p.v),
    lrGroup: p.lrGroup,
    weightDecay: p.weightDecay,
    ...(transposed.has(p.param.node) ? { transposed: { offset: regionOf(trainPlan, transposed.get(p.param.node)!.value.node), perm: transposed.get(p.param.node)!.perm } } : {}),
  }));
  const stateInputs = new Set(step.params.flatMap((p) => [p.m, p.v]));
  const inputs = g.inputs.filter((i) => !stateInputs.has(i.node)).map((i) => slot(i.name, g.nodes[i.node], regionOf(trainPlan, i.node)));
  return {
    program,
    layout: {
      model: model.name,
      arenas: trainPlan.arenaSize,
      params,
      inputs,
      outputs: {
        loss: slot('loss', g.nodes[step.loss], regionOf(trainPlan, step.loss)),
        gradNorm: slot('grad_norm', g.nodes[step.gradNorm], regionOf(trainPlan, step.gradNorm)),
        logits: slot(model.outputName, g.nodes[logits], regionOf(trainPlan, logits)),
      },
      lrGroups: step.lrGroups.map((l) => ({ input: l.input, pattern: l.pattern })),
      peakBytes: trainPlan.peakBytes,
    },
  };
}

export function planProgram(model: ElaboratedModel, options: PlanOptions): ProgramPlan {
  const { program, layout } = scheduleProgram(model, options);
  const g = program.graph;
  const kernels: KernelSource[] = [];
  const calls: Record<EntryName, KernelCall[]> = { train: [], eval: [], forward: [] };
  // Kernels read their regions' offsets from a uniform (offsets.ts), so kernels that differ
  // only in where their data lives (the same op in every layer) share one WGSL module and one pipeline.
  const byCode = new Map<string, KernelSource>();
  const labels = new Labels(g);
  for (const { name: entry, schedule } of program.entries) {
    for (const k of schedule.kernels) {
      k.name = `${entry}_${k.name}`;
      const offsets = k.kind === 'segmented' ? segmentTable(k) : assignOffsetSlots(k);
      if (offsets.length > ASSIGNABLE_OFFSET_SLOTS) throw new Error(`internal: kernel ${k.name} needs ${offsets.length} offset slots`);
      const r = renderKernel(k, options.target, { offsetsUniform: true });
      let source = byCode.get(r.code);
      if (!source) {
        source = { name: `${k.kind}_${byCode.size}`, code: r.code, comment: '', kind: k.kind, workgroupSize: r.workgroupSize, workgroupBytes: r.workgroupBytes, flops: flopsOf(k), bytes: bytesOf(k), uses: [] };
        byCode.set(r.code, source);
        kernels.push(source);
      }
      source.uses.push(kernelUse(k, g, labels));
      const node = k.nodes.find((id) => g.nodes[id]?.span);
      calls[entry].push({ kernel: source.name, dispatch: r.dispatch, offsets, what: labels.kernel(k), ...(node === undefined ? {} : { node }) });
    }
  }
  for (const k of kernels) {
    k.comment = kernelComment(k);
    k.code = `${k.comment}\n${k.code}`;
  }
  return { ...layout, target: options.target.name, gemmVariant: options.target.gemm, kernels, entries: calls };
}

export function kernelUse(k: Kernel, g: Graph, labels: Labels): string {
  const nodes = k.nodes.map((id) => g.nodes[id]).filter(Boolean);
  const from = k.lines.length ? k.lines.join(', ') : 'compiler-generated (gradients / optimizer)';
  return `${k.name}: ${nodes.map((n) => labels.node(n)).join(', ') || '(temporary)'} — from ${from}`;
}

/** The .wgsl header: what the kernel is and, for each dispatch running it, the IR nodes and .mdl lines. */
function kernelComment(k: KernelSource): string {
  const shown = k.uses.slice(0, 12).map((u) => `//   ${u}`);
  if (k.uses.length > 12) shown.push(`//   ... and ${k.uses.length - 12} more dispatches`);
  return [`// ${k.name}: ${k.kind} kernel, run by ${k.uses.length} dispatch${k.uses.length === 1 ? '' : 'es'}`, '// IR nodes and .mdl lines, per dispatch:', ...shown].join('\n');
}

function size(axes: readonly Axis[]): number {
  return axes.reduce((s, a) => s * a.size, 1);
}

/** Floating-point operations of a kernel (2 per multiply-add in GEMMs; 1 per element otherwise). */
export function flopsOf(k: Kernel): number {
  switch (k.kind) {
    case 'gemm':
      return 2 * size(k.batch) * size(k.m) * size(k.n) * size(k.k);
    case 'map':
      return size(k.axes);
    case 'reduce':
      return size(k.axes) * size(k.over) * (1 + (k.siblings?.length ?? 0));
    case 'softmax':
    case 'ce_rows':
      return 4 * size(k.axes) * k.axis.size;
    case 'scatter':
      return size(k.axes) * size(k.positions);
    case 'sum_squares':
      return 2 * k.parts.reduce((s, p) => s + p.size, 0);
    case 'rows':
      return k.phases.reduce((s, p) => s + flopsOf(p), 0);
    case 'maps':
      return k.parts.reduce((s, p) => s + flopsOf(p), 0);
    case 'segmented':
      return k.segments.reduce((s, p) => s + p.size, 0) * k.stores.length;
  }
}

/** Bytes a kernel must move at least: its outputs written and inputs read once. */
export function bytesOf(k: Kernel): number {
  switch (k.kind) {
    case 'gemm':
      return 4 * (size(k.batch) * (size(k.m) * size(k.k) + size(k.n) * size(k.k) + size(k.m) * size(k.n) * (1 + (k.extra?.length ?? 0))));
    case 'map':
      return 4 * size(k.axes) * (1 + k.stores.length);
    case 'reduce':
      return 4 * (size(k.axes) * size(k.over) + size(k.axes)) * (1 + (k.siblings?.length ?? 0));
    case 'softmax':
      return 8 * size(k.axes) * k.axis.size;
    case 'ce_rows':
      return 4 * size(k.axes) * (k.axis.size + 2);
    case 'scatter':
      return 4 * (size(k.axes) + size(k.positions) * (1 + size(k.axes) / k.axis.size));
    case 'sum_squares':
      return 4 * k.parts.reduce((s, p) => s + p.size + 1, 0);
    case 'rows':
      return k.phases.reduce((s, p) => s + bytesOf(p), 0);
    case 'maps':
      return k.parts.reduce((s, p) => s + bytesOf(p), 0);
    case 'segmented':
      return 4 * k.segments.reduce((s, p) => s + p.size * (p.slots.length + k.stores.length + (p.cols ? 1 : 0)), 0);
  }
}
