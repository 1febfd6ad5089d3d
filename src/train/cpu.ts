/**
 * The `cpu` backend: runs the training-step graph on the reference interpreter. Slow but
 * exact, and the oracle for the WebGPU backend.
 */
import { interpret, initParams, tensor, type Tensor } from '../ir/interpret/index.js';
import { WindowSampler } from '../../runtime/data.js';
import { formatStep, NonFiniteLossError } from '../../runtime/training.js';

export { NonFiniteLossError };
import { sliceFeeds, stepScalars, type TrainSession } from './session.js';

export interface TrainOptions {
  steps: number;
  /** Train on one fixed batch (the first one drawn): the loss must approach 0. */
  overfit?: boolean;
  /** Stop early once the training loss is below this (used with --overfit). */
  targetLoss?: number;
  log?: (line: string) => void;
}

export interface TrainLog {
  step: number;
  loss: number;
  lr: number;
  gradNorm: number;
  valLoss?: number;
}

export interface TrainResult {
  losses: TrainLog[];
  params: Map<string, Tensor>;
  finalLoss: number;
  tokensPerSecond: number;
  stoppedEarly: boolean;
}

export function trainCpu(session: TrainSession, options: TrainOptions): TrainResult {
  const { model, step, batch, window } = session;
  const cfg = model.train;
  const log = options.log ?? (() => {});
  const g = step.graph;
  let params = initParams(g, cfg.seed, 'f32');
  let m = new Map<string, Tensor>();
  let v = new Map<string, Tensor>();
  for (const p of g.params) {
    m.set(p.name, tensor(p.type, new Float32Array(params.get(p.name)!.data.length)));
    v.set(p.name, tensor(p.type, new Float32Array(params.get(p.name)!.data.length)));
  }
  const inputType = (name: string) => g.inputs.find((i) => i.name === name)!.type;
  const sampler = new WindowSampler(session.split.train, window, cfg.seed);
  const fixed = options.overfit ? sampler.nextBatch(batch) : undefined;
  const outputs = [step.loss, step.gradNorm, ...step.params.flatMap((p) => [p.newParam, p.newM, p.newV])];
  // Tokens a step trains on: the positions of the model's input window slice.
  const tokensPerRow = cfg.slices.length ? cfg.slices[0].end - cfg.slices[0].start : window;
  const losses: TrainLog[] = [];
  // Throughput counts training steps only, not evaluation.
  let stepSeconds = 0;
  let tokens = 0;
  let stoppedEarly = false;
  for (let t = 0; t < options.steps; t++) {
    const stepStart = performance.now();
    const windows = fixed ?? sampler.nextBatch(batch);
    const inputs = new Map<string, Tensor>();
    for (const [name, data] of sliceFeeds(model, windows, batch, window)) inputs.set(name, tensor(inputType(name), data));
    const scalars = stepScalars(session, t);
    for (const [name, value] of scalars) inputs.set(name, tensor({ dtype: 'f32', axes: [] }, [value]));
    for (const p of g.params) {
      inputs.set(`m:${p.name}`, m.get(p.name)!);
      inputs.set(`v:${p.name}`, v.get(p.name)!);
    }
    const out = interpret(g, { params, inputs }, { precision: 'f32', outputs });
    const loss = out.get(step.loss)!.data[0];
    const gradNorm = out.get(step.gradNorm)!.data[0];
    if (!Number.isFinite(loss)) throw new NonFiniteLossError(t, loss);
    const next = new Map<string, Tensor>();
    const nm = new Map<string, Tensor>();
    const nv = new Map<string, Tensor>();
    for (const p of step.params) {
      next.set(p.param.name, out.get(p.newParam)!);
      nm.set(p.param.name, out.get(p.newM)!);
      nv.set(p.param.name, out.get(p.newV)!);
    }
    params = next;
    m = nm;
    v = nv;
    tokens += batch * tokensPerRow;
    stepSeconds += (performance.now() - stepStart) / 1000;
    const entry: TrainLog = { step: t + 1, loss, lr: scalars.get('lr.0')!, gradNorm };
    const last = t === options.steps - 1;
    if (!options.overfit && ((t + 1) % cfg.evalEvery === 0 || last)) entry.valLoss = evalLoss(session, params);
    losses.push(entry);
    log(formatStep(entry.step, options.steps, entry.loss, entry.lr, entry.valLoss, entry.gradNorm));
    if (options.targetLoss !== undefined && loss < options.targetLoss) {
      stoppedEarly = true;
      break;
    }
  }
  return { losses, params, finalLoss: losses.at(-1)?.loss ?? NaN, tokensPerSecond: tokens / stepSeconds, stoppedEarly };
}

/** Mean loss over `evalBatches` batches of validation windows (the same windows every time). */
export function evalLoss(session: TrainSession, params: Map<string, Tensor>): number {
  const { model, batch, window } = session;
  const g = model.graph;
  const sampler = new WindowSampler(session.split.val, window, model.train.seed ^ 0x5eed);
  let sum = 0;
  for (let i = 0; i < model.train.evalBatches; i++) {
    const inputs = new Map<string, Tensor>();
    for (const [name, data] of sliceFeeds(model, sampler.nextBatch(batch), batch, window)) inputs.set(name, tensor(g.inputs.find((x) => x.name === name)!.type, data));
    sum += interpret(g, { params, inputs }, { precision: 'f32', outputs: [model.loss!] }).get(model.loss!)!.data[0];
  }
  return sum / model.train.evalBatches;
}

