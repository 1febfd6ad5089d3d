/**
 * mdlc against an independent PyTorch implementation of models/transformer.mdl
 * (tests/export/reference_transformer.py: written by hand in plain torch.nn, not generated),
 * given mdlc's initial weights through the documented name and axis mapping and mdlc's
 * batches: 50 steps of losses agree with the cpu interpreter and with the WebGPU backend (the
 * generated program's trainStep) within 1e-5 relative, and the gradient norms with the
 * interpreter's within 1e-3.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { readSourceFile } from '../../src/parser/index.js';
import { openSession, sliceFeeds, stepScalars, type TrainSession } from '../../src/train/session.js';
import { initParams } from '../../src/ir/interpret/index.js';
import { build, targetFor } from '../../src/codegen/index.js';
import { WindowSampler } from '../../runtime/data.js';
import { getTestDevice, releaseTestDevice } from '../helpers/webgpu.js';
import { runPythonOk, torchPython } from '../helpers/torch.js';
import { freshState, modelSafetensors, trainOnInterpreter } from './interpreter.js';
import { maxRelDiff } from './session.js';
import { sampleText } from './text.js';

const python = torchPython();
const gpu = python ? await getTestDevice() : undefined;
const tmp = mkdtempSync(join(tmpdir(), 'mdlc-reference-'));
afterAll(() => {
  rmSync(tmp, { recursive: true, force: true });
  releaseTestDevice();
});

const STEPS = 50;
const SETS = { layers: 2, embed: 16, heads: 2, seq: 8, batch: 4, steps: STEPS, warmup: 10, lr: 0.005, seed: 11 };

interface GeneratedModel {
  setParams(v: ReadonlyMap<string, Float32Array>): void;
  trainStep(w: ReadonlyMap<string, Int32Array>, s: { lr: number[]; bc1: number; bc2: number }): Promise<{ loss: number; gradNorm: number }>;
  destroy(): void;
}

describe.runIf(python)('an independent PyTorch transformer against mdlc', () => {
  let session: TrainSession;
  let params: ReturnType<typeof initParams>;
  let windows: Int32Array[];
  let ref: { losses: number[]; grad_norms: number[] };
  const weights = join(tmp, 'init.safetensors');
  const batches = join(tmp, 'batches.bin');

  beforeAll(async () => {
    const data = join(tmp, 'text.txt');
    writeFileSync(data, sampleText(12000));
    const opened = await openSession(readSourceFile('models/transformer.mdl').source!, { dataPath: data, overrides: new Map(Object.entries(SETS)) });
    if (!opened.ok) throw new Error('models/transformer.mdl does not compile');
    session = opened.session;
    params = initParams(session.step.graph, SETS.seed, 'f32');
    writeFileSync(weights, modelSafetensors(session, params, 0));
    // The batches mdlc trains on (its sampler, its seed), for the reference to read.
    const sampler = new WindowSampler(session.split.train, session.window, SETS.seed);
    windows = Array.from({ length: STEPS }, () => sampler.nextBatch(session.batch));
    writeFileSync(batches, new Uint8Array(Int32Array.from(windows.flatMap((w) => [...w])).buffer));
    ref = reference();
  }, 120_000);

  function reference(): { losses: number[]; grad_norms: number[] } {
    const o = session.model.train.optimizer;
    const schedule = session.model.train.schedule;
    const config = {
      vocab: session.vocab.size, seq: SETS.seq, layers: SETS.layers, embed: SETS.embed, heads: SETS.heads, hidden: 4 * SETS.embed,
      batch: SETS.batch, steps: STEPS, lr: o.lr, betas: [o.beta1, o.beta2], eps: o.eps, weight_decay: o.weightDecay,
      warmup: schedule.kind === 'warmup_cosine' ? schedule.warmup : 0, min_lr: schedule.kind === 'warmup_cosine' ? schedule.minLr : o.lr,
      clip: session.model.train.clip, weights, batches, out: join(tmp, 'reference-losses.json'),
    };
    writeFileSync(join(tmp, 'reference.json'), JSON.stringify(config));
    runPythonOk(python!, [resolve('tests/export/reference_transformer.py'), join(tmp, 'reference.json')]);
    return JSON.parse(readFileSync(config.out, 'utf8'));
  }

  // The issue asks for 1e-3; they agree far closer (1.3e-7 when written), and a looser bound
  // would miss real differences: leaving out weight decay moves the losses by only 3e-4 (the
  // gradient norms by 2e-2).
  it(`agrees with the cpu interpreter over ${STEPS} steps: losses within 1e-5 relative, gradient norms within 1e-3`, () => {
    const cpu = trainOnInterpreter(session, freshState(session, params), STEPS, 'f32');
    expect(ref.losses).toHaveLength(STEPS);
    expect(cpu.losses[0] - cpu.losses[STEPS - 1]).toBeGreaterThan(0.4);
    const d = maxRelDiff(ref.losses, cpu.losses);
    const g = maxRelDiff(ref.grad_norms, cpu.gradNorms);
    console.log(`reference vs interpreter over ${STEPS} steps: largest relative difference of the losses ${d.toExponential(2)}, of the gradient norms ${g.toExponential(2)}`);
    expect(d).toBeLessThan(1e-5);
    expect(g).toBeLessThan(1e-3);
  }, 120_000);

  it.runIf(gpu)(`agrees with the WebGPU backend over ${STEPS} steps: losses within 1e-5 relative`, async () => {
    const out = join(tmp, 'build');
    mkdirSync(out, { recursive: true });
    const built = build(session.model, 'models/transformer.mdl', { outDir: out, target: targetFor(gpu!) });
    expect(built.diagnostics).toEqual([]);
    const mod = (await import(pathToFileURL(join(out, 'model.js')).href)) as { Model: { create(d: GPUDevice): Promise<GeneratedModel> } };
    const dev = await mod.Model.create(gpu!.device);
    dev.setParams(new Map([...params].map(([k, t]) => [k, Float32Array.from(t.data as Float32Array)])));
    const losses: number[] = [];
    for (let t = 0; t < STEPS; t++) {
      const scalars = stepScalars(session, t);
      const lr = session.step.lrGroups.map((g) => scalars.get(g.input)!);
      losses.push((await dev.trainStep(sliceFeeds(session, windows[t]), { lr, bc1: scalars.get('bc1')!, bc2: scalars.get('bc2')! })).loss);
    }
    dev.destroy();
    const d = maxRelDiff(ref.losses, losses);
    console.log(`reference vs WebGPU: largest relative loss difference over ${STEPS} steps ${d.toExponential(2)}`);
    expect(d).toBeLessThan(1e-5);
  }, 300_000);
});
