import { describe, expect, it } from 'vitest';
import {
  allClose,
  atPrecision,
  diffTensors,
  get,
  permute,
  scalar,
  tensor,
  zerosLike,
} from '../../../src/ir/tensor/tensor.js';
import { Rows, broadcastRows, contiguousStrides, stridesAlong } from '../../../src/ir/tensor/strided.js';
import { axes, f32, names, values } from './helpers.js';

describe('tensor constructors', () => {
  const { x, y } = axes({ x: 2, y: 3 });

  it('copies plain arrays at the requested precision and keeps typed arrays', () => {
    expect(f32([x, y], [1, 2, 3, 4, 5, 6]).data).toBeInstanceOf(Float64Array);
    expect(f32([x, y], [1, 2, 3, 4, 5, 6], 'f32').data).toBeInstanceOf(Float32Array);
    const buf = new Float32Array(6);
    expect(tensor({ dtype: 'f32', axes: [x, y] }, buf).data).toBe(buf);
    expect(tensor({ dtype: 'i32', axes: [y] }, [1, 2, 3]).data).toBeInstanceOf(Int32Array);
    expect(Array.from(tensor({ dtype: 'bool', axes: [y] }, [true, false, true]).data)).toEqual([1, 0, 1]);
  });

  it('rejects data of the wrong length', () => {
    expect(() => f32([x, y], [1, 2, 3])).toThrow(/needs 6 elements, got 3/);
  });

  it('scalars have no axes and one element', () => {
    const s = scalar(2.5);
    expect(s.type.axes).toEqual([]);
    expect(values(s)).toEqual([2.5]);
    expect(scalar(7, 'i32').data).toBeInstanceOf(Int32Array);
    expect(values(scalar(3, 'bool'))).toEqual([1]);
    expect(get(s)).toBe(2.5);
  });

  it('zerosLike keeps the type and the buffer kind', () => {
    const z = zerosLike(f32([x, y], [1, 2, 3, 4, 5, 6], 'f32'));
    expect(z.data).toBeInstanceOf(Float32Array);
    expect(values(z)).toEqual([0, 0, 0, 0, 0, 0]);
    expect(z.type.axes).toEqual([x, y]);
  });

  it('atPrecision converts float buffers only', () => {
    const t = f32([y], [0.1, 0.2, 0.3]);
    const s = atPrecision(t, 'f32');
    expect(s.data).toBeInstanceOf(Float32Array);
    expect(s.data[0]).toBe(Math.fround(0.1));
    expect(atPrecision(t, 'f64')).toBe(t);
  });
});

describe('get and permute', () => {
  const { x, y, z } = axes({ x: 2, y: 3, z: 4 });

  it('get reads by axis name in row-major layout', () => {
    const t = f32([x, y], [1, 2, 3, 4, 5, 6]);
    expect(get(t, { x: 0, y: 2 })).toBe(3);
    expect(get(t, { y: 0, x: 1 })).toBe(4);
    expect(() => get(t, { x: 0 })).toThrow(/missing/);
    expect(() => get(t, { x: 2, y: 0 })).toThrow(/out of range/);
    expect(() => get(t, { x: 0, y: 0, w: 1 })).toThrow(/no axis `w`/);
  });

  it('permutes a 2x3 matrix to 3x2', () => {
    const t = f32([x, y], [1, 2, 3, 4, 5, 6]);
    const p = permute(t, [y, x]);
    expect(names(p)).toEqual(['y', 'x']);
    expect(values(p)).toEqual([1, 4, 2, 5, 3, 6]);
  });

  it('returns the same tensor for the identity order', () => {
    const t = f32([x, y], [1, 2, 3, 4, 5, 6]);
    expect(permute(t, [x, y])).toBe(t);
  });

  it('permutes three axes consistently with get', () => {
    const t = f32([x, y, z], Array.from({ length: 24 }, (_, i) => i));
    const p = permute(t, [z, x, y]);
    for (let i = 0; i < 2; i++)
      for (let j = 0; j < 3; j++) for (let k = 0; k < 4; k++) expect(get(p, { x: i, y: j, z: k })).toBe(get(t, { x: i, y: j, z: k }));
    expect(p.data).toBeInstanceOf(Float64Array);
  });

  it('rejects a different axis set', () => {
    const t = f32([x, y], [1, 2, 3, 4, 5, 6]);
    expect(() => permute(t, [x, z])).toThrow(/not the same axes/);
  });
});

describe('allClose', () => {
  const { x, y } = axes({ x: 2, y: 3 });
  const a = f32([x, y], [1, 2, 3, 4, 5, 6]);

  it('aligns by axis identity, not position', () => {
    const b = f32([y, x], [1, 4, 2, 5, 3, 6]);
    expect(allClose(a, b)).toBe(true);
    // the same numbers in the same positions but with the axes swapped are a different tensor
    const c = f32([y, x], [1, 2, 3, 4, 5, 6]);
    expect(allClose(a, c)).toBe(false);
  });

  it('is false for different axis sets even with the same sizes', () => {
    const { x: x2, y: y2 } = axes({ x: 2, y: 3 });
    expect(allClose(a, f32([x2, y2], [1, 2, 3, 4, 5, 6]))).toBe(false);
  });

  it('uses rtol and atol', () => {
    const b = f32([x, y], [1, 2, 3, 4, 5, 6.0001]);
    expect(allClose(a, b, 1e-6, 0)).toBe(false);
    expect(allClose(a, b, 1e-4, 0)).toBe(true);
    expect(allClose(a, b, 0, 1e-3)).toBe(true);
  });

  it('matches NaN with NaN and infinities only with themselves', () => {
    const p = f32([y], [NaN, Infinity, -Infinity]);
    expect(allClose(p, f32([y], [NaN, Infinity, -Infinity]))).toBe(true);
    expect(allClose(p, f32([y], [0, Infinity, -Infinity]))).toBe(false);
    expect(allClose(f32([y], [1, 1, 1]), f32([y], [1, 1, Infinity]), 1)).toBe(false);
    expect(allClose(p, f32([y], [NaN, 1e308, -Infinity]))).toBe(false);
  });

  it('diffTensors names the first differing position', () => {
    const b = f32([x, y], [1, 2, 3, 4, 9, 6]);
    const d = diffTensors(a, b);
    expect(d.ok).toBe(false);
    expect(d.mismatches).toBe(1);
    expect(d.message).toContain('[x=1, y=1]');
    expect(d.maxAbsDiff).toBe(4);
  });
});

describe('strided rows', () => {
  const { x, y, z } = axes({ x: 2, y: 3, z: 4 });

  it('merges a contiguous space into one run', () => {
    const it = new Rows([2, 3, 4], [contiguousStrides([2, 3, 4])]);
    expect(it.count).toBe(1);
    expect(it.n).toBe(24);
  });

  it('strides 0 for broadcast axes and walks every row', () => {
    expect(stridesAlong([z, x], [x, y, z])).toEqual([1, 0, 2]);
    const it = broadcastRows([x, y, z], [[z, x]]);
    const seen: number[] = [];
    for (let r = it.count; r > 0; r--, it.next()) for (let j = 0; j < it.n; j++) seen.push(it.offs[1] + j * it.step[1]);
    // element (i, j, k) of the output reads element (k, i) of the input: offset k*2 + i
    const expected: number[] = [];
    for (let i = 0; i < 2; i++) for (let j = 0; j < 3; j++) for (let k = 0; k < 4; k++) expected.push(k * 2 + i);
    expect(seen).toEqual(expected);
  });

  it('drops size-1 axes and handles empty and scalar spaces', () => {
    const scalarRows = new Rows([], [[]]);
    expect(scalarRows.count).toBe(1);
    expect(scalarRows.n).toBe(1);
    const empty = new Rows([3, 0], [[0, 1]]);
    expect(empty.count * empty.n).toBe(0);
    const ones = new Rows([1, 5, 1], [[5, 1, 1]]);
    expect(ones.count).toBe(1);
    expect(ones.n).toBe(5);
  });
});
