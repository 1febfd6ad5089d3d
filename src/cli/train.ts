/**
 * `mdlc build` and `mdlc train`. Training compiles the model against its data, opens a run
 * directory, and runs the runtime's one training loop on the chosen backend, showing what a
 * practitioner needs to see: the parameters, progress, validation loss and completions, a
 * loss plot, checkpoints, and how to resume or sample.
 */
import { accessSync, constants, mkdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { readSourceFile } from '../parser/index.js';
import { openSession, DataError, type TrainSession } from '../train/session.js';
import { build, planProgram, targetFor } from '../codegen/index.js';
import { programText } from '../codegen/passes/index.js';
import { printGraph } from '../ir/print.js';
import { chooseBackend, findAdapter, openBackend, samplerFor, writeWasmBuild, type Adapter, type BackendChoice, type BackendKind } from '../train/backends.js';
import { planWasmProgram } from '../codegen/wasm/program.js';
import { WASM_TARGET } from '../codegen/target.js';
import { availableThreads } from '../../runtime/wasm.js';
import { checkpointMismatch, tensorsOf } from '../train/resume.js';
import { firstNonFinite } from '../train/diagnose.js';
import { CpuBackend } from '../train/cpu.js';
import { checkCpuMemory } from '../train/memory.js';
import { GpuDeviceError, WebGpuUnavailableError } from '../../runtime/device.js';
import { CheckpointError, readCheckpoint, type Checkpoint } from '../../runtime/checkpoint.js';
import { cacheDir, WindowSampler } from '../../runtime/data.js';
import { feedsOf, NonFiniteLossError, stepScalars, trainLoop, type LoopResult } from '../../runtime/loop.js';
import { formatDuration, formatSamples } from '../../runtime/format.js';
import { isRunDir, readRunConfig, resolveCheckpoint, RunDir, RunDirError, runDirName } from '../../runtime/run.js';
import type { TrainBackend } from '../../runtime/backend.js';
import { backendFlag, flag, intFlag, numberFlag, overrides, UsageError, type FlagSpec, type ParsedArgs } from './args.js';
import { defaultIo, files, formatOf, report, type Io } from './common.js';
import { plainProgress, terminalProgress, type Progress } from './progress.js';
import { describeRun, paramTable } from './summary.js';
import { mdlcVersion } from './version.js';
import type { SourceFile } from '../diagnostics/index.js';

export const BUILD_FLAGS: Record<string, FlagSpec> = {
  backend: { value: true },
  data: { value: true },
  out: { value: true },
  emit: { value: true },
  gemm: { value: true },
  batch: { value: true },
};

export const TRAIN_FLAGS: Record<string, FlagSpec> = {
  data: { value: true },
  gemm: { value: true },
  batch: { value: true },
  backend: { value: true },
  threads: { value: true },
  steps: { value: true },
  seed: { value: true },
  overfit: {},
  'run-dir': { value: true },
  resume: { value: true },
  'log-every': { value: true },
  samples: { value: true },
  'checkpoint-every': { value: true },
  keep: { value: true },
};

/** The loss --overfit must reach: memorising one batch is the first sanity check of a model. */
export const OVERFIT_TARGET = 0.05;

/** Validation completions are drawn at this temperature (as `mdlc sample`'s default), with the same seed at every evaluation. */
export const SAMPLE_TEMPERATURE = 0.8;

/** Exit code of a run stopped by Ctrl-C (128 + SIGINT), after its checkpoint is saved. */
export const EXIT_INTERRUPTED = 130;

/** `--set` plus the shorthands `--steps N`, `--batch N`, `--seed N`, validated as `--set` is. */
function trainOverrides(args: ParsedArgs): Map<string, number> {
  const sets = overrides(args);
  for (const name of ['steps', 'batch', 'seed'] as const) {
    const v = numberFlag(args, name);
    if (v !== undefined) sets.set(name, v);
  }
  return sets;
}

function gemmFlag(args: ParsedArgs) {
  const g = flag(args, 'gemm');
  if (g === undefined) return undefined;
  if (g !== 'register' && g !== 'tiled') throw new UsageError(`--gemm must be 'register' (CPU adapters) or 'tiled' (GPUs), got '${g}'`);
  return g;
}

/** Run `body`, turning the user-facing failures (data, divergence, checkpoints, run directory, adapter) into one line and exit 1. */
export async function guarded(io: Io, body: () => Promise<number>): Promise<number> {
  try {
    return await body();
  } catch (e) {
    if (e instanceof DataError || e instanceof NonFiniteLossError || e instanceof CheckpointError || e instanceof WebGpuUnavailableError || e instanceof RunDirError || e instanceof GpuDeviceError) {
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
  const backend = backendFlag(args);
  const read = readSourceFile(file);
  if (!read.source) {
    report(read.diagnostics, [], format, io);
    return 1;
  }
  const source = read.source;
  return guarded(io, async () => {
    const sets = trainOverrides(args);
    const opened = await openSession(source, { dataPath: flag(args, 'data'), overrides: sets });
    report(opened.diagnostics, [source], format, io);
    if (!opened.ok) return 1;
    const s = opened.session;
    if (emit === 'ir') {
      io.out(printGraph(s.model.graph, `model ${s.model.name}`));
      return 0;
    }
    if (backend === 'wasm' || backend === 'cpu') return buildWasm(s, args, emit, io);
    if (backend === 'interpreter') throw new UsageError('the interpreter runs the IR itself: there is nothing to build for it (build for webgpu or wasm)');
    const adapter = await findAdapter();
    adapter?.ctx.destroy();
    // The adapter's target (the CPU target without one), with --gemm's variant.
    const target = targetFor(adapter?.ctx ?? { isSoftware: true }, gemmFlag(args));
    if (emit === 'kernels') {
      io.out(`kernel IR of ${s.model.name} for the ${target.name} target (${target.gemm} GEMMs), after each pass:`);
      planProgram(s.model, { target, step: s.step, trace: (pass, program) => io.out(programText(pass, program)) });
      return 0;
    }
    const outDir = flag(args, 'out') ?? join('build', s.model.name);
    const r = build(s.model, file, { outDir, target, limits: adapter?.limits ?? {}, meta: s.meta, step: s.step });
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

/** `mdlc build --backend wasm`: the wasm program (model.wasm, program.json, kernels.txt) into build/<model>-wasm/ or --out. */
function buildWasm(s: TrainSession, args: ParsedArgs, emit: string | undefined, io: Io): number {
  if (emit === 'kernels') {
    io.out(`kernel IR of ${s.model.name} for the ${WASM_TARGET.name} target (${WASM_TARGET.gemm} GEMMs), after each pass:`);
    planWasmProgram(s.model, { step: s.step, trace: (pass, program) => io.out(programText(pass, program)) });
    return 0;
  }
  const outDir = flag(args, 'out') ?? join('build', `${s.model.name}-wasm`);
  const plan = planWasmProgram(s.model, { step: s.step });
  writeWasmBuild(plan, outDir);
  const p = plan.program;
  io.out(
    `built ${s.model.name} into ${outDir}/: ${p.kernels.length} WebAssembly kernels in model.wasm (${(p.module.length / 1024).toFixed(0)} KiB); a training step is ${p.entries.train.length} calls, ` +
      `memory ${((p.staticBytes + p.scratchPerThread) / 2 ** 20).toFixed(1)} MiB and ${(p.scratchPerThread / 2 ** 20).toFixed(1)} MiB per thread`,
  );
  return 0;
}

/**
 * What `--resume` names: a checkpoint and the run directory it belongs to (if any), or a run
 * killed before its first checkpoint (which starts again from step 0 with its own settings).
 */
interface ResumePoint {
  /** The checkpoint directory, or the run directory when it has none. */
  dir: string;
  runDir?: string;
  checkpoint?: Checkpoint;
  step: number;
  batchesDrawn: number;
  elapsedSeconds: number;
  bestValLoss: number | null;
  source: string;
  overrides: Record<string, number>;
}

function resumePoint(path: string): ResumePoint {
  if (isRunDir(path) && !latestOf(path)) {
    const config = readRunConfig(path);
    let source: string;
    try {
      source = readFileSync(join(path, 'model.mdl'), 'utf8');
    } catch {
      throw new CheckpointError(`the run ${path} has no checkpoint and no model.mdl to start again from`);
    }
    return { dir: path, runDir: path, step: 0, batchesDrawn: 0, elapsedSeconds: 0, bestValLoss: null, source, overrides: (config.overrides ?? {}) as Record<string, number> };
  }
  const dir = resolveCheckpoint(path);
  const checkpoint = readCheckpoint(dir);
  const t = checkpoint.trainer;
  if (!t || !checkpoint.state) throw new CheckpointError(`${dir} holds weights only (no optimizer or trainer state): it cannot be resumed`);
  const parent = resolve(dir, '..', '..');
  const runDir = isRunDir(path) ? path : isRunDir(parent) ? parent : undefined;
  return { dir, runDir, checkpoint, step: t.step, batchesDrawn: t.batchesDrawn, elapsedSeconds: t.elapsedSeconds, bestValLoss: t.bestValLoss, source: checkpoint.meta.source, overrides: checkpoint.meta.overrides };
}

function latestOf(runDir: string): string | undefined {
  try {
    return resolveCheckpoint(runDir);
  } catch {
    return undefined;
  }
}

/**
 * `runs/<model>-<date>` in the working directory (or under MDLC_RUNS_DIR), or in mdlc's cache
 * when that cannot be made (a read-only checkout, a file in the way).
 */
export function defaultRunDir(model: string, io: Io): string {
  const name = runDirName(model);
  const runs = process.env.MDLC_RUNS_DIR || 'runs';
  try {
    mkdirSync(runs, { recursive: true });
    accessSync(runs, constants.W_OK);
    return join(runs, name);
  } catch (e) {
    const dir = join(cacheDir(), 'runs', name);
    io.err(`mdlc: cannot write ${runs}/ (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}); the run goes to ${dir} (choose with --run-dir DIR)`);
    return dir;
  }
}

export async function runTrain(args: ParsedArgs, io: Io): Promise<number> {
  const format = formatOf(args);
  const resumeArg = flag(args, 'resume');
  const positional = resumeArg && args.positional.length === 0 ? [] : files(args, true);
  const requested = backendFlag(args);
  const threads = intFlag(args, 'threads', 1);
  const logEvery = intFlag(args, 'log-every', 1) ?? 10;
  const sampleArg = intFlag(args, 'samples', 0);
  const keepArg = intFlag(args, 'keep', 1);
  const checkpointArg = intFlag(args, 'checkpoint-every', 0);

  return guarded(io, async () => {
    // What to train: a file, or the model a run or checkpoint was trained from.
    const resume = resumeArg !== undefined ? resumePoint(resumeArg) : undefined;
    let source: SourceFile;
    if (positional.length) {
      const read = readSourceFile(positional[0]);
      if (!read.source) {
        report(read.diagnostics, [], format, io);
        return 1;
      }
      source = read.source;
    } else source = { path: join(resume!.runDir ?? resume!.dir, 'model.mdl'), text: resume!.source };
    const runConfig = resume?.runDir ? readRunConfig(resume.runDir) : undefined;

    let sets = trainOverrides(args);
    if (resume) {
      const saved = new Map(Object.entries(resume.overrides));
      const changed = [...sets].filter(([k, v]) => saved.get(k) !== v);
      if (changed.length) throw new UsageError(`a resumed run keeps its settings: ${changed.map(([k, v]) => `${k}=${v} (the run has ${saved.get(k) ?? 'the file’s value'})`).join(', ')}; start a new run to change them`);
      sets = saved;
    }
    const overfit = args.flags.has('overfit') || runConfig?.overfit === true;
    const dataPath = flag(args, 'data') ?? (typeof runConfig?.data === 'string' && runConfig.dataFile ? runConfig.data : undefined);
    if (overfit && !args.flags.has('steps') && !sets.has('steps')) sets.set('steps', 500);

    const opened = await openSession(source, { dataPath, overrides: sets, overfit });
    report(opened.diagnostics, [source], format, io);
    if (!opened.ok) return 1;
    const s = opened.session;
    if (resume) {
      const why = resume.checkpoint && checkpointMismatch(resume.checkpoint, s.model, s.vocab.chars);
      if (why) throw new CheckpointError(`cannot resume from ${resume.dir}: ${why}`);
      if (resume.step >= s.spec.steps) throw new CheckpointError(`the run in ${resume.dir} has already trained all ${s.spec.steps} steps; sample it with \`mdlc sample ${resumeArg}\``);
    }

    // The run directory is created, locked and proven writable before anything is built.
    const run = RunDir.open(resume?.runDir ?? flag(args, 'run-dir') ?? defaultRunDir(s.model.name, io), { resume: !!resume });
    try {
      // A resumed run keeps its backend and options unless told otherwise.
      const saved = (runConfig?.options ?? {}) as { samples?: number; keep?: number; checkpointEvery?: number };
      // It keeps its backend: the interpreter (which runs before the wasm backend called `cpu`),
      // wasm, or WebGPU where there still is an adapter.
      const savedBackend = runConfig?.backend;
      const backend: BackendChoice | undefined = requested ?? (savedBackend === 'cpu' || savedBackend === 'interpreter' ? 'interpreter' : savedBackend === 'wasm' ? 'wasm' : undefined);
      return await trainInRun(s, run, {
        args,
        io,
        format,
        source,
        requested: backend,
        keepWebGpu: !requested && savedBackend === 'webgpu',
        threads,
        resume,
        overfit,
        dataPath,
        logEvery,
        sampleCount: sampleArg ?? saved.samples ?? 3,
        keep: keepArg ?? saved.keep ?? 3,
        checkpointEvery: checkpointArg ?? saved.checkpointEvery ?? s.spec.evalEvery,
      });
    } finally {
      run.unlock();
    }
  });
}

interface RunContext {
  args: ParsedArgs;
  io: Io;
  format: ReturnType<typeof formatOf>;
  source: SourceFile;
  requested?: BackendChoice;
  /** A resumed WebGPU run: on WebGPU again where there is any adapter. */
  keepWebGpu?: boolean;
  /** wasm: worker threads (default: the cores available). */
  threads?: number;
  resume?: ResumePoint;
  overfit: boolean;
  dataPath?: string;
  logEvery: number;
  sampleCount: number;
  keep: number;
  checkpointEvery: number;
}

async function trainInRun(s: TrainSession, run: RunDir, c: RunContext): Promise<number> {
  const { io, args } = c;
  const spec = s.spec;
  // The backend: the one asked for, else WebGPU on a GPU, else wasm (chooseBackend says why).
  const chosen = await chooseBackend(c.requested, process.env, c.keepWebGpu);
  const kind: BackendKind = chosen.kind;
  const adapter: Adapter | undefined = chosen.adapter;
  const threads = kind === 'wasm' ? (c.threads ?? (await availableThreads())) : undefined;
  if (kind === 'wasm' && chosen.note) io.err(`mdlc: ${chosen.note}; training on the wasm backend (WebAssembly SIMD on ${threads} thread${threads === 1 ? '' : 's'})`);
  if (kind === 'interpreter') {
    // The interpreter's memory is known before it allocates anything: refuse what cannot fit.
    const tooLarge = checkCpuMemory(s.step, s.source.path);
    if (tooLarge) {
      report([tooLarge], [s.source], c.format, io);
      return 1;
    }
  }
  const adapterName = adapter ? adapter.ctx.description : kind === 'wasm' ? `WebAssembly SIMD on ${threads} thread${threads === 1 ? '' : 's'}` : 'the reference interpreter (f32)';
  io.out(describeRun(s, { backend: kind, adapter: adapterName, runDir: run.path, overfit: c.overfit, resumedFrom: c.resume ? { dir: c.resume.dir, step: c.resume.step } : undefined }));
  io.out(paramTable(spec));
  if (c.overfit) io.out(`--overfit: one fixed batch, the learning rate held at the file's peak ${spec.optimizer.lr} (no warmup or decay) and no weight decay; success is a loss below ${OVERFIT_TARGET}`);

  if (!c.resume) {
    run.writeSource(s.source.text);
    run.writeConfig({
      mdlc: mdlcVersion(),
      model: s.model.name,
      source: s.source.path,
      modelHash: s.meta.modelHash,
      overrides: s.meta.overrides,
      data: c.dataPath ? resolve(c.dataPath) : spec.dataset,
      dataFile: !!c.dataPath,
      vocab: s.vocab.size,
      dims: Object.fromEntries([...s.model.dims].map(([k, d]) => [k, d.value])),
      backend: kind,
      adapter: adapterName,
      overfit: c.overfit,
      options: { samples: c.sampleCount, keep: c.keep, checkpointEvery: c.checkpointEvery },
      created: new Date().toISOString(),
      spec,
    });
  } else run.loadMetrics(c.resume.step);

  const opened = await openBackend(kind, s.model, s.step, { seed: spec.seed, buildDir: join(run.path, 'build'), sourcePath: s.source.path, meta: s.meta, adapter, gemm: gemmFlag(args), threads });
  report(opened.build?.diagnostics ?? [], [s.source], c.format, io);
  if (!opened.backend) return 1;
  const backend = opened.backend;
  if (opened.build?.report) io.out(`built ${join(run.path, 'build')}: ${opened.build.report.kernels} kernels; a training step is ${opened.build.report.perStep.dispatches} dispatches in 1 submit`);
  // Validation completions on the model compiled for as many rows as there are completions.
  const sampler = kind === 'webgpu' ? undefined : samplerFor(kind, s, Math.min(c.sampleCount, spec.batch), { threads });

  // Ctrl-C: finish the step in flight, save a checkpoint, exit. A second Ctrl-C exits at once
  // (the previous checkpoint stays intact: checkpoints are written atomically).
  let interrupted = false;
  const onSigint = () => {
    if (interrupted) process.exit(EXIT_INTERRUPTED);
    interrupted = true;
    progress?.log('stopping after this step (Ctrl-C again to quit without saving)…');
  };
  let progress: Progress | undefined;
  process.on('SIGINT', onSigint);
  const t0 = performance.now();
  const elapsedBefore = c.resume?.elapsedSeconds ?? 0;
  let best = c.resume?.bestValLoss ?? null;
  const lastLines: string[] = [];
  try {
    if (c.resume?.checkpoint) {
      await backend.setParams(tensorsOf(c.resume.checkpoint.params));
      await backend.setState(tensorsOf(c.resume.checkpoint.state!));
    }
    const start = c.resume ? { step: c.resume.step, batchesDrawn: c.resume.batchesDrawn } : { step: 0, batchesDrawn: 0 };
    const tty = io === defaultIo && !!process.stdout.isTTY && !process.env.CI;
    progress = tty ? terminalProgress(process.stdout, spec.steps, start.step) : plainProgress((l) => io.out(l), c.logEvery);
    const shapes = new Map(spec.params.map((p) => [p.name, p.axes.map((a) => a.size)]));
    let result: LoopResult;
    try {
      result = await trainLoop(backend, spec, { train: s.split.train, val: s.split.val, decode: (t) => s.vocab.decode(t) }, {
        rates: s.rates,
        start,
        overfit: c.overfit,
        targetLoss: c.overfit ? OVERFIT_TARGET : undefined,
        checkpointEvery: c.checkpointEvery,
        samples: { count: c.sampleCount, length: Math.max(32, Math.min(128, spec.logits.axes[spec.logits.position]?.size ?? 64)), temperature: SAMPLE_TEMPERATURE, on: sampler?.on },
        shouldStop: () => interrupted,
        onStep: (e) => {
          progress!.step(e);
          run.appendMetrics({ step: e.step, loss: e.loss, lr: e.lr, grad_norm: e.gradNorm, tokens_per_s: Math.round(e.tokensPerSecond), elapsed_s: +(elapsedBefore + e.elapsedSeconds).toFixed(3) });
        },
        onEval: (e) => {
          run.appendMetrics({ step: e.step, val_loss: e.valLoss, ...(e.valAccuracy !== undefined ? { val_accuracy: e.valAccuracy } : {}) });
          run.appendSamples(e.step, e.samples);
          run.writePlot(`${s.model.name}: loss per token`);
          const right = e.valAccuracy !== undefined ? `, ${(100 * e.valAccuracy).toFixed(1)}% of characters right` : '';
          const line = `step ${e.step}: validation loss ${e.valLoss.toFixed(4)} (${(e.valLoss / Math.LN2).toFixed(3)} bits per character${right})`;
          progress!.log(line);
          if (e.samples.length) progress!.log(formatSamples(e.step, e.samples, { color: !!io.color }));
          lastLines.splice(0, lastLines.length, line);
        },
        onCheckpoint: async (e) => {
          if (e.valLoss !== undefined && (best === null || e.valLoss < best)) best = e.valLoss;
          const dir = run.saveCheckpoint(
            {
              meta: s.meta,
              params: await backend.getParams(),
              state: await backend.getState(),
              shapes,
              trainer: { format: 'mdlc/1', step: e.step, batchesDrawn: e.batchesDrawn, seed: spec.seed, modelHash: s.meta.modelHash, valLoss: e.valLoss ?? null, bestValLoss: best, elapsedSeconds: +(elapsedBefore + (performance.now() - t0) / 1000).toFixed(3) },
            },
            c.keep,
          );
          if (e.reason !== 'periodic') progress!.log(`checkpoint: ${dir}`);
        },
      });
    } catch (e) {
      if (!(e instanceof NonFiniteLossError)) throw e;
      progress.stop();
      await reportNonFinite(e, s, backend, run, c);
      return 1;
    }
    progress.stop();
    run.writePlot(`${s.model.name}: loss per token`);
    const last = result.losses.at(-1);
    const val = result.valLosses.at(-1);
    io.out(
      `${result.stopped === 'interrupted' ? 'interrupted' : 'done'}: step ${result.step}/${spec.steps}${last !== undefined ? `, loss ${last.toFixed(4)}` : ''}${val ? `, validation ${val.loss.toFixed(4)}` : ''}, ${Math.round(result.tokensPerSecond).toLocaleString('en-US')} tokens/s, first step ${result.firstStepSeconds.toFixed(1)} s, ${formatDuration((performance.now() - t0) / 1000)} in all`,
    );
    io.out(`run: ${run.path} (loss.svg, metrics.jsonl, samples.txt, checkpoints/)`);
    if (result.stopped === 'interrupted') {
      io.out(`resume with: mdlc train --resume ${run.path}`);
      return EXIT_INTERRUPTED;
    }
    if (c.overfit) {
      if (last !== undefined && last < OVERFIT_TARGET) {
        io.out(`overfit: ok, the loss reached ${last.toFixed(4)} < ${OVERFIT_TARGET}`);
        return 0;
      }
      io.err(`mdlc: overfit failed: the loss is ${last?.toFixed(4)}, not below ${OVERFIT_TARGET}`);
      return 1;
    }
    io.out(spec.task === 'next-token' ? `sample with: mdlc sample ${run.path}` : `checkpoints: ${run.checkpoints}`);
    return 0;
  } finally {
    process.off('SIGINT', onSigint);
    backend.destroy();
    sampler?.destroy();
  }
}

/**
 * The loss went non-finite at step t: say so, keep the last good checkpoint, and find the first
 * IR value that became non-finite by re-running steps from that checkpoint (on the training
 * backend, fast) and then step t on the interpreter, watching every value.
 */
async function reportNonFinite(e: NonFiniteLossError, s: TrainSession, backend: TrainBackend, run: RunDir, c: RunContext): Promise<void> {
  const { io } = c;
  const spec = s.spec;
  const latest = run.latestCheckpoint();
  const ckpt = latest ? readCheckpoint(latest) : undefined;
  const from = ckpt?.trainer?.step ?? 0;
  io.err(`mdlc: ${e.message}`);
  io.err(`mdlc: ${ckpt ? `the last good checkpoint is ${latest} (step ${from})` : 'no checkpoint was saved before it'}; re-running ${e.step > from ? `steps ${from + 1}–${e.step + 1}` : `step ${e.step + 1}`} to find the first value that is not finite…`);
  if (ckpt) {
    await backend.setParams(tensorsOf(ckpt.params));
    await backend.setState(tensorsOf(ckpt.state!));
  } else {
    const fresh = new CpuBackend(s.model, s.step, spec.seed);
    await backend.setParams(await fresh.getParams());
    await backend.setState(await fresh.getState());
  }
  const sampler = new WindowSampler(s.split.train, spec.window, spec.seed);
  sampler.skip(ckpt?.trainer?.batchesDrawn ?? 0, spec.batch);
  const fixed = c.overfit ? new WindowSampler(s.split.train, spec.window, spec.seed).nextBatch(spec.batch) : undefined;
  for (let t = from; t < e.step; t++) await backend.trainStep(feedsOf(spec, fixed ?? sampler.nextBatch(spec.batch)), stepScalars(spec, s.rates, t));
  const cpu = new CpuBackend(s.model, s.step, spec.seed);
  await cpu.setParams(await backend.getParams());
  await cpu.setState(await backend.getState());
  const found = firstNonFinite(cpu, feedsOf(spec, fixed ?? sampler.nextBatch(spec.batch)), stepScalars(spec, s.rates, e.step), s.source);
  io.err(
    found
      ? `mdlc: at step ${e.step + 1}, ${found.description}`
      : `mdlc: re-run on the interpreter, step ${e.step + 1} stays finite: the ${backend.kind} backend and the interpreter disagree here (please report it with the model file)`,
  );
}
