/**
 * A backend's training steps in lockstep with the reference interpreter's, shared by the
 * backends' training-step tests (tests/webgpu/train-step.test.ts, tests/wasm/train-step.test.ts).
 */
import { expect } from 'vitest';
import type { ElaboratedModel } from '../../src/ir/elaborate/model.js';
import { buildTrainStep } from '../../src/ir/optimizer/index.js';
import { initParams, interpret, tensor, type Tensor } from '../../src/ir/interpret/index.js';
import { makeRng } from '../../runtime/random.js';
import { maxRelError } from './program.js';

/** What the lockstep needs of a backend: the generated WebGPU model, or any TrainBackend. */
export interface SteppedBackend {
  setParams(v: ReadonlyMap<string, Float32Array<ArrayBuffer>>): void | Promise<void>;
  getParams(): Promise<Map<string, Float32Array>>;
  /** AdamW's moments as `m.<param>` and `v.<param>`, where the backend exposes them (checked too). */
  setState?(v: ReadonlyMap<string, Float32Array<ArrayBuffer>>): Promise<void>;
  getState?(): Promise<Map<string, Float32Array>>;
  trainStep(w: ReadonlyMap<string, Int32Array<ArrayBuffer>>, s: { lr: number[]; bc1: number; bc2: number }): Promise<{ loss: number; gradNorm: number }>;
}

/**
 * `steps` training steps of `dev` (built from `m`, parameters set from seed 7) and of the
 * interpreter on the same random batches and scalars: losses and gradient norms within 1e-3
 * relative every step, every parameter (and first moment, where the backend has them) within
 * `paramTol` after the steps in `checkAfter`. Returns the backend's losses and the
 * interpreter's final parameters.
 */
export async function againstInterpreter(dev: SteppedBackend, m: ElaboratedModel, steps: number, checkAfter: readonly number[], paramTol = 1e-4): Promise<{ losses: number[]; params: Map<string, Tensor> }> {
  const trainStep = buildTrainStep(m);
  const graph = trainStep.graph;
  const tokensType = m.graph.inputs.find((i) => i.name === 'tokens')!.type;
  const V = tokensType.indexOf!.size;
  const [B, T] = tokensType.axes.map((a) => a.size);
  let params = initParams(graph, 7, 'f32');
  await dev.setParams(new Map([...params].map(([k, t]) => [k, Float32Array.from(t.data as Float32Array)])));
  const mState = new Map<string, Tensor>();
  const vState = new Map<string, Tensor>();
  for (const p of graph.params) {
    mState.set(p.name, tensor(p.type, new Float32Array(params.get(p.name)!.data.length)));
    vState.set(p.name, tensor(p.type, new Float32Array(params.get(p.name)!.data.length)));
  }
  await dev.setState?.(new Map(graph.params.flatMap((p) => [[`m.${p.name}`, new Float32Array(mState.get(p.name)!.data.length)], [`v.${p.name}`, new Float32Array(vState.get(p.name)!.data.length)]])));
  const rng = makeRng(3, 'batches');
  const cfg = m.train.optimizer;
  const outputs = [trainStep.loss, trainStep.gradNorm, ...trainStep.params.flatMap((p) => [p.newParam, p.newM, p.newV])];
  const losses: number[] = [];
  for (let t = 0; t < steps; t++) {
    const windows = Int32Array.from({ length: B * (T + 1) }, () => rng.int(V));
    const tokens = Int32Array.from({ length: B * T }, (_, i) => windows[Math.floor(i / T) * (T + 1) + (i % T)]);
    const targets = Int32Array.from({ length: B * T }, (_, i) => windows[Math.floor(i / T) * (T + 1) + (i % T) + 1]);
    const lr = [0.01];
    const bc1 = 1 / (1 - cfg.beta1 ** (t + 1));
    const bc2 = 1 / (1 - cfg.beta2 ** (t + 1));
    const got = await dev.trainStep(new Map([['tokens', tokens], ['targets', targets]]), { lr, bc1, bc2 });
    losses.push(got.loss);

    const inputs = new Map<string, Tensor>();
    inputs.set('tokens', tensor(graph.inputs.find((i) => i.name === 'tokens')!.type, tokens));
    inputs.set('targets', tensor(graph.inputs.find((i) => i.name === 'targets')!.type, targets));
    const scalar = (x: number) => tensor({ dtype: 'f32', axes: [] }, [x]);
    inputs.set('lr.0', scalar(lr[0]));
    inputs.set('bc1', scalar(bc1));
    inputs.set('bc2', scalar(bc2));
    for (const p of graph.params) {
      inputs.set(`m:${p.name}`, mState.get(p.name)!);
      inputs.set(`v:${p.name}`, vState.get(p.name)!);
    }
    const out = interpret(graph, { params, inputs }, { precision: 'f32', outputs });
    const loss = out.get(trainStep.loss)!.data[0];
    expect(Math.abs(got.loss - loss) / Math.abs(loss), `loss at step ${t}`).toBeLessThan(1e-3);
    const norm = out.get(trainStep.gradNorm)!.data[0];
    expect(Math.abs(got.gradNorm - norm) / norm, `gradient norm at step ${t}`).toBeLessThan(1e-3);
    const next = new Map<string, Tensor>();
    for (const p of trainStep.params) {
      next.set(p.param.name, out.get(p.newParam)!);
      mState.set(p.param.name, out.get(p.newM)!);
      vState.set(p.param.name, out.get(p.newV)!);
    }
    params = next;
    if (checkAfter.includes(t)) {
      const gotParams = await dev.getParams();
      const state = await dev.getState?.();
      for (const p of graph.params) {
        expect(maxRelError(gotParams.get(p.name)!, params.get(p.name)!.data as Float32Array), `${p.name} after step ${t}`).toBeLessThan(paramTol);
        if (state) expect(maxRelError(state.get(`m.${p.name}`)!, mState.get(p.name)!.data as Float32Array), `m.${p.name} after step ${t}`).toBeLessThan(paramTol);
      }
    }
  }
  return { losses, params };
}
