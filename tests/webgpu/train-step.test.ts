/**
 * The generated program (build/<model>/model.js) against the reference interpreter: the
 * transformer at tiny dims, same initial parameters, same batches and step scalars.
 * Parameters after one step agree within 1e-4; losses over 20 steps within 1e-3 relative.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { compileFile } from '../../src/driver/index.js';
import { build } from '../../src/codegen/index.js';
import { buildTrainStep } from '../../src/ir/optimizer/index.js';
import { initParams, interpret, tensor, type Tensor } from '../../src/ir/interpret/index.js';
import { makeRng } from '../../runtime/random.js';
import { getTestDevice, releaseTestDevice } from '../helpers/webgpu.js';
import { maxRelError } from '../helpers/program.js';

const gpu = await getTestDevice();
const outDir = resolve('build', `test-step-${process.pid}`);
afterAll(() => {
  rmSync(outDir, { recursive: true, force: true });
  releaseTestDevice();
});

interface GeneratedModel {
  setParams(v: ReadonlyMap<string, Float32Array>): void;
  getParams(): Promise<Map<string, Float32Array>>;
  trainStep(w: ReadonlyMap<string, Int32Array>, s: { lr: number[]; bc1: number; bc2: number }): Promise<number>;
  evalLoss(w: ReadonlyMap<string, Int32Array>): Promise<number>;
  forward(w: ReadonlyMap<string, Int32Array>): Promise<Float32Array>;
  destroy(): void;
}

describe.runIf(gpu)('generated training step vs the interpreter', () => {
  const vocab = 13;
  const sizes = { layers: 2, embed: 16, heads: 2, seq: 8, batch: 3, lr: 0.01, warmup: 0, clip: 1, weight_decay: 0.1, eval_every: 3, eval_batches: 2 };
  const r = compileFile('models/transformer.mdl', { overrides: new Map(Object.entries(sizes)), data: { vocab } });
  const model = r.model!;
  const step = buildTrainStep(model);
  const g = step.graph;
  mkdirSync(outDir, { recursive: true });

  it('builds, matches parameters after one step and losses over 20 steps', async () => {
    const built = build(model, 'models/transformer.mdl', { outDir, gemmVariant: 'register' });
    expect(built.diagnostics).toEqual([]);
    const mod = (await import(pathToFileURL(join(outDir, 'model.js')).href)) as { Model: { create(d: GPUDevice): Promise<GeneratedModel> } };
    const dev = await mod.Model.create(gpu!.device);

    let params = initParams(g, 7, 'f32');
    dev.setParams(new Map([...params].map(([k, t]) => [k, Float32Array.from(t.data as Float32Array)])));
    const m = new Map<string, Tensor>();
    const v = new Map<string, Tensor>();
    for (const p of g.params) {
      m.set(p.name, tensor(p.type, new Float32Array(params.get(p.name)!.data.length)));
      v.set(p.name, tensor(p.type, new Float32Array(params.get(p.name)!.data.length)));
    }
    const rng = makeRng(3, 'batches');
    const T = 8;
    const B = 3;
    const cfg = model.train.optimizer;
    const outputs = [step.loss, ...step.params.flatMap((p) => [p.newParam, p.newM, p.newV])];
    for (let t = 0; t < 20; t++) {
      const windows = Int32Array.from({ length: B * (T + 1) }, () => rng.int(vocab));
      const tokens = Int32Array.from({ length: B * T }, (_, i) => windows[Math.floor(i / T) * (T + 1) + (i % T)]);
      const targets = Int32Array.from({ length: B * T }, (_, i) => windows[Math.floor(i / T) * (T + 1) + (i % T) + 1]);
      const lr = [0.01];
      const bc1 = 1 / (1 - cfg.beta1 ** (t + 1));
      const bc2 = 1 / (1 - cfg.beta2 ** (t + 1));
      const gpuLoss = await dev.trainStep(new Map([['tokens', tokens], ['targets', targets]]), { lr, bc1, bc2 });

      const inputs = new Map<string, Tensor>();
      inputs.set('tokens', tensor(g.inputs.find((i) => i.name === 'tokens')!.type, tokens));
      inputs.set('targets', tensor(g.inputs.find((i) => i.name === 'targets')!.type, targets));
      const scalar = (x: number) => tensor({ dtype: 'f32', axes: [] }, [x]);
      inputs.set('lr.0', scalar(lr[0]));
      inputs.set('bc1', scalar(bc1));
      inputs.set('bc2', scalar(bc2));
      for (const p of g.params) {
        inputs.set(`m:${p.name}`, m.get(p.name)!);
        inputs.set(`v:${p.name}`, v.get(p.name)!);
      }
      const out = interpret(g, { params, inputs }, { precision: 'f32', outputs });
      const cpuLoss = out.get(step.loss)!.data[0];
      expect(Math.abs(gpuLoss - cpuLoss) / Math.abs(cpuLoss)).toBeLessThan(1e-3);
      const next = new Map<string, Tensor>();
      for (const p of step.params) {
        next.set(p.param.name, out.get(p.newParam)!);
        m.set(p.param.name, out.get(p.newM)!);
        v.set(p.param.name, out.get(p.newV)!);
      }
      params = next;
      if (t === 0) {
        const got = await dev.getParams();
        for (const p of g.params) {
          const want = params.get(p.name)!.data as Float32Array;
          const diff = maxRelError(got.get(p.name)!, want);
          expect(diff, p.name).toBeLessThan(1e-4);
        }
      }
    }
    // Forward and evaluation entry points agree too.
    const tokens = Int32Array.from({ length: B * T }, (_, i) => (i * 5) % vocab);
    const targets = Int32Array.from({ length: B * T }, (_, i) => (i * 3) % vocab);
    const logits = await dev.forward(new Map([['tokens', tokens]]));
    const inputs = new Map<string, Tensor>([
      ['tokens', tensor(g.inputs.find((i) => i.name === 'tokens')!.type, tokens)],
      ['targets', tensor(g.inputs.find((i) => i.name === 'targets')!.type, targets)],
    ]);
    const want = interpret(model.graph, { params, inputs }, { precision: 'f32', outputs: [model.logits, model.loss!] });
    expect(maxRelError(logits, want.get(model.logits)!.data as Float32Array)).toBeLessThan(1e-3);
    const evalLoss = await dev.evalLoss(new Map([['tokens', tokens], ['targets', targets]]));
    expect(Math.abs(evalLoss - want.get(model.loss!)!.data[0])).toBeLessThan(1e-3 * Math.abs(evalLoss));
    dev.destroy();
  }, 300000);

  it('the generated train loop, which queues a step before reading the last loss, gives the losses of one step at a time', async () => {
    // Text over exactly `vocab` characters, as the build expects.
    const rng = makeRng(11, 'text');
    const data = join(outDir, 'data.txt');
    writeFileSync(data, Array.from({ length: 4000 }, () => 'abcdefghijklm'[rng.int(vocab)]).join(''));
    const { train } = (await import(pathToFileURL(join(outDir, 'train.js')).href)) as {
      train(o: { data: string; steps: number; targetLoss?: number; log: (l: string) => void }): Promise<{ losses: number[]; valLosses: { step: number; loss: number }[]; tokensPerSecond: number }>;
    };
    const ahead = await train({ data, steps: 7, log: () => {} });
    // A target loss that is never reached turns queuing off: one step at a time.
    const oneByOne = await train({ data, steps: 7, targetLoss: -1, log: () => {} });
    expect(ahead.losses.length).toBe(7);
    expect(ahead.losses).toEqual(oneByOne.losses);
    expect(ahead.valLosses.map((v) => v.step)).toEqual([3, 6, 7]);
    expect(ahead.valLosses).toEqual(oneByOne.valLosses);
    expect(ahead.tokensPerSecond).toBeGreaterThan(0);
  }, 300000);
});
