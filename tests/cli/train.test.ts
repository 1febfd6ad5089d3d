/**
 * `mdlc train` and `mdlc sample` on the interpreter backend, end to end through the command line's
 * entry point: what the run directory holds, exact resume, refusal of a checkpoint of another
 * model, vocabulary or shape, the NaN report that names the value, --overfit with the file's
 * own optimizer, sampling that reproduces an overfit text, and no writes into the working
 * directory.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { defaultRunDir } from '../../src/cli/train.js';
import { readCheckpoint } from '../../runtime/checkpoint.js';
import { writeNanProbe } from '../helpers/nan-probe.js';
import { runAsPrinted } from '../helpers/cli.js';

const tmp = mkdtempSync(join(tmpdir(), 'mdlc-train-cli-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const TRANSFORMER = resolve('models/transformer.mdl');
const TINY = ['--set', 'embed=8', '--set', 'seq=6', '--set', 'layers=1', '--set', 'heads=2', '--batch', '3', '--backend', 'interpreter'];
const text = 'To be, or not to be, that is the question:\nWhether tis nobler in the mind to suffer\n'.repeat(30);
const data = join(tmp, 'data.txt');
writeFileSync(data, text);

const run = runAsPrinted;

const metrics = (dir: string) =>
  readFileSync(join(dir, 'metrics.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { step: number; loss?: number; val_loss?: number; lr?: number; grad_norm?: number });

describe('mdlc train (interpreter)', () => {
  const dir = join(tmp, 'run-a');
  let first: Awaited<ReturnType<typeof run>>;

  it('writes a run directory a person can read and resume: source, config, metrics, samples, plot, checkpoints', async () => {
    first = await run(['train', TRANSFORMER, ...TINY, '--data', data, '--steps', '20', '--set', 'eval_every=10', '--set', 'eval_batches=2', '--run-dir', dir, '--samples', '2', '--log-every', '5']);
    expect(first.err).toBe('');
    expect(first.code).toBe(0);
    // The start: backend, dims, settings and the parameter table with totals.
    expect(first.out).toMatch(/training `transformer` .* on interpreter: the reference interpreter/);
    expect(first.out).toMatch(/dims {7}vocab \d+ · batch 3 · seq 6 · embed 8 · heads 2 · head 4 · hidden 32 · layers 1/);
    expect(first.out).toMatch(/blocks\.0\.attention\.wq +\[embed, heads, head\] +8×2×4 +64 +0\.001 +0\.1/);
    expect(first.out).toMatch(/wte +\[vocab, embed\] +\d+×8 .* 0\.001 +0\n/);
    expect(first.out).toMatch(/total: [\d,]+ parameters in 16 tensors/);
    // Plain progress lines every 5 steps, validation with completions beside the truth.
    expect(first.out.match(/^step +\d+\/20 +loss/gm)).toHaveLength(5); // steps 1, 5, 10, 15, 20
    expect(first.out).toMatch(/step 10: validation loss \d\.\d{4} \(\d\.\d{3} bits per character, \d+\.\d% of characters right\)/);
    expect(first.out).toMatch(/── validation completions at step 20 ──\n\[1\] prompt │ .{6}\n    model  │ .+\n    truth  │ .+\n\[2\]/);
    expect(first.out).toMatch(/sample with: mdlc sample /);

    expect(readFileSync(join(dir, 'model.mdl'), 'utf8')).toBe(readFileSync(TRANSFORMER, 'utf8'));
    const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
    expect(config.model).toBe('transformer');
    expect(config.backend).toBe('interpreter');
    expect(config.dims).toMatchObject({ embed: 8, seq: 6, layers: 1, heads: 2, batch: 3, head: 4 });
    expect(config.overrides).toEqual({ embed: 8, seq: 6, layers: 1, heads: 2, batch: 3, steps: 20, eval_every: 10, eval_batches: 2 });
    expect(config.spec.steps).toBe(20);
    expect(config.modelHash).toMatch(/^[0-9a-f]{64}$/);
    const m = metrics(dir);
    expect(m.filter((x) => x.loss !== undefined).map((x) => x.step)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    expect(m.filter((x) => x.val_loss !== undefined).map((x) => x.step)).toEqual([10, 20]);
    for (const x of m.filter((y) => y.val_loss !== undefined)) expect((x as { val_accuracy?: number }).val_accuracy).toBeGreaterThan(0);
    for (const x of m.filter((y) => y.loss !== undefined)) {
      expect(Number.isFinite(x.lr) && Number.isFinite(x.grad_norm)).toBe(true);
    }
    expect(readFileSync(join(dir, 'samples.txt'), 'utf8')).toMatch(/validation completions at step 10[\s\S]*at step 20/);
    expect(readFileSync(join(dir, 'loss.svg'), 'utf8')).toMatch(/^<svg[\s\S]*validation \(\d\.\d{4} at step 20\)/);
    expect(readdirSync(join(dir, 'checkpoints')).sort()).toEqual(['best', 'latest', 'step-00000010', 'step-00000020']);
    const ckpt = readCheckpoint(join(dir, 'checkpoints', 'step-00000020'));
    expect(ckpt.params.get('blocks.0.attention.wq')!.shape).toEqual([8, 2, 4]);
    expect(ckpt.params.get('wte')!.shape).toEqual([ckpt.meta.vocab.length, 8]);
    expect(ckpt.state!.get('v.blocks.0.mlp.w1')!.shape).toEqual([8, 32]);
    expect(ckpt.trainer).toMatchObject({ step: 20, batchesDrawn: 20 });
    expect(ckpt.meta.vocab.join('')).toBe([...new Set(text)].sort().join(''));
    expect(existsSync(join(dir, 'run.lock'))).toBe(false);
  });

  it('resumed from step 10, gives bit for bit the losses of steps 11–20 of the run in one go', async () => {
    const before = metrics(dir);
    const r = await run(['train', '--resume', join(dir, 'checkpoints', 'step-00000010'), '--log-every', '100']);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/resumed from .*step-00000010, step 10/);
    expect(r.out).toMatch(/on interpreter: the reference interpreter/);
    const after = metrics(dir);
    const losses = (m: ReturnType<typeof metrics>) => m.filter((x) => x.loss !== undefined).map((x) => [x.step, x.loss, x.grad_norm]);
    expect(losses(after)).toEqual(losses(before));
    expect(after.filter((x) => x.val_loss !== undefined)).toEqual(before.filter((x) => x.val_loss !== undefined));
    const a = readCheckpoint(join(dir, 'checkpoints', 'step-00000020'));
    expect(a.trainer!.step).toBe(20);
  });

  it('refuses a run that has finished, other settings, and a checkpoint of another model, vocabulary or shape, saying what differs', async () => {
    const done = await run(['train', '--resume', dir]);
    expect(done.code).toBe(1);
    expect(done.err).toMatch(/has already trained all 20 steps/);
    const ckpt = join(dir, 'checkpoints', 'step-00000010');
    const settings = await run(['train', '--resume', ckpt, '--set', 'embed=16']);
    expect(settings.code).toBe(2);
    expect(settings.err).toMatch(/a resumed run keeps its settings: embed=16 \(the run has 8\)/);
    // Another model file.
    const other = join(tmp, 'other.mdl');
    writeFileSync(other, readFileSync(TRANSFORMER, 'utf8').replace('model transformer', 'model other'));
    const model = await run(['train', other, '--resume', ckpt]);
    expect(model.code).toBe(1);
    expect(model.err).toMatch(/cannot resume from .*: it is a checkpoint of model `transformer`, not `other`/);
    // The same model with another width in the file.
    const wider = join(tmp, 'wider.mdl');
    writeFileSync(wider, readFileSync(TRANSFORMER, 'utf8').replace('dim hidden = 4 * embed', 'dim hidden = 3 * embed'));
    const shape = await run(['train', wider, '--resume', ckpt]);
    expect(shape.code).toBe(1);
    expect(shape.err).toMatch(/parameter `blocks\.0\.mlp\.w1` has shape \[8, 32\] in it, but \[8, 24\] \[embed, hidden\] in this model/);
    // Other data: another vocabulary.
    const moreData = join(tmp, 'more.txt');
    writeFileSync(moreData, text + 'XYZ'.repeat(10));
    const vocab = await run(['train', '--resume', ckpt, '--data', moreData]);
    expect(vocab.code).toBe(1);
    expect(vocab.err).toMatch(/its vocabulary of \d+ characters differs from the data's \d+ \(the data has "XYZ" that it lacks\)/);
  });

  it('samples a trained run, and refuses a prompt with characters outside the vocabulary', async () => {
    const r = await run(['sample', dir, '--prompt', 'To be', '--tokens', '20', '--backend', 'interpreter', '--seed', '1']);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(r.out.startsWith('To be')).toBe(true);
    expect(r.out).toHaveLength(5 + 20 + 1); // the prompt, 20 characters, a newline
    const again = await run(['sample', dir, '--prompt', 'To be', '--tokens', '20', '--backend', 'interpreter', '--seed', '1']);
    expect(again.out).toBe(r.out);
    const bad = await run(['sample', dir, '--prompt', 'Zebra!', '--backend', 'interpreter']);
    expect(bad.code).toBe(1);
    expect(bad.err).toMatch(/the prompt has characters "Z", "!" that the model's vocabulary of \d+ lacks/);
  });
});

describe('mdlc train --overfit', () => {
  it("memorises one batch with the file's own optimizer settings and says what it changed", async () => {
    const r = await run(['train', TRANSFORMER, '--set', 'embed=16', '--set', 'seq=8', '--set', 'layers=1', '--set', 'heads=2', '--batch', '4', '--backend', 'interpreter', '--data', data, '--overfit', '--run-dir', join(tmp, 'overfit'), '--log-every', '100']);
    expect(r.err).toBe('');
    expect(r.out).toMatch(/--overfit: one fixed batch, the learning rate held at the file's peak 0\.001 \(no warmup or decay\) and no weight decay/);
    expect(r.out).toMatch(/overfit: ok, the loss reached 0\.0\d+ < 0\.05/);
    expect(r.code).toBe(0);
  }, 120_000);
});

describe('sampling reproduces what a model memorised', () => {
  it('greedy continuation of an overfit text, longer than the window, is the text itself', async () => {
    const poem = 'the quick brown fox jumps over the lazy dog; pack my box with five dozen liquor jugs.\n';
    const file = join(tmp, 'poem.txt');
    writeFileSync(file, poem.repeat(40));
    const runDir = join(tmp, 'poem');
    const t = await run(['train', TRANSFORMER, '--set', 'embed=32', '--set', 'seq=16', '--set', 'layers=1', '--set', 'heads=2', '--batch', '8', '--backend', 'interpreter', '--data', file, '--steps', '300', '--set', 'lr=0.01', '--set', 'warmup=10', '--set', 'eval_every=300', '--samples', '0', '--run-dir', runDir, '--log-every', '100']);
    expect(t.code).toBe(0);
    const s = await run(['sample', runDir, '--prompt', 'the quick', '--tokens', '60', '--temperature', '0', '--backend', 'interpreter']);
    expect(s.code).toBe(0);
    // 69 characters from a 9-character prompt: over four windows of 16.
    expect(s.out.trimEnd()).toBe((poem + poem).slice(0, 69));
  }, 180_000);
});

describe('the non-finite loss', () => {
  it('stops at that step, keeps the last good checkpoint, and names the first value that became NaN with its line', async () => {
    const model = join(tmp, 'probe.mdl');
    writeNanProbe(model, data);
    const dir = join(tmp, 'nan');
    const r = await run(['train', model, '--backend', 'interpreter', '--checkpoint-every', '1', '--run-dir', dir]);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/the loss became NaN at step (\d+)/);
    const step = Number(/the loss became NaN at step (\d+)/.exec(r.err)![1]);
    expect(step).toBeGreaterThan(1);
    expect(r.err).toContain(`the last good checkpoint is ${join(dir, 'checkpoints', `step-${String(step - 1).padStart(8, '0')}`)} (step ${step - 1})`);
    expect(r.err).toMatch(new RegExp(`at step ${step}, \`sqrt\\(s\\)\` \\(unary sqrt over \\[embed\\] at .*probe\\.mdl:9:\\d+\\) is the first value that is not finite: \\d+ NaN of 8 elements`));
    expect(readdirSync(join(dir, 'checkpoints')).filter((n) => n.startsWith('step-')).at(-1)).toBe(`step-${String(step - 1).padStart(8, '0')}`);
  });
});

describe('the working directory', () => {
  it('is never written: build output goes into the run directory', async () => {
    const cwd = join(tmp, 'cwd');
    mkdirSync(cwd);
    const here = process.cwd();
    process.chdir(cwd);
    try {
      const r = await run(['train', TRANSFORMER, ...TINY, '--data', data, '--steps', '2', '--run-dir', join(tmp, 'elsewhere'), '--samples', '0']);
      expect(r.code).toBe(0);
    } finally {
      process.chdir(here);
    }
    expect(readdirSync(cwd)).toEqual([]);
  });

  it('when runs/ cannot be made there, the run goes to the cache and the person is told', () => {
    const cwd = join(tmp, 'blocked');
    mkdirSync(cwd);
    writeFileSync(join(cwd, 'runs'), 'a file in the way');
    const here = process.cwd();
    const cache = process.env.MDLC_CACHE_DIR;
    const runs = process.env.MDLC_RUNS_DIR;
    process.chdir(cwd);
    process.env.MDLC_CACHE_DIR = join(tmp, 'cache');
    delete process.env.MDLC_RUNS_DIR;
    let err = '';
    try {
      const dir = defaultRunDir('transformer', { out: () => {}, err: (s) => void (err += s), color: false });
      expect(dir.startsWith(join(tmp, 'cache', 'runs', 'transformer-'))).toBe(true);
    } finally {
      process.chdir(here);
      if (cache === undefined) delete process.env.MDLC_CACHE_DIR;
      else process.env.MDLC_CACHE_DIR = cache;
      if (runs !== undefined) process.env.MDLC_RUNS_DIR = runs;
    }
    expect(err).toMatch(/cannot write runs\/ \((EEXIST|ENOTDIR)\); the run goes to/);
  });
});
