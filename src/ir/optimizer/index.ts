/**
 * The training step as one IR graph: forward, loss, backward (autodiff), gradient clipping
 * by global norm, and the AdamW update of every parameter. Host-side per-step scalars
 * (scheduled learning rates, Adam bias corrections) are graph inputs, so one compiled graph
 * serves every step.
 */
import { gradients } from '../autodiff/index.js';
import type { ElaboratedModel } from '../elaborate/model.js';
import { matchPattern } from '../elaborate/patterns.js';
import { GraphBuilder } from '../graph.js';
import type { Graph, ParamInfo } from '../types.js';

export interface ParamPlan {
  param: ParamInfo;
  /** Learning-rate group: the train step reads input `lr.<group>`. */
  lrGroup: number;
  weightDecay: number;
  /** Node ids in the step graph. */
  grad: number;
  m: number;
  v: number;
  newParam: number;
  newM: number;
  newV: number;
}

export interface LrGroup {
  /** Input name, `lr.0`, `lr.1`, ... */
  input: string;
  /** The scheduled base learning rate → this group's learning rate. */
  rate: (base: number) => number;
  /** The train-section line that defines it (undefined for the base group). */
  pattern?: string;
}

export interface TrainStep {
  graph: Graph;
  loss: number;
  gradNorm: number;
  params: ParamPlan[];
  lrGroups: LrGroup[];
  /** Scalar inputs: `bc1` = 1/(1-β1^t), `bc2` = 1/(1-β2^t). */
  bc1: number;
  bc2: number;
}

/**
 * Which parameters get weight decay unless the model says otherwise: those that multiply
 * activations in a contraction (the weights of linear maps). Gains, biases and embeddings
 * (tables that are gathered, or added like position embeddings) do not.
 */
export function decayedByDefault(graph: Graph, param: ParamInfo): boolean {
  let contracted = false;
  for (const n of graph.nodes) {
    if (!n.inputs.includes(param.node)) continue;
    if (n.attrs.op === 'gather' && n.inputs[0] === param.node) return false;
    if (n.attrs.op === 'contract') contracted = true;
  }
  return contracted;
}

export function buildTrainStep(model: ElaboratedModel): TrainStep {
  if (model.loss === undefined) throw new Error('internal: a train step needs a loss');
  const cfg = model.train;
  const opt = cfg.optimizer;
  const b = GraphBuilder.extend(model.graph);
  const params = model.graph.params;
  const grads = gradients(
    b,
    model.loss,
    params.map((p) => p.node),
  );

  // Learning-rate groups: the last `lr PATTERN = ...` line that matches a parameter wins.
  const lrLines = cfg.groups.filter((g) => g.setting === 'lr');
  const wdLines = cfg.groups.filter((g) => g.setting === 'weight_decay');
  const lrGroups: LrGroup[] = [{ input: 'lr.0', rate: (base) => base }];
  const lrInputs = [b.input('lr.0', { dtype: 'f32', axes: [] }, params[0]?.span ?? model.graph.inputs[0].span)];
  const groupOfLine = new Map<number, number>();
  const groupOf = (p: ParamInfo): number => {
    let line = -1;
    lrLines.forEach((g, i) => {
      if (matchPattern(g.pattern, p.name)) line = i;
    });
    if (line < 0) return 0;
    let gi = groupOfLine.get(line);
    if (gi === undefined) {
      gi = lrGroups.length;
      const g = lrLines[line];
      lrGroups.push({ input: `lr.${gi}`, rate: g.value, pattern: g.pattern });
      lrInputs.push(b.input(`lr.${gi}`, { dtype: 'f32', axes: [] }, g.span));
      groupOfLine.set(line, gi);
    }
    return gi;
  };
  const decayOf = (p: ParamInfo): number => {
    let wd = decayedByDefault(model.graph, p) ? opt.weightDecay : 0;
    for (const g of wdLines) if (matchPattern(g.pattern, p.name)) wd = g.value(opt.weightDecay);
    return wd;
  };

  const scalar = { dtype: 'f32' as const, axes: [] };
  const span = model.graph.nodes[model.loss].span ?? params[0].span;
  const bc1 = b.input('bc1', scalar, span);
  const bc2 = b.input('bc2', scalar, span);
  const k = (v: number) => b.constant(v);
  const bin = (fn: 'add' | 'sub' | 'mul' | 'div' | 'min', x: number, y: number) => b.add({ op: 'binary', fn }, [x, y]);

  // Global gradient norm, and the clipping factor min(1, clip / (norm + 1e-6)).
  let sumSq = k(0);
  for (const p of params) {
    const g = grads.get(p.node)!;
    const sq = b.add({ op: 'unary', fn: 'square' }, [g]);
    const axes = b.type(sq).axes;
    sumSq = bin('add', sumSq, axes.length ? b.add({ op: 'reduce', fn: 'sum', axes }, [sq]) : sq);
  }
  const gradNorm = b.add({ op: 'unary', fn: 'sqrt' }, [sumSq]);
  const scale = cfg.clip > 0 ? bin('min', k(1), bin('div', k(cfg.clip), bin('add', gradNorm, k(1e-6)))) : k(1);

  const plans: ParamPlan[] = [];
  for (const p of params) {
    const g = bin('mul', grads.get(p.node)!, scale);
    const m = b.input(`m:${p.name}`, p.type, p.span);
    const v = b.input(`v:${p.name}`, p.type, p.span);
    const newM = bin('add', bin('mul', k(opt.beta1), m), bin('mul', k(1 - opt.beta1), g));
    const newV = bin('add', bin('mul', k(opt.beta2), v), bin('mul', k(1 - opt.beta2), b.add({ op: 'unary', fn: 'square' }, [g])));
    const lrGroup = groupOf(p);
    const lr = lrInputs[lrGroup];
    const wd = decayOf(p);
    const mHat = bin('mul', newM, bc1);
    const denom = bin('add', b.add({ op: 'unary', fn: 'sqrt' }, [bin('mul', newV, bc2)]), k(opt.eps));
    const update = bin('div', mHat, denom);
    // Decoupled weight decay (AdamW): p ← p·(1 − lr·wd) − lr·adam. Every parameter gets this
    // one form (wd = 0 multiplies by exactly 1), so the updates differ only in constants and
    // one kernel runs them all (codegen's segmented map).
    const newParam = bin('sub', bin('mul', p.node, bin('sub', k(1), bin('mul', lr, k(wd)))), bin('mul', lr, update));
    b.output(`param:${p.name}`, newParam);
    b.output(`m:${p.name}`, newM);
    b.output(`v:${p.name}`, newV);
    b.output(`grad:${p.name}`, grads.get(p.node)!);
    plans.push({ param: p, lrGroup, weightDecay: wd, grad: grads.get(p.node)!, m, v, newParam, newM, newV });
  }
  b.output('grad_norm', gradNorm);
  return { graph: b.graph, loss: model.loss, gradNorm, params: plans, lrGroups, bc1, bc2 };
}
export { trainSpecOf, lrRatesOf, inputsReaching } from './spec.js';
