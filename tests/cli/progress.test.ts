/**
 * Progress at the terminal: a live bar with step, loss, tokens/s and time left (cli-progress) on
 * a terminal, with evaluations printed above it; plain lines every N steps without one.
 */
import { describe, expect, it } from 'vitest';
import { plainProgress, terminalProgress } from '../../src/cli/progress.js';
import type { StepEvent } from '../../runtime/loop.js';

const step = (n: number, total = 20): StepEvent => ({ step: n, steps: total, loss: 3 - n / 10, gradNorm: 0.5, lr: 1e-3, tokensPerSecond: 1234.4, elapsedSeconds: n, etaSeconds: total - n });

describe('progress', () => {
  it('prints a plain line on the first step, every N steps and on the last', () => {
    const lines: string[] = [];
    const p = plainProgress((l) => lines.push(l), 5);
    for (let i = 1; i <= 12; i++) {
      p.step(step(i, 12));
      if (i === 10) p.log('step 10: validation loss 2.0000');
    }
    expect(lines.map((l) => l.split(/ +/).slice(0, 2).join(' '))).toEqual(['step 1/12', 'step 5/12', 'step 10/12', 'step 10:', 'step 12/12']);
    expect(lines[1]).toBe('step  5/12  loss 2.5000  lr 1.00e-3  |g| 0.500  1,234 tok/s  eta 7s');
  });

  it('draws a bar with loss, tokens/s and time left on a terminal, and logs above it', () => {
    let out = '';
    const stream = Object.assign(
      {
        isTTY: true,
        columns: 160,
        write: (s: string) => {
          out += s;
          return true;
        },
        cursorTo: () => true,
        clearLine: () => true,
        clearScreenDown: () => true,
        moveCursor: () => true,
        on: () => stream,
        removeListener: () => stream,
      },
      {},
    ) as unknown as NodeJS.WriteStream;
    const p = terminalProgress(stream, 20, 0);
    p.step(step(5));
    p.step(step(20));
    // Logged just before the end: still printed.
    p.log('── validation completions at step 20 ──');
    p.stop();
    const plain = out.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '');
    expect(plain).toMatch(/20\/20 steps │ loss 1\.0000 │ 1,234 tok\/s │ elapsed 20s │ eta 0s/);
    expect(plain).toContain('── validation completions at step 20 ──');
  });
});
