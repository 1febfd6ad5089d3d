/**
 * A run directory (Node.js): everything one training run leaves behind, so that a person
 * can look at it and `--resume` can continue it.
 *
 *   model.mdl  config.json  metrics.jsonl  samples.txt  loss.svg  checkpoints/  run.lock
 *
 * The directory is locked while a run writes it (two runs never interleave their files), and
 * checked for writability before the first step, so a run is never lost at its end.
 */
import { accessSync, appendFileSync, constants, existsSync, linkSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { checkpointName, listCheckpoints, pruneCheckpoints, readPointer, removeStaleTemporaries, writeCheckpoint, writeFileAtomic, CheckpointError, type ModelMeta, type TrainerState } from './checkpoint.js';
import { lossPlotSvg, type Point } from './plot.js';
import type { Sample } from './sampling.js';
import { formatSamples } from './format.js';

export class RunDirError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RunDirError';
  }
}

/** `transformer-20261203-101500`: the model and the local date and time. */
export function runDirName(model: string, date = new Date()): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return `${model}-${date.getFullYear()}${p(date.getMonth() + 1)}${p(date.getDate())}-${p(date.getHours())}${p(date.getMinutes())}${p(date.getSeconds())}`;
}

export interface MetricsLine {
  step: number;
  loss?: number;
  val_loss?: number;
  val_accuracy?: number;
  lr?: number;
  grad_norm?: number;
  tokens_per_s?: number;
  elapsed_s?: number;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export class RunDir {
  readonly checkpoints: string;
  private locked = false;
  private train: Point[] = [];
  private val: Point[] = [];

  private constructor(readonly path: string) {
    this.checkpoints = join(path, 'checkpoints');
  }

  /**
   * Create (or, to resume, reopen) a run directory and lock it. Fails before any training
   * when it cannot be written or another live process holds it.
   */
  static open(path: string, options: { resume?: boolean } = {}): RunDir {
    if (existsSync(path)) {
      if (!statSync(path).isDirectory()) throw new RunDirError(`the run directory ${path} is a file`);
      if (!options.resume && existsSync(join(path, 'config.json'))) throw new RunDirError(`${path} already holds a run: resume it with --resume ${path}, or choose another --run-dir`);
    } else {
      try {
        mkdirSync(path, { recursive: true });
      } catch (e) {
        throw new RunDirError(`cannot create the run directory ${path} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}); choose another with --run-dir DIR`);
      }
    }
    try {
      accessSync(path, constants.W_OK);
    } catch {
      throw new RunDirError(`the run directory ${path} is not writable; choose another with --run-dir DIR`);
    }
    const run = new RunDir(path);
    run.lock();
    try {
      mkdirSync(run.checkpoints, { recursive: true });
      removeStaleTemporaries(path);
      removeStaleTemporaries(run.checkpoints);
      // Prove every kind of write works now, not after hours of training.
      writeFileAtomic(join(path, '.write-test'), 'ok');
      rmSync(join(path, '.write-test'));
    } catch (e) {
      run.unlock();
      throw new RunDirError(`cannot write into the run directory ${path} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
    }
    return run;
  }

  private lock(): void {
    const file = join(this.path, 'run.lock');
    // The lock appears with its owner's pid already in it (a hard link of a written file), so
    // another process never reads an empty lock and mistakes it for a stale one.
    const mine = `${file}${'.tmp-'}${process.pid}`;
    writeFileSync(mine, `${process.pid}\n`);
    try {
      for (let attempt = 0; attempt < 2; attempt++) {
        try {
          linkSync(mine, file);
          this.locked = true;
          return;
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw new RunDirError(`cannot lock the run directory ${this.path} (${(e as NodeJS.ErrnoException).code})`);
          const pid = Number(readFileSync(file, 'utf8').trim());
          if (Number.isInteger(pid) && pid > 0 && isAlive(pid)) throw new RunDirError(`the run directory ${this.path} is in use by process ${pid}; wait for it to finish, or choose another --run-dir`);
          rmSync(file, { force: true }); // a stale lock: its process is gone
        }
      }
      throw new RunDirError(`cannot lock the run directory ${this.path}`);
    } finally {
      rmSync(mine, { force: true });
    }
  }

  unlock(): void {
    if (!this.locked) return;
    this.locked = false;
    rmSync(join(this.path, 'run.lock'), { force: true });
  }

  writeSource(source: string): void {
    writeFileAtomic(join(this.path, 'model.mdl'), source);
  }

  writeConfig(config: object): void {
    writeFileAtomic(join(this.path, 'config.json'), JSON.stringify(config, null, 2) + '\n');
  }

  /**
   * Metrics of earlier steps (to continue a run's plot): lines after `upToStep` are dropped
   * and the file rewritten, so a resumed run does not repeat the steps a kill lost.
   */
  loadMetrics(upToStep: number): void {
    const file = join(this.path, 'metrics.jsonl');
    if (!existsSync(file)) return;
    const kept: string[] = [];
    for (const line of readFileSync(file, 'utf8').split('\n')) {
      let m: MetricsLine;
      try {
        m = JSON.parse(line);
      } catch {
        continue; // a line cut by a kill
      }
      if (!(m.step <= upToStep)) continue;
      kept.push(line);
      if (m.loss !== undefined) this.train.push({ step: m.step, loss: m.loss });
      if (m.val_loss !== undefined) this.val.push({ step: m.step, loss: m.val_loss });
    }
    writeFileAtomic(file, kept.length ? kept.join('\n') + '\n' : '');
  }

  appendMetrics(m: MetricsLine): void {
    appendFileSync(join(this.path, 'metrics.jsonl'), JSON.stringify(m) + '\n');
    if (m.loss !== undefined) this.train.push({ step: m.step, loss: m.loss });
    if (m.val_loss !== undefined) this.val.push({ step: m.step, loss: m.val_loss });
  }

  appendSamples(step: number, samples: readonly Sample[]): void {
    if (!samples.length) return;
    appendFileSync(join(this.path, 'samples.txt'), formatSamples(step, samples, { color: false }) + '\n');
  }

  writePlot(title: string): void {
    writeFileAtomic(join(this.path, 'loss.svg'), lossPlotSvg(this.train, this.val, title));
  }

  /** Save a checkpoint, point `latest` (and `best`, when it is) at it, and keep the newest `keep`. */
  saveCheckpoint(c: Parameters<typeof writeCheckpoint>[1], keep = 3): string {
    const name = checkpointName(c.trainer.step);
    const dir = join(this.checkpoints, name);
    writeCheckpoint(dir, c);
    writeFileAtomic(join(this.checkpoints, 'latest'), name + '\n');
    const best = readPointer(this.checkpoints, 'best');
    const bestLoss = best ? bestValLoss(best) : null;
    if (c.trainer.valLoss !== null && (bestLoss === null || c.trainer.valLoss <= bestLoss)) writeFileAtomic(join(this.checkpoints, 'best'), name + '\n');
    pruneCheckpoints(this.checkpoints, keep);
    return dir;
  }

  /** The newest checkpoint's directory, if the run has one. */
  latestCheckpoint(): string | undefined {
    return readPointer(this.checkpoints, 'latest') ?? listCheckpoints(this.checkpoints).map((n) => join(this.checkpoints, n)).at(-1);
  }
}

function bestValLoss(dir: string): number | null {
  try {
    const t = JSON.parse(readFileSync(join(dir, 'trainer.json'), 'utf8')) as TrainerState;
    return typeof t.valLoss === 'number' ? t.valLoss : null;
  } catch {
    return null;
  }
}

/** A run directory's config.json. */
export function readRunConfig(path: string): Record<string, unknown> {
  try {
    return JSON.parse(readFileSync(join(path, 'config.json'), 'utf8'));
  } catch (e) {
    throw new RunDirError(`${join(path, 'config.json')} cannot be read (${(e as NodeJS.ErrnoException).code ?? 'not JSON'})`);
  }
}

/** Whether `path` is a run directory (has config.json and checkpoints/). */
export function isRunDir(path: string): boolean {
  return existsSync(join(path, 'config.json')) && existsSync(join(path, 'checkpoints'));
}

/**
 * The checkpoint a path names: a run directory (its newest checkpoint, or `best` with
 * `which`), a checkpoint directory, or a `model.safetensors` file.
 */
export function resolveCheckpoint(path: string, which: 'latest' | 'best' = 'latest'): string {
  if (!existsSync(path)) throw new CheckpointError(`${path} does not exist`);
  if (isRunDir(path)) {
    const checkpoints = join(path, 'checkpoints');
    const dir = readPointer(checkpoints, which) ?? (which === 'latest' ? listCheckpoints(checkpoints).map((n) => join(checkpoints, n)).at(-1) : undefined);
    if (!dir) throw new CheckpointError(`the run ${path} has no ${which === 'best' ? 'best ' : ''}checkpoint yet`);
    return dir;
  }
  return path;
}

export type { ModelMeta, TrainerState };
