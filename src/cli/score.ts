/**
 * `mdlc score RUN_DIR|CHECKPOINT`: the density of a text under a trained model. The model's
 * window slides over the text; each window's reconstruction (or prediction) loss is reported
 * in bits per character, then a summary, and optionally a plot of density along the text.
 */
import { readFileSync } from 'node:fs';
import { restoreModel } from '../train/restore.js';
import { DataError, readTextFile, type Vocab } from '../../runtime/data.js';
import { writeFileAtomic } from '../../runtime/checkpoint.js';
import { visibleText } from '../../runtime/format.js';
import { densityOf, densityPlotSvg, summarize, type DensitySummary, type WindowDensity } from '../../runtime/score.js';
import { backendFlag, flag, intFlag, UsageError, type FlagSpec, type ParsedArgs } from './args.js';
import { report, type Io } from './common.js';
import { guarded } from './train.js';

export const SCORE_FLAGS: Record<string, FlagSpec> = {
  data: { value: true },
  text: { value: true },
  stride: { value: true },
  format: { value: true },
  plot: { value: true },
  backend: { value: true },
  threads: { value: true },
  best: {},
};

/** Largest text scored from stdin or --text (a file may be as large as a data file). */
const MAX_INLINE_TEXT = 64 * 1024 * 1024;

/** Token ids of `text`, or a DataError naming every character the vocabulary lacks and where. */
export function encodeForModel(text: string, vocab: Vocab): Int32Array {
  const chars = Array.from(text);
  const unknown = new Map<string, number[]>();
  const out = new Int32Array(chars.length);
  chars.forEach((c, i) => {
    const t = vocab.index.get(c);
    if (t === undefined) {
      const at = unknown.get(c) ?? [];
      at.push(i);
      unknown.set(c, at);
    } else out[i] = t;
  });
  if (unknown.size) {
    const list = [...unknown]
      .slice(0, 8)
      .map(([c, at]) => `${JSON.stringify(c)} (U+${c.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}) at ${at.slice(0, 3).join(', ')}${at.length > 3 ? ` and ${at.length - 3} more` : ''}`)
      .join('; ');
    throw new DataError(`the text has ${unknown.size} character${unknown.size > 1 ? 's' : ''} outside the model's vocabulary of ${vocab.size}: ${list}${unknown.size > 8 ? '; …' : ''}`);
  }
  return out;
}

function csvField(s: string): string {
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export function formatScores(windows: readonly { w: WindowDensity; text: string }[], summary: DensitySummary, head: { model: string; window: number; stride: number; checkpoint: string }, format: 'text' | 'json' | 'csv'): string {
  if (format === 'json') {
    return JSON.stringify(
      {
        model: head.model,
        checkpoint: head.checkpoint,
        window: head.window,
        stride: head.stride,
        windows: windows.map(({ w, text }) => ({ offset: w.offset, length: w.length, bits_per_char: w.bitsPerChar, accuracy: w.accuracy, text })),
        summary,
      },
      null,
      2,
    );
  }
  if (format === 'csv') return ['offset,length,bits_per_char,accuracy,text', ...windows.map(({ w, text }) => [w.offset, w.length, w.bitsPerChar.toFixed(6), w.accuracy.toFixed(6), csvField(text)].join(','))].join('\n');
  const width = String(Math.max(0, ...windows.map(({ w }) => w.offset))).length;
  const lines = [`${'offset'.padStart(Math.max(6, width))}  bits/char  right  text`];
  for (const { w, text } of windows) lines.push(`${String(w.offset).padStart(Math.max(6, width))}  ${w.bitsPerChar.toFixed(3).padStart(9)}  ${(100 * w.accuracy).toFixed(0).padStart(4)}%  ${visibleText(text)}`);
  const f = (x: number) => x.toFixed(3);
  lines.push(
    `${summary.windows} windows of ${head.window} characters, stride ${head.stride}: mean ${f(summary.mean)} bits per character, median ${f(summary.median)}, ` +
      `10–90% ${f(summary.p10)}–${f(summary.p90)}, quartiles ${f(summary.p25)}–${f(summary.p75)}, min ${f(summary.min)}, max ${f(summary.max)}`,
  );
  return lines.join('\n');
}

export async function runScore(args: ParsedArgs, io: Io, stdin: () => string = readStdin): Promise<number> {
  if (args.positional.length !== 1) throw new UsageError('give one run directory or checkpoint: mdlc score RUN_DIR|CHECKPOINT --data FILE | --text TEXT | < FILE');
  const format = flag(args, 'format') ?? 'text';
  if (format !== 'text' && format !== 'json' && format !== 'csv') throw new UsageError(`--format must be text, json or csv, got '${format}'`);
  const requested = backendFlag(args);
  const threads = intFlag(args, 'threads', 1);
  if (args.flags.has('data') && args.flags.has('text')) throw new UsageError('give the text with --data FILE or --text TEXT, not both');
  const strideArg = intFlag(args, 'stride', 1);
  return guarded(io, async () => {
    const text = args.flags.has('data') ? readTextFile(flag(args, 'data')!) : (flag(args, 'text') ?? stdin());
    if (text.length === 0) throw new DataError('the text to score is empty');
    const r = await restoreModel(args.positional[0], { best: args.flags.has('best'), backend: requested, threads });
    report(r.diagnostics, r.source ? [r.source] : [], 'human', io);
    if (!r.ok) return 1;
    const { spec, vocab, backend, checkpoint, dir } = r.restored;
    try {
      if (!spec.target) throw new DataError(`model \`${checkpoint.meta.model}\` has no target slice to score text against`);
      const tokens = encodeForModel(text, vocab);
      if (tokens.length < spec.window) throw new DataError(`the text has ${tokens.length} characters, shorter than the model's window of ${spec.window}`);
      const stride = strideArg ?? spec.window;
      const windows = await densityOf(backend, spec, tokens, stride);
      const rows = windows.map((w) => ({ w, text: vocab.decode(tokens.subarray(w.offset, w.offset + w.length)) }));
      const summary = summarize(windows.map((w) => w.bitsPerChar));
      io.out(formatScores(rows, summary, { model: checkpoint.meta.model, window: spec.window, stride, checkpoint: dir }, format));
      const plot = flag(args, 'plot');
      if (plot) {
        writeFileAtomic(plot, densityPlotSvg(windows, `${checkpoint.meta.model}: bits per character along the text (window ${spec.window}, stride ${stride})`));
        io.err(`wrote ${plot}`);
      }
      return 0;
    } finally {
      r.restored.close();
    }
  });
}

function readStdin(): string {
  if (process.stdin.isTTY) throw new UsageError('no text to score: give --data FILE or --text TEXT, or pipe the text in');
  const bytes = readFileSync(0);
  if (bytes.length > MAX_INLINE_TEXT) throw new DataError(`the text on standard input is over ${MAX_INLINE_TEXT / 2 ** 20} MiB; pass it with --data FILE`);
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new DataError('the text on standard input is not valid UTF-8');
  }
}
