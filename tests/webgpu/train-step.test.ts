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
import { build, CPU_TARGET } from '../../src/codegen/index.js';
import { buildTrainStep } from '../../src/ir/optimizer/index.js';
import { interpret, tensor, type Tensor } from '../../src/ir/interpret/index.js';
import { makeRng } from '../../runtime/random.js';
import { getTestDevice, releaseTestDevice } from '../helpers/webgpu.js';
import { againstInterpreter } from '../helpers/train-step.js';
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
  trainStep(w: ReadonlyMap<string, Int32Array>, s: { lr: number[]; bc1: number; bc2: number }): Promise<{ loss: number; gradNorm: number }>;
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
    const built = build(model, 'models/transformer.mdl', { outDir, target: CPU_TARGET });
    expect(built.diagnostics).toEqual([]);
    const mod = (await import(pathToFileURL(join(outDir, 'model.js')).href)) as { Model: { create(d: GPUDevice): Promise<GeneratedModel> } };
    const dev = await mod.Model.create(gpu!.device);
    const { params } = await againstInterpreter(dev, model, 20, [0]);
    const B = 3;
    const T = 8;
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

  it('the autoencoder (dense bottleneck over two axes, cross-attention over the slots): parameters after one step, losses over 6 steps', async () => {
    const ae = compileFile('models/autoencoder.mdl', { overrides: new Map(Object.entries({ ...sizes, layers: 1, latent: 3, code: 4 })), data: { vocab } }).model!;
    const dir = join(outDir, 'autoencoder');
    mkdirSync(dir, { recursive: true });
    const built = build(ae, 'models/autoencoder.mdl', { outDir: dir, target: CPU_TARGET });
    expect(built.diagnostics).toEqual([]);
    const mod = (await import(pathToFileURL(join(dir, 'model.js')).href)) as { Model: { create(d: GPUDevice): Promise<GeneratedModel> } };
    const dev = await mod.Model.create(gpu!.device);
    await againstInterpreter(dev, ae, 6, [0]);
    dev.destroy();
  }, 300000);

  it('updates parameters whose sizes are not multiples of 4 (one element per invocation, transposed copies included)', async () => {
    // embed 6: the embedding (13 × 6, with its transposed copy for the tied head) and the gains are odd-sized.
    const odd = compileFile('models/transformer.mdl', { overrides: new Map(Object.entries({ ...sizes, layers: 1, embed: 6, heads: 2 })), data: { vocab } }).model!;
    const dir = join(outDir, 'odd');
    mkdirSync(dir, { recursive: true });
    const built = build(odd, 'models/transformer.mdl', { outDir: dir, target: CPU_TARGET });
    expect(built.diagnostics).toEqual([]);
    const segmented = built.plan!.kernels.filter((k) => k.kind === 'segmented');
    expect(segmented.some((k) => !k.code.includes('arena4(') && k.code.includes('if (cols != 0u)'))).toBe(true);
    const mod = (await import(pathToFileURL(join(dir, 'model.js')).href)) as { Model: { create(d: GPUDevice): Promise<GeneratedModel> } };
    const dev = await mod.Model.create(gpu!.device);
    // The head reads the embedding's copy from the second step on: losses check it, parameters after steps 1 and 3.
    await againstInterpreter(dev, odd, 4, [0, 2]);
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
