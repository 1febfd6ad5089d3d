/**
 * Reading what a model learned, on any backend: sampling text from next-token logits
 * (temperature, top-k, greedy), validation completions and reconstructions shown during
 * training, and per-window losses (for a validation split or a density score).
 * Browser-safe: no Node imports.
 */
import type { TrainBackend, TrainSpec } from './backend.js';
import type { Rng } from './random.js';
import type { TokenArray } from './text.js';

/** Where element (row, position, token) of `forward`'s logits lies: row-major strides per role. */
export interface LogitsLayout {
  rows: number;
  positions: number;
  vocab: number;
  rowStride: number;
  positionStride: number;
  vocabStride: number;
}

export function logitsLayout(spec: TrainSpec): LogitsLayout {
  const axes = spec.logits.axes;
  if (axes.length !== 3) throw new Error(`the logits have axes [${axes.map((a) => a.name).join(', ')}]; sampling needs [batch, position, vocab]`);
  const strides = axes.map((_, i) => axes.slice(i + 1).reduce((s, a) => s * a.size, 1));
  return {
    rows: axes[spec.logits.batch].size,
    positions: axes[spec.logits.position].size,
    vocab: axes[spec.logits.vocab].size,
    rowStride: strides[spec.logits.batch],
    positionStride: strides[spec.logits.position],
    vocabStride: strides[spec.logits.vocab],
  };
}

/** Log-probabilities of every token at (row, position), from the logits. */
export function logSoftmaxAt(logits: ArrayLike<number>, layout: LogitsLayout, row: number, position: number): Float64Array {
  const base = row * layout.rowStride + position * layout.positionStride;
  const out = new Float64Array(layout.vocab);
  let max = -Infinity;
  for (let v = 0; v < layout.vocab; v++) {
    out[v] = logits[base + v * layout.vocabStride];
    if (out[v] > max) max = out[v];
  }
  let sum = 0;
  for (let v = 0; v < layout.vocab; v++) sum += Math.exp(out[v] - max);
  const lse = max + Math.log(sum);
  for (let v = 0; v < layout.vocab; v++) out[v] -= lse;
  return out;
}

export interface SampleOptions {
  /** 0 picks the most likely token (greedy); otherwise logits are divided by it. Default 1. */
  temperature?: number;
  /** Sample among the k most likely tokens only (0 or undefined: all). */
  topK?: number;
}

/** One token drawn from log-probabilities. */
export function pickToken(logp: Float64Array, options: SampleOptions, rng: Rng): number {
  const t = options.temperature ?? 1;
  let best = 0;
  for (let v = 1; v < logp.length; v++) if (logp[v] > logp[best]) best = v;
  if (t === 0) return best;
  let candidates = Array.from(logp.keys());
  const k = options.topK ?? 0;
  if (k > 0 && k < logp.length) candidates = candidates.sort((a, b) => logp[b] - logp[a] || a - b).slice(0, k);
  const weights = candidates.map((v) => Math.exp((logp[v] - logp[best]) / t));
  const total = weights.reduce((a, b) => a + b, 0);
  let r = rng.next() * total;
  for (let i = 0; i < candidates.length; i++) {
    r -= weights[i];
    if (r < 0) return candidates[i];
  }
  return candidates[candidates.length - 1];
}

/**
 * Continue each context by `count` tokens. Every step runs the forward pass once for all
 * rows: row r holds the last `positions` tokens of its sequence (right-padded while shorter,
 * which a causal model does not see), and the token drawn from the logits at its last real
 * position is appended to that sequence — the newly generated token, never a character of
 * the previous context. `onToken` sees each token as it is drawn.
 */
export async function generate(
  backend: TrainBackend,
  spec: TrainSpec,
  contexts: readonly ArrayLike<number>[],
  count: number,
  options: SampleOptions & { rng: Rng; onToken?: (row: number, token: number) => void },
): Promise<Int32Array[]> {
  const layout = logitsLayout(spec);
  if (contexts.length === 0 || contexts.length > layout.rows) throw new Error(`generate: ${contexts.length} contexts for ${layout.rows} rows`);
  if (contexts.some((c) => c.length === 0)) throw new Error('generate: a context is empty (give at least one token)');
  const sequences = contexts.map((c) => Array.from(c));
  const n = layout.positions;
  const input = new Int32Array(layout.rows * n);
  for (let i = 0; i < count; i++) {
    input.fill(0);
    sequences.forEach((seq, r) => input.set(seq.slice(-n), r * n));
    const logits = await backend.forward(new Map([[spec.input, input]]));
    sequences.forEach((seq, r) => {
      const token = pickToken(logSoftmaxAt(logits, layout, r, Math.min(seq.length, n) - 1), options, options.rng);
      seq.push(token);
      options.onToken?.(r, token);
    });
  }
  return sequences.map((seq, r) => Int32Array.from(seq.slice(contexts[r].length)));
}

/** Per-window reconstruction or prediction quality, from one forward pass per batch. */
export interface WindowScore {
  /** Start of the window in the token array. */
  start: number;
  /** Sum over target positions of −ln p(target). */
  nll: number;
  /** Target positions scored. */
  count: number;
  /** Positions where the most likely token is the target. */
  correct: number;
  /** The most likely token at every target position. */
  argmax: Int32Array;
}

/**
 * Scores windows of `tokens` starting at `starts`: for each, the model reads the input slice
 * and is scored on the target slice (the train section's `tokens` and `targets`). Batches are
 * filled with copies of the last window where `starts` runs out; those rows are not scored.
 */
export async function scoreWindows(backend: TrainBackend, spec: TrainSpec, tokens: TokenArray, starts: readonly number[]): Promise<WindowScore[]> {
  const layout = logitsLayout(spec);
  const inSlice = spec.slices.find((s) => s.name === spec.input)!;
  const target = spec.slices.find((s) => s.name === spec.target);
  if (!target) throw new Error(`model ${spec.model} has no target slice to score against`);
  const len = inSlice.end - inSlice.start;
  const out: WindowScore[] = [];
  for (let b0 = 0; b0 < starts.length; b0 += layout.rows) {
    const rows = starts.slice(b0, b0 + layout.rows);
    const input = new Int32Array(layout.rows * len);
    for (let r = 0; r < layout.rows; r++) {
      const s = rows[Math.min(r, rows.length - 1)];
      if (s < 0 || s + spec.window > tokens.length) throw new Error(`scoreWindows: window at ${s} runs past the ${tokens.length} tokens`);
      input.set(tokens.subarray(s + inSlice.start, s + inSlice.end), r * len);
    }
    const logits = await backend.forward(new Map([[spec.input, input]]));
    rows.forEach((s, r) => {
      const n = target.end - target.start;
      const argmax = new Int32Array(n);
      let nll = 0;
      let correct = 0;
      for (let p = 0; p < n; p++) {
        const logp = logSoftmaxAt(logits, layout, r, p);
        const t = tokens[s + target.start + p];
        nll -= logp[t];
        let best = 0;
        for (let v = 1; v < logp.length; v++) if (logp[v] > logp[best]) best = v;
        argmax[p] = best;
        if (best === t) correct++;
      }
      out.push({ start: s, nll, count: n, correct, argmax });
    });
  }
  return out;
}

/** What the person watching training reads at each evaluation. */
export type Sample =
  | { kind: 'completion'; prompt: string; output: string; truth: string }
  | { kind: 'reconstruction'; input: string; output: string; accuracy: number };

/** Evenly spaced window starts over `length` tokens, the same at every evaluation. */
export function fixedStarts(length: number, window: number, count: number): number[] {
  const last = length - window;
  if (last < 0 || count <= 0) return [];
  if (count === 1) return [Math.floor(last / 2)];
  return Array.from({ length: count }, (_, i) => Math.round((i * last) / (count - 1)));
}

/**
 * Validation samples: for a next-token model, prompts cut from fixed places of the
 * validation text, continued by the model beside the true continuation (drawn at
 * `temperature` from `rng`, greedy at 0: greedy text of a small model loops on its most
 * likely words); for an autoencoder, fixed validation windows beside their reconstructions.
 */
export async function validationSamples(
  backend: TrainBackend,
  spec: TrainSpec,
  val: TokenArray,
  decode: (tokens: ArrayLike<number>) => string,
  options: { count: number; length: number; rng: Rng; temperature?: number },
): Promise<Sample[]> {
  const layout = logitsLayout(spec);
  const count = Math.min(options.count, layout.rows);
  if (count <= 0) return [];
  if (spec.task === 'reconstruct') {
    const scores = await scoreWindows(backend, spec, val, fixedStarts(val.length, spec.window, count));
    const target = spec.slices.find((s) => s.name === spec.target)!;
    return scores.map((s) => ({
      kind: 'reconstruction' as const,
      input: decode(val.subarray(s.start + target.start, s.start + target.end)),
      output: decode(s.argmax),
      accuracy: s.correct / s.count,
    }));
  }
  if (spec.task !== 'next-token') return [];
  const promptLength = Math.max(1, Math.min(layout.positions, 32));
  const starts = fixedStarts(val.length, promptLength + options.length, count);
  if (!starts.length) return [];
  const prompts = starts.map((s) => val.slice(s, s + promptLength));
  const outputs = await generate(backend, spec, prompts, options.length, { temperature: options.temperature ?? 0, rng: options.rng });
  return starts.map((s, i) => ({
    kind: 'completion' as const,
    prompt: decode(prompts[i]),
    output: decode(outputs[i]),
    truth: decode(val.subarray(s + promptLength, s + promptLength + options.length)),
  }));
}
