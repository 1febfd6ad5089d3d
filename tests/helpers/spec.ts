/** A small TrainSpec and a deterministic fake backend, for testing the loop and sampling without a model. */
import type { Feeds, StepResult, StepScalars, TensorMap, TrainBackend, TrainSpec } from '../../runtime/backend.js';

export function tinySpec(over: Partial<TrainSpec> = {}): TrainSpec {
  return {
    model: 'toy',
    dataset: 'toy.txt',
    window: 5,
    batch: 2,
    slices: [
      { name: 'tokens', start: 0, end: 4 },
      { name: 'targets', start: 1, end: 5 },
    ],
    steps: 12,
    evalEvery: 4,
    evalBatches: 2,
    seed: 7,
    valFraction: 0.1,
    optimizer: { lr: 0.1, beta1: 0.9, beta2: 0.99, eps: 1e-8, weightDecay: 0 },
    schedule: { kind: 'warmup_cosine', warmup: 3, minLr: 0.01 },
    clip: 1,
    vocab: 6,
    task: 'next-token',
    input: 'tokens',
    target: 'targets',
    logits: {
      axes: [
        { name: 'batch', size: 2 },
        { name: 'seq', size: 4 },
        { name: 'vocab', size: 6 },
      ],
      batch: 0,
      position: 1,
      vocab: 2,
    },
    params: [{ name: 'w', axes: [{ name: 'vocab', size: 6 }], lr: 0.1, lrGroup: 0, weightDecay: 0 }],
    ...over,
  };
}

/**
 * A backend whose "model" predicts token (t + shift) mod vocab after token t, with its
 * confidence as the one parameter `w`; a step moves `w` by the learning rate. It records
 * every call so tests can check what the loop fed it and in which order.
 */
export class FakeBackend implements TrainBackend {
  readonly kind = 'fake';
  readonly description = 'a fake backend';
  w = 0;
  m = 0;
  shift = 1;
  /** Per trainStep: the first token of the batch, the scalars, and how many steps were in flight when it was submitted. */
  steps: { first: number; tokens: number[]; scalars: StepScalars; inFlight: number }[] = [];
  forwards: Int32Array[] = [];
  evals = 0;
  inFlight = 0;
  maxInFlight = 0;
  /** Losses to return instead of the computed one, by 0-based step. */
  lossAt = new Map<number, number>();

  async trainStep(feeds: Feeds, scalars: StepScalars): Promise<StepResult> {
    const tokens = feeds.get('tokens')!;
    const index = this.steps.length;
    this.steps.push({ first: tokens[0], tokens: Array.from(tokens), scalars, inFlight: this.inFlight });
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    await new Promise((r) => setTimeout(r, 1));
    this.inFlight--;
    const loss = this.lossAt.get(index) ?? 1 / (1 + this.w);
    this.w += scalars.lr[0];
    this.m += 1;
    return { loss, gradNorm: 0.5 };
  }
  async evalLoss(): Promise<number> {
    this.evals++;
    return 1 / (1 + this.w) + 0.01;
  }
  async forward(feeds: Feeds): Promise<Float32Array<ArrayBuffer>> {
    const tokens = feeds.get('tokens')!;
    this.forwards.push(Int32Array.from(tokens));
    const [B, S, V] = [2, 4, 6];
    const out = new Float32Array(B * S * V);
    for (let b = 0; b < B; b++)
      for (let s = 0; s < S; s++) {
        const next = (tokens[b * S + s] + this.shift) % V;
        out[(b * S + s) * V + next] = 5 + this.w;
      }
    return out;
  }
  async getParams(): Promise<TensorMap> {
    return new Map([['w', Float32Array.of(this.w)]]);
  }
  async setParams(v: ReadonlyMap<string, Float32Array<ArrayBuffer>>): Promise<void> {
    this.w = v.get('w')![0];
  }
  async getState(): Promise<TensorMap> {
    return new Map([
      ['m.w', Float32Array.of(this.m)],
      ['v.w', Float32Array.of(0)],
    ]);
  }
  async setState(v: ReadonlyMap<string, Float32Array<ArrayBuffer>>): Promise<void> {
    this.m = v.get('m.w')![0];
  }
  destroy(): void {}
}

/** Tokens 0..vocab-1 repeating: every window is predictable with shift 1. */
export function cyclicTokens(n: number, vocab = 6): Int32Array {
  return Int32Array.from({ length: n }, (_, i) => i % vocab);
}
