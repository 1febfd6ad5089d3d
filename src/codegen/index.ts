/**
 * Code generation entry point: a checked model → the files of `build/<model>/`:
 * kernels/*.wgsl, model.ts/js, train.ts/js, ir.txt and report.json.
 */
import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { diagnostic, type Diagnostic } from '../diagnostics/index.js';
import type { ElaboratedModel } from '../ir/elaborate/model.js';
import { buildTrainStep, trainSpecOf, type TrainStep } from '../ir/optimizer/index.js';
import type { ModelMeta } from '../../runtime/checkpoint.js';
import { printGraph } from '../ir/print.js';
import { emitKernels, emitModel, emitTrain } from './emit.js';
import { planProgram, type ProgramPlan } from './program.js';
import type { ProgramIR } from './passes/index.js';
import type { GemmVariant, Target } from './target.js';

export { planProgram, type ProgramPlan } from './program.js';
export { emitKernels, emitModel, emitTrain } from './emit.js';
export { CPU_TARGET, GPU_TARGET, targetFor, type GemmVariant, type Target } from './target.js';
export { buildLimitsOf, checkLimits, DEFAULT_LIMITS, DEFAULT_MAX_BINDING, type BuildLimits } from './limits.js';
import { checkLimits, type BuildLimits } from './limits.js';

export interface BuildOptions {
  outDir: string;
  /** What to build for (target.ts): `targetFor(adapter)`. */
  target: Target;
  /** Called with the program after each pass (`--emit kernels`). */
  trace?: (pass: string, program: ProgramIR) => void;
  /** The device's limits (defaults: WebGPU's), to report what does not fit at build time. */
  limits?: Partial<BuildLimits>;
  /** What the generated program's checkpoints say about the model (source, overrides, hash). */
  meta?: Omit<ModelMeta, 'vocab'>;
  /** The model's training step, when the caller has built it already. */
  step?: TrainStep;
}

export interface BuildReport {
  model: string;
  target: Target['name'];
  gemmVariant: GemmVariant;
  kernels: number;
  perStep: { dispatches: number; submits: number; bytesMoved: number; flops: number; peakBufferBytes: number };
  eval: { dispatches: number };
  forward: { dispatches: number };
  kernelKinds: Record<string, number>;
}

export interface BuildResult {
  plan?: ProgramPlan;
  report?: BuildReport;
  diagnostics: Diagnostic[];
  files: string[];
}

export function reportOf(plan: ProgramPlan): BuildReport {
  const byName = new Map(plan.kernels.map((k) => [k.name, k]));
  const train = plan.entries.train.map((c) => byName.get(c.kernel)!);
  const kinds: Record<string, number> = {};
  for (const k of train) kinds[k.kind] = (kinds[k.kind] ?? 0) + 1;
  return {
    model: plan.model,
    target: plan.target,
    gemmVariant: plan.gemmVariant,
    kernels: plan.kernels.length,
    perStep: {
      dispatches: plan.entries.train.length,
      submits: 1,
      bytesMoved: train.reduce((s, k) => s + k.bytes, 0),
      flops: train.reduce((s, k) => s + k.flops, 0),
      peakBufferBytes: plan.peakBytes,
    },
    eval: { dispatches: plan.entries.eval.length },
    forward: { dispatches: plan.entries.forward.length },
    kernelKinds: kinds,
  };
}


export function build(model: ElaboratedModel, sourcePath: string, options: BuildOptions): BuildResult {
  const planned = planBuild(model, options);
  return planned.plan ? writeBuild(model, sourcePath, options, planned.plan, planned.step) : { diagnostics: planned.diagnostics, files: [] };
}

/**
 * `build`'s first half: the program plan (its kernels' WGSL included), or the limits it breaks.
 * A caller can start compiling the kernels (runtime/shader-cache.ts) before writeBuild.
 */
export function planBuild(model: ElaboratedModel, options: Omit<BuildOptions, 'outDir' | 'meta'>): { plan?: ProgramPlan; step: TrainStep; diagnostics: Diagnostic[] } {
  const step = options.step ?? buildTrainStep(model);
  const plan = planProgram(model, { target: options.target, step, trace: options.trace });
  const diagnostics = checkLimits(model, plan, options.limits);
  return diagnostics.length ? { step, diagnostics } : { plan, step, diagnostics };
}

/** `build`'s second half: the files of a plan that planBuild made with the same options. */
export function writeBuild(model: ElaboratedModel, sourcePath: string, options: BuildOptions, plan: ProgramPlan, step: TrainStep): BuildResult {
  const diagnostics: Diagnostic[] = [];
  const out = options.outDir;
  mkdirSync(join(out, 'kernels'), { recursive: true });
  for (const f of readdirSync(join(out, 'kernels'))) if (f.endsWith('.wgsl')) rmSync(join(out, 'kernels', f));
  const files: string[] = [];
  const write = (name: string, text: string) => {
    writeFileSync(join(out, name), text);
    files.push(join(out, name));
  };
  for (const k of plan.kernels) write(join('kernels', `${k.name}.wgsl`), k.code);
  const kernels = emitKernels(plan, sourcePath);
  write(join('kernels', 'index.ts'), kernels.ts);
  write(join('kernels', 'index.js'), kernels.js);
  const model_ = emitModel(plan, sourcePath);
  write('model.ts', model_.ts);
  write('model.js', model_.js);
  const train = emitTrain(model, plan, {
    sourcePath,
    spec: trainSpecOf(model, step),
    meta: options.meta ?? { model: model.name, modelHash: '', axes: Object.fromEntries(model.graph.params.map((p) => [p.name, p.type.axes.map((a) => a.name)])), source: '', overrides: {} },
  });
  write('train.ts', train.ts);
  write('train.js', train.js);
  write('ir.txt', printGraph(step.graph, `training step of ${model.name} (forward, loss, gradients, AdamW)`));
  const report = reportOf(plan);
  write('report.json', JSON.stringify(report, null, 2) + '\n');
  return { plan, report, diagnostics, files };
}
