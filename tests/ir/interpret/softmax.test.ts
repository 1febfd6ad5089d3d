import { describe, expect, it } from 'vitest';
import { diffTensors, get } from '../../../src/ir/tensor/tensor.js';
import { makeRng } from '../../../src/ir/interpret/random.js';
import { F32, axes, expectValues, f32, i32, names, run } from './helpers.js';

const LN2 = Math.log(2);
const LN3 = Math.log(3);

describe('softmax', () => {
  const { r, v } = axes({ r: 2, v: 3 });

  it('normalises exp along the axis (hand values)', () => {
    const p = run({ op: 'softmax', axis: v }, [f32([r, v], [0, LN2, LN3, 5, 5, 5])]);
    expect(names(p)).toEqual(['r', 'v']);
    expectValues(p, [1 / 6, 1 / 3, 1 / 2, 1 / 3, 1 / 3, 1 / 3], 1e-15);
  });

  it('works over an axis that is not the innermost', () => {
    const p = run({ op: 'softmax', axis: v }, [f32([v, r], [0, 5, LN2, 5, LN3, 5])]);
    expect(names(p)).toEqual(['v', 'r']);
    expectValues(p, [1 / 6, 1 / 3, 1 / 3, 1 / 3, 1 / 2, 1 / 3], 1e-15);
  });

  it('rows sum to 1 and adding a constant changes nothing (no overflow at 1000)', () => {
    const { a, b, c } = axes({ a: 3, b: 4, c: 5 });
    const rng = makeRng(1, 'softmax');
    const data = Array.from({ length: 60 }, () => 3 * rng.normal());
    const x = f32([a, b, c], data);
    const p = run({ op: 'softmax', axis: b }, [x]);
    for (let i = 0; i < 3; i++)
      for (let k = 0; k < 5; k++) {
        let sum = 0;
        for (let j = 0; j < 4; j++) sum += get(p, { a: i, b: j, c: k });
        expect(sum).toBeCloseTo(1, 14);
      }
    const shifted = run({ op: 'softmax', axis: b }, [f32([a, b, c], data.map((d) => d + 1000))]);
    expect(diffTensors(shifted, p, 1e-10, 1e-14).message).toBe('');
  });

  it('gives exact zeros for -inf entries and NaN for an all -inf row', () => {
    const p = run({ op: 'softmax', axis: v }, [f32([r, v], [0, -Infinity, 0, -Infinity, -Infinity, -Infinity])]);
    expectValues(p, [0.5, 0, 0.5, NaN, NaN, NaN]);
  });

  it('is a causal attention pattern after where(key > seq, -inf, s)', () => {
    const { seq, key } = axes({ seq: 3, key: 3 });
    const mask = run({ op: 'compare', fn: 'gt' }, [run({ op: 'iota', axis: key }, []), run({ op: 'iota', axis: seq }, [])]);
    const s = f32([seq, key], [0, 0, 0, 0, 0, 0, 0, 0, 0]);
    const masked = run({ op: 'where' }, [mask, f32([], [-Infinity]), s]);
    const p = run({ op: 'softmax', axis: key }, [masked]);
    expect(get(p, { seq: 0, key: 0 })).toBe(1);
    expect(get(p, { seq: 0, key: 1 })).toBe(0);
    expect(get(p, { seq: 1, key: 1 })).toBe(0.5);
    expect(get(p, { seq: 2, key: 2 })).toBeCloseTo(1 / 3, 15);
  });

  it('returns f32 at f32 precision', () => {
    const p = run({ op: 'softmax', axis: v }, [f32([r, v], [0, LN2, LN3, 1, 2, 3])], F32);
    expect(p.data).toBeInstanceOf(Float32Array);
    expect(p.data[0]).toBe(Math.fround(1 / 6));
  });
});

describe('cross_entropy', () => {
  const { pos, vocab, b, s } = axes({ pos: 2, vocab: 5, b: 2, s: 3 });

  it('is ln(V) for uniform logits', () => {
    const loss = run({ op: 'cross_entropy', axis: vocab }, [f32([pos, vocab], new Array(10).fill(0.7)), i32([pos], [0, 4], vocab)]);
    expect(loss.type.axes).toEqual([]);
    expectValues(loss, [Math.log(5)], 1e-15);
  });

  it('is the mean of logsumexp - logit[target] (hand value)', () => {
    const { v3 } = axes({ v3: 3 });
    // row [0, ln2, ln3]: logsumexp = ln 6; target 2 -> ln 6 - ln 3 = ln 2; target 0 -> ln 6
    const logits = f32([pos, v3], [0, LN2, LN3, 0, LN2, LN3]);
    const loss = run({ op: 'cross_entropy', axis: v3 }, [logits, i32([pos], [2, 0], v3)]);
    expectValues(loss, [(LN2 + Math.log(6)) / 2], 1e-15);
  });

  it('aligns targets to logits by axis identity and is stable for large logits', () => {
    const rng = makeRng(2, 'ce');
    const raw = Array.from({ length: 30 }, () => 2 * rng.normal());
    const logits = f32([b, vocab, s], raw); // vocab in the middle
    const tdata = [1, 4, 0, 2, 2, 3]; // targets[s, b]
    const targets = i32([s, b], tdata, vocab);
    let expected = 0;
    for (let i = 0; i < 2; i++)
      for (let j = 0; j < 3; j++) {
        const row = [0, 1, 2, 3, 4].map((k) => get(logits, { b: i, vocab: k, s: j }));
        const lse = Math.log(row.reduce((acc, x) => acc + Math.exp(x), 0));
        expected += lse - row[get(targets, { s: j, b: i })];
      }
    expected /= 6;
    expectValues(run({ op: 'cross_entropy', axis: vocab }, [logits, targets]), [expected], 1e-13);
    const big = f32([b, vocab, s], raw.map((x) => x + 5000));
    expectValues(run({ op: 'cross_entropy', axis: vocab }, [big, targets]), [expected], 1e-9);
  });

  it('throws on a target out of range', () => {
    expect(() => run({ op: 'cross_entropy', axis: vocab }, [f32([pos, vocab], new Array(10).fill(0)), i32([pos], [0, 5], vocab)])).toThrow(
      /cross_entropy: index value 5 is out of range for axis `vocab` of size 5 \(at \[pos=1\]/,
    );
  });

  it('returns f32 at f32 precision', () => {
    const loss = run({ op: 'cross_entropy', axis: vocab }, [f32([pos, vocab], new Array(10).fill(0)), i32([pos], [0, 1], vocab)], F32);
    expect(loss.data).toBeInstanceOf(Float32Array);
    expect(loss.data[0]).toBe(Math.fround(Math.log(5)));
  });
});
