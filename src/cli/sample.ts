/**
 * `mdlc sample RUN_DIR|CHECKPOINT`: text from a trained next-token model, streamed as it is
 * generated. The checkpoint carries the model's source, overrides and vocabulary, so nothing
 * else is needed; the model is rebuilt from them on the chosen backend.
 */
import { restoreModel } from '../train/restore.js';
import { DataError } from '../../runtime/data.js';
import { generate } from '../../runtime/sampling.js';
import { makeRng } from '../../runtime/random.js';
import { backendFlag, flag, intFlag, UsageError, type FlagSpec, type ParsedArgs } from './args.js';
import { formatOf, report, type Io } from './common.js';
import { guarded } from './train.js';

export const SAMPLE_FLAGS: Record<string, FlagSpec> = {
  prompt: { value: true },
  tokens: { value: true },
  temperature: { value: true },
  'top-k': { value: true },
  seed: { value: true },
  backend: { value: true },
  threads: { value: true },
  best: {},
};

/** A number flag with a lower bound (`--temperature 0.8`). */
function boundedFlag(args: ParsedArgs, name: string, min: number): number | undefined {
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
  const requested = backendFlag(args);
  const threads = intFlag(args, 'threads', 1);
  const tokens = intFlag(args, 'tokens', 1) ?? 500;
  const temperature = boundedFlag(args, 'temperature', 0) ?? 0.8;
  const topK = intFlag(args, 'top-k', 0) ?? 0;
  const seed = intFlag(args, 'seed', 0) ?? 0;
  return guarded(io, async () => {
    // One text, so one row: each token's forward pass costs 1/batch of a training batch's.
    const r = await restoreModel(args.positional[0], { best: args.flags.has('best'), backend: requested, threads, rows: 1 });
    report(r.diagnostics, r.source ? [r.source] : [], formatOf(args), io);
    if (!r.ok) return 1;
    const { spec, vocab, backend, checkpoint } = r.restored;
    try {
      if (spec.task !== 'next-token')
        throw new DataError(`model \`${checkpoint.meta.model}\` ${spec.task === 'reconstruct' ? 'rebuilds its input (an autoencoder): score text with `mdlc score`' : 'is not trained to predict the next character'}; sampling continues text only for next-token models`);
      const promptText = flag(args, 'prompt') ?? (vocab.index.has('\n') ? '\n' : vocab.chars[0]);
      if (promptText.length === 0) throw new UsageError('--prompt is empty: give at least one character');
      const unknown = [...new Set(Array.from(promptText).filter((ch) => !vocab.index.has(ch)))];
      if (unknown.length) throw new DataError(`the prompt has character${unknown.length > 1 ? 's' : ''} ${unknown.map((ch) => JSON.stringify(ch)).join(', ')} that the model's vocabulary of ${vocab.size} lacks`);
      const write = io.write ?? io.out;
      write(printable(promptText));
      await generate(backend, spec, [vocab.encode(promptText)], tokens, {
        temperature,
        topK,
        rng: makeRng(seed, 'sample'),
        onToken: (_, t) => write(printable(vocab.chars[t])),
      });
      write('\n');
      return 0;
    } finally {
      r.restored.close();
    }
  });
}
