/**
 * `mdlc export FILE --target pytorch`: compile the model against its data (the vocabulary
 * size is bound from the text, as for training) and write PyTorch code that trains it
 * without mdlc: model.py, train.py and model.mdl.
 */
import { join } from 'node:path';
import { readSourceFile } from '../parser/index.js';
import { openSession, DataError } from '../train/session.js';
import { exportPytorch, ExportError, writeExport } from '../export/index.js';
import { flag, overrides, UsageError, type FlagSpec, type ParsedArgs } from './args.js';
import { files, formatOf, report, type Io } from './common.js';

export const EXPORT_FLAGS: Record<string, FlagSpec> = {
  target: { value: true },
  data: { value: true },
  out: { value: true },
};

export const TARGETS = ['pytorch'] as const;

export async function runExport(args: ParsedArgs, io: Io, version: string): Promise<number> {
  const format = formatOf(args);
  const [file] = files(args, true);
  const target = flag(args, 'target');
  if (target === undefined) throw new UsageError(`export needs --target (${TARGETS.join(', ')})`);
  if (!(TARGETS as readonly string[]).includes(target)) throw new UsageError(`--target must be ${TARGETS.join(' or ')}, got '${target}'`);
  const read = readSourceFile(file);
  if (!read.source) {
    report(read.diagnostics, [], format, io);
    return 1;
  }
  const source = read.source;
  const sets = overrides(args);
  try {
    const opened = await openSession(source, { dataPath: flag(args, 'data'), overrides: sets });
    report(opened.diagnostics, [source], format, io);
    if (!opened.ok) return 1;
    const s = opened.session;
    const out = flag(args, 'out') ?? join('export', `${s.model.name}-${target}`);
    const exported = exportPytorch(s.model, { source, vocab: s.vocab.chars, overrides: sets, version });
    writeExport(out, exported);
    io.out(`exported ${s.model.name} to ${out}/: ${[...exported.keys()].join(', ')}`);
    io.out(`train it with: python ${join(out, 'train.py')}${flag(args, 'data') ? ` --data ${flag(args, 'data')}` : ''}   (or torchrun --nproc_per_node N ${join(out, 'train.py')} ...)`);
    return 0;
  } catch (e) {
    if (e instanceof DataError || e instanceof ExportError) {
      io.err(`mdlc: ${e.message}`);
      return 1;
    }
    throw e;
  }
}
