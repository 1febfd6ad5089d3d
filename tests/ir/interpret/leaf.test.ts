import { describe, expect, it } from 'vitest';
import { OPS } from '../../../src/ir/ops/index.js';
import { F32, F64, axes, expectValues, f32, names, run, values } from './helpers.js';

describe('leaves', () => {
  it('const is a scalar of its dtype at the evaluation precision', () => {
    const c64 = run({ op: 'const', value: 0.1, dtype: 'f32' }, [], F64);
    expect(c64.type.axes).toEqual([]);
    expect(c64.data).toBeInstanceOf(Float64Array);
    expect(c64.data[0]).toBe(0.1);
    const c32 = run({ op: 'const', value: 0.1, dtype: 'f32' }, [], F32);
    expect(c32.data).toBeInstanceOf(Float32Array);
    expect(c32.data[0]).toBe(Math.fround(0.1));
    expectValues(run({ op: 'const', value: -Infinity, dtype: 'f32' }, []), [-Infinity]);
    const i = run({ op: 'const', value: 3, dtype: 'i32' }, []);
    expect(i.data).toBeInstanceOf(Int32Array);
    expect(values(i)).toEqual([3]);
    expect(values(run({ op: 'const', value: 1, dtype: 'bool' }, []))).toEqual([1]);
  });

  it('iota is 0..n-1 along its axis, an index of that axis', () => {
    const { seq } = axes({ seq: 5 });
    const r = run({ op: 'iota', axis: seq }, []);
    expect(r.data).toBeInstanceOf(Int32Array);
    expect(values(r)).toEqual([0, 1, 2, 3, 4]);
    expect(r.type.indexOf).toBe(seq);
  });

  it('param and input are fed, never evaluated', () => {
    expect(() => OPS.param.evaluate([], { op: 'param', name: 'wte' }, { dtype: 'f32', axes: [] }, F64)).toThrow(/`wte`.*fed/);
    expect(() => OPS.input.evaluate([], { op: 'input', name: 'tokens' }, { dtype: 'f32', axes: [] }, F64)).toThrow(/`tokens`.*fed/);
  });
});

describe('rename', () => {
  const { seq, key, embed } = axes({ seq: 2, key: 2, embed: 3 });
  it('substitutes the axis and shares the data', () => {
    const x = f32([seq, embed], [1, 2, 3, 4, 5, 6]);
    const r = run({ op: 'rename', pairs: [[seq, key]] }, [x]);
    expect(names(r)).toEqual(['key', 'embed']);
    expect(r.data).toBe(x.data);
  });
  it('makes an outer sum once the axes differ', () => {
    const x = f32([seq], [1, 2]);
    const k = run({ op: 'rename', pairs: [[seq, key]] }, [x]);
    const r = run({ op: 'binary', fn: 'sub' }, [x, k]);
    expect(names(r)).toEqual(['seq', 'key']);
    expectValues(r, [0, -1, 1, 0]);
  });
});
