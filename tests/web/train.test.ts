/**
 * Training in the page, run in Node.js on Dawn: the page compiles a model for its text into the
 * same training recipe, checkpoint metadata and WGSL as `mdlc train` (openSession and
 * planProgram) — or the same WebAssembly as `--backend wasm` — trains it through the one loop, saves the CLI's checkpoint files and samples
 * it as `mdlc sample` does.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { openSession, modelHash } from '../../src/train/session.js';
import { modelHashInput } from '../../src/driver/compile.js';
import { planProgram } from '../../src/codegen/program.js';
import { planWasmProgram } from '../../src/codegen/wasm/program.js';
import { openBackend } from '../../src/train/backends.js';
import { trainLoop } from '../../runtime/loop.js';
import { readCheckpoint } from '../../runtime/checkpoint.js';
import { encodeCorpus } from '../../runtime/text.js';
import { completionLength, PageTrainer, prepareRun, sha256Hex, VALIDATION_SAMPLES } from '../../web/src/train.js';
import { SAMPLE_TEMPERATURE } from '../../src/cli/train.js';
import { CPU_TARGET, targetFor } from '../../src/codegen/target.js';
import { buildLimitsOf } from '../../src/codegen/limits.js';
import { PAGE_FILE } from '../../web/src/check.js';
import { getTestDevice, releaseTestDevice } from '../helpers/webgpu.js';

const gpu = await getTestDevice();
const tmp = mkdtempSync(join(tmpdir(), 'mdlc-page-'));
afterAll(() => {
  rmSync(tmp, { recursive: true, force: true });
  releaseTestDevice();
});

const text = 'First Citizen:\nBefore we proceed any further, hear me speak.\n\nAll:\nSpeak, speak.\n'.repeat(30);
const dataFile = join(tmp, 'data.txt');
writeFileSync(dataFile, text);
const corpus = encodeCorpus(new TextEncoder().encode(text), 'file data.txt');
const transformer = readFileSync('models/transformer.mdl', 'utf8');
const sets = new Map(Object.entries({ steps: 4, batch: 2, seq: 8, embed: 16, heads: 2, layers: 1, eval_every: 2, eval_batches: 2, lr: 0.01, warmup: 1 }));

describe('sha256Hex', () => {
  it('is the SHA-256 of the bytes, as WebCrypto and modelHash compute it', async () => {
    expect(await sha256Hex(new TextEncoder().encode('abc'))).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  });

  it("hashes what modelHash always hashed (checkpoints written before keep their models' hashes)", async () => {
    const text = 'model m # é\n';
    const overrides = new Map([['steps', 3], ['batch', 2]]);
    const before = createHash('sha256').update(text).update('\0').update(JSON.stringify([['batch', 2], ['steps', 3]])).digest('hex');
    expect(modelHash(text, overrides)).toBe(before);
    expect(await sha256Hex(modelHashInput(text, overrides) as Uint8Array<ArrayBuffer>)).toBe(before);
  });
});

describe('prepareRun', () => {
  it("gives the recipe, checkpoint metadata and WGSL of mdlc train's session for the same text and settings", async () => {
    const page = await prepareRun(transformer, sets, corpus, CPU_TARGET);
    if (!page.ok) throw new Error(page.diagnostics.map((d) => d.message).join('\n'));
    const cli = await openSession({ path: PAGE_FILE, text: transformer }, { dataPath: dataFile, overrides: sets });
    if (!cli.ok) throw new Error('the CLI session failed');
    const s = cli.session;
    expect(page.run.spec).toEqual(s.spec);
    expect(page.run.meta).toEqual(s.meta);
    expect(page.run.meta.modelHash).toBe(modelHash(transformer, sets));
    expect(page.run.vocab.chars).toEqual(s.vocab.chars);
    expect(page.run.split.train).toEqual(s.split.train);
    expect(page.run.split.val).toEqual(s.split.val);
    expect(page.run.rates.map((r) => r(0.5))).toEqual(s.rates.map((r) => r(0.5)));
    const built = planProgram(s.model, { target: CPU_TARGET, step: s.step });
    expect(page.run.plan!.kernels.map((k) => [k.name, k.code])).toEqual(built.kernels.map((k) => [k.name, k.code]));
    expect(page.run.plan!.entries).toEqual(built.entries);
    expect(page.run.kernels).toBe(built.kernels.length);
    expect(completionLength(page.run.spec)).toBe(32);
    // Validation completions as mdlc train draws them.
    expect(VALIDATION_SAMPLES.temperature).toBe(SAMPLE_TEMPERATURE);
  });

  it('plans the wasm program of mdlc train --backend wasm, and trains it with the losses of the wasm backend the CLI opens', async () => {
    const page = await prepareRun(transformer, sets, corpus, 'wasm');
    if (!page.ok) throw new Error(page.diagnostics.map((d) => d.message).join('\n'));
    expect(page.run.plan).toBeUndefined();
    const cli = await openSession({ path: PAGE_FILE, text: transformer }, { dataPath: dataFile, overrides: sets });
    if (!cli.ok) throw new Error('the CLI session failed');
    const s = cli.session;
    const built = planWasmProgram(s.model, { step: s.step }).program;
    expect(page.run.wasm!.module).toEqual(built.module);
    expect(page.run.wasm!.entries).toEqual(built.entries);
    expect([page.run.kernels, page.run.dispatches]).toEqual([built.kernels.length, built.entries.train.length]);
    // Two threads in the page, one in the CLI's backend: the same losses, bit for bit.
    const trainer = await PageTrainer.open(page.run, { threads: 2 });
    const { backend } = await openBackend('wasm', s.model, s.step, { seed: s.spec.seed, threads: 1 });
    try {
      expect(trainer.description).toMatch(/^WebAssembly SIMD on 2 threads/);
      const result = await trainer.train();
      const cliResult = await trainLoop(backend!, s.spec, { ...s.split, decode: (t) => s.vocab.decode(t) }, { rates: s.rates, checkpointEvery: 0 });
      expect(result.losses).toHaveLength(4);
      expect(result.losses).toEqual(cliResult.losses);
      expect(await trainer.sample('All:\n', 12, { seed: 3 })).toHaveLength(12);
    } finally {
      trainer.destroy();
      backend!.destroy();
    }
  }, 120_000);

  it('returns the diagnostics of a model that does not compile for the text', async () => {
    const r = await prepareRun(transformer.replace('p = softmax(s, over: key)', 'p = softmax(s, over: seq)'), sets, corpus, CPU_TARGET);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.diagnostics.map((d) => [d.code, d.span.line])).toEqual([['E0501', 38]]);
  });

  it("refuses a WebGPU program beyond the device's limits before compiling anything, and never limits wasm", async () => {
    // A device that binds at most 64 KiB and runs 64 invocations per workgroup.
    const small = buildLimitsOf({ maxStorageBufferBindingSize: 65536, maxComputeInvocationsPerWorkgroup: 64, label: 'not a limit' });
    expect(small).toEqual({ maxStorageBufferBindingSize: 65536, maxComputeInvocationsPerWorkgroup: 64 });
    const r = await prepareRun(transformer, sets, corpus, CPU_TARGET, small);
    expect(r.ok).toBe(false);
    if (r.ok) return;
    const codes = [...new Set(r.diagnostics.map((d) => d.code))];
    expect(codes).toContain('E0901');
    expect(r.diagnostics.every((d) => d.severity === 'error' && d.span.line > 0)).toBe(true);
    expect(r.message).toMatch(/^the model does not fit this device: E0901 the f32 buffers of one training step need [\d.]+ (KiB|MiB), over the device's binding limit of 64\.0 KiB/);
    // The same model fits WebGPU's defaults, and the wasm backend has no device limits.
    expect((await prepareRun(transformer, sets, corpus, CPU_TARGET, {})).ok).toBe(true);
    expect((await prepareRun(transformer, sets, corpus, 'wasm', small)).ok).toBe(true);
  });

});

describe.runIf(gpu)('PageTrainer on WebGPU', () => {
  it('trains through the one loop, saves the CLI checkpoint files, and samples as mdlc sample does', async () => {
    const page = await prepareRun(transformer, sets, corpus, targetFor(gpu!));
    if (!page.ok) throw new Error('prepareRun failed');
    const trainer = await PageTrainer.open(page.run, { gpu: gpu! });
    try {
      await expect(trainer.checkpointFiles()).rejects.toThrow('train the model first');
      const steps: number[] = [];
      const evals: number[] = [];
      const result = await trainer.train({ onStep: (e) => steps.push(e.step), onEval: (e) => evals.push(e.step) });
      expect(steps).toEqual([1, 2, 3, 4]);
      expect(evals).toEqual([2, 4]);
      expect(result.losses).toHaveLength(4);
      expect(result.losses.every(Number.isFinite)).toBe(true);
      expect(trainer.step).toBe(4);

      const files = await trainer.checkpointFiles();
      const dir = join(tmp, 'checkpoints', 'step-00000004');
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, 'model.safetensors'), files.model);
      writeFileSync(join(dir, 'optimizer.safetensors'), files.optimizer);
      writeFileSync(join(dir, 'trainer.json'), files.trainer);
      const c = readCheckpoint(dir);
      expect(c.meta).toEqual(page.run.meta);
      expect(c.trainer).toMatchObject({ step: 4, batchesDrawn: result.batchesDrawn, seed: page.run.spec.seed, modelHash: page.run.meta.modelHash, valLoss: result.valLosses[1].loss });
      const params = await (trainer as unknown as { backend: { getParams(): Promise<Map<string, Float32Array>> } }).backend.getParams();
      for (const p of page.run.spec.params) {
        expect(c.params.get(p.name)!.shape).toEqual(p.axes.map((a) => a.size));
        expect(c.params.get(p.name)!.data).toEqual(params.get(p.name));
      }
      expect([...c.state!.keys()].sort()).toEqual(page.run.spec.params.flatMap((p) => [`m.${p.name}`, `v.${p.name}`]).sort());

      const seen: string[] = [];
      const a = await trainer.sample('All:\n', 12, { seed: 3, onText: (t) => seen.push(t) });
      expect(a).toHaveLength(12);
      expect(seen.join('')).toBe(a);
      expect([...a].every((ch) => page.run.vocab.index.has(ch))).toBe(true);
      expect(await trainer.sample('All:\n', 12, { seed: 3 })).toBe(a);
      expect(await trainer.sample('', 3, { temperature: 0 })).toHaveLength(3);
      await expect(trainer.sample('Z', 3)).rejects.toThrow(`the prompt has character "Z" that the model's vocabulary of ${page.run.vocab.size} lacks`);
    } finally {
      trainer.destroy();
    }
  }, 600_000);

  it('trains the autoencoder, whose validation samples are reconstructions and which does not sample text', async () => {
    const autoencoder = readFileSync('models/autoencoder.mdl', 'utf8');
    const page = await prepareRun(autoencoder, new Map(Object.entries({ steps: 2, batch: 2, seq: 8, embed: 16, heads: 2, latent: 2, code: 4, layers: 1, eval_every: 2, eval_batches: 1 })), corpus, targetFor(gpu!));
    if (!page.ok) throw new Error(page.diagnostics.map((d) => d.message).join('\n'));
    expect(page.run.spec.task).toBe('reconstruct');
    const trainer = await PageTrainer.open(page.run, { gpu: gpu! });
    try {
      const kinds: string[] = [];
      const result = await trainer.train({ onEval: (e) => kinds.push(...e.samples.map((x) => x.kind)) });
      expect(result.losses).toHaveLength(2);
      expect(kinds).toEqual(['reconstruction', 'reconstruction']);
      await expect(trainer.sample('All', 3)).rejects.toThrow('model `autoencoder` rebuilds its input (an autoencoder); sampling continues text only for next-token models');
    } finally {
      trainer.destroy();
    }
  }, 600_000);
});
