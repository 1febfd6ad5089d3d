/**
 * What a training backend is, and what a model's training recipe is, as plain data: the
 * one training loop (loop.ts), sampling (sampling.ts) and scoring work on any backend that
 * implements `TrainBackend` — the generated WebGPU program (webgpu.ts), the WebAssembly
 * program (wasm.ts) and the reference interpreter (the compiler's `src/train/cpu.ts`).
 * Browser-safe: no Node imports.
 */
import type { Schedule } from './schedule.js';

/** Per-step host scalars: each learning-rate group's rate and Adam's bias corrections 1/(1-β^t). */
export interface StepScalars {
  lr: readonly number[];
  bc1: number;
  bc2: number;
}

export interface StepResult {
  loss: number;
  /** Global L2 norm of the gradients before clipping. */
  gradNorm: number;
}

/** Token windows by input name (`tokens`, `targets`), each [batch, length] row-major. */
export type Feeds = ReadonlyMap<string, Int32Array<ArrayBuffer>>;

/** Tensors by name, row-major over the parameter's declared axes. */
export type TensorMap = Map<string, Float32Array<ArrayBuffer>>;

export interface TrainBackend {
  /** `webgpu`, `wasm` or `interpreter`. */
  readonly kind: string;
  /** What runs it, for logs and config.json (the adapter, or "reference interpreter (f32)"). */
  readonly description: string;
  /** One step: forward, loss, backward, clipping and the AdamW update. */
  trainStep(feeds: Feeds, scalars: StepScalars): Promise<StepResult>;
  /** The loss on a batch, updating nothing. */
  evalLoss(feeds: Feeds): Promise<number>;
  /** The logits of a batch, row-major over `TrainSpec.logits.axes`. */
  forward(feeds: Feeds): Promise<Float32Array<ArrayBuffer>>;
  getParams(): Promise<TensorMap>;
  setParams(values: ReadonlyMap<string, Float32Array<ArrayBuffer>>): Promise<void>;
  /** AdamW's moments as `m.<param>` and `v.<param>`. */
  getState(): Promise<TensorMap>;
  setState(values: ReadonlyMap<string, Float32Array<ArrayBuffer>>): Promise<void>;
  destroy(): void;
}

/**
 * What the train section asks of the data: predict the next character (`targets` is
 * `tokens` shifted by one), rebuild the input (`targets` is `tokens`), or something else
 * (no completions are shown).
 */
export type TrainTask = 'next-token' | 'reconstruct' | 'other';

export interface AxisSpec {
  name: string;
  size: number;
}

export interface ParamSpec {
  name: string;
  axes: AxisSpec[];
  lr: number;
  /** Index into `TrainSpec.lrRates`. */
  lrGroup: number;
  weightDecay: number;
}

/** A model's training recipe after `--set` overrides: everything the loop needs, as data. */
export interface TrainSpec {
  model: string;
  /** The dataset the .mdl names (a registered name or a file path). */
  dataset: string;
  /** Characters per window, rows per batch. */
  window: number;
  batch: number;
  /** Window slices bound to the model's inputs: `tokens = data[0 .. seq]`. */
  slices: { name: string; start: number; end: number }[];
  steps: number;
  evalEvery: number;
  evalBatches: number;
  seed: number;
  valFraction: number;
  optimizer: { lr: number; beta1: number; beta2: number; eps: number; weightDecay: number };
  schedule: Schedule;
  clip: number;
  vocab: number;
  task: TrainTask;
  /** The input the forward pass reads (the first slice, `tokens`), and the target slice. */
  input: string;
  target?: string;
  /** Layout of `forward`'s logits; `batch`, `position` and `vocab` index into `axes`. */
  logits: { axes: AxisSpec[]; batch: number; position: number; vocab: number };
  params: ParamSpec[];
}

/** Tokens a step trains on: every position of the input slice in every row. */
export function tokensPerStep(spec: TrainSpec): number {
  const s = spec.slices.find((x) => x.name === spec.input) ?? spec.slices[0];
  return spec.batch * (s ? s.end - s.start : spec.window);
}

/** Learning-rate group rates as functions of the scheduled base rate (group 0 is the base). */
export type LrRates = readonly ((base: number) => number)[];
