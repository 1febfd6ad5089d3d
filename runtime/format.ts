/**
 * What a person reads during training, as plain text: a step's line, durations, and
 * validation samples beside the truth. Shared by the `mdlc train` command, generated
 * programs and run directories' samples.txt. Browser-safe.
 */
import type { StepEvent } from './loop.js';
import type { Sample } from './sampling.js';

/** `1h02m`, `3m07s`, `12s`. */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '?';
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m`;
}

/** One line per logged step: `step  250/2000  loss 1.9234  lr 9.51e-4  |g| 0.412  1,830 tok/s  eta 14m02s`. */
export function formatStepLine(e: StepEvent, val?: number): string {
  const w = String(e.steps).length;
  const v = val !== undefined ? `  val ${val.toFixed(4)}` : '';
  const speed = e.tokensPerSecond > 0 ? `  ${Math.round(e.tokensPerSecond).toLocaleString('en-US')} tok/s` : '';
  const eta = e.step < e.steps && e.etaSeconds > 0 ? `  eta ${formatDuration(e.etaSeconds)}` : '';
  return `step ${String(e.step).padStart(w)}/${e.steps}  loss ${e.loss.toFixed(4)}${v}  lr ${e.lr.toExponential(2)}  |g| ${e.gradNorm.toFixed(3)}${speed}${eta}`;
}

/** Control characters of the data shown as escapes, newlines as ⏎: one sample, one line. */
export function visibleText(s: string): string {
  return s.replace(/\n/g, '⏎').replace(/[\x00-\x1f\x7f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

/** Samples as a person reads them: each prompt with the model's and the true continuation. */
export function formatSamples(step: number, samples: readonly Sample[], options: { color: boolean }): string {
  const dim = (s: string) => (options.color ? `\x1b[2m${s}\x1b[0m` : s);
  const bold = (s: string) => (options.color ? `\x1b[1m${s}\x1b[0m` : s);
  const kind = samples[0]?.kind === 'reconstruction' ? 'reconstructions' : 'completions';
  const lines = [`── validation ${kind} at step ${step} ──`];
  samples.forEach((s, i) => {
    if (s.kind === 'completion') {
      lines.push(`[${i + 1}] prompt │ ${visibleText(s.prompt)}`);
      lines.push(`    model  │ ${bold(visibleText(s.output))}`);
      lines.push(`    truth  │ ${dim(visibleText(s.truth))}`);
    } else {
      lines.push(`[${i + 1}] input  │ ${visibleText(s.input)}`);
      lines.push(`    output │ ${bold(visibleText(s.output))}  (${(100 * s.accuracy).toFixed(1)}% of characters right)`);
    }
  });
  return lines.join('\n');
}
