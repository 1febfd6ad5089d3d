/**
 * `mdlc score` on a hand-made checkpoint whose probabilities are known exactly: window
 * offsets and stride, bits per character as the mean of −log2 p over each window, the
 * summary and the formats; and bad input (unknown characters, short or empty text, bad flags).
 */
import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../../src/cli/main.js';
import type { Io } from '../../src/cli/common.js';
import { modelHash } from '../../src/driver/index.js';
import { checkpointName, writeCheckpoint } from '../../runtime/checkpoint.js';
import { densityPlotSvg, quantile, summarize, windowStarts } from '../../runtime/score.js';

const tmp = mkdtempSync(join(tmpdir(), 'mdlc-score-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

// A bigram model with tied embeddings: the logits after character t are wte[t] · wte[v]. With
// wte = diag(c) over a 3-letter vocabulary they are c_t² for v = t and 0 otherwise.
const source = `model bigram
dim vocab = data.vocab
dim batch = 2
dim seq   = 4
dim embed = 3
param wte[vocab, embed] init normal(0.02)
forward(tokens: index[batch, seq] of vocab) -> logits {
  return wte[tokens] . wte over embed
}
loss = cross_entropy(logits, targets, over: vocab)
train {
  data      = text("unused.txt", window: seq + 1)
  tokens    = data[0 .. seq]
  targets   = data[1 .. seq + 1]
  optimizer = adamw(lr: 1e-3)
  steps     = 10
}
`;
const c = [1, 1.5, 2];
const vocab = ['a', 'b', 'c'];
const ckpt = join(tmp, 'checkpoints', checkpointName(10));
writeCheckpoint(ckpt, {
  meta: { model: 'bigram', modelHash: modelHash(source, new Map()), vocab, axes: { wte: ['vocab', 'embed'] }, source, overrides: {} },
  params: new Map([['wte', Float32Array.of(c[0], 0, 0, 0, c[1], 0, 0, 0, c[2])]]),
  shapes: new Map([['wte', [3, 3]]]),
  trainer: { format: 'mdlc/1', step: 10, batchesDrawn: 10, seed: 0, modelHash: modelHash(source, new Map()), valLoss: null, bestValLoss: null, elapsedSeconds: 0 },
});

/** −log2 p(next | prev) of the bigram model. */
function bits(prev: string, next: string): number {
  const t = vocab.indexOf(prev);
  const e = Math.exp(Math.fround(c[t] * c[t]));
  return -Math.log2((prev === next ? e : 1) / (e + 2));
}

async function run(argv: string[]) {
  let out = '';
  let err = '';
  const io: Io = { out: (s) => void (out += s + '\n'), err: (s) => void (err += s + '\n'), color: false };
  const code = await main(argv, io);
  return { code, out, err };
}

describe('windows and summaries', () => {
  it('slides by the stride and adds a last window that ends at the text', () => {
    expect(windowStarts(12, 5, 5)).toEqual([0, 5, 7]);
    expect(windowStarts(10, 5, 5)).toEqual([0, 5]);
    expect(windowStarts(10, 5, 2)).toEqual([0, 2, 4, 5]);
    expect(windowStarts(4, 5, 1)).toEqual([]);
    expect(() => windowStarts(10, 5, 0)).toThrow(/stride/);
  });

  it('summarises with interpolated quantiles', () => {
    expect(quantile([1, 2, 3, 4], 0.5)).toBe(2.5);
    expect(quantile([1, 2, 3, 4, 5], 0.25)).toBe(2);
    const s = summarize([3, 1, 2, 10]);
    expect(s).toMatchObject({ windows: 4, mean: 4, median: 2.5, min: 1, max: 10 });
    expect(s.p90).toBeCloseTo(7.9, 12);
  });
});

describe('mdlc score', () => {
  const text = 'aabcccabbb';
  it('gives each window the mean of −log2 p over its characters, at the offsets of the stride', async () => {
    const r = await run(['score', ckpt, '--text', text, '--stride', '3', '--format', 'json', '--backend', 'interpreter']);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    const j = JSON.parse(r.out);
    expect(j.window).toBe(5);
    expect(j.stride).toBe(3);
    // Windows of 5 at 0, 3 and the last at 5; each scores its 4 targets, from offset start + 1.
    expect(j.windows.map((w: { offset: number; text: string }) => [w.offset, w.text])).toEqual([
      [1, 'abcc'],
      [4, 'ccab'],
      [6, 'abbb'],
    ]);
    for (const w of j.windows) {
      const want = [...w.text].reduce((s: number, ch: string, i: number) => s + bits(text[w.offset + i - 1], ch), 0) / 4;
      expect(w.bits_per_char).toBeCloseTo(want, 5);
    }
    // The model always guesses a repeat: after "aabc", the targets "abcc" repeat at the first and last.
    expect(j.windows[0].accuracy).toBe(0.5);
    const values = j.windows.map((w: { bits_per_char: number }) => w.bits_per_char);
    expect(j.summary.mean).toBeCloseTo(values.reduce((a: number, b: number) => a + b, 0) / 3, 12);
    expect(j.summary.windows).toBe(3);
  });

  it('prints a table and a summary, writes CSV, and plots density along the text', async () => {
    const plot = join(tmp, 'density.svg');
    const t = await run(['score', ckpt, '--text', text, '--backend', 'interpreter', '--plot', plot]);
    expect(t.code).toBe(0);
    const lines = t.out.trim().split('\n');
    expect(lines[0]).toMatch(/offset +bits\/char +right +text/);
    expect(lines[1]).toMatch(/^ +1 +\d\.\d{3} +\d+% +abcc$/);
    expect(lines.at(-1)).toMatch(/^2 windows of 5 characters, stride 5: mean \d\.\d{3} bits per character, median/);
    expect(readFileSync(plot, 'utf8')).toMatch(/^<svg[\s\S]*bits per character[\s\S]*mean \d\.\d{3}/);
    const csv = await run(['score', ckpt, '--text', 'abc,"a\nbc', '--backend', 'interpreter', '--format', 'csv', '--stride', '1']);
    expect(csv.code).toBe(1); // ',', '"' and a newline are not in the vocabulary
    const ok = await run(['score', ckpt, '--text', 'abcabca', '--backend', 'interpreter', '--format', 'csv', '--stride', '2']);
    expect(ok.out.trim().split('\n')).toEqual([
      'offset,length,bits_per_char,accuracy,text',
      expect.stringMatching(/^1,4,\d\.\d{6},0\.000000,bcab$/),
      expect.stringMatching(/^3,4,\d\.\d{6},0\.000000,abca$/),
    ]);
  });

  it('reads the text from a file, and names characters outside the vocabulary with their offsets', async () => {
    const file = join(tmp, 'text.txt');
    writeFileSync(file, 'abcaXbcZaX');
    const r = await run(['score', ckpt, '--data', file, '--backend', 'interpreter']);
    expect(r.code).toBe(1);
    expect(r.err.trim()).toBe(`mdlc: the text has 2 characters outside the model's vocabulary of 3: "X" (U+0058) at 4, 9; "Z" (U+005A) at 7`);
  });

  it('refuses text shorter than a window, empty text, both --data and --text, and bad flags', async () => {
    expect((await run(['score', ckpt, '--text', 'abc', '--backend', 'interpreter'])).err).toMatch(/the text has 3 characters, shorter than the model's window of 5/);
    expect((await run(['score', ckpt, '--text', '', '--backend', 'interpreter'])).err).toMatch(/the text to score is empty/);
    const both = await run(['score', ckpt, '--text', 'abcab', '--data', 'x']);
    expect(both.code).toBe(2);
    expect(both.err).toMatch(/not both/);
    expect((await run(['score', ckpt, '--text', 'abcab', '--format', 'xml'])).code).toBe(2);
    expect((await run(['score', ckpt, '--text', 'abcab', '--stride', '0'])).code).toBe(2);
    const missing = await run(['score', join(tmp, 'nothing'), '--text', 'abcab']);
    expect(missing.code).toBe(1);
    expect(missing.err).toMatch(/does not exist/);
  });

  it('plots an empty score without failing', () => {
    expect(densityPlotSvg([], 'x')).toContain('</svg>');
  });
});
