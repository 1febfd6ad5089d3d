import { describe, expect, it } from 'vitest';
import { get } from '../../../src/ir/tensor/tensor.js';
import { makeRng } from '../../../src/ir/interpret/random.js';
import { axes, expectValues, f32, i32, names, run } from './helpers.js';

describe('gather', () => {
  const { vocab, embed, pos, b, s } = axes({ vocab: 4, embed: 2, pos: 5, b: 2, s: 2 });
  const table = f32([vocab, embed], [0, 1, 10, 11, 20, 21, 30, 31]);
  const index = i32([pos], [2, 0, 2, 3, 1], vocab);

  it('copies the rows named by the index, repeats included', () => {
    const r = run({ op: 'gather', axis: vocab }, [table, index]);
    expect(names(r)).toEqual(['pos', 'embed']);
    expectValues(r, [20, 21, 0, 1, 20, 21, 30, 31, 10, 11]);
  });

  it('gathers along an axis that is not the table\'s first', () => {
    const tt = f32([embed, vocab], [0, 10, 20, 30, 1, 11, 21, 31]);
    const r = run({ op: 'gather', axis: vocab }, [tt, index]);
    expect(names(r)).toEqual(['pos', 'embed']);
    expectValues(r, [20, 21, 0, 1, 20, 21, 30, 31, 10, 11]);
  });

  it('takes a two-axis index: out axes are index axes then the table\'s rest', () => {
    const r = run({ op: 'gather', axis: vocab }, [table, i32([b, s], [3, 3, 0, 1], vocab)]);
    expect(names(r)).toEqual(['b', 's', 'embed']);
    expectValues(r, [30, 31, 30, 31, 0, 1, 10, 11]);
    expect(get(r, { b: 1, s: 1, embed: 0 })).toBe(10);
  });

  it('throws a clear error on an index out of range', () => {
    expect(() => run({ op: 'gather', axis: vocab }, [table, i32([pos], [0, 1, 4, 0, 0], vocab)])).toThrow(
      /index value 4 is out of range for axis `vocab` of size 4 \(at \[pos=2\]/,
    );
    expect(() => run({ op: 'gather', axis: vocab }, [table, i32([pos], [0, -1, 0, 0, 0], vocab)])).toThrow(/index value -1 .*`vocab`/);
  });
});

describe('scatter_add', () => {
  const { vocab, embed, pos, b, s } = axes({ vocab: 5, embed: 2, pos: 5, b: 2, s: 3 });
  const index = i32([pos], [2, 0, 2, 3, 1], vocab);

  it('sums rows with repeated indices; untouched rows stay zero', () => {
    const values = f32([pos, embed], [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    const r = run({ op: 'scatter_add', axis: vocab }, [values, index]);
    expect(names(r)).toEqual(['vocab', 'embed']);
    expectValues(r, [3, 4, 9, 10, 6, 8, 7, 8, 0, 0]);
  });

  it('aligns the values to the index by axis identity', () => {
    const values = f32([embed, pos], [1, 3, 5, 7, 9, 2, 4, 6, 8, 10]);
    const r = run({ op: 'scatter_add', axis: vocab }, [values, index]);
    expect(names(r)).toEqual(['vocab', 'embed']);
    expectValues(r, [3, 4, 9, 10, 6, 8, 7, 8, 0, 0]);
  });

  it('is the adjoint of gather: <gather(T, I), V> = <T, scatter_add(V, I)>', () => {
    const rng = makeRng(5, 'scatter');
    const idx = i32([b, s], Array.from({ length: 6 }, () => rng.int(5)), vocab);
    const T = f32([embed, vocab], Array.from({ length: 10 }, () => rng.normal()));
    const V = f32([s, embed, b], Array.from({ length: 12 }, () => rng.normal()));
    const g = run({ op: 'gather', axis: vocab }, [T, idx]); // [b, s, embed]
    const sc = run({ op: 'scatter_add', axis: vocab }, [V, idx]); // [vocab, embed]
    expect(names(sc)).toEqual(['vocab', 'embed']);
    let lhs = 0;
    for (let i = 0; i < 2; i++)
      for (let j = 0; j < 3; j++) for (let e = 0; e < 2; e++) lhs += get(g, { b: i, s: j, embed: e }) * get(V, { b: i, s: j, embed: e });
    let rhs = 0;
    for (let v = 0; v < 5; v++) for (let e = 0; e < 2; e++) rhs += get(T, { vocab: v, embed: e }) * get(sc, { vocab: v, embed: e });
    expect(lhs).toBeCloseTo(rhs, 12);
  });

  it('throws on an index out of range', () => {
    const values = f32([pos], [1, 1, 1, 1, 1]);
    expect(() => run({ op: 'scatter_add', axis: vocab }, [values, i32([pos], [0, 0, 0, 0, 7], vocab)])).toThrow(
      /scatter_add: index value 7 is out of range for axis `vocab` of size 5/,
    );
  });
});
