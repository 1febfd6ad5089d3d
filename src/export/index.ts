/**
 * `mdlc export --target pytorch`: a checked model as PyTorch code that runs without mdlc:
 * model.py (the modules), train.py (the train section: mdlc's data windows, initial weights,
 * AdamW groups, schedule, clipping, checkpoints in mdlc's layout, torchrun) and model.mdl
 * (the source, which checkpoints carry).
 */
import { modelHash } from '../driver/index.js';
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { SourceFile } from '../diagnostics/index.js';
import type { ElaboratedModel } from '../ir/elaborate/model.js';
import { buildTrainStep } from '../ir/optimizer/index.js';
import { emitModelPy, ExportError } from './model-py.js';
import { emitTrainPy } from './train-py.js';

export { ExportError, emitModelPy, type ModelPy } from './model-py.js';
export { emitTrainPy, rowsIndependent, pyLiteral, pyRate } from './train-py.js';

export interface ExportOptions {
  source: SourceFile;
  /** The vocabulary the model was compiled against (characters, token i first). */
  vocab: readonly string[];
  overrides: ReadonlyMap<string, number>;
  version: string;
}

export { modelHash };

/** The files of the export (name → text). */
export function exportPytorch(model: ElaboratedModel, o: ExportOptions): Map<string, string> {
  if (model.loss === undefined) throw new ExportError('the model has no loss to train');
  if (!model.train.data) throw new ExportError('the train section names no data');
  if (!model.batch) throw new ExportError('the model needs a batch dim to train: name it in `text(..., batch: DIM)`');
  const py = emitModelPy(model, { sourceText: o.source.text, sourcePath: o.source.path, version: o.version });
  const template = readFileSync(join(packageRoot(), 'src', 'export', 'pytorch', 'train.py'), 'utf8');
  const train = emitTrainPy(template, model, buildTrainStep(model), {
    vocab: o.vocab,
    overrides: o.overrides,
    modelHash: modelHash(o.source.text, o.overrides),
    forwardInputs: py.forwardInputs,
    lossInputs: py.lossInputs,
    sourceLines: o.source.text.split(/\r?\n/),
  });
  return new Map([
    ['model.py', py.text],
    ['train.py', train],
    ['model.mdl', o.source.text],
  ]);
}

/** Write the files into `dir` (each one atomically). */
export function writeExport(dir: string, files: ReadonlyMap<string, string>): void {
  mkdirSync(dir, { recursive: true });
  for (const [name, text] of files) {
    const path = join(dir, name);
    const tmp = `${path}.${process.pid}.tmp`;
    writeFileSync(tmp, text);
    renameSync(tmp, path);
  }
  rmSync(join(dir, '__pycache__'), { recursive: true, force: true });
}

/** The package root, from this file's place in src/export/ or dist/src/export/. */
function packageRoot(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  return resolve(here, here.includes(join('dist', 'src')) ? '../../..' : '../..');
}
