/**
 * What every training backend shares: compile the model against its data (vocabulary size
 * bound to `data.vocab`, overrides applied, checker re-run), load and split the text, and
 * turn sampled windows and the schedule into the feeds of one training step.
 */
import { hasErrors, type Diagnostic, type SourceFile } from '../diagnostics/index.js';
import { compileSource, type CompileResult } from '../driver/index.js';
import type { ElaboratedModel } from '../ir/elaborate/model.js';
import { buildTrainStep, type TrainStep } from '../ir/optimizer/index.js';
import { DataError, loadDataset, sliceWindows, splitTokens, Vocab, type Split } from '../../runtime/data.js';
import { learningRateAt } from '../../runtime/schedule.js';

export { DataError };

export interface SessionOptions {
  /** A text file to train on instead of the dataset the model names. */
  dataPath?: string;
  overrides?: ReadonlyMap<string, number>;
}

export interface TrainSession {
  model: ElaboratedModel;
  step: TrainStep;
  vocab: Vocab;
  split: Split;
  /** Characters per window and the batch size. */
  window: number;
  batch: number;
  diagnostics: Diagnostic[];
}

export type SessionResult = { ok: true; session: TrainSession; diagnostics: Diagnostic[] } | { ok: false; diagnostics: Diagnostic[]; compile?: CompileResult };

/**
 * Compile `source` for training. The model is compiled twice: once to learn which data it
 * names, then with `data.vocab` bound to that text's vocabulary (so every size is final).
 */
export async function openSession(source: SourceFile, options: SessionOptions = {}): Promise<SessionResult> {
  const first = compileSource(source, { overrides: options.overrides });
  if (!first.ok || !first.model) return { ok: false, diagnostics: first.diagnostics, compile: first };
  const dataSpec = first.model.train.data;
  if (!dataSpec) throw new DataError(`${source.path}: the train section names no data (add \`data = text("FILE", window: seq + 1)\`)`);
  const text = await loadDataset(options.dataPath ?? dataSpec.name);
  const vocab = Vocab.fromText(text);
  const compiled = compileSource(source, { overrides: options.overrides, data: { vocab: vocab.size } });
  if (!compiled.ok || !compiled.model || hasErrors(compiled.diagnostics)) return { ok: false, diagnostics: compiled.diagnostics, compile: compiled };
  const model = compiled.model;
  if (model.loss === undefined) return { ok: false, diagnostics: compiled.diagnostics };
  const window = model.train.data!.window;
  const tokens = vocab.encode(text);
  const split = splitTokens(tokens, model.train.valFraction, window);
  const batch = model.batch?.size;
  if (batch === undefined) throw new DataError(`${source.path}: the model needs a batch dim to train: declare it with \`text(..., batch: DIM)\``);
  return { ok: true, session: { model, step: buildTrainStep(model), vocab, split, window, batch, diagnostics: compiled.diagnostics }, diagnostics: compiled.diagnostics };
}

/** Input arrays for a batch of windows: one Int32Array per window slice (`tokens`, `targets`). */
export function sliceFeeds(model: ElaboratedModel, windows: Int32Array, batch: number, window: number): Map<string, Int32Array> {
  const out = new Map<string, Int32Array>();
  for (const s of model.train.slices) out.set(s.name, sliceWindows(windows, batch, window, s.start, s.end));
  return out;
}

/** Host-side scalars of step `t` (0-based): each group's learning rate and Adam's bias corrections. */
export function stepScalars(session: TrainSession, t: number): Map<string, number> {
  const { model, step } = session;
  const cfg = model.train;
  const base = learningRateAt(cfg.schedule, cfg.optimizer.lr, t, cfg.steps);
  const out = new Map<string, number>();
  for (const g of step.lrGroups) out.set(g.input, g.rate(base));
  out.set('bc1', 1 / (1 - cfg.optimizer.beta1 ** (t + 1)));
  out.set('bc2', 1 / (1 - cfg.optimizer.beta2 ** (t + 1)));
  return out;
}
