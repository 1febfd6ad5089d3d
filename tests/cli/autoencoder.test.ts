/**
 * The reference autoencoder learns: on the cpu backend at a tiny size, `mdlc train --overfit`
 * memorises one batch through the bottleneck (the old design plateaued at the loss of
 * predicting each window's character histogram at every position).
 */
import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run } from '../helpers/cli.js';

const tmp = mkdtempSync(join(tmpdir(), 'mdlc-autoencoder-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const dataFile = join(tmp, 'data.txt');
writeFileSync(dataFile, 'First Citizen:\nBefore we proceed any further, hear me speak.\n\nAll:\nSpeak, speak.\n'.repeat(40));

/** 4 windows of 8 characters through 2 slots of 4 numbers. */
const TINY = ['--set', 'embed=16', '--set', 'seq=8', '--set', 'layers=1', '--set', 'heads=2', '--set', 'latent=2', '--set', 'code=4', '--batch', '4'];

describe('the autoencoder on the cpu backend', () => {
  it('overfits one batch below 0.05 at the file’s learning rate, held constant', async () => {
    const r = await run('train', 'models/autoencoder.mdl', '--backend', 'cpu', '--data', dataFile, '--overfit', ...TINY, '--steps', '600', '--run-dir', join(tmp, 'run'));
    expect(r.err).toBe('');
    expect(r.out).toMatch(/overfit: ok, the loss reached 0\.0\d+ < 0\.05/);
    expect(r.code).toBe(0);
  }, 120000);
});
