/**
 * Sampling and scoring on logits: where (row, position, token) lies in any axis order, the
 * token drawn (greedy, top-k, temperature), generation that appends the newly drawn token and
 * crops the context to the window, and per-window losses as −ln p of the targets.
 */
import { describe, expect, it } from 'vitest';
import { fixedStarts, generate, logitsLayout, logSoftmaxAt, pickToken, scoreWindows, validationSamples } from '../../runtime/sampling.js';
import { makeRng } from '../../runtime/random.js';
import { cyclicTokens, FakeBackend, tinySpec } from '../helpers/spec.js';

describe('logitsLayout', () => {
  it('finds row, position and token strides whatever the axis order', () => {
    const spec = tinySpec({
      logits: {
        axes: [
          { name: 'seq', size: 4 },
          { name: 'vocab', size: 6 },
          { name: 'batch', size: 2 },
        ],
        batch: 2,
        position: 0,
        vocab: 1,
      },
    });
    const l = logitsLayout(spec);
    expect(l).toEqual({ rows: 2, positions: 4, vocab: 6, rowStride: 1, positionStride: 12, vocabStride: 2 });
    // element (row 1, position 3, token 5) of a [seq, vocab, batch] array
    const logits = new Float32Array(48);
    logits[3 * 12 + 5 * 2 + 1] = 10;
    const lp = logSoftmaxAt(logits, l, 1, 3);
    let best = 0;
    for (let v = 1; v < 6; v++) if (lp[v] > lp[best]) best = v;
    expect(best).toBe(5);
    expect(lp.reduce((s, x) => s + Math.exp(x), 0)).toBeCloseTo(1, 12);
  });
});

describe('pickToken', () => {
  const logp = Float64Array.from([0.1, 0.5, 0.3, 0.1].map(Math.log));
  it('is the most likely token at temperature 0', () => {
    expect(pickToken(logp, { temperature: 0 }, makeRng(1))).toBe(1);
  });
  it('samples in proportion to the probabilities at temperature 1', () => {
    const rng = makeRng(3);
    const counts = [0, 0, 0, 0];
    for (let i = 0; i < 20000; i++) counts[pickToken(logp, {}, rng)]++;
    expect(counts[1] / 20000).toBeCloseTo(0.5, 1);
    expect(counts[2] / 20000).toBeCloseTo(0.3, 1);
  });
  it('never picks outside the top k', () => {
    const rng = makeRng(5);
    const seen = new Set<number>();
    for (let i = 0; i < 2000; i++) seen.add(pickToken(logp, { topK: 2 }, rng));
    expect([...seen].sort()).toEqual([1, 2]);
  });
  it('sharpens with a low temperature', () => {
    const rng = makeRng(9);
    let ones = 0;
    for (let i = 0; i < 2000; i++) ones += pickToken(logp, { temperature: 0.2 }, rng) === 1 ? 1 : 0;
    expect(ones / 2000).toBeGreaterThan(0.9);
  });
});

describe('generate', () => {
  it('appends each newly drawn token (not the last character of the context) and crops the context to the window', async () => {
    const backend = new FakeBackend();
    backend.shift = 2; // the fake model predicts t + 2 after t
    const spec = tinySpec();
    const seen: number[] = [];
    const [out] = await generate(backend, spec, [Int32Array.of(0, 1)], 6, { temperature: 0, rng: makeRng(1), onToken: (_, t) => seen.push(t) });
    // after 1 comes 3, then 5, 1, 3, 5, 1
    expect([...out]).toEqual([3, 5, 1, 3, 5, 1]);
    expect(seen).toEqual([...out]);
    // Row 0 of each forward: the context right-padded while shorter than 4, then its last 4 tokens.
    expect([...backend.forwards[0].subarray(0, 4)]).toEqual([0, 1, 0, 0]);
    expect([...backend.forwards[1].subarray(0, 4)]).toEqual([0, 1, 3, 0]);
    expect([...backend.forwards[2].subarray(0, 4)]).toEqual([0, 1, 3, 5]);
    expect([...backend.forwards[3].subarray(0, 4)]).toEqual([1, 3, 5, 1]);
    expect([...backend.forwards[5].subarray(0, 4)]).toEqual([5, 1, 3, 5]);
  });

  it('continues several contexts at once, one per row', async () => {
    const backend = new FakeBackend();
    const out = await generate(backend, tinySpec(), [Int32Array.of(4), Int32Array.of(0, 0, 2)], 3, { temperature: 0, rng: makeRng(1) });
    expect(out.map((o) => [...o])).toEqual([
      [5, 0, 1],
      [3, 4, 5],
    ]);
    expect(backend.forwards).toHaveLength(3);
  });

  it('refuses an empty context and more contexts than rows', async () => {
    const backend = new FakeBackend();
    await expect(generate(backend, tinySpec(), [new Int32Array(0)], 1, { rng: makeRng(1) })).rejects.toThrow(/empty/);
    await expect(generate(backend, tinySpec(), [Int32Array.of(1), Int32Array.of(1), Int32Array.of(1)], 1, { rng: makeRng(1) })).rejects.toThrow(/3 contexts for 2 rows/);
  });
});

describe('scoreWindows', () => {
  it('sums −ln p of every target, counts the right guesses, and skips the padding rows', async () => {
    const backend = new FakeBackend();
    const tokens = cyclicTokens(30);
    tokens[12] = 3; // the window at 9 now has a target the model cannot guess, and a wrong input before the last
    const scores = await scoreWindows(backend, tinySpec(), tokens, [0, 9, 20]);
    expect(scores.map((s) => s.start)).toEqual([0, 9, 20]);
    // A right guess has logit 5 against five zeros: p = e^5 / (e^5 + 5).
    const right = -Math.log(Math.exp(5) / (Math.exp(5) + 5));
    const wrong = -Math.log(1 / (Math.exp(5) + 5));
    expect(scores[0].nll).toBeCloseTo(4 * right, 5);
    expect(scores[0].correct).toBe(4);
    expect(scores[1].nll).toBeCloseTo(2 * right + 2 * wrong, 5); // target 12 is wrong, and so is the prediction after it
    expect(scores[1].correct).toBe(2);
    expect(scores[2].count).toBe(4);
    expect(backend.forwards).toHaveLength(2);
  });
});

describe('validation samples', () => {
  it('shows reconstructions for an autoencoder, with the share of characters right', async () => {
    const backend = new FakeBackend();
    backend.shift = 0; // rebuilds its input
    const spec = tinySpec({
      task: 'reconstruct',
      window: 4,
      slices: [
        { name: 'tokens', start: 0, end: 4 },
        { name: 'targets', start: 0, end: 4 },
      ],
    });
    const s = await validationSamples(backend, spec, cyclicTokens(41), (t) => Array.from(t, (x) => 'abcdef'[x]).join(''), { count: 2, length: 10, rng: makeRng(1) });
    expect(s).toEqual([
      { kind: 'reconstruction', input: 'abcd', output: 'abcd', accuracy: 1 },
      { kind: 'reconstruction', input: 'bcde', output: 'bcde', accuracy: 1 },
    ]);
  });

  it('spreads its windows evenly over the text', () => {
    expect(fixedStarts(100, 10, 3)).toEqual([0, 45, 90]);
    expect(fixedStarts(100, 10, 1)).toEqual([45]);
    expect(fixedStarts(5, 10, 3)).toEqual([]);
  });
});

describe('evaluateSplit', () => {
  it('scores every target of a split once, windows side by side, leaving out a tail shorter than one', async () => {
    const { evaluateSplit } = await import('../../runtime/score.js');
    const backend = new FakeBackend();
    const r = await evaluateSplit(backend, tinySpec(), cyclicTokens(30));
    expect(r.windows).toBe(7); // starts 0, 4, ..., 24: each scores the 4 characters after its first
    expect(r.characters).toBe(28);
    const right = -Math.log(Math.exp(5) / (Math.exp(5) + 5));
    expect(r.loss).toBeCloseTo(right, 6);
    expect(r.bitsPerChar).toBeCloseTo(right / Math.LN2, 6);
    expect(r.accuracy).toBe(1);
  });
});
