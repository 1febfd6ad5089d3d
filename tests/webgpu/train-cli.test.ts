/**
 * `mdlc train` and `mdlc sample` on WebGPU as a user runs them (the built CLI in a child
 * process): overfitting one batch with nothing but progress on the terminal, exact resume,
 * the same losses as the interpreter through the same loop, sampling that reproduces a
 * memorised text, and a generated train.js that runs on its own wherever mdlc is installed.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { hasWebGpu, releaseTestDevice } from '../helpers/webgpu.js';

const gpu = await hasWebGpu();
// The child processes acquire their own devices.
releaseTestDevice();
const tmp = mkdtempSync(join(tmpdir(), 'mdlc-train-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const root = resolve('.');
const env = { ...process.env, XDG_RUNTIME_DIR: process.env.XDG_RUNTIME_DIR ?? '/tmp' };
function mdlc(args: string[], options: { cwd?: string } = {}) {
  if (!existsSync(join(root, 'dist/src/cli/main.js'))) throw new Error('run `npm run build` (npm ci does it) before the tests');
  return spawnSync(process.execPath, [join(root, 'bin/mdlc.js'), ...args], { encoding: 'utf8', env, cwd: options.cwd ?? tmp, maxBuffer: 1 << 26 });
}
const data = join(tmp, 'data.txt');
writeFileSync(data, 'First Citizen:\nBefore we proceed any further, hear me speak.\n'.repeat(40));
const TINY = ['--set', 'embed=16', '--set', 'seq=8', '--set', 'layers=1', '--set', 'heads=2', '--batch', '4'];
const losses = (dir: string) =>
  readFileSync(join(dir, 'metrics.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l))
    .filter((m) => m.loss !== undefined)
    .map((m) => m.loss as number);

describe.runIf(gpu)('mdlc train --backend webgpu', () => {
  it("overfits one batch with the file's own optimizer, and the terminal shows no driver noise", () => {
    const r = mdlc(['train', join(root, 'models/transformer.mdl'), '--backend', 'webgpu', '--data', data, '--overfit', '--run-dir', join(tmp, 'overfit'), ...TINY]);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/on webgpu: .*llvmpipe|on webgpu: /);
    expect(r.stdout).toMatch(/a training step is \d+ dispatches in 1 submit/);
    expect(r.stdout).toMatch(/overfit: ok, the loss reached 0\.0\d+ < 0\.05/);
  }, 600_000);

  it('gives the losses of the interpreter through the same loop, and resumes within 1e-6', () => {
    const common = ['train', join(root, 'models/transformer.mdl'), '--data', data, ...TINY, '--steps', '20', '--set', 'eval_every=10', '--set', 'eval_batches=2', '--samples', '1'];
    const g = mdlc([...common, '--backend', 'webgpu', '--run-dir', join(tmp, 'gpu')]);
    expect(g.stderr).toBe('');
    expect(g.status).toBe(0);
    const c = mdlc([...common, '--backend', 'cpu', '--run-dir', join(tmp, 'cpu')]);
    expect(c.status).toBe(0);
    const lg = losses(join(tmp, 'gpu'));
    const lc = losses(join(tmp, 'cpu'));
    expect(lg).toHaveLength(20);
    lg.forEach((l, i) => expect(Math.abs(l - lc[i]) / lc[i], `step ${i + 1}`).toBeLessThan(1e-4));
    // Resume from step 10 on WebGPU: the same steps 11–20.
    const r = mdlc(['train', '--resume', join(tmp, 'gpu', 'checkpoints', 'step-00000010')]);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/on webgpu/);
    const after = losses(join(tmp, 'gpu'));
    expect(after).toHaveLength(20);
    after.forEach((l, i) => expect(Math.abs(l - lg[i]), `step ${i + 1}`).toBeLessThan(1e-6));
  }, 600_000);

  it('samples greedily a text it memorised, for more characters than its window', () => {
    const poem = 'the quick brown fox jumps over the lazy dog; pack my box with five dozen liquor jugs.\n';
    const file = join(tmp, 'poem.txt');
    writeFileSync(file, poem.repeat(40));
    const dir = join(tmp, 'poem');
    const t = mdlc(['train', join(root, 'models/transformer.mdl'), '--set', 'embed=32', '--set', 'seq=16', '--set', 'layers=1', '--set', 'heads=2', '--batch', '8', '--backend', 'webgpu', '--data', file, '--steps', '300', '--set', 'lr=0.01', '--set', 'warmup=10', '--set', 'eval_every=300', '--samples', '0', '--run-dir', dir]);
    expect(t.status).toBe(0);
    const s = mdlc(['sample', dir, '--prompt', 'the quick', '--tokens', '60', '--temperature', '0', '--backend', 'webgpu']);
    expect(s.stderr).toBe('');
    expect(s.status).toBe(0);
    expect(s.stdout.trimEnd()).toBe((poem + poem).slice(0, 69));
  }, 600_000);

  it('builds a train.js that runs on its own where mdlc is installed, through the same loop', () => {
    // A project that depends on mdlc: node_modules/mdlc is this package.
    const project = join(tmp, 'project');
    mkdirSync(join(project, 'node_modules'), { recursive: true });
    symlinkSync(root, join(project, 'node_modules', 'mdlc'));
    const b = mdlc(['build', join(root, 'models/transformer.mdl'), '--data', data, ...TINY, '--out', join(project, 'build')]);
    expect(b.status).toBe(0);
    const trainJs = readFileSync(join(project, 'build', 'train.js'), 'utf8');
    expect(trainJs).toMatch(/from 'mdlc\/runtime'|from "mdlc\/runtime"/);
    expect(trainJs).not.toMatch(/\.\.\/|\/runtime\/index/);
    const r = spawnSync(process.execPath, [join(project, 'build', 'train.js'), '--data', data, '--steps', '20', '--out', join(project, 'out')], { encoding: 'utf8', env, cwd: project });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^step +20\/20 +loss \d\.\d{4}/m);
    const final = Number(/done: 20 steps, final loss (\d\.\d+)/.exec(r.stdout)![1]);
    // The CLI's run of the same model, seed and data.
    expect(Math.abs(final - losses(join(tmp, 'gpu'))[19])).toBeLessThan(1e-4);
    expect(existsSync(join(project, 'out', 'checkpoints', 'step-00000020', 'model.safetensors'))).toBe(true);
    const bad = spawnSync(process.execPath, [join(project, 'build', 'train.js'), '--steps', '2.5'], { encoding: 'utf8', env, cwd: project });
    expect(bad.status).toBe(1);
    expect(bad.stderr).toMatch(/--steps must be a whole number >= 1, got "2\.5"/);
  }, 600_000);

  it('scores the density of a text with an autoencoder as the interpreter does', () => {
    const dir = join(tmp, 'autoencoder');
    const small = ['--set', 'embed=16', '--set', 'seq=8', '--set', 'layers=1', '--set', 'heads=2', '--set', 'latent=2', '--set', 'code=4', '--batch', '4'];
    const t = mdlc(['train', join(root, 'models/autoencoder.mdl'), '--backend', 'webgpu', '--data', data, ...small, '--steps', '40', '--set', 'lr=0.01', '--set', 'warmup=5', '--set', 'eval_every=40', '--samples', '0', '--run-dir', dir]);
    expect(t.status, t.stderr).toBe(0);
    const text = 'First Citizen:\nBefore we proceed any further, hear me.';
    const score = (backend: string) => {
      const r = mdlc(['score', dir, '--text', text, '--stride', '5', '--format', 'json', '--backend', backend]);
      expect(r.status, r.stderr).toBe(0);
      return JSON.parse(r.stdout) as { windows: { offset: number; bits_per_char: number; accuracy: number }[] };
    };
    const g = score('webgpu');
    const c = score('cpu');
    // 54 characters: windows of 8 every 5, and one more that ends at the end of the text.
    expect(g.windows.map((w) => w.offset)).toEqual([0, 5, 10, 15, 20, 25, 30, 35, 40, 45, 46]);
    expect(c.windows.map((w) => w.offset)).toEqual(g.windows.map((w) => w.offset));
    g.windows.forEach((w, i) => {
      expect(Math.abs(w.bits_per_char - c.windows[i].bits_per_char), `window at ${w.offset}`).toBeLessThan(1e-4);
      expect(w.accuracy).toBe(c.windows[i].accuracy);
    });
    // Trained for 40 steps on this text it rebuilds its windows better than chance (log2 of the vocabulary).
    expect(g.windows.reduce((s, w) => s + w.bits_per_char, 0) / g.windows.length).toBeLessThan(Math.log2(new Set(readFileSync(data, 'utf8')).size));
  }, 600_000);
});
