/**
 * The density score: a model's reconstruction (or prediction) loss on every window of a text,
 * in bits per character. For the autoencoder, a window that survives the bottleneck badly
 * carries more information: its score is higher. Browser-safe.
 */
import type { TrainBackend, TrainSpec } from './backend.js';
import type { TokenArray } from './text.js';
import { niceTicks } from './plot.js';
import { scoreWindows } from './sampling.js';

export interface WindowDensity {
  /** Offset of the window's first character in the text. */
  offset: number;
  /** Characters scored (the target slice of the window). */
  length: number;
  /** Mean of −log2 p(character) over the scored characters. */
  bitsPerChar: number;
  /** Share of characters the model's most likely guess gets right. */
  accuracy: number;
}

export interface DensitySummary {
  windows: number;
  mean: number;
  median: number;
  /** 10th, 25th, 75th and 90th percentiles. */
  p10: number;
  p25: number;
  p75: number;
  p90: number;
  min: number;
  max: number;
}

/**
 * Window starts every `stride` characters over `length` tokens; when the last window stops
 * short of the end, one more ends exactly there, so every character is scored.
 */
export function windowStarts(length: number, window: number, stride: number): number[] {
  if (!Number.isInteger(stride) || stride < 1) throw new Error(`stride must be a whole number >= 1, got ${stride}`);
  if (length < window) return [];
  const out: number[] = [];
  for (let s = 0; s + window <= length; s += stride) out.push(s);
  if (out[out.length - 1] + window < length) out.push(length - window);
  return out;
}

/** Scores every window of `tokens` (starts from `windowStarts`). */
export async function densityOf(backend: TrainBackend, spec: TrainSpec, tokens: TokenArray, stride: number): Promise<WindowDensity[]> {
  const starts = windowStarts(tokens.length, spec.window, stride);
  const scores = await scoreWindows(backend, spec, tokens, starts);
  const target = spec.slices.find((s) => s.name === spec.target)!;
  return scores.map((s) => ({ offset: s.start + target.start, length: s.count, bitsPerChar: s.nll / s.count / Math.LN2, accuracy: s.correct / s.count }));
}

/** The value at quantile q (0..1) of sorted values, interpolated linearly. */
export function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return NaN;
  const at = q * (sorted.length - 1);
  const lo = Math.floor(at);
  const hi = Math.ceil(at);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (at - lo);
}

export function summarize(values: readonly number[]): DensitySummary {
  const sorted = [...values].sort((a, b) => a - b);
  return {
    windows: values.length,
    mean: values.reduce((a, b) => a + b, 0) / Math.max(1, values.length),
    median: quantile(sorted, 0.5),
    p10: quantile(sorted, 0.1),
    p25: quantile(sorted, 0.25),
    p75: quantile(sorted, 0.75),
    p90: quantile(sorted, 0.9),
    min: sorted[0] ?? NaN,
    max: sorted[sorted.length - 1] ?? NaN,
  };
}

/** Density along the text as an SVG: bits per character of each window at its offset. */
export function densityPlotSvg(windows: readonly WindowDensity[], title: string): string {
  const W = 720;
  const H = 320;
  const M = { left: 64, right: 24, top: 40, bottom: 48 };
  const xs = windows.map((w) => w.offset + w.length / 2);
  const ys = windows.map((w) => w.bitsPerChar);
  const x0 = Math.min(0, ...xs);
  const x1 = Math.max(x0 + 1, ...windows.map((w) => w.offset + w.length));
  const y1 = Math.max(1, ...ys) * 1.05;
  const x = (v: number) => M.left + ((v - x0) / (x1 - x0)) * (W - M.left - M.right);
  const y = (v: number) => M.top + (1 - v / y1) * (H - M.top - M.bottom);
  const parts = [`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`, `<rect width="${W}" height="${H}" fill="white"/>`];
  parts.push(`<text x="${W / 2}" y="22" text-anchor="middle" font-size="14">${title.replace(/&/g, '&amp;').replace(/</g, '&lt;')}</text>`);
  for (const t of niceTicks(0, y1)) {
    parts.push(`<line x1="${M.left}" x2="${W - M.right}" y1="${y(t).toFixed(1)}" y2="${y(t).toFixed(1)}" stroke="#e5e5e5"/>`);
    parts.push(`<text x="${M.left - 6}" y="${(y(t) + 4).toFixed(1)}" text-anchor="end">${t}</text>`);
  }
  for (const t of niceTicks(x0, x1, 6).filter((v) => v >= x0 && v <= x1)) parts.push(`<text x="${x(t).toFixed(1)}" y="${H - M.bottom + 18}" text-anchor="middle">${t}</text>`);
  parts.push(`<line x1="${M.left}" x2="${W - M.right}" y1="${H - M.bottom}" y2="${H - M.bottom}" stroke="#333"/>`);
  parts.push(`<line x1="${M.left}" x2="${M.left}" y1="${M.top}" y2="${H - M.bottom}" stroke="#333"/>`);
  parts.push(`<text x="${W / 2}" y="${H - 10}" text-anchor="middle">character offset in the text</text>`);
  parts.push(`<text x="16" y="${H / 2}" text-anchor="middle" transform="rotate(-90 16 ${H / 2})">bits per character</text>`);
  if (windows.length) {
    parts.push(`<path d="${xs.map((v, i) => `${i ? 'L' : 'M'}${x(v).toFixed(1)},${y(ys[i]).toFixed(1)}`).join('')}" fill="none" stroke="#6a51a3" stroke-width="1.5"/>`);
    const mean = ys.reduce((a, b) => a + b, 0) / ys.length;
    parts.push(`<line x1="${M.left}" x2="${W - M.right}" y1="${y(mean).toFixed(1)}" y2="${y(mean).toFixed(1)}" stroke="#d94801" stroke-dasharray="4 3"/>`);
    parts.push(`<text x="${W - M.right}" y="${(y(mean) - 4).toFixed(1)}" text-anchor="end" fill="#d94801">mean ${mean.toFixed(3)}</text>`);
  }
  parts.push('</svg>');
  return parts.join('\n') + '\n';
}

/** Loss over a whole token split: every target scored once (windows side by side; a tail shorter than one is left out). */
export interface SplitLoss {
  /** Mean −ln p over the scored characters (the training loss's unit). */
  loss: number;
  bitsPerChar: number;
  accuracy: number;
  characters: number;
  windows: number;
}

export async function evaluateSplit(backend: TrainBackend, spec: TrainSpec, tokens: TokenArray): Promise<SplitLoss> {
  const target = spec.slices.find((s) => s.name === spec.target);
  if (!target) throw new Error(`model ${spec.model} has no target slice`);
  const starts: number[] = [];
  for (let s = 0; s + spec.window <= tokens.length; s += target.end - target.start) starts.push(s);
  const scores = await scoreWindows(backend, spec, tokens, starts);
  let nll = 0;
  let count = 0;
  let correct = 0;
  for (const s of scores) {
    nll += s.nll;
    count += s.count;
    correct += s.correct;
  }
  return { loss: nll / count, bitsPerChar: nll / count / Math.LN2, accuracy: correct / count, characters: count, windows: scores.length };
}
