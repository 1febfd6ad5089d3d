/** What elaboration produces: the typed graph of forward + loss, and the train configuration. */
import type { Span } from '../../diagnostics/span.js';
import type { Axis, Graph } from '../types.js';

export interface DimValue {
  name: string;
  value: number;
  span: Span;
  /** True when the value comes from the dataset (`data.vocab`) and is a placeholder at check time. */
  fromData: boolean;
}

export interface DataSource {
  kind: 'text';
  /** Dataset name (`tinyshakespeare`) or file path as written in the .mdl. */
  name: string;
  /** Characters per window. */
  window: number;
  /**
   * The dim that counts windows per training step (`text(..., batch: batch)`), whose axis
   * is the first axis of every input bound to a window slice. Without `batch:`, the dim named
   * `batch`, if there is one.
   */
  batch?: { dim: string; span: Span };
  span: Span;
}

/** A train-section binding of a window slice to a model input: `tokens = data[0 .. seq]`. */
export interface WindowSlice {
  name: string;
  start: number;
  end: number;
  span: Span;
}

export type Schedule =
  | { kind: 'constant' }
  | { kind: 'warmup_cosine'; warmup: number; minLr: number };

export interface ParamGroupSetting {
  setting: 'lr' | 'weight_decay';
  /** The pattern as written (`blocks.*.attention.wq`). */
  pattern: string;
  /** A function of the base value of the setting (`0.5 * lr`), evaluated per parameter. */
  value: (base: number) => number;
  /** The same function as a JavaScript expression of `base`, for generated programs. */
  js: string;
  span: Span;
}

export interface AdamW {
  kind: 'adamw';
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
}

export interface TrainConfig {
  data?: DataSource;
  slices: WindowSlice[];
  optimizer: AdamW;
  schedule: Schedule;
  /** Clip gradients to this global L2 norm; 0 disables clipping. */
  clip: number;
  steps: number;
  evalEvery: number;
  evalBatches: number;
  seed: number;
  /** Fraction of the text held out for validation. */
  valFraction: number;
  groups: ParamGroupSetting[];
}

export interface ElaboratedModel {
  name: string;
  dims: Map<string, DimValue>;
  /** Every axis by name: one per dim, plus `axis` aliases. */
  axes: Map<string, Axis>;
  /** The axis positions the data's tokens index (the dim bound to `data.vocab`). */
  dataAxis?: Axis;
  /** The batch dim the data declares (`text(..., batch: DIM)`): windows per step, and their axis. */
  batch?: { name: string; size: number; axis: Axis };
  graph: Graph;
  /** Node ids of the forward output and the loss. */
  logits: number;
  loss?: number;
  /** The forward output's name as written (`logits`). */
  outputName: string;
  train: TrainConfig;
  /** Spans of uses of each top-level declaration, for the unused-value rules. */
  source: { file: string };
}

export const DEFAULT_TRAIN: TrainConfig = {
  slices: [],
  optimizer: { kind: 'adamw', lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0 },
  schedule: { kind: 'constant' },
  clip: 0,
  steps: 1000,
  evalEvery: 200,
  evalBatches: 10,
  seed: 0,
  valFraction: 0.1,
  groups: [],
};
