/**
 * Compiling a model for training against a vocabulary: the checked model, its training step
 * and its recipe as the runtime's `TrainSpec`. No files and no Node.js: the CLI's sessions and
 * a browser page compile with it.
 */
import { hasErrors, type Diagnostic, type SourceFile } from '../diagnostics/index.js';
import { compileSource, type CompileResult } from '../driver/compile.js';
import type { ElaboratedModel } from '../ir/elaborate/model.js';
import { buildTrainStep, lrRatesOf, trainSpecOf, type TrainStep } from '../ir/optimizer/index.js';
import { DataError } from '../../runtime/text.js';
import type { LrRates, TrainSpec } from '../../runtime/backend.js';
import type { ModelMeta } from '../../runtime/checkpoint-files.js';

export type TrainedModel = { ok: true; model: ElaboratedModel; step: TrainStep; spec: TrainSpec; rates: LrRates; diagnostics: Diagnostic[] } | { ok: false; diagnostics: Diagnostic[]; compile?: CompileResult };

/** Compile `source` for a vocabulary of `vocab` characters, and build its training step. */
export function compileForTraining(source: SourceFile, options: { overrides?: ReadonlyMap<string, number>; vocab: number; overfit?: boolean }): TrainedModel {
  const compiled = compileSource(source, { overrides: options.overrides, data: { vocab: options.vocab } });
  if (!compiled.ok || !compiled.model || hasErrors(compiled.diagnostics)) return { ok: false, diagnostics: compiled.diagnostics, compile: compiled };
  const model = compiled.model;
  if (model.loss === undefined) return { ok: false, diagnostics: compiled.diagnostics };
  if (!model.batch) throw new DataError(`${source.path}: the model needs a batch dim to train: name it in \`text(..., batch: DIM)\``);
  if (options.overfit) {
    model.train.schedule = { kind: 'constant' };
    model.train.optimizer = { ...model.train.optimizer, weightDecay: 0 };
    model.train.groups = model.train.groups.filter((g) => g.setting !== 'weight_decay');
  }
  const step = buildTrainStep(model);
  return { ok: true, model, step, spec: trainSpecOf(model, step), rates: lrRatesOf(step), diagnostics: compiled.diagnostics };
}

/**
 * `trained` compiled again for batches of `rows` windows, where that is fewer than its batch,
 * its batch dim is a number the file gives (so it can be set) and every parameter keeps its
 * shape; undefined otherwise. A forward pass then costs rows/batch of the training batch's:
 * sampling one text needs one row.
 */
export function compileForRows(source: SourceFile, options: { overrides: ReadonlyMap<string, number>; vocab: number }, trained: { model: ElaboratedModel; spec: TrainSpec }, rows: number): Extract<TrainedModel, { ok: true }> | undefined {
  const batch = trained.model.batch;
  if (!batch || batch.size <= rows) return undefined;
  const fewer = compileForTraining(source, { overrides: new Map([...options.overrides, [batch.name, rows]]), vocab: options.vocab });
  if (!fewer.ok) return undefined;
  const shapes = (t: { spec: TrainSpec }) => JSON.stringify(t.spec.params.map((p) => [p.name, p.axes.map((a) => a.size)]));
  return shapes(fewer) === shapes(trained) ? fewer : undefined;
}

/** The metadata checkpoints carry, with the model's hash (`modelHash` of its source and overrides). */
export function modelMetaWithHash(modelHash: string, source: SourceFile, overrides: ReadonlyMap<string, number>, model: ElaboratedModel, vocab: readonly string[]): ModelMeta {
  return {
    model: model.name,
    modelHash,
    vocab: [...vocab],
    axes: Object.fromEntries(model.graph.params.map((p) => [p.name, p.type.axes.map((a) => a.name)])),
    source: source.text,
    overrides: Object.fromEntries(overrides),
  };
}
