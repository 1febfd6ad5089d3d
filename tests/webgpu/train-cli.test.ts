/**
 * `mdlc train` on WebGPU end to end, as a user runs it: builds the model, runs the generated
 * train.js, and overfits one batch of the tiny transformer below 0.05.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hasWebGpu, releaseTestDevice } from '../helpers/webgpu.js';

const gpu = await hasWebGpu();
const tmp = mkdtempSync(join(tmpdir(), 'mdlc-train-'));
afterAll(() => {
  rmSync(tmp, { recursive: true, force: true });
  releaseTestDevice();
});

describe.runIf(gpu)('mdlc train --backend webgpu', () => {
  it('overfits one batch through the generated program', () => {
    if (!existsSync('dist/src/cli/main.js')) throw new Error('run `npm run build` (npm ci does it) before the tests');
    const data = join(tmp, 'data.txt');
    writeFileSync(data, 'First Citizen:\nBefore we proceed any further, hear me speak.\n'.repeat(40));
    const out = join(tmp, 'ckpt');
    const r = spawnSync(
      process.execPath,
      ['bin/mdlc.js', 'train', 'models/transformer.mdl', '--backend', 'webgpu', '--data', data, '--overfit', '--out', out,
        '--set', 'embed=16', '--set', 'seq=8', '--set', 'layers=1', '--set', 'heads=2', '--batch', '4', '--set', 'lr=0.01', '--set', 'warmup=10', '--steps', '300'],
      { encoding: 'utf8', env: { ...process.env, XDG_RUNTIME_DIR: process.env.XDG_RUNTIME_DIR ?? '/tmp' } },
    );
    expect(r.stderr.replace(/^Warning: .*\n/gm, '')).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/a training step is \d+ dispatches in 1 submit/);
    expect(r.stdout).toMatch(/overfit: ok, the loss reached 0\.0\d+ < 0\.05/);
    expect(existsSync(join(out, 'params.safetensors'))).toBe(true);
    expect(existsSync(join(out, 'optimizer.safetensors'))).toBe(true);
  }, 600000);
});
