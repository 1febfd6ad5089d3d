/**
 * `mdlc build` and `mdlc train`: compile against the data, then (train) run the training
 * loop: on WebGPU by building the model and running its generated `train.js`, or on the
 * reference interpreter with `--backend cpu`.
 */
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { readSourceFile } from '../parser/index.js';
import { openSession, DataError, type TrainSession } from '../train/session.js';
import { NonFiniteLossError, trainCpu } from '../train/cpu.js';
import { build, DEFAULT_LIMITS, planProgram, targetFor, type BuildLimits, type GemmVariant, type Target } from '../codegen/index.js';
import { programText } from '../codegen/passes/index.js';
import { printGraph } from '../ir/print.js';
import { saveTrainingCheckpoint } from '../../runtime/training.js';
import { acquireDevice, WebGpuUnavailableError } from '../../runtime/device.js';
import { CheckpointError } from '../../runtime/checkpoint.js';
import { flag, intFlag, overrides, UsageError, type FlagSpec, type ParsedArgs } from './args.js';
import { files, formatOf, report, type Io } from './common.js';
import type { SourceFile } from '../diagnostics/index.js';

export const BUILD_FLAGS: Record<string, FlagSpec> = {
  data: { value: true },
  out: { value: true },
  emit: { value: true },
  gemm: { value: true },
  batch: { value: true },
};

export const TRAIN_FLAGS: Record<string, FlagSpec> = {
  ...BUILD_FLAGS,
  backend: { value: true },
  steps: { value: true },
  seed: { value: true },
  overfit: {},
};

/** The loss --overfit must reach: memorising one batch is the first sanity check of a model. */
export const OVERFIT_TARGET = 0.05;

function trainOverrides(args: ParsedArgs): Map<string, number> {
  const sets = overrides(args);
  for (const name of ['steps', 'batch', 'seed'] as const) {
    const v = args.flags.has(name) ? intFlag(args, name, name === 'seed' ? 0 : 1) : undefined;
    if (v !== undefined) sets.set(name, v);
  }
  return sets;
}

function gemmFlag(args: ParsedArgs): GemmVariant | undefined {
  const g = flag(args, 'gemm');
  if (g === undefined) return undefined;
  if (g !== 'register' && g !== 'tiled') throw new UsageError(`--gemm must be 'register' (CPU adapters) or 'tiled' (GPUs), got '${g}'`);
  return g;
}

/** The target (with `--gemm`'s variant, if given) and the limits to build for, from the adapter when there is one (else the CPU target). */
async function adapterTraits(args: ParsedArgs): Promise<{ target: Target; limits: Partial<BuildLimits>; available: boolean }> {
  const gemm = gemmFlag(args);
  try {
    const ctx = await acquireDevice();
    const limits: Partial<BuildLimits> = {};
    for (const name of Object.keys(DEFAULT_LIMITS) as (keyof BuildLimits)[]) if (typeof ctx.limits[name] === 'number') limits[name] = ctx.limits[name];
    const traits = { target: targetFor(ctx, gemm), limits, available: true };
    ctx.destroy();
    return traits;
  } catch (e) {
    if (e instanceof WebGpuUnavailableError) return { target: targetFor({ isSoftware: true }, gemm), limits: {}, available: false };
    throw e;
  }
}

/**
 * Read the model, compile it against its data (reporting diagnostics), and run `body` with
 * the session; data, divergence, checkpoint and adapter failures become one line and exit 1.
 */
async function withSession(args: ParsedArgs, io: Io, file: string, body: (s: TrainSession, source: SourceFile) => Promise<number>): Promise<number> {
  const format = formatOf(args);
  const read = readSourceFile(file);
  if (!read.source) {
    report(read.diagnostics, [], format, io);
    return 1;
  }
  const source = read.source;
  return guarded(io, async () => {
    const opened = await openSession(source, { dataPath: flag(args, 'data'), overrides: trainOverrides(args) });
    report(opened.diagnostics, [source], format, io);
    return opened.ok ? body(opened.session, source) : 1;
  });
}

/** Run `body`, turning the user-facing failures (data, divergence, checkpoints, no adapter) into one line and exit 1. */
async function guarded(io: Io, body: () => Promise<number>): Promise<number> {
  try {
    return await body();
  } catch (e) {
    if (e instanceof DataError || e instanceof NonFiniteLossError || e instanceof CheckpointError || e instanceof WebGpuUnavailableError) {
      io.err(`mdlc: ${e.message}`);
      return 1;
    }
    throw e;
  }
}

export async function runBuild(args: ParsedArgs, io: Io): Promise<number> {
  const format = formatOf(args);
  const [file] = files(args, true);
  const emit = flag(args, 'emit');
  if (emit !== undefined && emit !== 'ir' && emit !== 'kernels') throw new UsageError(`--emit must be 'ir' or 'kernels', got '${emit}'`);
  return withSession(args, io, file, async (s, source) => {
    if (emit === 'ir') {
      io.out(printGraph(s.model.graph, `model ${s.model.name}`));
      return 0;
    }
    const traits = await adapterTraits(args);
    if (emit === 'kernels') {
      io.out(`kernel IR of ${s.model.name} for the ${traits.target.name} target (${traits.target.gemm} GEMMs), after each pass:`);
      planProgram(s.model, { target: traits.target, step: s.step, trace: (pass, program) => io.out(programText(pass, program)) });
      return 0;
    }
    const outDir = flag(args, 'out') ?? join('build', s.model.name);
    const r = build(s.model, file, { outDir, target: traits.target, limits: traits.limits });
    report(r.diagnostics, [source], format, io);
    if (!r.report) return 1;
    const p = r.report.perStep;
    io.out(
      `built ${s.model.name} into ${outDir}/: ${r.report.kernels} kernels (${r.report.gemmVariant} GEMMs); a training step is ${p.dispatches} dispatches in ${p.submits} submit, ` +
        `${(p.flops / 1e9).toFixed(2)} GFLOP, peak buffers ${(p.peakBufferBytes / 2 ** 20).toFixed(1)} MiB`,
    );
    return 0;
  });
}

export async function runTrain(args: ParsedArgs, io: Io): Promise<number> {
  const format = formatOf(args);
  const [file] = files(args, true);
  const requested = flag(args, 'backend');
  if (requested !== undefined && requested !== 'cpu' && requested !== 'webgpu') throw new UsageError(`--backend must be 'webgpu' or 'cpu', got '${requested}'`);
  const overfit = args.flags.has('overfit');
  return withSession(args, io, file, async (s, source) => {
    const cfg = s.model.train;
    const steps = overfit && !args.flags.has('steps') && !overrides(args).has('steps') ? Math.min(cfg.steps, 500) : cfg.steps;
    let backend = requested;
    let traits: Awaited<ReturnType<typeof adapterTraits>> | undefined;
    if (backend !== 'cpu') {
      traits = await adapterTraits(args);
      if (!traits.available) {
        if (backend === 'webgpu') throw new WebGpuUnavailableError();
        io.err('mdlc: no WebGPU adapter; training on the cpu backend (the reference interpreter). ' + WebGpuUnavailableError.remedy);
        backend = 'cpu';
      } else backend = 'webgpu';
    }
    const nParams = s.model.graph.params.reduce((n, p) => n + p.type.axes.reduce((a, x) => a * x.size, 1), 0);
    io.out(
      `training ${s.model.name} on the ${backend} backend: ${nParams.toLocaleString('en-US')} parameters, vocab ${s.vocab.size}, ` +
        `batch ${s.batch} × window ${s.window}, ${steps} steps${overfit ? ' on one fixed batch (--overfit)' : ''}`,
    );
    const out = flag(args, 'out');
    let finalLoss: number;
    if (backend === 'webgpu') {
      const outDir = join('build', s.model.name);
      const r = build(s.model, file, { outDir, target: traits!.target, limits: traits!.limits });
      report(r.diagnostics, [source], format, io);
      if (!r.report) return 1;
      io.out(`built ${outDir}/: a training step is ${r.report.perStep.dispatches} dispatches in 1 submit`);
      const program = (await import(pathToFileURL(join(process.cwd(), outDir, 'train.js')).href)) as {
        train: (o: object) => Promise<{ losses: number[]; valLosses: { step: number; loss: number }[]; tokensPerSecond: number; firstStepSeconds: number }>;
      };
      const result = await program.train({ data: flag(args, 'data'), steps, overfit, targetLoss: overfit ? OVERFIT_TARGET : undefined, out, log: (l: string) => io.out(l) });
      finalLoss = result.losses.at(-1) ?? NaN;
      const val = result.valLosses.at(-1);
      io.out(
        `done: ${result.losses.length} steps, final loss ${finalLoss.toFixed(4)}${val ? `, val ${val.loss.toFixed(4)}` : ''}, ${Math.round(result.tokensPerSecond)} tokens/s, first step ${result.firstStepSeconds.toFixed(2)} s`,
      );
    } else {
      const result = trainCpu(s, { steps, overfit, targetLoss: overfit ? OVERFIT_TARGET : undefined, log: (l) => io.out(l) });
      finalLoss = result.finalLoss;
      const last = result.losses.at(-1);
      io.out(`done: ${result.losses.length} steps, final loss ${finalLoss.toFixed(4)}${last?.valLoss !== undefined ? `, val ${last.valLoss.toFixed(4)}` : ''}, ${Math.round(result.tokensPerSecond)} tokens/s`);
      if (out) {
        const params = new Map([...result.params].map(([k, t]) => [k, Float32Array.from(t.data)]));
        const shapes = new Map(s.model.graph.params.map((p) => [p.name, p.type.axes.map((a) => a.size)]));
        saveTrainingCheckpoint(out, { model: s.model.name, params, vocab: s.vocab, step: result.losses.length, shapes });
      }
    }
    if (out) io.out(`wrote ${join(out, 'params.safetensors')} and vocab.json`);
    if (overfit) {
      if (finalLoss < OVERFIT_TARGET) {
        io.out(`overfit: ok, the loss reached ${finalLoss.toFixed(4)} < ${OVERFIT_TARGET}`);
        return 0;
      }
      io.err(`mdlc: overfit failed: the loss is ${finalLoss.toFixed(4)}, not below ${OVERFIT_TARGET}`);
      return 1;
    }
    return 0;
  });
}
