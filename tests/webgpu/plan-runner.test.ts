/**
 * The plan runner (runtime/plan.ts, what a browser page trains with) against the generated
 * program (build/<model>/model.js) on the same device: the same initial parameters, batches
 * and step scalars give the same losses, gradient norms, logits, parameters and optimizer
 * state, bit for bit, for both reference models.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { mkdirSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { compileFile } from '../../src/driver/index.js';
import { build, CPU_TARGET } from '../../src/codegen/index.js';
import { buildTrainStep, trainSpecOf, lrRatesOf } from '../../src/ir/optimizer/index.js';
import { runnablePlan } from '../../src/browser.js';
import { planModule, permuteAxes } from '../../runtime/plan.js';
import { WebGpuBackend, type GeneratedModule } from '../../runtime/webgpu.js';
import { feedsOf, stepScalars } from '../../runtime/loop.js';
import { makeRng } from '../../runtime/random.js';
import type { TensorMap, TrainBackend } from '../../runtime/backend.js';
import { getTestDevice, releaseTestDevice } from '../helpers/webgpu.js';

const gpu = await getTestDevice();
const outDir = resolve('build', `test-plan-runner-${process.pid}`);
afterAll(() => {
  rmSync(outDir, { recursive: true, force: true });
  releaseTestDevice();
});

const vocab = 11;
const cases = [
  { file: 'models/transformer.mdl', sets: { layers: 2, embed: 16, heads: 2, seq: 8, batch: 3, lr: 0.01, warmup: 1 } },
  { file: 'models/autoencoder.mdl', sets: { batch: 2, seq: 8, embed: 16, heads: 2, latent: 2, code: 4, layers: 1 } },
];

function expectSameTensors(a: TensorMap, b: TensorMap) {
  expect([...b.keys()].sort()).toEqual([...a.keys()].sort());
  for (const [name, values] of a) expect(b.get(name), name).toEqual(values);
}

describe('permuteAxes', () => {
  it('reorders the axes of a row-major array', () => {
    // [2, 3] → [3, 2]: the transpose.
    expect([...permuteAxes(Float32Array.from([1, 2, 3, 4, 5, 6]), [2, 3], [1, 0])]).toEqual([1, 4, 2, 5, 3, 6]);
    // [2, 1, 2] with axes (2, 0, 1): element (k, i, j) = data[i][j][k].
    expect([...permuteAxes(Float32Array.from([1, 2, 3, 4]), [2, 1, 2], [2, 0, 1])]).toEqual([1, 3, 2, 4]);
    expect([...permuteAxes(Float32Array.from([1, 2, 3]), [3], [0])]).toEqual([1, 2, 3]);
  });
});

describe.runIf(gpu)('the plan runner against the generated model.js', () => {
  for (const c of cases) {
    it(`${c.file}: the same numbers, step for step`, async () => {
      const r = compileFile(c.file, { overrides: new Map(Object.entries(c.sets)), data: { vocab } });
      expect(r.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
      const model = r.model!;
      const step = buildTrainStep(model);
      const dir = join(outDir, model.name);
      mkdirSync(dir, { recursive: true });
      const built = build(model, c.file, { outDir: dir, target: CPU_TARGET, step });
      expect(built.diagnostics).toEqual([]);
      const plan = built.plan!;
      // The register GEMMs read some parameters through transposed copies: setParams must write them.
      expect(plan.params.some((p) => p.transposed)).toBe(true);
      const generated = (await import(`${pathToFileURL(join(dir, 'model.js')).href}?t=${Date.now()}`)) as GeneratedModule;
      const spec = trainSpecOf(model, step);
      const rates = lrRatesOf(step);
      const backends: TrainBackend[] = [await WebGpuBackend.open(generated, { seed: 5, gpu: gpu! }), await WebGpuBackend.open(planModule(runnablePlan(plan)), { seed: 5, gpu: gpu! })];
      try {
        const [a, b] = backends;
        expectSameTensors(await a.getParams(), await b.getParams());
        const rng = makeRng(3, 'batches');
        const batch = () => feedsOf(spec, Int32Array.from({ length: spec.batch * spec.window }, () => rng.int(vocab)));
        for (let t = 0; t < 4; t++) {
          const feeds = batch();
          const scalars = stepScalars(spec, rates, t);
          const [ra, rb] = [await a.trainStep(feeds, scalars), await b.trainStep(feeds, scalars)];
          expect(Number.isFinite(ra.loss)).toBe(true);
          expect(rb).toEqual(ra);
        }
        expectSameTensors(await a.getParams(), await b.getParams());
        expectSameTensors(await a.getState(), await b.getState());
        const evalFeeds = batch();
        expect(await b.evalLoss(evalFeeds)).toBe(await a.evalLoss(evalFeeds));
        const logits = await a.forward(evalFeeds);
        expect(logits.length).toBe(spec.logits.axes.reduce((n, x) => n * x.size, 1));
        expect(await b.forward(evalFeeds)).toEqual(logits);

        // State moved from one to the other (a checkpoint restored) continues identically.
        await b.setParams(await a.getParams());
        await b.setState(await a.getState());
        const feeds = batch();
        const scalars = stepScalars(spec, rates, 4);
        expect(await b.trainStep(feeds, scalars)).toEqual(await a.trainStep(feeds, scalars));

        // Wrong uploads are refused with the generated model's messages.
        const params = await b.getParams();
        params.set(spec.params[0].name, new Float32Array(3));
        await expect(b.setParams(params)).rejects.toThrow(new RegExp(`parameter ${spec.params[0].name} needs \\d+ values`));
        await expect(b.evalLoss(new Map([['nope', new Int32Array(4)]]))).rejects.toThrow('the model has no input nope');
      } finally {
        for (const x of backends) x.destroy();
      }
    }, 600_000);
  }
});
