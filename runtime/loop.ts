/**
 * The training loop: one, for every backend and every caller (the `mdlc train` command, the
 * generated train.js, tests, a browser page). It reads like llm.c's: draw a batch, compute
 * the step's scalars, step, log, evaluate, checkpoint. What happens to logs, samples and
 * checkpoints is the caller's business (events), so the loop itself touches no files.
 * Browser-safe: no Node imports.
 */
import { tokensPerStep, type Feeds, type LrRates, type StepResult, type StepScalars, type TrainBackend, type TrainSpec } from './backend.js';
import { sliceWindows, WindowSampler, type TokenArray } from './text.js';
import { makeRng } from './random.js';
import { scoreWindows, validationSamples, type Sample } from './sampling.js';
import { learningRateAt } from './schedule.js';

/** The loss became NaN or infinite: training stops at that step. */
export class NonFiniteLossError extends Error {
  constructor(
    /** 0-based index of the step whose loss was not finite. */
    readonly step: number,
    readonly loss: number,
  ) {
    super(`the loss became ${loss} at step ${step + 1}: training diverged (lower the learning rate, or clip gradients with \`clip = 1.0\`)`);
    this.name = 'NonFiniteLossError';
  }
}

export interface TrainingData {
  train: TokenArray;
  val: TokenArray;
  /** Token ids → text, for samples. */
  decode: (tokens: ArrayLike<number>) => string;
}

/** Where a run starts: step 0, or a checkpoint's step and the number of batches drawn by then. */
export interface LoopStart {
  step: number;
  batchesDrawn: number;
}

export interface StepEvent {
  /** Steps completed (1-based), out of `steps`. */
  step: number;
  steps: number;
  loss: number;
  gradNorm: number;
  lr: number;
  /** Training tokens per second over the steps so far (evaluation and the first step excluded). */
  tokensPerSecond: number;
  elapsedSeconds: number;
  /** Estimated seconds to the last step at the recent pace (evaluations included). */
  etaSeconds: number;
}

export interface EvalEvent {
  step: number;
  valLoss: number;
  /** Share of validation target characters the model's most likely guess gets right. */
  valAccuracy?: number;
  samples: Sample[];
}

export interface CheckpointEvent {
  step: number;
  batchesDrawn: number;
  valLoss?: number;
  /** Why: every `checkpointEvery` steps, the end of the run, or an interruption (Ctrl-C). */
  reason: 'periodic' | 'final' | 'interrupt';
}

export interface LoopOptions {
  /** Learning-rate group rates as functions of the scheduled base rate. */
  rates: LrRates;
  start?: LoopStart;
  /** Train on one fixed batch (the first drawn); no evaluation. */
  overfit?: boolean;
  /** Stop once a step's loss is below this. */
  targetLoss?: number;
  /** Save a checkpoint every N steps (0: only at the end); default: at every evaluation. */
  checkpointEvery?: number;
  /**
   * Validation samples at every evaluation: how many, characters per completion, and the
   * temperature they are drawn at (0: greedy); the same seed at every evaluation.
   */
  samples?: {
    count: number;
    length: number;
    temperature?: number;
    /**
     * Where to draw them instead of the training backend, handed that backend at each
     * evaluation: another with its parameters (the same model compiled for `count` rows, so
     * that each token's forward pass costs less; src/cli/train.ts), and that one's spec.
     */
    on?: (training: TrainBackend) => Promise<{ backend: TrainBackend; spec: TrainSpec }>;
  };
  /** Polled after every step: true stops the run after a checkpoint (Ctrl-C). */
  shouldStop?: () => boolean;
  onStep?: (e: StepEvent) => void;
  onEval?: (e: EvalEvent) => void | Promise<void>;
  /** Save a checkpoint: the backend holds the state after `e.step` steps. */
  onCheckpoint?: (e: CheckpointEvent) => void | Promise<void>;
}

export interface LoopResult {
  /** Training losses of the steps run by this call, in order. */
  losses: number[];
  valLosses: { step: number; loss: number }[];
  /** Steps completed in all (including those before a resume). */
  step: number;
  batchesDrawn: number;
  tokensPerSecond: number;
  /** Seconds from the loop's start to the first step's loss (includes compiling kernels on first use). */
  firstStepSeconds: number;
  stopped: 'done' | 'target' | 'interrupted';
}

/** The batch's window slices by input name: `tokens = data[0 .. seq]`, `targets = data[1 .. seq + 1]`. */
export function feedsOf(spec: TrainSpec, windows: Int32Array): Map<string, Int32Array<ArrayBuffer>> {
  return new Map(spec.slices.map((s) => [s.name, sliceWindows(windows, spec.batch, spec.window, s.start, s.end)]));
}

/** Host scalars of 0-based step `t`: the scheduled rate of every group, and Adam's bias corrections. */
export function stepScalars(spec: TrainSpec, rates: LrRates, t: number): StepScalars {
  const base = learningRateAt(spec.schedule, spec.optimizer.lr, t, spec.steps);
  return {
    lr: rates.map((rate) => rate(base)),
    bc1: 1 / (1 - spec.optimizer.beta1 ** (t + 1)),
    bc2: 1 / (1 - spec.optimizer.beta2 ** (t + 1)),
  };
}

/** Window starts of the validation batches: the same `evalBatches` batches at every evaluation. */
export function validationStarts(spec: TrainSpec, val: TokenArray): Int32Array[] {
  const sampler = new WindowSampler(val, spec.window, spec.seed ^ 0x5eed);
  return Array.from({ length: spec.evalBatches }, () => sampler.starts(spec.batch));
}

/** The validation batches as feeds. */
export function validationBatches(spec: TrainSpec, val: TokenArray): Feeds[] {
  const sampler = new WindowSampler(val, spec.window, spec.seed ^ 0x5eed);
  return validationStarts(spec, val).map((starts) => feedsOf(spec, sampler.windowsAt(starts)));
}

/** Mean loss over the fixed validation batches. */
export async function evaluate(backend: TrainBackend, batches: readonly Feeds[]): Promise<number> {
  let sum = 0;
  for (const b of batches) sum += await backend.evalLoss(b);
  return sum / batches.length;
}

export async function trainLoop(backend: TrainBackend, spec: TrainSpec, data: TrainingData, options: LoopOptions): Promise<LoopResult> {
  const steps = spec.steps;
  const start = options.start ?? { step: 0, batchesDrawn: 0 };
  const sampler = new WindowSampler(data.train, spec.window, spec.seed);
  sampler.skip(start.batchesDrawn, spec.batch);
  const fixed = options.overfit ? (start.batchesDrawn > 0 ? sampler.windowsAt(firstStarts(spec, data.train)) : sampler.nextBatch(spec.batch)) : undefined;
  const valStarts = options.overfit ? [] : validationStarts(spec, data.val);
  const valBatches = options.overfit ? [] : validationBatches(spec, data.val);
  const checkpointEvery = options.checkpointEvery ?? spec.evalEvery;
  const stop = options.shouldStop ?? (() => false);
  const evaluatesAfter = (t: number) => !options.overfit && ((t + 1) % spec.evalEvery === 0 || t === steps - 1);
  const checkpointsAfter = (t: number) => t === steps - 1 || (checkpointEvery > 0 && (t + 1) % checkpointEvery === 0);

  const losses: number[] = [];
  const valLosses: { step: number; loss: number }[] = [];
  const t0 = performance.now();
  let firstStepSeconds = 0;
  let trainSeconds = 0;
  let timedSteps = 0;
  let lastVal: number | undefined;
  let stopped: LoopResult['stopped'] = 'done';
  let done = start.step;

  const submit = (t: number) => backend.trainStep(feedsOf(spec, fixed ?? sampler.nextBatch(spec.batch)), stepScalars(spec, options.rates, t));
  let saved = -1;
  const checkpoint = async (reason: CheckpointEvent['reason']) => {
    if (saved === done) return;
    saved = done;
    await options.onCheckpoint?.({ step: done, batchesDrawn: sampler.batchesDrawn, valLoss: lastVal, reason });
  };
  // One step ahead: the next step is queued before this one's loss is read, so the device
  // does not wait for the host between steps. Never across an evaluation, a checkpoint, a
  // target loss or a stop request: those need the state after exactly this step.
  const mayQueue = (t: number) => t + 1 < steps && !evaluatesAfter(t) && !checkpointsAfter(t) && options.targetLoss === undefined && !stop();

  let queued: Promise<StepResult> | undefined;
  let lastLanded = performance.now();
  let firstLanded = 0;
  for (let t = start.step; t < steps; t++) {
    const current = queued ?? (stop() ? undefined : submit(t));
    if (!current) {
      stopped = 'interrupted';
      break;
    }
    queued = mayQueue(t) ? submit(t + 1) : undefined;
    let result: StepResult;
    try {
      result = await current;
    } catch (e) {
      await queued?.catch(() => undefined);
      throw e;
    }
    const landed = performance.now();
    if (t === start.step) {
      firstStepSeconds = (landed - t0) / 1000;
      firstLanded = landed;
    }
    // The first step compiles kernels: throughput counts the others (unless it is the only one).
    if (t > start.step || steps - start.step === 1) {
      trainSeconds += (landed - lastLanded) / 1000;
      timedSteps++;
    }
    lastLanded = landed;
    if (!Number.isFinite(result.loss)) {
      await queued?.catch(() => undefined);
      throw new NonFiniteLossError(t, result.loss);
    }
    done = t + 1;
    losses.push(result.loss);
    const paced = done - start.step - 1;
    options.onStep?.({
      step: done,
      steps,
      loss: result.loss,
      gradNorm: result.gradNorm,
      lr: learningRateAt(spec.schedule, spec.optimizer.lr, t, steps),
      tokensPerSecond: timedSteps ? (timedSteps * tokensPerStep(spec)) / trainSeconds : 0,
      elapsedSeconds: (landed - t0) / 1000,
      // At the pace since the first step, evaluations included.
      etaSeconds: paced > 0 ? ((landed - firstLanded) / 1000 / paced) * (steps - done) : 0,
    });
    if (evaluatesAfter(t)) {
      lastVal = await evaluate(backend, valBatches);
      valLosses.push({ step: done, loss: lastVal });
      // The share of characters right, over the same windows (one forward pass per batch).
      let valAccuracy: number | undefined;
      if (spec.target && spec.task !== 'other') {
        const scores = await scoreWindows(backend, spec, data.val, valStarts.flatMap((b) => Array.from(b)));
        valAccuracy = scores.reduce((n, x) => n + x.correct, 0) / scores.reduce((n, x) => n + x.count, 0);
      }
      let samples: Sample[] = [];
      if (options.samples?.count) {
        const { on, ...how } = options.samples;
        const target = on ? await on(backend) : { backend, spec };
        samples = await validationSamples(target.backend, target.spec, data.val, data.decode, { ...how, rng: makeRng(spec.seed, 'samples') });
      }
      await options.onEval?.({ step: done, valLoss: lastVal, valAccuracy, samples });
    }
    if (options.targetLoss !== undefined && result.loss < options.targetLoss) {
      stopped = 'target';
      break;
    }
    if (checkpointsAfter(t)) await checkpoint(t === steps - 1 ? 'final' : 'periodic');
    // With nothing in flight, the next step's time starts when it is submitted.
    if (!queued) lastLanded = performance.now();
  }
  if (stopped !== 'done') await checkpoint(stopped === 'interrupted' ? 'interrupt' : 'final');
  return { losses, valLosses, step: done, batchesDrawn: sampler.batchesDrawn, tokensPerSecond: timedSteps ? (timedSteps * tokensPerStep(spec)) / trainSeconds : 0, firstStepSeconds, stopped };
}

/** The starts of the first batch a fresh sampler draws (an overfit run resumed trains on it again). */
function firstStarts(spec: TrainSpec, train: TokenArray): Int32Array {
  return new WindowSampler(train, spec.window, spec.seed).starts(spec.batch);
}
