/**
 * A checked model's training recipe as the runtime's plain `TrainSpec`: the one description
 * of batches, schedule, optimizer, parameter groups and logits layout that the training loop,
 * the generated program, sampling and scoring share.
 */
import type { ElaboratedModel } from '../elaborate/model.js';
import type { TrainStep } from './index.js';
import type { Graph } from '../types.js';
import type { LrRates, TrainSpec, TrainTask } from '../../../runtime/backend.js';

/** Names of the graph inputs that `node` depends on. */
export function inputsReaching(graph: Graph, node: number): Set<string> {
  const seen = new Uint8Array(graph.nodes.length);
  const stack = [node];
  seen[node] = 1;
  while (stack.length) {
    const id = stack.pop()!;
    for (const i of graph.nodes[id].inputs) {
      if (seen[i]) continue;
      seen[i] = 1;
      stack.push(i);
    }
  }
  return new Set(graph.inputs.filter((i) => seen[i.node]).map((i) => i.name));
}

export function trainSpecOf(model: ElaboratedModel, step: TrainStep): TrainSpec {
  const cfg = model.train;
  const g = model.graph;
  const read = inputsReaching(g, model.logits);
  const input = cfg.slices.find((s) => read.has(s.name)) ?? cfg.slices[0];
  const lossReads = model.loss === undefined ? new Set<string>() : inputsReaching(g, model.loss);
  const target = cfg.slices.find((s) => s !== input && lossReads.has(s.name) && !read.has(s.name));
  let task: TrainTask = 'other';
  if (input && target && target.end - target.start === input.end - input.start) {
    if (target.start === input.start + 1) task = 'next-token';
    else if (target.start === input.start) task = 'reconstruct';
  }
  const logitsType = g.nodes[model.logits].type;
  const axes = logitsType.axes.map((a) => ({ name: a.name, size: a.size }));
  const vocabAxis = model.dataAxis ? logitsType.axes.findIndex((a) => a.id === model.dataAxis!.id) : -1;
  const batchAxis = model.batch ? logitsType.axes.findIndex((a) => a.id === model.batch!.axis.id) : -1;
  const positionAxis = axes.length === 3 ? [0, 1, 2].find((i) => i !== vocabAxis && i !== batchAxis) ?? -1 : -1;
  if (vocabAxis < 0 || batchAxis < 0 || positionAxis < 0) task = 'other';
  const rates = lrRatesOf(step);
  return {
    model: model.name,
    dataset: cfg.data?.name ?? '',
    window: cfg.data?.window ?? 0,
    batch: model.batch?.size ?? 1,
    slices: cfg.slices.map((s) => ({ name: s.name, start: s.start, end: s.end })),
    steps: cfg.steps,
    evalEvery: cfg.evalEvery,
    evalBatches: cfg.evalBatches,
    seed: cfg.seed,
    valFraction: cfg.valFraction,
    optimizer: { lr: cfg.optimizer.lr, beta1: cfg.optimizer.beta1, beta2: cfg.optimizer.beta2, eps: cfg.optimizer.eps, weightDecay: cfg.optimizer.weightDecay },
    schedule: cfg.schedule,
    clip: cfg.clip,
    vocab: model.dataAxis?.size ?? 0,
    task,
    input: input?.name ?? '',
    ...(target ? { target: target.name } : {}),
    logits: { axes, batch: batchAxis, position: positionAxis, vocab: vocabAxis },
    params: step.params.map((p) => ({
      name: p.param.name,
      axes: p.param.type.axes.map((a) => ({ name: a.name, size: a.size })),
      lr: rates[p.lrGroup](cfg.optimizer.lr),
      lrGroup: p.lrGroup,
      weightDecay: p.weightDecay,
    })),
  };
}

export function lrRatesOf(step: TrainStep): LrRates {
  return step.lrGroups.map((g) => g.rate);
}
