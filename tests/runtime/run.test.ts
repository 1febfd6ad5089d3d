/**
 * Run directories: created and proven writable before training, locked against a second
 * writer, metrics cut back to the checkpoint on resume, checkpoints with `latest` and `best`,
 * and the loss plot.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isRunDir, resolveCheckpoint, RunDir, RunDirError, runDirName } from '../../runtime/run.js';
import { lossPlotSvg, niceTicks } from '../../runtime/plot.js';
import { formatDuration, formatSamples, formatStepLine } from '../../runtime/format.js';
import { checkpointName } from '../../runtime/checkpoint.js';

const tmp = mkdtempSync(join(tmpdir(), 'mdlc-run-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const meta = { model: 'toy', modelHash: 'h', vocab: ['a'], axes: { w: ['x'] }, source: 'model toy', overrides: {} };
const ckpt = (step: number, valLoss: number | null) => ({
  meta,
  params: new Map([['w', Float32Array.of(step)]]),
  state: new Map([
    ['m.w', Float32Array.of(0)],
    ['v.w', Float32Array.of(0)],
  ]),
  shapes: new Map([['w', [1]]]),
  trainer: { format: 'mdlc/1' as const, step, batchesDrawn: step, seed: 0, modelHash: 'h', valLoss, bestValLoss: null, elapsedSeconds: 0 },
});

describe('RunDir', () => {
  it('names runs by model and local time', () => {
    expect(runDirName('transformer', new Date(2026, 11, 3, 9, 5, 7))).toBe('transformer-20261203-090507');
  });

  it('is locked while a run writes it: a second open fails, and a stale lock of a dead process is taken over', () => {
    const path = join(tmp, 'locked');
    const a = RunDir.open(path);
    expect(() => RunDir.open(path, { resume: true })).toThrow(/in use by process/);
    a.unlock();
    const b = RunDir.open(path, { resume: true });
    b.unlock();
    // A lock left by a process that no longer exists.
    writeFileSync(join(path, 'run.lock'), '999999999\n');
    RunDir.open(path, { resume: true }).unlock();
  });

  it('refuses a file, an existing run (unless resuming), and a directory it cannot write, before training', () => {
    writeFileSync(join(tmp, 'afile'), 'x');
    expect(() => RunDir.open(join(tmp, 'afile'))).toThrow(/is a file/);
    const done = join(tmp, 'done');
    const r = RunDir.open(done);
    r.writeConfig({ model: 'toy' });
    r.unlock();
    expect(() => RunDir.open(done)).toThrow(/already holds a run: resume it with --resume/);
    if (process.getuid?.() !== 0) {
      const ro = join(tmp, 'ro');
      mkdirSync(ro);
      chmodSync(ro, 0o555);
      expect(() => RunDir.open(ro)).toThrow(RunDirError);
    }
    expect(() => RunDir.open(join(tmp, 'afile', 'sub'))).toThrow(/cannot create the run directory/);
  });

  it('saves checkpoints with latest and best pointers, and keeps the newest few', () => {
    const r = RunDir.open(join(tmp, 'ck'));
    r.writeConfig({});
    r.saveCheckpoint(ckpt(10, 2.0), 2);
    r.saveCheckpoint(ckpt(20, 1.5), 2);
    r.saveCheckpoint(ckpt(30, 1.7), 2);
    r.saveCheckpoint(ckpt(40, 1.9), 2);
    expect(r.latestCheckpoint()).toBe(join(r.checkpoints, checkpointName(40)));
    expect(resolveCheckpoint(r.path, 'best')).toBe(join(r.checkpoints, checkpointName(20)));
    expect(existsSync(join(r.checkpoints, checkpointName(10)))).toBe(false);
    expect(existsSync(join(r.checkpoints, checkpointName(30)))).toBe(true);
    expect(isRunDir(r.path)).toBe(true);
    expect(resolveCheckpoint(r.path)).toBe(join(r.checkpoints, checkpointName(40)));
    r.unlock();
  });

  it('on resume drops the metrics of steps after the checkpoint (and lines a kill cut short)', () => {
    const path = join(tmp, 'metrics');
    const r = RunDir.open(path);
    for (let s = 1; s <= 5; s++) r.appendMetrics({ step: s, loss: 3 - s * 0.1 });
    r.appendMetrics({ step: 4, val_loss: 2.8 });
    r.unlock();
    writeFileSync(join(path, 'metrics.jsonl'), readFileSync(join(path, 'metrics.jsonl'), 'utf8') + '{"step": 6, "lo');
    const again = RunDir.open(path, { resume: true });
    again.loadMetrics(4);
    const lines = readFileSync(join(path, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(lines.map((l) => l.step)).toEqual([1, 2, 3, 4, 4]);
    again.writePlot('toy');
    const svg = readFileSync(join(path, 'loss.svg'), 'utf8');
    expect(svg).toMatch(/validation \(2\.8000 at step 4\)/);
    again.unlock();
  });

  it('two processes cannot hold the same run directory', async () => {
    const path = join(tmp, 'two');
    mkdirSync(path);
    // The other process takes the lock the way RunDir does: a written file, linked into place.
    const lock = JSON.stringify(join(path, 'run.lock'));
    const child = spawn(process.execPath, ['-e', `const fs = require('fs'); fs.writeFileSync(${lock} + '.x', process.pid + '\\n'); fs.linkSync(${lock} + '.x', ${lock}); setTimeout(() => {}, 5000)`]);
    // Wait until the other process holds the lock (the machine may be slow to start it).
    for (let i = 0; i < 500 && !existsSync(join(path, 'run.lock')); i++) await new Promise((r) => setTimeout(r, 20));
    await new Promise((r) => setTimeout(r, 50));
    try {
      expect(() => RunDir.open(path)).toThrow(new RegExp(`in use by process ${child.pid}`));
    } finally {
      child.kill();
    }
  });
});

describe('loss plot', () => {
  it('picks round ticks', () => {
    expect(niceTicks(0, 1, 5)).toEqual([0, 0.2, 0.4, 0.6, 0.8, 1]);
    expect(niceTicks(1.3, 4.2, 5)).toEqual([1.5, 2, 2.5, 3, 3.5, 4]);
    expect(niceTicks(1.3, 2.2, 4)).toEqual([1.4, 1.6, 1.8, 2, 2.2]);
    expect(niceTicks(0, 2000, 6)).toEqual([0, 500, 1000, 1500, 2000]);
  });

  it('draws both curves over the steps, with the last values in the legend', () => {
    const train = Array.from({ length: 100 }, (_, i) => ({ step: i + 1, loss: 4 - i * 0.02 }));
    const svg = lossPlotSvg(train, [{ step: 50, loss: 3.1 }, { step: 100, loss: 2.2 }], 'a <b>');
    expect(svg.startsWith('<svg')).toBe(true);
    expect(svg).toContain('a &lt;b&gt;');
    const paths = [...svg.matchAll(/<path d="([^"]+)"/g)].map((m) => m[1]);
    expect(paths).toHaveLength(3);
    expect(paths[0].split('L')).toHaveLength(100);
    expect(paths[2].split('L')).toHaveLength(2);
    expect(svg).toMatch(/train \(2\.0200 at step 100\)/);
    expect(svg).toMatch(/validation \(2\.2000 at step 100\)/);
    expect(lossPlotSvg([], [], 'empty')).toContain('</svg>');
  });
});

describe('formatting', () => {
  it('writes durations, step lines and samples a person can read', () => {
    expect([formatDuration(12.4), formatDuration(187), formatDuration(3725), formatDuration(NaN)]).toEqual(['12s', '3m07s', '1h02m', '?']);
    expect(formatStepLine({ step: 250, steps: 2000, loss: 1.92341, gradNorm: 0.4123, lr: 9.51e-4, tokensPerSecond: 1830.4, elapsedSeconds: 100, etaSeconds: 842 })).toBe(
      'step  250/2000  loss 1.9234  lr 9.51e-4  |g| 0.412  1,830 tok/s  eta 14m02s',
    );
    expect(formatSamples(5, [{ kind: 'completion', prompt: 'ab\n', output: 'c\x1b', truth: 'cd' }], { color: false })).toBe(
      '── validation completions at step 5 ──\n[1] prompt │ ab⏎\n    model  │ c\\x1b\n    truth  │ cd',
    );
  });
});
