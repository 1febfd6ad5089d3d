/**
 * What every training backend shares: compile the model against its data (vocabulary size
 * bound to `data.vocab`, overrides applied, checker re-run), load and split the text, and
 * describe the recipe as the runtime's `TrainSpec`.
 */
import type { Diagnostic, SourceFile } from '../diagnostics/index.js';
import { compileSource, modelHash, type CompileResult } from '../driver/index.js';
import { compileForTraining, modelMetaWithHash } from './compile.js';
import type { ElaboratedModel } from '../ir/elaborate/model.js';
import type { TrainStep } from '../ir/optimizer/index.js';
import { DataError, splitTokens, Vocab, type Split } from '../../runtime/data.js';
import { loadCorpus } from '../../runtime/corpus.js';
import { feedsOf, stepScalars as scalarsOf } from '../../runtime/loop.js';
import type { LrRates, StepScalars, TrainSpec } from '../../runtime/backend.js';
import type { ModelMeta } from '../../runtime/checkpoint.js';

export { DataError };

export interface SessionOptions {
  /** A text file to train on instead of the dataset the model names. */
  dataPath?: string;
  overrides?: ReadonlyMap<string, number>;
  /**
   * The --overfit sanity check: the file's peak learning rate held constant and no weight
   * decay, so memorising one batch does not depend on a schedule tuned for a long run.
   */
  overfit?: boolean;
}

export interface TrainSession {
  source: SourceFile;
  model: ElaboratedModel;
  step: TrainStep;
  spec: TrainSpec;
  rates: LrRates;
  vocab: Vocab;
  split: Split;
  /** Characters per window and the batch size. */
  window: number;
  batch: number;
  /** What checkpoints record about the model (source, overrides, hash, axes, vocabulary). */
  meta: ModelMeta;
  diagnostics: Diagnostic[];
}

export type SessionResult = { ok: true; session: TrainSession; diagnostics: Diagnostic[] } | { ok: false; diagnostics: Diagnostic[]; compile?: CompileResult };

export { modelHash };
export { compileForRows, compileForTraining, type TrainedModel } from './compile.js';

/** The metadata checkpoints carry, so that a checkpoint alone can rebuild its model. */
export function modelMeta(source: SourceFile, overrides: ReadonlyMap<string, number>, model: ElaboratedModel, vocab: Vocab): ModelMeta {
  return modelMetaWithHash(modelHash(source.text, overrides), source, overrides, model, vocab.chars);
}

/**
 * Compile `source` for training. The model is compiled twice: once to learn which data it
 * names, then with `data.vocab` bound to that text's vocabulary (so every size is final).
 */
export async function openSession(source: SourceFile, options: SessionOptions = {}): Promise<SessionResult> {
  const overrides = options.overrides ?? new Map<string, number>();
  const first = compileSource(source, { overrides });
  if (!first.ok || !first.model) return { ok: false, diagnostics: first.diagnostics, compile: first };
  const dataSpec = first.model.train.data;
  if (!dataSpec) throw new DataError(`${source.path}: the train section names no data (add \`data = text("FILE", window: seq + 1)\`)`);
  // Streamed into a typed array of token ids (about a byte per character), never one string.
  const { vocab, tokens } = await loadCorpus(options.dataPath ?? dataSpec.name);
  const compiled = compileForTraining(source, { overrides, vocab: vocab.size, overfit: options.overfit });
  if (!compiled.ok) return compiled;
  const { model, step, spec, rates } = compiled;
  const split = splitTokens(tokens, model.train.valFraction, spec.window);
  const meta = modelMeta(source, overrides, model, vocab);
  return { ok: true, session: { source, model, step, spec, rates, vocab, split, window: spec.window, batch: spec.batch, meta, diagnostics: compiled.diagnostics }, diagnostics: compiled.diagnostics };
}

/** Input arrays for a batch of windows: one Int32Array per window slice (`tokens`, `targets`). */
export function sliceFeeds(session: TrainSession, windows: Int32Array): Map<string, Int32Array> {
  return feedsOf(session.spec, windows);
}

/** Host-side scalars of step `t` (0-based) as graph inputs: each group's learning rate and Adam's bias corrections. */
export function stepScalars(session: TrainSession, t: number): Map<string, number> {
  const s: StepScalars = scalarsOf(session.spec, session.rates, t);
  const out = new Map<string, number>();
  s.lr.forEach((lr, i) => out.set(`lr.${i}`, lr));
  out.set('bc1', s.bc1);
  out.set('bc2', s.bc2);
  return out;
}
