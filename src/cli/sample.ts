/**
 * `mdlc sample RUN_DIR|CHECKPOINT`: text from a trained next-token model, streamed as it is
 * generated. The checkpoint carries the model's source, overrides and vocabulary, so nothing
 * else is needed; the model is rebuilt from them on the chosen backend.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compileForTraining, modelHash } from '../train/session.js';
import { findAdapter, openBackend, type Adapter, type BackendKind } from '../train/backends.js';
import { checkpointMismatch, tensorsOf } from '../train/resume.js';
import { CheckpointError, readCheckpoint } from '../../runtime/checkpoint.js';
import { DataError, Vocab } from '../../runtime/data.js';
import { resolveCheckpoint } from '../../runtime/run.js';
import { generate } from '../../runtime/sampling.js';
import { makeRng } from '../../runtime/random.js';
import { WebGpuUnavailableError } from '../../runtime/device.js';
import { flag, intFlag, UsageError, type FlagSpec, type ParsedArgs } from './args.js';
import { formatOf, report, type Io } from './common.js';
import { guarded } from './train.js';

export const SAMPLE_FLAGS: Record<string, FlagSpec> = {
  prompt: { value: true },
  tokens: { value: true },
  temperature: { value: true },
  'top-k': { value: true },
  seed: { value: true },
  backend: { value: true },
  best: {},
};

function numberFlag(args: ParsedArgs, name: string, min: number): number | undefined {
  const v = flag(args, name);
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n) || n < min) throw new UsageError(`--${name} needs a number >= ${min}, got '${v}'`);
  return n;
}

/** Generated text as the terminal should show it: newlines and tabs kept, other control characters escaped. */
export function printable(text: string): string {
  return text.replace(/[\x00-\x08\x0b-\x1f\x7f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

export async function runSample(args: ParsedArgs, io: Io): Promise<number> {
  if (args.positional.length !== 1) throw new UsageError('give one run directory or checkpoint: mdlc sample RUN_DIR|CHECKPOINT');
  const requested = flag(args, 'backend');
  if (requested !== undefined && requested !== 'cpu' && requested !== 'webgpu') throw new UsageError(`--backend must be 'webgpu' or 'cpu', got '${requested}'`);
  const tokens = intFlag(args, 'tokens', 1) ?? 500;
  const temperature = numberFlag(args, 'temperature', 0) ?? 0.8;
  const topK = intFlag(args, 'top-k', 0) ?? 0;
  const seed = intFlag(args, 'seed', 0) ?? 0;
  return guarded(io, async () => {
    const dir = resolveCheckpoint(args.positional[0], args.flags.has('best') ? 'best' : 'latest');
    const ckpt = readCheckpoint(dir);
    const meta = ckpt.meta;
    const overrides = new Map(Object.entries(meta.overrides));
    if (modelHash(meta.source, overrides) !== meta.modelHash) throw new CheckpointError(`${dir}: the model source in its metadata does not match its hash (the file was edited or is corrupt)`);
    const source = { path: `${meta.model}.mdl (from ${dir})`, text: meta.source };
    const compiled = compileForTraining(source, { overrides, vocab: meta.vocab.length });
    report(compiled.diagnostics, [source], formatOf(args), io);
    if (!compiled.ok) return 1;
    const why = checkpointMismatch(ckpt, compiled.model, meta.vocab);
    if (why) throw new CheckpointError(`${dir} does not fit its own model: ${why}`);
    const spec = compiled.spec;
    if (spec.task !== 'next-token')
      throw new DataError(`model \`${meta.model}\` ${spec.task === 'reconstruct' ? 'rebuilds its input (an autoencoder)' : 'is not trained to predict the next character'}: sampling continues text only for next-token models`);

    const vocab = new Vocab(meta.vocab);
    const promptText = flag(args, 'prompt') ?? (vocab.index.has('\n') ? '\n' : vocab.chars[0]);
    if (promptText.length === 0) throw new UsageError('--prompt is empty: give at least one character');
    const unknown = [...new Set(Array.from(promptText).filter((ch) => !vocab.index.has(ch)))];
    if (unknown.length) throw new DataError(`the prompt has character${unknown.length > 1 ? 's' : ''} ${unknown.map((ch) => JSON.stringify(ch)).join(', ')} that the model's vocabulary of ${vocab.size} lacks`);

    let kind: BackendKind = (requested as BackendKind | undefined) ?? 'webgpu';
    let adapter: Adapter | undefined;
    if (kind === 'webgpu') {
      adapter = await findAdapter();
      if (!adapter) {
        if (requested === 'webgpu') throw new WebGpuUnavailableError();
        kind = 'cpu';
      }
    }
    const buildDir = kind === 'webgpu' ? mkdtempSync(join(tmpdir(), 'mdlc-sample-')) : undefined;
    try {
      const opened = await openBackend(kind, compiled.model, compiled.step, { seed: spec.seed, buildDir, sourcePath: source.path, meta, adapter });
      report(opened.build?.diagnostics ?? [], [source], formatOf(args), io);
      if (!opened.backend) return 1;
      const backend = opened.backend;
      try {
        await backend.setParams(tensorsOf(ckpt.params));
        const write = io.write ?? io.out;
        write(printable(promptText));
        await generate(backend, spec, [vocab.encode(promptText)], tokens, {
          temperature,
          topK,
          rng: makeRng(seed, 'sample'),
          onToken: (_, t) => write(printable(vocab.chars[t])),
        });
        write('\n');
      } finally {
        backend.destroy();
      }
      return 0;
    } finally {
      if (buildDir) rmSync(buildDir, { recursive: true, force: true });
    }
  });
}
