/**
 * The training step graph (src/ir/optimizer): AdamW against hand-computed updates, clipping by
 * global norm, which parameters get weight decay, and per-group learning rates.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { compileSource } from '../../src/driver/index.js';
import { GraphBuilder } from '../../src/ir/graph.js';
import { initParams, interpret, permute, tensor, type Tensor } from '../../src/ir/interpret/index.js';
import { DEFAULT_TRAIN, type ElaboratedModel, type TrainConfig } from '../../src/ir/elaborate/model.js';
import { buildTrainStep, decayedByDefault, lrRatesOf, trainSpecOf, type TrainStep } from '../../src/ir/optimizer/index.js';
import { AxisTable, type Axis } from '../../src/ir/types.js';
import { stepScalars, type TrainSession } from '../../src/train/session.js';
import type { Span } from '../../src/diagnostics/span.js';

const SPAN: Span = { file: 'opt.mdl', line: 1, column: 1, endLine: 1, endColumn: 1, start: 0, end: 0 };
const scalarT = { dtype: 'f32' as const, axes: [] as Axis[] };
const f64 = (axes: readonly Axis[], data: readonly number[]) => tensor({ dtype: 'f32', axes }, Float64Array.from(data));
const near = (got: ArrayLike<number>, want: readonly number[], tol = 1e-12) => {
  expect(got.length).toBe(want.length);
  for (let i = 0; i < want.length; i++) {
    if (!(Math.abs(got[i] - want[i]) <= tol * (1 + Math.abs(want[i])))) throw new Error(`element ${i}: got ${got[i]}, expected ${want[i]} (all: ${Array.from(got)})`);
  }
};

/**
 * A one-parameter model whose gradient is known: loss = Σ_a w[a] · c[a] with c an input, so
 * d loss / d w = c. `w` is contracted, so it is decayed by default.
 */
function linearModel(train: Partial<TrainConfig>, n = 3): { model: ElaboratedModel; a: Axis } {
  const axes = new AxisTable();
  const a = axes.create('a', n);
  const b = new GraphBuilder();
  const w = b.param('w', { dtype: 'f32', axes: [a] }, { kind: 'zeros' }, SPAN);
  const c = b.input('c', { dtype: 'f32', axes: [a] }, SPAN);
  const loss = b.add({ op: 'contract', over: [a] }, [w, c]);
  b.output('loss', loss);
  const cfg: TrainConfig = { ...DEFAULT_TRAIN, optimizer: { ...DEFAULT_TRAIN.optimizer }, groups: [], slices: [], ...train };
  const model: ElaboratedModel = {
    name: 'linear',
    dims: new Map(),
    axes: new Map([['a', a]]),
    graph: b.graph,
    logits: loss,
    loss,
    outputName: 'loss',
    train: cfg,
    source: { file: 'opt.mdl' },
  };
  return { model, a };
}

interface StepOut {
  param: number[];
  m: number[];
  v: number[];
  grad: number[];
  gradNorm: number;
}

function runLinear(step: TrainStep, a: Axis, feeds: { w: number[]; c: number[]; m: number[]; v: number[]; lr: number; bc1: number; bc2: number }): StepOut {
  const inputs = new Map<string, Tensor>([
    ['c', f64([a], feeds.c)],
    ['m:w', f64([a], feeds.m)],
    ['v:w', f64([a], feeds.v)],
    ['lr.0', f64([], [feeds.lr])],
    ['bc1', f64([], [feeds.bc1])],
    ['bc2', f64([], [feeds.bc2])],
  ]);
  const g = step.graph;
  const out = (name: string) => g.outputs.get(name)!;
  const names = ['param:w', 'm:w', 'v:w', 'grad:w', 'grad_norm'];
  const r = interpret(g, { params: new Map([['w', f64([a], feeds.w)]]), inputs }, { precision: 'f64', outputs: names.map(out) });
  const vals = (name: string) => Array.from(permute(r.get(out(name))!, r.get(out(name))!.type.axes.length ? [a] : []).data);
  return { param: vals('param:w'), m: vals('m:w'), v: vals('v:w'), grad: vals('grad:w'), gradNorm: vals('grad_norm')[0] };
}

describe('AdamW, one step against the formulas', () => {
  const beta1 = 0.8;
  const beta2 = 0.95;
  const eps = 1e-3; // large enough to matter in the update
  const weightDecay = 0.1;
  const lr = 0.05;

  it('updates m, v and the parameter (with decoupled weight decay), no clipping', () => {
    const { model, a } = linearModel({ optimizer: { kind: 'adamw', lr, beta1, beta2, eps, weightDecay }, clip: 0 });
    const step = buildTrainStep(model);
    expect(step.params.map((p) => [p.param.name, p.weightDecay, p.lrGroup])).toEqual([['w', weightDecay, 0]]);
    const w = [0.5, -1.0, 2.0];
    const c = [0.3, -0.2, 0.05]; // the gradient
    const m = [0.1, 0.0, -0.2];
    const v = [0.01, 0.04, 0.0];
    const t = 3; // the third step: bias corrections of t = 3
    const bc1 = 1 / (1 - beta1 ** t);
    const bc2 = 1 / (1 - beta2 ** t);
    const got = runLinear(step, a, { w, c, m, v, lr, bc1, bc2 });

    const wantM = c.map((g, i) => beta1 * m[i] + (1 - beta1) * g);
    const wantV = c.map((g, i) => beta2 * v[i] + (1 - beta2) * g * g);
    const wantP = w.map((p, i) => {
      const mHat = wantM[i] / (1 - beta1 ** t);
      const vHat = wantV[i] / (1 - beta2 ** t);
      return p - lr * (mHat / (Math.sqrt(vHat) + eps) + weightDecay * p);
    });
    near(got.grad, c);
    near([got.gradNorm], [Math.hypot(...c)]);
    near(got.m, wantM);
    near(got.v, wantV);
    near(got.param, wantP);
  });

  it('the first step from zero state moves each weight by about lr against the sign of its gradient', () => {
    const { model, a } = linearModel({ optimizer: { kind: 'adamw', lr, beta1, beta2, eps: 1e-12, weightDecay: 0 }, clip: 0 });
    const step = buildTrainStep(model);
    expect(step.params[0].weightDecay).toBe(0);
    const w = [1, 1, 1];
    const got = runLinear(step, a, { w, c: [2, -3, 0.5], m: [0, 0, 0], v: [0, 0, 0], lr, bc1: 1 / (1 - beta1), bc2: 1 / (1 - beta2) });
    near(got.param, [1 - lr, 1 + lr, 1 - lr], 1e-9);
  });

  it('stepScalars gives each group its scheduled rate and the bias corrections of step t + 1', () => {
    const { model } = linearModel({ optimizer: { kind: 'adamw', lr, beta1, beta2, eps, weightDecay }, schedule: { kind: 'constant' }, steps: 10 });
    const step = buildTrainStep(model);
    const session = { model, step, spec: trainSpecOf(model, step), rates: lrRatesOf(step) } as unknown as TrainSession;
    const s0 = stepScalars(session, 0);
    expect(s0.get('lr.0')).toBe(lr);
    expect(s0.get('bc1')).toBeCloseTo(1 / (1 - beta1), 14);
    expect(s0.get('bc2')).toBeCloseTo(1 / (1 - beta2), 14);
    const s4 = stepScalars(session, 4);
    expect(s4.get('bc1')).toBeCloseTo(1 / (1 - beta1 ** 5), 14);
    expect(s4.get('bc2')).toBeCloseTo(1 / (1 - beta2 ** 5), 14);
  });
});

describe('gradient clipping by global norm', () => {
  const opt = { kind: 'adamw' as const, lr: 0.1, beta1: 0.9, beta2: 0.99, eps: 1e-8, weightDecay: 0 };
  const c = [3, 4, 0]; // norm 5

  /** m after one step from m = 0: (1 - beta1) · scale · g, which exposes the clipping factor. */
  const scaleSeen = (got: StepOut) => got.m.map((m, i) => (c[i] === 0 ? NaN : m / ((1 - opt.beta1) * c[i])));

  it('scales every gradient by clip / norm when the norm exceeds clip', () => {
    const { model, a } = linearModel({ optimizer: opt, clip: 1 });
    const got = runLinear(buildTrainStep(model), a, { w: [0, 0, 0], c, m: [0, 0, 0], v: [0, 0, 0], lr: 0.1, bc1: 10, bc2: 100 });
    expect(got.gradNorm).toBeCloseTo(5, 12);
    const want = 1 / (5 + 1e-6);
    near(scaleSeen(got).slice(0, 2), [want, want]);
    near(got.v, c.map((g) => (1 - opt.beta2) * (g * want) ** 2));
    // grad:NAME is the gradient before clipping.
    near(got.grad, c);
  });

  it('leaves gradients alone when the norm is below clip', () => {
    const { model, a } = linearModel({ optimizer: opt, clip: 6 });
    const got = runLinear(buildTrainStep(model), a, { w: [0, 0, 0], c, m: [0, 0, 0], v: [0, 0, 0], lr: 0.1, bc1: 10, bc2: 100 });
    near(scaleSeen(got).slice(0, 2), [1, 1]);
  });

  it('clip = 0 disables clipping', () => {
    const { model, a } = linearModel({ optimizer: opt, clip: 0 });
    const got = runLinear(buildTrainStep(model), a, { w: [0, 0, 0], c: [300, 400, 0], m: [0, 0, 0], v: [0, 0, 0], lr: 0.1, bc1: 10, bc2: 100 });
    expect(got.gradNorm).toBeCloseTo(500, 10);
    near(got.m, [30, 40, 0]);
  });

  it('the norm is global: over every parameter together', () => {
    const axes = new AxisTable();
    const a = axes.create('a', 2);
    const b = new GraphBuilder();
    const w1 = b.param('w1', { dtype: 'f32', axes: [a] }, { kind: 'zeros' }, SPAN);
    const w2 = b.param('w2', scalarT, { kind: 'zeros' }, SPAN);
    const c = b.input('c', { dtype: 'f32', axes: [a] }, SPAN);
    // loss = Σ w1·c + 12·w2: gradients (c, 12); with c = (3, 4) the global norm is 13.
    const loss = b.add({ op: 'binary', fn: 'add' }, [b.add({ op: 'contract', over: [a] }, [w1, c]), b.add({ op: 'binary', fn: 'mul' }, [w2, b.constant(12)])]);
    const model: ElaboratedModel = {
      name: 'two',
      dims: new Map(),
      axes: new Map([['a', a]]),
      graph: b.graph,
      logits: loss,
      loss,
      outputName: 'loss',
      train: { ...DEFAULT_TRAIN, optimizer: opt, clip: 6.5, groups: [], slices: [] },
      source: { file: 'opt.mdl' },
    };
    const step = buildTrainStep(model);
    const z = (axes: Axis[]) => f64(axes, axes.length ? [0, 0] : [0]);
    const inputs = new Map<string, Tensor>([
      ['c', f64([a], [3, 4])],
      ['m:w1', z([a])],
      ['v:w1', z([a])],
      ['m:w2', z([])],
      ['v:w2', z([])],
      ['lr.0', f64([], [0.1])],
      ['bc1', f64([], [10])],
      ['bc2', f64([], [100])],
    ]);
    const params = new Map([
      ['w1', z([a])],
      ['w2', z([])],
    ]);
    const g = step.graph;
    const ids = ['grad_norm', 'm:w1', 'm:w2'].map((n) => g.outputs.get(n)!);
    const r = interpret(g, { params, inputs }, { precision: 'f64', outputs: ids });
    expect(r.get(ids[0])!.data[0]).toBeCloseTo(13, 12);
    const s = 6.5 / (13 + 1e-6);
    near(r.get(ids[1])!.data, [0.1 * 3 * s, 0.1 * 4 * s]);
    near(r.get(ids[2])!.data, [0.1 * 12 * s]);
  });
});

// ---------------------------------------------------------------------------------------
// Defaults and overrides on the reference transformer (tiny dims).

const TINY = new Map([
  ['batch', 2],
  ['seq', 4],
  ['embed', 8],
  ['heads', 2],
  ['layers', 1],
]);

function compileTransformer(extraTrainLines: string[] = []) {
  const path = 'models/transformer.mdl';
  let text = readFileSync(path, 'utf8');
  if (extraTrainLines.length) {
    const at = text.lastIndexOf('}');
    text = `${text.slice(0, at)}${extraTrainLines.map((l) => `  ${l}\n`).join('')}${text.slice(at)}`;
  }
  const r = compileSource({ path, text }, { overrides: TINY, data: { vocab: 7 } });
  if (!r.ok || !r.model) throw new Error(`transformer did not compile: ${r.diagnostics.map((d) => `${d.code} ${d.message}`).join('; ')}`);
  return r.model;
}

describe('weight decay by default', () => {
  it('contraction weights are decayed; gains, biases, the gathered embedding and the position embedding are not', () => {
    const model = compileTransformer();
    const step = buildTrainStep(model);
    const wd = new Map(step.params.map((p) => [p.param.name, p.weightDecay]));
    const decayed = [...wd].filter(([, v]) => v > 0).map(([k]) => k).sort();
    const notDecayed = [...wd].filter(([, v]) => v === 0).map(([k]) => k).sort();
    // Every parameter is classified; the decayed ones are exactly the linear-map weights.
    expect(decayed.every((n) => /\.(wq|wk|wv|wo|w1|w2)$/.test(n))).toBe(true);
    expect(decayed.length).toBe(6);
    for (const n of decayed) expect(wd.get(n)).toBe(model.train.optimizer.weightDecay);
    expect(notDecayed).toContain('wte'); // gathered (and also the tied head's contraction)
    expect(notDecayed).toContain('wpe'); // added
    expect(notDecayed.filter((n) => n.endsWith('.g')).length).toBeGreaterThanOrEqual(3); // layernorm gains
    expect(notDecayed.filter((n) => /\.(b|b1|b2)$/.test(n)).length).toBeGreaterThanOrEqual(5); // biases
    expect(decayed.length + notDecayed.length).toBe(model.graph.params.length);
    for (const p of model.graph.params) expect(decayedByDefault(model.graph, p)).toBe((wd.get(p.name) ?? 0) > 0);
  });

  it('`weight_decay PATTERN = ...` overrides the default, the last matching line winning', () => {
    const model = compileTransformer(['weight_decay blocks.*.attention.wq = 0', 'weight_decay wpe = 0.5 * weight_decay', 'weight_decay **.g = 0.01', 'weight_decay **.g = 0.02']);
    const step = buildTrainStep(model);
    const wd = new Map(step.params.map((p) => [p.param.name, p.weightDecay]));
    const base = model.train.optimizer.weightDecay;
    expect(base).toBe(0.1);
    const names = [...wd.keys()];
    const wq = names.filter((n) => /attention\.wq$/.test(n));
    expect(wq.length).toBe(1);
    for (const n of wq) expect(wd.get(n)).toBe(0);
    expect(wd.get('wpe')).toBeCloseTo(0.05, 15);
    const gains = names.filter((n) => n.endsWith('.g'));
    expect(gains.length).toBeGreaterThan(0);
    for (const n of gains) expect(wd.get(n)).toBe(0.02);
    // Untouched: still the defaults.
    expect(wd.get('wte')).toBe(0);
    for (const n of names.filter((x) => /attention\.wk$/.test(x))) expect(wd.get(n)).toBe(base);
  });
});

describe('per-group learning rates', () => {
  it('`lr wte = 0.5 * lr` gives wte half the base rate, in lrGroups and in the update', () => {
    const model = compileTransformer(['lr wte = 0.5 * lr']);
    const step = buildTrainStep(model);
    expect(step.lrGroups.map((g) => [g.input, g.pattern])).toEqual([
      ['lr.0', undefined],
      ['lr.1', 'wte'],
    ]);
    expect(step.lrGroups[0].rate(0.01)).toBe(0.01);
    expect(step.lrGroups[1].rate(0.01)).toBeCloseTo(0.005, 15);
    const plan = new Map(step.params.map((p) => [p.param.name, p]));
    expect(plan.get('wte')!.lrGroup).toBe(1);
    expect([...plan.values()].filter((p) => p.lrGroup === 1).map((p) => p.param.name)).toEqual(['wte']);

    // One step on real data: every parameter moves by lr_group · m̂ / (sqrt(v̂) + eps) (+ decay).
    const session = { model, step, spec: trainSpecOf(model, step), rates: lrRatesOf(step) } as unknown as TrainSession;
    const scalars = stepScalars(session, 5);
    const base = scalars.get('lr.0')!;
    expect(scalars.get('lr.1')).toBeCloseTo(0.5 * base, 18);
    const g = step.graph;
    const params = initParams(g, 7, 'f64');
    const inputs = new Map<string, Tensor>();
    const ax = model.axes;
    const vocab = ax.get('vocab')!;
    const idx = (vals: number[]) => tensor({ dtype: 'i32', axes: [ax.get('batch')!, ax.get('seq')!], indexOf: vocab }, Int32Array.from(vals));
    inputs.set('tokens', idx([0, 1, 2, 3, 4, 5, 6, 0]));
    inputs.set('targets', idx([1, 2, 3, 4, 5, 6, 0, 1]));
    for (const [k, v] of scalars) inputs.set(k, f64([], [v]));
    const { beta1, beta2, eps } = model.train.optimizer;
    for (const p of g.params) {
      const n = params.get(p.name)!.data.length;
      inputs.set(`m:${p.name}`, tensor(p.type, Float64Array.from({ length: n }, (_, i) => 0.001 * Math.sin(i + 1))));
      inputs.set(`v:${p.name}`, tensor(p.type, Float64Array.from({ length: n }, (_, i) => 1e-6 * (1 + Math.cos(i)))));
    }
    const wanted = ['grad_norm', ...['wte', 'wpe'].flatMap((n) => [`param:${n}`, `grad:${n}`])].map((n) => g.outputs.get(n)!);
    const r = interpret(g, { params, inputs }, { precision: 'f64', outputs: wanted });
    const norm = r.get(g.outputs.get('grad_norm')!)!.data[0];
    const scale = Math.min(1, model.train.clip / (norm + 1e-6));
    for (const [name, lr] of [
      ['wte', 0.5 * base],
      ['wpe', base],
    ] as const) {
      const p = g.params.find((x) => x.name === name)!;
      const grad = permute(r.get(g.outputs.get(`grad:${name}`)!)!, p.type.axes).data;
      const m0 = inputs.get(`m:${name}`)!.data;
      const v0 = inputs.get(`v:${name}`)!.data;
      const w0 = params.get(name)!.data;
      const wd = plan.get(name)!.weightDecay;
      const want = Array.from(w0, (w, i) => {
        const gi = grad[i] * scale;
        const m = beta1 * m0[i] + (1 - beta1) * gi;
        const v = beta2 * v0[i] + (1 - beta2) * gi * gi;
        return w - lr * ((m * scalars.get('bc1')!) / (Math.sqrt(v * scalars.get('bc2')!) + eps) + wd * w);
      });
      near(permute(r.get(g.outputs.get(`param:${name}`)!)!, p.type.axes).data, want, 1e-12);
    }
  });

  it('the last matching `lr` line wins, and each line that matches makes one group', () => {
    const model = compileTransformer(['lr blocks.*.attention.* = 2 * lr', 'lr blocks.0.attention.wo = 0.25 * lr']);
    const step = buildTrainStep(model);
    expect(step.lrGroups.map((g) => [g.input, g.pattern, g.rate(1)])).toEqual([
      ['lr.0', undefined, 1],
      ['lr.1', 'blocks.*.attention.*', 2],
      ['lr.2', 'blocks.0.attention.wo', 0.25],
    ]);
    const group = new Map(step.params.map((p) => [p.param.name, p.lrGroup]));
    expect(group.get('blocks.0.attention.wq')).toBe(1);
    expect(group.get('blocks.0.attention.wv')).toBe(1);
    expect(group.get('blocks.0.attention.wo')).toBe(2);
    expect(group.get('blocks.0.mlp.w1')).toBe(0);
    expect(group.get('wte')).toBe(0);
    expect(step.graph.inputs.filter((i) => i.name.startsWith('lr.')).map((i) => i.name)).toEqual(['lr.0', 'lr.1', 'lr.2']);
  });
});
