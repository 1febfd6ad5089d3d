import { describe, expect, it } from 'vitest';
import type { UnaryFn } from '../../../src/ir/types.js';
import { get, scalar } from '../../../src/ir/tensor/tensor.js';
import { gelu } from '../../../src/ir/ops/unary/gelu.js';
import { geluGrad } from '../../../src/ir/ops/unary/gelu-grad.js';
import { F32, F64, axes, bool, expectValues, f32, i32, names, run, values } from './helpers.js';

describe('unary', () => {
  const { w } = axes({ w: 4 });

  it('computes every function on hand-checked values', () => {
    const x = f32([w], [-1, 0, 0.5, 2]);
    const u = (fn: UnaryFn) => run({ op: 'unary', fn }, [x]);
    expectValues(u('neg'), [1, -0, -0.5, -2]);
    expectValues(u('exp'), [0.36787944117144233, 1, 1.6487212707001282, 7.38905609893065]);
    expectValues(u('tanh'), [-0.7615941559557649, 0, 0.46211715726000974, 0.9640275800758169]);
    expectValues(u('relu'), [0, 0, 0.5, 2]);
    expectValues(u('step'), [0, 0, 1, 1]);
    expectValues(u('abs'), [1, 0, 0.5, 2]);
    expectValues(u('square'), [1, 0, 0.25, 4]);
    expectValues(u('recip'), [-1, Infinity, 2, 0.5]);
    expectValues(u('sigmoid'), [0.2689414213699951, 0.5, 0.6224593312018546, 0.8807970779778823]);
    expectValues(run({ op: 'unary', fn: 'log' }, [f32([w], [1, Math.E, 0, -1])]), [0, 1, -Infinity, NaN]);
    expectValues(run({ op: 'unary', fn: 'sqrt' }, [f32([w], [4, 2.25, 0, -1])]), [2, 1.5, 0, NaN]);
    expectValues(run({ op: 'unary', fn: 'rsqrt' }, [f32([w], [4, 0.25, 0, -1])]), [0.5, 2, Infinity, NaN]);
    expect(names(u('exp'))).toEqual(['w']);
  });

  it('relu propagates NaN; step of NaN is 0; sigmoid saturates without NaN', () => {
    expectValues(run({ op: 'unary', fn: 'relu' }, [f32([w], [NaN, -Infinity, Infinity, -0])]), [NaN, 0, Infinity, 0]);
    expectValues(run({ op: 'unary', fn: 'step' }, [f32([w], [NaN, -Infinity, Infinity, 1e-30])]), [0, 0, 1, 1]);
    expectValues(run({ op: 'unary', fn: 'sigmoid' }, [f32([w], [-1000, 1000, Infinity, -Infinity])]), [0, 1, 1, 0]);
  });

  it('gelu is the GPT-2 tanh approximation', () => {
    const g = run({ op: 'unary', fn: 'gelu' }, [f32([w], [1, 0, -1, 3])]);
    expect(g.data[0]).toBeCloseTo(0.841192, 6);
    expect(g.data[1]).toBe(0);
    expect(g.data[2]).toBeCloseTo(-0.158808, 6);
    expect(g.data[3]).toBeCloseTo(2.9963625, 6);
    // gelu(x) - gelu(-x) = x for the tanh form
    expect(gelu(0.7) - gelu(-0.7)).toBeCloseTo(0.7, 14);
  });

  it('gelu_grad matches a central finite difference of gelu', () => {
    const xs = [-4, -2.5, -1, -0.3, 0, 0.2, 0.9, 1.7, 3.5];
    const { p } = axes({ p: xs.length });
    const d = run({ op: 'unary', fn: 'gelu_grad' }, [f32([p], xs)]);
    const h = 1e-5;
    xs.forEach((x, i) => {
      const fd = (gelu(x + h) - gelu(x - h)) / (2 * h);
      expect(Math.abs(d.data[i] - fd)).toBeLessThan(1e-8);
      expect(d.data[i]).toBe(geluGrad(x));
    });
    expect(geluGrad(0)).toBe(0.5);
  });

  it('neg works on (non-index) integers and wraps like two\'s complement', () => {
    const r = run({ op: 'unary', fn: 'neg' }, [i32([w], [3, -7, 0, -2147483648])]);
    expect(r.data).toBeInstanceOf(Int32Array);
    expect(values(r)).toEqual([-3, 7, 0, -2147483648]);
  });

  it('rounds to f32 at f32 precision', () => {
    const x = f32([w], [0.1, 1, 2, 3]);
    const r32 = run({ op: 'unary', fn: 'exp' }, [x], F32);
    const r64 = run({ op: 'unary', fn: 'exp' }, [x], F64);
    expect(r32.data).toBeInstanceOf(Float32Array);
    expect(r64.data).toBeInstanceOf(Float64Array);
    expect(r32.data[0]).toBe(Math.fround(Math.exp(0.1)));
    expect(r64.data[0]).toBe(Math.exp(0.1));
    expect(r32.data[0]).not.toBe(r64.data[0]);
  });
});

describe('cast', () => {
  const { w } = axes({ w: 5 });
  it('bool to f32 and i32 gives 0/1', () => {
    const m = bool([w], [1, 0, 1, 1, 0]);
    expect(values(run({ op: 'cast', to: 'f32' }, [m]))).toEqual([1, 0, 1, 1, 0]);
    const r = run({ op: 'cast', to: 'i32' }, [m]);
    expect(r.data).toBeInstanceOf(Int32Array);
    expect(values(r)).toEqual([1, 0, 1, 1, 0]);
  });
  it('f32 to bool is x != 0 (NaN is true)', () => {
    const r = run({ op: 'cast', to: 'bool' }, [f32([w], [0, -0, 2.5, NaN, -Infinity])]);
    expect(r.data).toBeInstanceOf(Uint8Array);
    expect(values(r)).toEqual([0, 0, 1, 1, 1]);
    expect(values(run({ op: 'cast', to: 'bool' }, [i32([w], [0, 1, -1, 0, 5])]))).toEqual([0, 1, 1, 0, 1]);
  });
  it('f32 to i32 truncates toward zero and saturates; i32 to f32 is exact', () => {
    expect(values(run({ op: 'cast', to: 'i32' }, [f32([w], [2.7, -2.7, NaN, 1e12, -Infinity])]))).toEqual([2, -2, 0, 2147483647, -2147483648]);
    const r = run({ op: 'cast', to: 'f32' }, [i32([w], [16777217, -3, 0, 2147483647, 5])]);
    expect(values(r)).toEqual([16777217, -3, 0, 2147483647, 5]);
  });
});

describe('binary', () => {
  const { x, y, z } = axes({ x: 2, y: 3, z: 2 });
  const a = f32([x, y], [1, 2, 3, 4, 5, 6]);
  const b = f32([x, y], [6, 5, 4, 3, 2, 1]);

  it('computes every function elementwise', () => {
    expectValues(run({ op: 'binary', fn: 'add' }, [a, b]), [7, 7, 7, 7, 7, 7]);
    expectValues(run({ op: 'binary', fn: 'sub' }, [a, b]), [-5, -3, -1, 1, 3, 5]);
    expectValues(run({ op: 'binary', fn: 'mul' }, [a, b]), [6, 10, 12, 12, 10, 6]);
    expectValues(run({ op: 'binary', fn: 'div' }, [a, b]), [1 / 6, 2 / 5, 3 / 4, 4 / 3, 5 / 2, 6]);
    expectValues(run({ op: 'binary', fn: 'pow' }, [a, b]), [1, 32, 81, 64, 25, 6]);
    expectValues(run({ op: 'binary', fn: 'max' }, [a, b]), [6, 5, 4, 4, 5, 6]);
    expectValues(run({ op: 'binary', fn: 'min' }, [a, b]), [1, 2, 3, 3, 2, 1]);
  });

  it('aligns a[x, y] + b[y, x] by axis identity', () => {
    // bt[y, x] holds b transposed: bt[y=j, x=i] = b[x=i, y=j]
    const bt = f32([y, x], [6, 3, 5, 2, 4, 1]);
    const r = run({ op: 'binary', fn: 'sub' }, [a, bt]);
    expect(names(r)).toEqual(['x', 'y']);
    expectValues(r, [-5, -3, -1, 1, 3, 5]);
    const r2 = run({ op: 'binary', fn: 'sub' }, [bt, a]);
    expect(names(r2)).toEqual(['y', 'x']);
    // r2[y=j, x=i] = b[i, j] - a[i, j]
    expectValues(r2, [5, -1, 3, -3, 1, -5]);
  });

  it('broadcasts vectors and scalars', () => {
    const row = f32([y], [10, 20, 30]);
    expectValues(run({ op: 'binary', fn: 'add' }, [a, row]), [11, 22, 33, 14, 25, 36]);
    expectValues(run({ op: 'binary', fn: 'add' }, [row, a]), [11, 14, 22, 25, 33, 36]);
    const col = f32([x], [100, 200]);
    const outer = run({ op: 'binary', fn: 'mul' }, [col, row]);
    expect(names(outer)).toEqual(['x', 'y']);
    expectValues(outer, [1000, 2000, 3000, 2000, 4000, 6000]);
    expectValues(run({ op: 'binary', fn: 'div' }, [a, scalar(2)]), [0.5, 1, 1.5, 2, 2.5, 3]);
    expectValues(run({ op: 'binary', fn: 'sub' }, [scalar(1), a]), [0, -1, -2, -3, -4, -5]);
    const s = run({ op: 'binary', fn: 'add' }, [scalar(1), scalar(2)]);
    expect(s.type.axes).toEqual([]);
    expectValues(s, [3]);
  });

  it('broadcasts three axes in mixed orders', () => {
    const p = f32([z, x], [1, 2, 3, 4]); // p[z, x]
    const q = f32([y, z], [10, 20, 30, 40, 50, 60]); // q[y, z]
    const r = run({ op: 'binary', fn: 'add' }, [p, q]);
    expect(names(r)).toEqual(['z', 'x', 'y']);
    for (let k = 0; k < 2; k++)
      for (let i = 0; i < 2; i++)
        for (let j = 0; j < 3; j++) expect(get(r, { z: k, x: i, y: j })).toBe(get(p, { z: k, x: i }) + get(q, { y: j, z: k }));
  });

  it('follows IEEE: inf * 0 is NaN, inf - inf is NaN, x / 0 is inf', () => {
    const { w } = axes({ w: 3 });
    const p = f32([w], [Infinity, Infinity, 1]);
    const q = f32([w], [0, Infinity, 0]);
    expectValues(run({ op: 'binary', fn: 'mul' }, [p, q]), [NaN, Infinity, 0]);
    expectValues(run({ op: 'binary', fn: 'sub' }, [p, q]), [Infinity, NaN, 1]);
    expectValues(run({ op: 'binary', fn: 'div' }, [p, q]), [Infinity, NaN, Infinity]);
    expectValues(run({ op: 'binary', fn: 'max' }, [f32([w], [NaN, 1, -Infinity]), f32([w], [1, NaN, 0])]), [NaN, NaN, 0]);
  });

  it('integer arithmetic stays integer and wraps', () => {
    const { w } = axes({ w: 3 });
    const p = i32([w], [7, -3, 2147483647]);
    const q = i32([w], [2, 5, 2]);
    const mul = run({ op: 'binary', fn: 'mul' }, [p, q]);
    expect(mul.data).toBeInstanceOf(Int32Array);
    expect(values(mul)).toEqual([14, -15, -2]);
    expect(values(run({ op: 'binary', fn: 'add' }, [p, q]))).toEqual([9, 2, -2147483647]);
    expect(values(run({ op: 'binary', fn: 'max' }, [p, q]))).toEqual([7, 5, 2147483647]);
    expect(values(run({ op: 'binary', fn: 'mul' }, [i32([w], [65536, 1, 1]), i32([w], [65536, 1, 1])]))).toEqual([0, 1, 1]);
  });

  it('f32 precision rounds each result, f64 keeps it', () => {
    const one = scalar(1);
    const tiny = scalar(1e-10);
    expect(run({ op: 'binary', fn: 'add' }, [one, tiny], F32).data[0]).toBe(1);
    expect(run({ op: 'binary', fn: 'add' }, [one, tiny], F64).data[0]).toBe(1 + 1e-10);
  });
});

describe('compare', () => {
  const { w } = axes({ w: 4 });
  const p = f32([w], [1, 2, 3, NaN]);
  const q = f32([w], [2, 2, 2, NaN]);
  it('computes every comparison, false against NaN except ne', () => {
    const c = (fn: 'lt' | 'le' | 'gt' | 'ge' | 'eq' | 'ne') => values(run({ op: 'compare', fn }, [p, q]));
    expect(c('lt')).toEqual([1, 0, 0, 0]);
    expect(c('le')).toEqual([1, 1, 0, 0]);
    expect(c('gt')).toEqual([0, 0, 1, 0]);
    expect(c('ge')).toEqual([0, 1, 1, 0]);
    expect(c('eq')).toEqual([0, 1, 0, 0]);
    expect(c('ne')).toEqual([1, 0, 1, 1]);
    expect(run({ op: 'compare', fn: 'lt' }, [p, q]).data).toBeInstanceOf(Uint8Array);
  });
  it('compares positions of two axes into a causal mask key > seq', () => {
    const { seq, key } = axes({ seq: 3, key: 3 });
    const s = run({ op: 'iota', axis: seq }, []);
    const k = run({ op: 'iota', axis: key }, []);
    const m = run({ op: 'compare', fn: 'gt' }, [k, s]);
    expect(names(m)).toEqual(['key', 'seq']);
    // m[key, seq] = key > seq
    expect(values(m)).toEqual([0, 0, 0, 1, 0, 0, 1, 1, 0]);
  });
});

describe('where', () => {
  const { x, y } = axes({ x: 2, y: 3 });
  it('selects without arithmetic: where(mask, -inf, x) is -inf, not NaN', () => {
    const mask = bool([x, y], [0, 1, 1, 0, 0, 1]);
    const s = f32([x, y], [1, 2, 3, 4, 5, 6]);
    const r = run({ op: 'where' }, [mask, scalar(-Infinity), s]);
    expect(names(r)).toEqual(['x', 'y']);
    expectValues(r, [1, -Infinity, -Infinity, 4, 5, -Infinity]);
    // contrast: the arithmetic mask x - inf * float(mask) gives NaN where the mask is 0
    const fm = run({ op: 'cast', to: 'f32' }, [mask]);
    const bad = run({ op: 'binary', fn: 'sub' }, [s, run({ op: 'binary', fn: 'mul' }, [scalar(Infinity), fm])]);
    expectValues(bad, [NaN, -Infinity, -Infinity, NaN, NaN, -Infinity]);
  });
  it('broadcasts the condition and the branches by identity', () => {
    const cond = bool([y], [1, 0, 1]);
    const a = f32([x], [10, 20]);
    const b = f32([y, x], [1, 2, 3, 4, 5, 6]); // b[y, x]
    const r = run({ op: 'where' }, [cond, a, b]);
    expect(names(r)).toEqual(['x', 'y']);
    // r[x=i, y=j] = cond[j] ? a[i] : b[j, i]
    expectValues(r, [10, 3, 10, 20, 4, 20]);
  });
  it('works on integer and boolean branches', () => {
    const cond = bool([y], [1, 0, 1]);
    const r = run({ op: 'where' }, [cond, i32([y], [1, 2, 3]), i32([y], [-1, -2, -3])]);
    expect(r.data).toBeInstanceOf(Int32Array);
    expect(values(r)).toEqual([1, -2, 3]);
  });
});
