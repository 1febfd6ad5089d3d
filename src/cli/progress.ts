/**
 * Training progress at the terminal: on a terminal, a live bar (cli-progress) with the step,
 * loss, tokens/s and ETA, with evaluations and samples printed above it; without one (CI,
 * pipes), one plain line every `logEvery` steps.
 */
import cliProgress from 'cli-progress';
import type { StepEvent } from '../../runtime/loop.js';
import { formatDuration, formatStepLine } from '../../runtime/format.js';

export interface Progress {
  step(e: StepEvent): void;
  /** A block of text for the person (evaluation, samples), above the bar on a terminal. */
  log(text: string): void;
  stop(): void;
}

export function plainProgress(write: (line: string) => void, logEvery: number): Progress {
  return {
    step(e) {
      if (e.step % logEvery === 0 || e.step === e.steps || e.step === 1) write(formatStepLine(e));
    },
    log: write,
    stop() {},
  };
}

export function terminalProgress(stream: NodeJS.WriteStream, total: number, startAt: number): Progress {
  const bars = new cliProgress.MultiBar(
    {
      stream,
      format: ' {bar} {value}/{total} steps │ loss {loss} │ {speed} tok/s │ elapsed {elapsed} │ eta {remaining}',
      barsize: 30,
      hideCursor: true,
      clearOnComplete: false,
      stopOnComplete: false,
      fps: 5,
    },
    cliProgress.Presets.shades_classic,
  );
  const bar = bars.create(total, startAt, { loss: '-', speed: '-', elapsed: '0s', remaining: '?' });
  return {
    step(e) {
      bar.update(e.step, {
        loss: e.loss.toFixed(4),
        speed: e.tokensPerSecond > 0 ? Math.round(e.tokensPerSecond).toLocaleString('en-US') : '-',
        elapsed: formatDuration(e.elapsedSeconds),
        remaining: e.step < e.steps && e.etaSeconds > 0 ? formatDuration(e.etaSeconds) : e.step === e.steps ? '0s' : '?',
      });
    },
    // MultiBar prints logged text at its next redraw, and stop() does not redraw: redraw now,
    // so that nothing logged just before the end is lost.
    log(text) {
      bars.log(text.endsWith('\n') ? text : text + '\n');
      bars.update();
    },
    stop() {
      bars.update();
      bars.stop();
    },
  };
}
