/** Pieces every `mdlc` command shares: output, diagnostics reporting, file arguments. */
import { existsSync } from 'node:fs';
import { hiddenNote, limitPerFile, lookupFrom, renderAll, type Diagnostic, type OutputFormat, type SourceFile } from '../diagnostics/index.js';
import { flag, overrides, UsageError, type ParsedArgs } from './args.js';

export interface Io {
  /** A line (or lines) to stdout; a newline is added when missing. */
  out: (s: string) => void;
  err: (s: string) => void;
  /** Text to stdout as it is (streamed samples). */
  write?: (s: string) => void;
  color: boolean;
}

export const defaultIo: Io = {
  out: (s) => process.stdout.write(s.endsWith('\n') ? s : s + '\n'),
  err: (s) => process.stderr.write(s.endsWith('\n') ? s : s + '\n'),
  write: (s) => process.stdout.write(s),
  // In a filtered child (stderr-filter.ts) stderr is a pipe; the parent says whether it is a terminal.
  color: (process.env.MDLC_STDERR_TTY !== undefined ? process.env.MDLC_STDERR_TTY === '1' : !!process.stderr.isTTY) && !process.env.NO_COLOR,
};

export function formatOf(args: ParsedArgs): OutputFormat {
  const f = flag(args, 'format') ?? 'human';
  if (f !== 'human' && f !== 'json' && f !== 'github') throw new UsageError(`--format must be human, json or github, got '${f}'`);
  return f;
}

export function compileOptions(args: ParsedArgs) {
  const vocab = flag(args, 'vocab');
  let data;
  if (vocab !== undefined) {
    const n = Number(vocab);
    if (!Number.isInteger(n) || n < 1) throw new UsageError(`--vocab needs a positive integer, got '${vocab}'`);
    data = { vocab: n };
  }
  return { overrides: overrides(args), data };
}

export function files(args: ParsedArgs, atMostOne = false): string[] {
  if (args.positional.length === 0) throw new UsageError('no model file given');
  if (atMostOne && args.positional.length > 1) throw new UsageError('give one model file');
  for (const f of args.positional) if (!existsSync(f)) throw new UsageError(`no such file: ${f}`);
  return args.positional;
}

/**
 * Print diagnostics: JSON lists every one; the human and github formats print the first
 * MAX_DIAGNOSTICS_PER_FILE of each file and say how many more there are.
 */
export function report(diags: readonly Diagnostic[], sources: SourceFile[], format: OutputFormat, io: Io) {
  if (format === 'json') {
    io.out(renderAll(diags, 'json', lookupFrom(sources)));
    return;
  }
  if (diags.length === 0) return;
  const { shown, hidden } = limitPerFile(diags);
  const text = renderAll(shown, format, lookupFrom(sources), io.color && format === 'human');
  const notes = [...hidden].map(([file, n]) => hiddenNote(file, n));
  if (format === 'github') io.out([text, ...notes.map((n) => `::notice::${n}`)].join('\n'));
  else io.err([text, ...notes.map((n) => `note: ${n}`)].join('\n\n') + '\n');
}
