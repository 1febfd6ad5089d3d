/**
 * Training in the page: the model in the editor compiled for the text's vocabulary (the same
 * training step, schedule and WGSL as `mdlc build`), run from its program plan on the page's
 * WebGPU device — or, in a browser without WebGPU, as the `wasm` backend's WebAssembly on
 * worker threads — through the runtime's one training loop, as `mdlc train` runs it; then
 * sampled, and saved as the CLI's checkpoint files. No DOM: main.ts shows what happens.
 */
import { checkLimits, compileForTraining, hasErrors, modelHashInput, modelMetaWithHash, planProgram, planWasmProgram, runnablePlan, type BuildLimits, type Diagnostic, type Target } from '../../src/browser.js';
import {
  CHECKPOINT_FORMAT,
  DataError,
  encodeModelFile,
  encodeStateFile,
  encodeTrainerFile,
  generate,
  makeRng,
  planModule,
  splitTokens,
  trainLoop,
  WasmBackend,
  WebGpuBackend,
  type TrainBackend,
  type WasmProgram,
  type Corpus,
  type EvalEvent,
  type GpuContext,
  type LoopResult,
  type LrRates,
  type ModelMeta,
  type ModelPlan,
  type Split,
  type StepEvent,
  type TrainSpec,
  type Vocab,
} from '../../runtime/browser.js';
import { PAGE_FILE } from './check.js';

/** A model compiled for training on a text, ready to run. */
export interface PageRun {
  spec: TrainSpec;
  rates: LrRates;
  /** The WebGPU program (a target other than `wasm`). */
  plan?: ModelPlan;
  meta: ModelMeta;
  vocab: Vocab;
  split: Split;
  /** What the program was built for: a CPU adapter's target or a GPU's (codegen/target.ts), or the wasm backend. */
  target: Target | 'wasm';
  /** The wasm backend's program (target `wasm`). */
  wasm?: WasmProgram;
  /** Kernels, and dispatches (wasm: calls) per training step. */
  kernels: number;
  dispatches: number;
}

/** SHA-256 of `bytes` as hex, with WebCrypto (a page's `crypto.subtle`, or Node's). */
export async function sha256Hex(bytes: Uint8Array<ArrayBuffer>): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes));
  return Array.from(digest, (b) => b.toString(16).padStart(2, '0')).join('');
}

/**
 * Compile `text` for training on `corpus` (vocabulary bound to its characters, overrides
 * applied, checker re-run), split the text and plan the program, as `mdlc train` does; a
 * WebGPU program is checked against the device's `limits` (E0901–E0903) before anything is
 * compiled on it.
 */
export async function prepareRun(text: string, overrides: ReadonlyMap<string, number>, corpus: Corpus, target: Target | 'wasm', limits: Partial<BuildLimits> = {}): Promise<{ ok: true; run: PageRun } | { ok: false; diagnostics: Diagnostic[]; message?: string }> {
  const source = { path: PAGE_FILE, text };
  const compiled = compileForTraining(source, { overrides, vocab: corpus.vocab.size });
  if (!compiled.ok) return { ok: false, diagnostics: compiled.diagnostics, ...(compiled.diagnostics.some((d) => d.severity === 'error') ? {} : { message: 'the model has no loss: there is nothing to train' }) };
  const { model, step, spec, rates } = compiled;
  const split = splitTokens(corpus.tokens, model.train.valFraction, spec.window);
  const hash = await sha256Hex(modelHashInput(text, overrides) as Uint8Array<ArrayBuffer>);
  const meta = modelMetaWithHash(hash, source, overrides, model, corpus.vocab.chars);
  const common = { spec, rates, meta, vocab: corpus.vocab, split };
  if (target === 'wasm') {
    const { program } = planWasmProgram(model, { step });
    return { ok: true, run: { ...common, target, wasm: program, kernels: program.kernels.length, dispatches: program.entries.train.length } };
  }
  const plan = planProgram(model, { target, step });
  const beyond = checkLimits(model, plan, limits);
  if (hasErrors(beyond)) return { ok: false, diagnostics: beyond, message: `the model does not fit this device: ${beyond.map((d) => `${d.code} ${d.message}`).join('; ')}` };
  return { ok: true, run: { ...common, plan: runnablePlan(plan), target, kernels: plan.kernels.length, dispatches: plan.entries.train.length } };
}

/** Validation completions at each evaluation, drawn as `mdlc train` draws them (its SAMPLE_TEMPERATURE). */
export const VALIDATION_SAMPLES = { count: 3, temperature: 0.8 };

/** Characters of each validation completion, as `mdlc train` shows them. */
export function completionLength(spec: TrainSpec): number {
  return Math.max(32, Math.min(128, spec.logits.axes[spec.logits.position]?.size ?? 64));
}

export interface TrainEvents {
  onStep?: (e: StepEvent) => void;
  onEval?: (e: EvalEvent) => void;
  /** Polled after every step: true stops the run (the Stop button). */
  shouldStop?: () => boolean;
}

/** The checkpoint's three files, as `mdlc train` writes them into `checkpoints/step-N/`. */
export interface CheckpointFiles {
  model: Uint8Array;
  optimizer: Uint8Array;
  trainer: string;
}

/** A model on the page's device (or its worker threads): trained once by the one loop, then sampled and saved. */
export class PageTrainer {
  private result: LoopResult | undefined;
  private seconds = 0;

  private constructor(
    readonly run: PageRun,
    private readonly backend: TrainBackend,
  ) {}

  /**
   * Compile the pipelines on `gpu` (the wasm backend: the module, on `threads` workers) and
   * initialise the parameters from the run's seed.
   */
  static async open(run: PageRun, on: { gpu: GpuContext } | { threads: number }): Promise<PageTrainer> {
    if (run.wasm) return new PageTrainer(run, await WasmBackend.open(run.wasm, { seed: run.spec.seed, threads: 'threads' in on ? on.threads : 1 }));
    if (!run.plan || !('gpu' in on)) throw new Error('internal: a WebGPU run needs a device');
    return new PageTrainer(run, await WebGpuBackend.open(planModule(run.plan), { seed: run.spec.seed, gpu: on.gpu }));
  }

  get description(): string {
    return this.backend.description;
  }

  /** Steps trained so far. */
  get step(): number {
    return this.result?.step ?? 0;
  }

  async train(events: TrainEvents = {}): Promise<LoopResult> {
    const { spec, rates, split, vocab } = this.run;
    const t0 = performance.now();
    try {
      this.result = await trainLoop(this.backend, spec, { train: split.train, val: split.val, decode: (t) => vocab.decode(t) }, {
        rates,
        samples: { ...VALIDATION_SAMPLES, length: completionLength(spec) },
        checkpointEvery: 0,
        shouldStop: events.shouldStop,
        onStep: events.onStep,
        onEval: events.onEval,
      });
      return this.result;
    } finally {
      this.seconds = (performance.now() - t0) / 1000;
    }
  }

  /** The checkpoint after the steps trained: weights with the model's metadata, AdamW's moments, the trainer's state. */
  async checkpointFiles(): Promise<CheckpointFiles> {
    const r = this.result;
    if (!r) throw new DataError('train the model first');
    const { spec, meta } = this.run;
    const shapes = new Map(spec.params.map((p) => [p.name, p.axes.map((a) => a.size)]));
    const last = r.valLosses.at(-1)?.loss ?? null;
    const best = r.valLosses.length ? Math.min(...r.valLosses.map((v) => v.loss)) : null;
    return {
      model: encodeModelFile(meta, await this.backend.getParams(), shapes, r.step),
      optimizer: encodeStateFile(await this.backend.getState(), shapes, r.step),
      trainer: encodeTrainerFile({ format: CHECKPOINT_FORMAT, step: r.step, batchesDrawn: r.batchesDrawn, seed: spec.seed, modelHash: meta.modelHash, valLoss: last, bestValLoss: best, elapsedSeconds: +this.seconds.toFixed(3) }),
    };
  }

  /**
   * Continue `prompt` by `count` characters, as `mdlc sample` does (the same defaults and the
   * same random stream for a seed); `onText` sees each character as it is drawn.
   */
  async sample(prompt: string, count: number, options: { temperature?: number; topK?: number; seed?: number; onText?: (text: string) => void } = {}): Promise<string> {
    const { spec, vocab } = this.run;
    if (spec.task !== 'next-token') throw new DataError(`model \`${spec.model}\` ${spec.task === 'reconstruct' ? 'rebuilds its input (an autoencoder)' : 'is not trained to predict the next character'}; sampling continues text only for next-token models`);
    const text = prompt === '' ? (vocab.index.has('\n') ? '\n' : vocab.chars[0]) : prompt;
    const unknown = [...new Set(Array.from(text).filter((ch) => !vocab.index.has(ch)))];
    if (unknown.length) throw new DataError(`the prompt has character${unknown.length > 1 ? 's' : ''} ${unknown.map((ch) => JSON.stringify(ch)).join(', ')} that the model's vocabulary of ${vocab.size} lacks`);
    const [tokens] = await generate(this.backend, spec, [vocab.encode(text)], count, {
      temperature: options.temperature ?? 0.8,
      topK: options.topK ?? 0,
      rng: makeRng(options.seed ?? 0, 'sample'),
      onToken: (_, t) => options.onText?.(vocab.chars[t]),
    });
    return vocab.decode(tokens);
  }

  destroy(): void {
    this.backend.destroy();
  }
}
