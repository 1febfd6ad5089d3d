/**
 * mdlc's side of the PyTorch comparisons: train a session on the reference interpreter step
 * by step (the train-step graph, mdlc's window sampler and schedule), and read and write
 * checkpoints in mdlc's layout (docs: CHECKPOINT-FORMAT, as `mdlc train` writes them).
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { interpret, tensor, type Precision, type Tensor } from '../../src/ir/interpret/index.js';
import { sliceFeeds, stepScalars, type TrainSession } from '../../src/train/session.js';
import { WindowSampler } from '../../runtime/data.js';
import { decodeSafetensors, encodeSafetensors, type StoredTensor } from '../../runtime/checkpoint.js';

export interface TrainState {
  /** Completed steps. */
  step: number;
  batchesDrawn: number;
  params: Map<string, Tensor>;
  m: Map<string, Tensor>;
  v: Map<string, Tensor>;
}

export interface InterpreterRun {
  losses: number[];
  gradNorms: number[];
  state: TrainState;
}

/** A fresh state from initial parameters (float32 values, as mdlc keeps them). */
export function freshState(session: TrainSession, params: ReadonlyMap<string, Tensor>): TrainState {
  const zeros = (p: { type: Tensor['type'] }) => tensor(p.type, new Float32Array(p.type.axes.reduce((n, a) => n * a.size, 1)));
  const g = session.step.graph;
  return {
    step: 0,
    batchesDrawn: 0,
    params: new Map(params),
    m: new Map(g.params.map((p) => [p.name, zeros(p)])),
    v: new Map(g.params.map((p) => [p.name, zeros(p)])),
  };
}

/** Train from `state` up to step `until` (of the schedule's `steps`), as mdlc's cpu backend does. */
export function trainOnInterpreter(session: TrainSession, state: TrainState, until: number, precision: Precision): InterpreterRun {
  const { model, step, batch, window } = session;
  const g = step.graph;
  const sampler = new WindowSampler(session.split.train, window, model.train.seed);
  sampler.skip(state.batchesDrawn, batch);
  const outputs = [step.loss, step.gradNorm, ...step.params.flatMap((p) => [p.newParam, p.newM, p.newV])];
  const inputType = (name: string) => g.inputs.find((i) => i.name === name)!.type;
  let { params, m, v } = state;
  const losses: number[] = [];
  const gradNorms: number[] = [];
  for (let t = state.step; t < until; t++) {
    const inputs = new Map<string, Tensor>();
    for (const [name, data] of sliceFeeds(session, sampler.nextBatch(batch))) inputs.set(name, tensor(inputType(name), data));
    for (const [name, value] of stepScalars(session, t)) inputs.set(name, tensor({ dtype: 'f32', axes: [] }, [value]));
    for (const p of g.params) {
      inputs.set(`m:${p.name}`, m.get(p.name)!);
      inputs.set(`v:${p.name}`, v.get(p.name)!);
    }
    const out = interpret(g, { params, inputs }, { precision, outputs });
    losses.push(out.get(step.loss)!.data[0]);
    gradNorms.push(out.get(step.gradNorm)!.data[0]);
    params = new Map(step.params.map((p) => [p.param.name, out.get(p.newParam)!]));
    m = new Map(step.params.map((p) => [p.param.name, out.get(p.newM)!]));
    v = new Map(step.params.map((p) => [p.param.name, out.get(p.newV)!]));
  }
  return { losses, gradNorms, state: { step: until, batchesDrawn: sampler.batchesDrawn, params, m, v } };
}

/** Mean loss over eval_batches batches of validation windows (mdlc's rule: the sampler seeded with seed ^ 0x5eed). */
export function validationLoss(session: TrainSession, params: ReadonlyMap<string, Tensor>, precision: Precision): number {
  const { model, batch, window } = session;
  const sampler = new WindowSampler(session.split.val, window, model.train.seed ^ 0x5eed);
  const inputType = (name: string) => model.graph.inputs.find((i) => i.name === name)!.type;
  let sum = 0;
  for (let i = 0; i < model.train.evalBatches; i++) {
    const inputs = new Map<string, Tensor>();
    for (const [name, data] of sliceFeeds(session, sampler.nextBatch(batch))) inputs.set(name, tensor(inputType(name), data));
    sum += interpret(model.graph, { params, inputs }, { precision, outputs: [model.loss!] }).get(model.loss!)!.data[0];
  }
  return sum / model.train.evalBatches;
}

function stored(t: Tensor): StoredTensor {
  return { dtype: 'F32', shape: t.type.axes.map((a) => a.size), data: Float32Array.from(t.data as Float32Array) };
}

/** model.safetensors in mdlc's layout: every parameter under its .mdl name, its declared axes' shape, F32. */
export function modelSafetensors(session: TrainSession, params: ReadonlyMap<string, Tensor>, step: number): Uint8Array {
  const g = session.model.graph;
  return encodeSafetensors(new Map(g.params.map((p) => [p.name, stored(params.get(p.name)!)])), {
    format: 'mdlc/1',
    model: session.model.name,
    step: String(step),
    axes: JSON.stringify(Object.fromEntries(g.params.map((p) => [p.name, p.type.axes.map((a) => a.name)]))),
    vocab: JSON.stringify(session.vocab.chars),
  });
}

/** A checkpoint folder in mdlc's layout: model.safetensors, optimizer.safetensors, trainer.json. */
export function writeCheckpoint(dir: string, session: TrainSession, s: TrainState): void {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'model.safetensors'), modelSafetensors(session, s.params, s.step));
  const moments = new Map<string, StoredTensor>();
  for (const p of session.model.graph.params) {
    moments.set(`m.${p.name}`, stored(s.m.get(p.name)!));
    moments.set(`v.${p.name}`, stored(s.v.get(p.name)!));
  }
  writeFileSync(join(dir, 'optimizer.safetensors'), encodeSafetensors(moments, { format: 'mdlc/1', optimizer: 'adamw', step: String(s.step) }));
  const trainer = { format: 'mdlc/1', step: s.step, batches_drawn: s.batchesDrawn, seed: session.model.train.seed, model_hash: '', val_loss: null, best_val_loss: null, elapsed_s: 0 };
  writeFileSync(join(dir, 'trainer.json'), JSON.stringify(trainer));
}

/** Read a checkpoint folder in mdlc's layout back into a training state (parameters laid out by their declared axes). */
export function readCheckpoint(dir: string, session: TrainSession): TrainState & { metadata: Record<string, string> } {
  const model = decodeSafetensors(new Uint8Array(readFileSync(join(dir, 'model.safetensors'))));
  const opt = decodeSafetensors(new Uint8Array(readFileSync(join(dir, 'optimizer.safetensors'))));
  const trainer = JSON.parse(readFileSync(join(dir, 'trainer.json'), 'utf8'));
  const g = session.model.graph;
  const load = (from: Map<string, StoredTensor>, name: string, p: (typeof g.params)[number]) => {
    const t = from.get(name);
    if (!t) throw new Error(`${dir}: no tensor ${name}`);
    const shape = p.type.axes.map((a) => a.size);
    if (JSON.stringify(t.shape) !== JSON.stringify(shape)) throw new Error(`${dir}: ${name} has shape [${t.shape}], expected [${shape}]`);
    return tensor(p.type, Float32Array.from(t.data as Float32Array));
  };
  return {
    step: trainer.step,
    batchesDrawn: trainer.batches_drawn,
    params: new Map(g.params.map((p) => [p.name, load(model.tensors, p.name, p)])),
    m: new Map(g.params.map((p) => [p.name, load(opt.tensors, `m.${p.name}`, p)])),
    v: new Map(g.params.map((p) => [p.name, load(opt.tensors, `v.${p.name}`, p)])),
    metadata: model.metadata,
  };
}
