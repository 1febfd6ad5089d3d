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
import { planProgram, type KernelCall, type ProgramPlan } from './program.js';
import type { ProgramIR } from './passes/index.js';
import type { GemmVariant, Target } from './target.js';

export { planProgram, type ProgramPlan } from './program.js';
export { emitKernels, emitModel, emitTrain } from './emit.js';
export { CPU_TARGET, GPU_TARGET, targetFor, type GemmVariant, type Target } from './target.js';

/** WebGPU's default maxStorageBufferBindingSize; adapters may offer more. */
export const DEFAULT_MAX_BINDING = 128 * 1024 * 1024;

/** The device limits a build is checked against (WebGPU's names). */
export interface BuildLimits {
  maxStorageBufferBindingSize: number;
  maxComputeWorkgroupsPerDimension: number;
  maxComputeWorkgroupStorageSize: number;
  maxComputeInvocationsPerWorkgroup: number;
  maxComputeWorkgroupSizeX: number;
  maxComputeWorkgroupSizeY: number;
  maxComputeWorkgroupSizeZ: number;
}

/** WebGPU's defaults: what every adapter offers at least. */
export const DEFAULT_LIMITS: BuildLimits = {
  maxStorageBufferBindingSize: DEFAULT_MAX_BINDING,
  maxComputeWorkgroupsPerDimension: 65535,
  maxComputeWorkgroupStorageSize: 16384,
  maxComputeInvocationsPerWorkgroup: 256,
  maxComputeWorkgroupSizeX: 256,
  maxComputeWorkgroupSizeY: 256,
  maxComputeWorkgroupSizeZ: 64,
};

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

/** Device limits the program must respect, checked at build time and reported by .mdl name. */
export function checkLimits(model: ElaboratedModel, plan: ProgramPlan, limits: Partial<BuildLimits> = {}): Diagnostic[] {
  const lim: BuildLimits = { ...DEFAULT_LIMITS, ...limits };
  const maxBinding = lim.maxStorageBufferBindingSize;
  const out: Diagnostic[] = [];
  for (const arena of ['f32', 'i32'] as const) {
    const bytes = plan.arenas[arena] * 4;
    if (bytes <= maxBinding) continue;
    // Name the largest values so the user knows which dims to shrink.
    const big = model.graph.nodes
      .filter((n) => (arena === 'f32') === (n.type.dtype === 'f32') && n.span)
      .map((n) => ({ n, bytes: 4 * n.type.axes.reduce((s, a) => s * a.size, 1) }))
      .sort((a, b) => b.bytes - a.bytes)[0];
    const what = big ? `${big.n.name ? `\`${big.n.name}\`` : 'a value'} of ${formatBytes(big.bytes)} over [${big.n.type.axes.map((a) => `${a.name}=${a.size}`).join(', ')}]` : 'its values';
    out.push(
      diagnostic('E0901', `the ${arena} buffers of one training step need ${formatBytes(bytes)}, over the device's binding limit of ${formatBytes(maxBinding)}; the largest is ${what}`, big?.n.span ?? model.graph.params[0].span, {
        help: 'shrink the dims that size it (for example --set batch=... or --set seq=...)',
      }),
    );
  }

  // Per kernel: workgroup size and memory (reported once per kernel), then every dispatch's grid.
  const byName = new Map(plan.kernels.map((k) => [k.name, k]));
  const reported = new Set<string>();
  const at = (call: KernelCall) => (call.node === undefined ? model.graph.params[0].span : model.graph.nodes[call.node]?.span) ?? model.graph.params[0].span;
  const calls = (['train', 'eval', 'forward'] as const).flatMap((e) => plan.entries[e]);
  for (const call of calls) {
    const k = byName.get(call.kernel)!;
    if (reported.has(k.name)) continue;
    const [x, y, z] = k.workgroupSize;
    const problems: string[] = [];
    if (k.workgroupBytes > lim.maxComputeWorkgroupStorageSize) problems.push(`${k.workgroupBytes} bytes of workgroup memory, over the device's limit of ${lim.maxComputeWorkgroupStorageSize}`);
    if (x * y * z > lim.maxComputeInvocationsPerWorkgroup) problems.push(`${x * y * z} invocations per workgroup, over the device's limit of ${lim.maxComputeInvocationsPerWorkgroup}`);
    if (x > lim.maxComputeWorkgroupSizeX || y > lim.maxComputeWorkgroupSizeY || z > lim.maxComputeWorkgroupSizeZ)
      problems.push(`a workgroup of ${x} × ${y} × ${z}, over the device's limit of ${lim.maxComputeWorkgroupSizeX} × ${lim.maxComputeWorkgroupSizeY} × ${lim.maxComputeWorkgroupSizeZ}`);
    if (!problems.length) continue;
    reported.add(k.name);
    out.push(
      diagnostic('E0903', `kernel ${k.name} (${call.what}) needs ${problems.join(' and ')}`, at(call), {
        help: k.kind === 'gemm' ? 'build with the register GEMM variant (--gemm register), which uses no workgroup memory' : 'this device is below what WebGPU guarantees; use another adapter',
      }),
    );
  }
  for (const call of calls) {
    const worst = Math.max(...call.dispatch);
    if (worst <= lim.maxComputeWorkgroupsPerDimension || reported.has(call.kernel)) continue;
    reported.add(call.kernel);
    out.push(
      diagnostic('E0902', `a dispatch of kernel ${call.kernel} (${call.what}) needs ${call.dispatch.join(' × ')} workgroups, over the device's limit of ${lim.maxComputeWorkgroupsPerDimension} per dimension`, at(call), {
        help: 'shrink the dims that size it (for example --set batch=... or --set seq=...)',
      }),
    );
  }
  return out;
}

function formatBytes(n: number): string {
  return n >= 2 ** 20 ? `${(n / 2 ** 20).toFixed(1)} MiB` : `${(n / 1024).toFixed(1)} KiB`;
}

export function build(model: ElaboratedModel, sourcePath: string, options: BuildOptions): BuildResult {
  const step = options.step ?? buildTrainStep(model);
  const plan = planProgram(model, { target: options.target, step, trace: options.trace });
  const diagnostics = checkLimits(model, plan, options.limits);
  if (diagnostics.length) return { diagnostics, files: [] };

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
