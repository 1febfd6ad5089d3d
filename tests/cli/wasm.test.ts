/**
 * The wasm backend through the command line: chosen (and said so) where there is no WebGPU
 * adapter, `--backend cpu` meaning it, exact resume, sampling that agrees with the
 * interpreter (also from a model compiled for fewer rows, as `mdlc sample` and validation
 * completions use), the NaN report, `--threads`, and `mdlc build --backend wasm`, whose program
 * runs from its files.
 */
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { mayUseWebGpu, parseArgs } from '../../src/cli/args.js';
import { TRAIN_FLAGS } from '../../src/cli/train.js';
import { chooseBackend, NO_WEBGPU_ENV, openBackend, samplerFor } from '../../src/train/backends.js';
import { WasmBackend, wasmProgramFromJson, WasmJs, type WasmProgramJson } from '../../runtime/wasm.js';
import { writeNanProbe } from '../helpers/nan-probe.js';
import { runAsPrinted } from '../helpers/cli.js';
import { restoreModel } from '../../src/train/restore.js';
import { openSession } from '../../src/train/session.js';
import { readSourceFile } from '../../src/parser/index.js';
import { generate, validationSamples } from '../../runtime/sampling.js';
import type { TrainBackend, TrainSpec } from '../../runtime/backend.js';
import { makeRng } from '../../runtime/random.js';

const tmp = mkdtempSync(join(tmpdir(), 'mdlc-wasm-cli-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const saved = process.env[NO_WEBGPU_ENV];
afterEach(() => {
  if (saved === undefined) delete process.env[NO_WEBGPU_ENV];
  else process.env[NO_WEBGPU_ENV] = saved;
});

const TRANSFORMER = resolve('models/transformer.mdl');
const TINY = ['--set', 'embed=8', '--set', 'seq=6', '--set', 'layers=1', '--set', 'heads=2', '--batch', '3'];
const text = 'To be, or not to be, that is the question:\nWhether tis nobler in the mind to suffer\n'.repeat(30);
const data = join(tmp, 'data.txt');
writeFileSync(data, text);

const run = runAsPrinted;

const losses = (dir: string) =>
  readFileSync(join(dir, 'metrics.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { step: number; loss?: number; grad_norm?: number })
    .filter((x) => x.loss !== undefined)
    .map((x) => [x.step, x.loss, x.grad_norm]);

describe('choosing the backend', () => {
  it('without a WebGPU adapter (MDLC_NO_WEBGPU hides them) is wasm, with the reason; cpu is wasm; a webgpu request fails', async () => {
    const env = { [NO_WEBGPU_ENV]: '1' };
    expect(await chooseBackend(undefined, env)).toEqual({ kind: 'wasm', note: 'no WebGPU adapter (no GPU)' });
    expect(await chooseBackend('cpu', env)).toEqual({ kind: 'wasm' });
    // A resumed WebGPU run stays on WebGPU only where there is an adapter (tests/webgpu/train-cli resumes on one).
    expect(await chooseBackend(undefined, env, true)).toEqual({ kind: 'wasm', note: 'no WebGPU adapter (no GPU)' });
    expect(await chooseBackend('interpreter', env)).toEqual({ kind: 'interpreter' });
    await expect(chooseBackend('webgpu', env)).rejects.toThrow(/No WebGPU adapter is available \(MDLC_NO_WEBGPU is set\)/);
    // Commands that name a CPU backend, or run with the adapters hidden, need no stderr filter for Dawn.
    const args = (...a: string[]) => parseArgs(['train', 'm.mdl', ...a].slice(1), TRAIN_FLAGS);
    expect([mayUseWebGpu(args(), {}), mayUseWebGpu(args('--backend', 'wasm'), {}), mayUseWebGpu(args('--backend', 'webgpu'), {}), mayUseWebGpu(args(), env)]).toEqual([true, false, true, false]);
  });

  it('mdlc train without a GPU trains on wasm and says so', async () => {
    process.env[NO_WEBGPU_ENV] = '1';
    const dir = join(tmp, 'auto');
    const r = await run(['train', TRANSFORMER, ...TINY, '--data', data, '--steps', '3', '--run-dir', dir, '--samples', '0', '--threads', '2']);
    expect(r.code).toBe(0);
    expect(r.err).toBe('mdlc: no WebGPU adapter (no GPU); training on the wasm backend (WebAssembly SIMD on 2 threads)\n');
    expect(r.out).toMatch(/training `transformer` .* on wasm: WebAssembly SIMD on 2 threads/);
    expect(JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')).backend).toBe('wasm');
    // The run's build holds the program.
    expect(readdirSync(join(dir, 'build')).sort()).toEqual(['kernels.txt', 'model.wasm', 'program.json']);
  });
});

describe('mdlc train --backend cpu (the wasm backend)', () => {
  const dir = join(tmp, 'run');
  it('trains, and resumed from step 5 gives bit for bit the losses of steps 6–10 of the run in one go', async () => {
    const first = await run(['train', TRANSFORMER, ...TINY, '--backend', 'cpu', '--data', data, '--steps', '10', '--set', 'eval_every=5', '--set', 'eval_batches=2', '--run-dir', dir, '--samples', '1']);
    expect(first.err).toBe('');
    expect(first.code).toBe(0);
    expect(JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')).backend).toBe('wasm');
    const before = losses(dir);
    expect(before).toHaveLength(10);
    // The run keeps its backend on resume (and another thread count gives the same steps).
    const again = await run(['train', '--resume', join(dir, 'checkpoints', 'step-00000005'), '--threads', '1']);
    expect(again.code).toBe(0);
    expect(again.out).toMatch(/on wasm: WebAssembly SIMD on 1 thread\b/);
    expect(losses(dir)).toEqual(before);
  });

  it('samples like the interpreter (greedy)', async () => {
    const w = await run(['sample', dir, '--prompt', 'To be', '--tokens', '12', '--temperature', '0', '--backend', 'wasm']);
    const i = await run(['sample', dir, '--prompt', 'To be', '--tokens', '12', '--temperature', '0', '--backend', 'interpreter']);
    expect(w.code).toBe(0);
    expect(w.out).toHaveLength('To be'.length + 12 + 1);
    expect(w.out).toBe(i.out);
  });

  it('samples from a model compiled for one row, with the same tokens as the training batch gives its first row', async () => {
    const one = await restoreModel(dir, { backend: 'wasm', rows: 1 });
    const all = await restoreModel(dir, { backend: 'wasm' });
    if (!one.ok || !all.ok) throw new Error('restore failed');
    try {
      expect([one.restored.spec.batch, all.restored.spec.batch]).toEqual([1, 3]);
      const prompt = one.restored.vocab.encode('To be');
      const greedy = (r: typeof one) => generate(r.restored.backend, r.restored.spec, [prompt], 12, { temperature: 0, rng: makeRng(0, 'test') });
      const [a, b] = [await greedy(one), await greedy(all)];
      expect(a.length).toBe(1);
      expect([...a[0]]).toEqual([...b[0]]);
    } finally {
      one.restored.close();
      all.restored.close();
    }
    // A batch dim the file derives from another cannot be set: the model stays at its batch.
    const derived = join(tmp, 'derived.mdl');
    writeFileSync(derived, readFileSync(TRANSFORMER, 'utf8').replace(/^dim batch\s*=.*$/m, 'dim half = 2\ndim batch = 2 * half'));
    const ddir = join(tmp, 'derived-run');
    expect((await run(['train', derived, '--set', 'embed=8', '--set', 'seq=6', '--set', 'layers=1', '--set', 'heads=2', '--data', data, '--steps', '1', '--run-dir', ddir, '--samples', '0', '--backend', 'wasm'])).code).toBe(0);
    const kept = await restoreModel(ddir, { backend: 'wasm', rows: 1 });
    if (!kept.ok) throw new Error('restore failed');
    expect(kept.restored.spec.batch).toBe(4);
    kept.restored.close();
  });

  it("draws validation samples on the model compiled for as many rows, with the training backend's parameters and the same text", async () => {
    const overrides = new Map(Object.entries({ embed: 8, seq: 6, layers: 1, heads: 2, batch: 3 }));
    const opened = await openSession(readSourceFile(TRANSFORMER).source!, { dataPath: data, overrides });
    if (!opened.ok) throw new Error('session failed');
    const session = opened.session;
    const training = (await openBackend('wasm', session.model, session.step, { seed: 5, threads: 1 })).backend!;
    const samples = (backend: TrainBackend, spec: TrainSpec) => validationSamples(backend, spec, session.split.val, (t) => session.vocab.decode(t), { count: 2, length: 8, rng: makeRng(1, 'samples') });
    for (const kind of ['wasm', 'interpreter'] as const) {
      const sampler = samplerFor(kind, session, 2, { threads: 1 });
      try {
        const there = await sampler.on(training);
        expect(there.backend).not.toBe(training);
        expect(there.spec.batch).toBe(2);
        expect(await there.backend.getParams()).toEqual(await training.getParams());
        expect(await samples(there.backend, there.spec)).toEqual(await samples(training, session.spec));
      } finally {
        sampler.destroy();
      }
    }
    // As many rows as the batch: nothing to gain, the training backend draws them.
    const same = samplerFor('wasm', session, 3);
    expect(await same.on(training)).toEqual({ backend: training, spec: session.spec });
    training.destroy();
  });

  it('refuses --threads 0 and an unknown backend', async () => {
    expect((await run(['train', TRANSFORMER, '--threads', '0'])).err).toMatch(/--threads needs a whole number >= 1, got '0'/);
    expect((await run(['train', TRANSFORMER, '--backend', 'gpu'])).err).toMatch(/--backend must be one of webgpu, wasm, interpreter, cpu, got 'gpu'/);
  });

  it('stops at a NaN, keeps the last good checkpoint, and names the value', async () => {
    const model = join(tmp, 'probe.mdl');
    writeNanProbe(model, data);
    const r = await run(['train', model, '--backend', 'wasm', '--checkpoint-every', '1', '--run-dir', join(tmp, 'nan')]);
    expect(r.code).toBe(1);
    const step = Number(/the loss became NaN at step (\d+)/.exec(r.err)![1]);
    expect(r.err).toMatch(new RegExp(`at step ${step}, \`sqrt\\(s\\)\` \\(unary sqrt over \\[embed\\] at .*probe\\.mdl:9:\\d+\\) is the first value that is not finite`));
  });
});

describe('mdlc build --backend wasm', () => {
  it('writes model.wasm, program.json and kernels.txt, and the program runs from them', async () => {
    const out = join(tmp, 'build');
    const r = await run(['build', TRANSFORMER, ...TINY, '--data', data, '--backend', 'wasm', '--out', out]);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/built transformer into .*: \d+ WebAssembly kernels in model\.wasm .*; a training step is \d+ calls/);
    const bytes = new Uint8Array(readFileSync(join(out, 'model.wasm')));
    expect(WasmJs.validate(bytes)).toBe(true);
    const json = JSON.parse(readFileSync(join(out, 'program.json'), 'utf8')) as WasmProgramJson;
    expect(readFileSync(join(out, 'kernels.txt'), 'utf8')).toMatch(/^gemm_\d+: gemm kernel, run by \d+ dispatch/m);
    const program = wasmProgramFromJson(json, bytes);
    const dev = await WasmBackend.open(program, { seed: 1, threads: 2 });
    try {
      const n = json.inputs.tokens.size;
      const feeds = new Map([['tokens', new Int32Array(n).fill(1)], ['targets', new Int32Array(n).fill(2)]]);
      const a = await dev.trainStep(feeds, { lr: [0.01], bc1: 10, bc2: 100 });
      const b = await dev.trainStep(feeds, { lr: [0.01], bc1: 5.3, bc2: 50.3 });
      expect(a.loss).toBeCloseTo(Math.log(json.params.find((p) => p.name === 'wte')!.axes[0].size), 1);
      expect(b.loss).toBeLessThan(a.loss);
    } finally {
      dev.destroy();
    }
    expect(() => wasmProgramFromJson({ ...json, format: 'other' as never }, bytes)).toThrow(/not an mdlc wasm program/);
  });
});
