/**
 * Never losing a run: Ctrl-C saves a checkpoint and exits cleanly (through the CLI's stderr
 * filter, which forwards the signal once), and `kill -9` at random moments always leaves a
 * consistent set of checkpoint files that the run resumes from, until it finishes with every
 * step recorded exactly once. The built CLI runs in child processes, on the interpreter backend.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { readCheckpoint } from '../../runtime/checkpoint.js';
import { resolveCheckpoint } from '../../runtime/run.js';
import { makeRng } from '../../runtime/random.js';

const root = resolve('.');
const tmp = mkdtempSync(join(tmpdir(), 'mdlc-interrupt-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const data = join(tmp, 'data.txt');
writeFileSync(data, 'To be, or not to be, that is the question:\nWhether tis nobler in the mind to suffer\n'.repeat(30));
const TINY = ['--set', 'embed=8', '--set', 'seq=6', '--set', 'layers=1', '--set', 'heads=2', '--batch', '3', '--backend', 'interpreter', '--data', data, '--samples', '0', '--set', 'eval_batches=1'];

function start(args: string[], env: Record<string, string> = {}): { child: ChildProcess; out: () => string; err: () => string; done: Promise<number | null> } {
  if (!existsSync(join(root, 'dist/src/cli/main.js'))) throw new Error('run `npm run build` (npm ci does it) before the tests');
  const child = spawn(process.execPath, [join(root, 'bin/mdlc.js'), ...args], { cwd: tmp, env: { ...process.env, ...env } });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (err += d));
  const done = new Promise<number | null>((r) => child.on('close', (code, signal) => r(code ?? (signal === 'SIGKILL' ? 137 : null))));
  return { child, out: () => out, err: () => err, done };
}

async function until(what: () => boolean, ms = 60_000): Promise<void> {
  const t0 = Date.now();
  while (!what()) {
    if (Date.now() - t0 > ms) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Every checkpoint directory is complete and agrees with itself; `latest` names one of them. */
function checkConsistent(dir: string): number {
  const checkpoints = join(dir, 'checkpoints');
  const names = readdirSync(checkpoints).filter((n) => /^step-\d+$/.test(n));
  for (const n of names) {
    const c = readCheckpoint(join(checkpoints, n));
    const step = Number(n.slice(5));
    expect(c.trainer!.step).toBe(step);
    expect(c.trainer!.batchesDrawn).toBe(step);
    expect(c.state!.size).toBe(2 * c.params.size);
  }
  if (!names.length) return 0;
  const latest = resolveCheckpoint(dir);
  expect(names).toContain(latest.split('/').at(-1));
  return readCheckpoint(latest).trainer!.step;
}

describe('Ctrl-C', () => {
  it('finishes the step, saves a checkpoint, exits 130 and says how to resume', async () => {
    const dir = join(tmp, 'ctrlc');
    const a = start(['train', join(root, 'models/transformer.mdl'), ...TINY, '--steps', '100000', '--set', 'eval_every=1000', '--log-every', '1', '--run-dir', dir]);
    await until(() => /^step +5\//m.test(a.out()));
    a.child.kill('SIGINT');
    expect(await a.done).toBe(130);
    expect(a.err()).toBe('');
    const stopped = Number(/interrupted: step (\d+)\/100000/.exec(a.out())![1]);
    expect(stopped).toBeGreaterThanOrEqual(5);
    expect(a.out()).toContain(`resume with: mdlc train --resume ${dir}`);
    expect(checkConsistent(dir)).toBe(stopped);
    expect(existsSync(join(dir, 'run.lock'))).toBe(false);
    // It resumes from there.
    const b = start(['train', '--resume', dir, '--log-every', '1']);
    await until(() => new RegExp(`^step +${stopped + 2}/`, 'm').test(b.out()));
    b.child.kill('SIGINT');
    expect(await b.done).toBe(130);
    expect(b.out()).toContain(`step ${stopped}`);
    expect(checkConsistent(dir)).toBeGreaterThan(stopped);
  }, 120_000);
});

describe('kill -9 at any moment', () => {
  it('always leaves the previous checkpoint or the new one, never a mix, and the run completes with every step once', async () => {
    const dir = join(tmp, 'killed');
    const rng = makeRng(20261203);
    // Long enough that the kills usually leave steps for the final resume.
    const steps = 300;
    // Without the stderr filter, the signal reaches the process that writes the files.
    const env = { MDLC_STDERR_FILTER: '0' };
    let resumes = 0;
    for (let round = 0; round < 6; round++) {
      const args = round === 0 || !existsSync(join(dir, 'config.json'))
        ? ['train', join(root, 'models/transformer.mdl'), ...TINY, '--steps', String(steps), '--set', 'eval_every=25', '--checkpoint-every', '1', '--log-every', '1', '--run-dir', dir]
        : ['train', '--resume', dir, '--log-every', '1'];
      // A run killed before its first checkpoint resumes from step 0.
      if (args[1] === '--resume') resumes++;
      const p = start(args, env);
      await until(() => /^step +\d+\//m.test(p.out()) || p.child.exitCode !== null);
      await new Promise((r) => setTimeout(r, 20 + rng.int(400)));
      p.child.kill('SIGKILL');
      const code = await p.done;
      checkConsistent(dir);
      // On a fast machine a round can outrun its kill and finish the run.
      if (code === 0) break;
    }
    expect(resumes).toBeGreaterThan(0);
    // Finish the run; a run that has finished is refused.
    const finished = checkConsistent(dir) === steps;
    const last = start(['train', '--resume', dir, '--log-every', '50'], env);
    if (finished) {
      expect(await last.done).toBe(1);
      expect(last.err()).toContain(`has already trained all ${steps} steps`);
    } else expect(await last.done, last.err()).toBe(0);
    expect(checkConsistent(dir)).toBe(steps);
    const lines = readFileSync(join(dir, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(lines.filter((m) => m.loss !== undefined).map((m) => m.step)).toEqual(Array.from({ length: steps }, (_, i) => i + 1));
    expect(readdirSync(dir).filter((n) => n.includes('.tmp-'))).toEqual([]);
    expect(readdirSync(join(dir, 'checkpoints')).filter((n) => n.includes('.tmp-'))).toEqual([]);
  }, 300_000);
});
