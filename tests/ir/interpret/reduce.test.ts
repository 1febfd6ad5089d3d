import { describe, expect, it } from 'vitest';
import { get } from '../../../src/ir/tensor/tensor.js';
import { F32, axes, expectValues, f32, i32, names, run } from './helpers.js';

describe('reduce', () => {
  const { x, y, z } = axes({ x: 2, y: 3, z: 4 });
  // t[x=i, y=j, z=k] = 12 i + 4 j + k
  const t = f32([x, y, z], Array.from({ length: 24 }, (_, i) => i));

  it('sums over a middle axis', () => {
    const r = run({ op: 'reduce', fn: 'sum', axes: [y] }, [t]);
    expect(names(r)).toEqual(['x', 'z']);
    expectValues(r, [12, 15, 18, 21, 48, 51, 54, 57]);
  });

  it('sums over two axes (outer and inner)', () => {
    const r = run({ op: 'reduce', fn: 'sum', axes: [z, x] }, [t]);
    expect(names(r)).toEqual(['y']);
    expectValues(r, [60, 92, 124]);
  });

  it('means and maxes', () => {
    expectValues(run({ op: 'reduce', fn: 'mean', axes: [y] }, [t]), [4, 5, 6, 7, 16, 17, 18, 19]);
    expectValues(run({ op: 'reduce', fn: 'max', axes: [z] }, [t]), [3, 7, 11, 15, 19, 23]);
    expectValues(run({ op: 'reduce', fn: 'max', axes: [x] }, [t]), Array.from({ length: 12 }, (_, i) => 12 + i));
  });

  it('reduces every axis to a scalar', () => {
    const r = run({ op: 'reduce', fn: 'sum', axes: [x, y, z] }, [t]);
    expect(r.type.axes).toEqual([]);
    expectValues(r, [276]);
    expectValues(run({ op: 'reduce', fn: 'mean', axes: [x, y, z] }, [t]), [11.5]);
  });

  it('max propagates NaN and -inf survives', () => {
    const { w, v } = axes({ w: 2, v: 3 });
    const s = f32([w, v], [1, NaN, 2, -Infinity, -Infinity, -Infinity]);
    expectValues(run({ op: 'reduce', fn: 'max', axes: [v] }, [s]), [NaN, -Infinity]);
    expectValues(run({ op: 'reduce', fn: 'sum', axes: [v] }, [s]), [NaN, -Infinity]);
  });

  it('at f32 precision, accumulates in double and rounds once', () => {
    const { n } = axes({ n: 4 });
    // step by step in f32, 1 + 4e-8 rounds back to 1 each time; rounded once, 1 + 1.2e-7 is the next f32 above 1
    const r = run({ op: 'reduce', fn: 'sum', axes: [n] }, [f32([n], [1, 4e-8, 4e-8, 4e-8])], F32);
    expect(r.data).toBeInstanceOf(Float32Array);
    expect(r.data[0]).toBe(Math.fround(1 + 1.2e-7));
    expect(r.data[0]).toBeGreaterThan(1);
  });
});

describe('expand', () => {
  const { x, y } = axes({ x: 2, y: 3 });
  it('broadcasts along new axes appended after the existing ones', () => {
    const r = run({ op: 'expand', axes: [y] }, [f32([x], [5, 7])]);
    expect(names(r)).toEqual(['x', 'y']);
    expectValues(r, [5, 5, 5, 7, 7, 7]);
    const s = run({ op: 'expand', axes: [y, x] }, [f32([], [2])]);
    expect(names(s)).toEqual(['y', 'x']);
    expectValues(s, [2, 2, 2, 2, 2, 2]);
  });
  it('keeps index tensors as integers', () => {
    const r = run({ op: 'expand', axes: [y] }, [i32([x], [1, 0], y)]);
    expect(r.data).toBeInstanceOf(Int32Array);
    expect(get(r, { x: 0, y: 2 })).toBe(1);
  });
});
