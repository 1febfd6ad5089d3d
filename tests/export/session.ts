/** Shared setup of the PyTorch export tests: a model compiled against a text, exported into a folder. */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readSourceFile } from '../../src/parser/index.js';
import { openSession, type TrainSession } from '../../src/train/session.js';
import { exportPytorch, writeExport } from '../../src/export/index.js';
import { sampleText } from './text.js';

export interface Exported {
  session: TrainSession;
  dir: string;
  data: string;
}

/** Compile `file` with `sets` against a sample text written into `dir`, and export it to `dir/pytorch`. */
export async function exportModel(file: string, sets: Record<string, number>, dir: string, textChars = 12000): Promise<Exported> {
  mkdirSync(dir, { recursive: true });
  const data = join(dir, 'text.txt');
  writeFileSync(data, sampleText(textChars));
  const source = readSourceFile(file).source!;
  const overrides = new Map(Object.entries(sets));
  const opened = await openSession(source, { dataPath: data, overrides });
  if (!opened.ok) throw new Error(`${file} does not compile: ${opened.diagnostics.map((d) => d.message).join('; ')}`);
  const out = join(dir, 'pytorch');
  writeExport(out, exportPytorch(opened.session.model, { source, vocab: opened.session.vocab.chars, overrides, version: 'test' }));
  return { session: opened.session, dir: out, data };
}

export interface Metrics {
  losses: number[];
  gradNorms: number[];
  lrs: number[];
  val: Map<number, number>;
}

/** metrics.jsonl of a run folder: the per-step losses (in step order), and validation losses by step. */
export function readMetrics(runDir: string): Metrics {
  const lines = readFileSync(join(runDir, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  const steps = lines.filter((l) => 'loss' in l);
  return {
    losses: steps.map((l) => l.loss),
    gradNorms: steps.map((l) => l.grad_norm),
    lrs: steps.map((l) => l.lr),
    val: new Map(lines.filter((l) => 'val_loss' in l).map((l) => [l.step, l.val_loss])),
  };
}

/** The largest relative difference |a - b| / |b| over two series of equal length. */
export function maxRelDiff(a: readonly number[], b: readonly number[]): number {
  if (a.length !== b.length) throw new Error(`series of ${a.length} and ${b.length} values`);
  let worst = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]) / Math.abs(b[i]);
    worst = Number.isNaN(d) ? Infinity : Math.max(worst, d);
  }
  return worst;
}
