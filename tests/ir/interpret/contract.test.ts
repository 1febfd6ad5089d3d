import { describe, expect, it } from 'vitest';
import type { Axis } from '../../../src/ir/types.js';
import { diffTensors, type Tensor } from '../../../src/ir/tensor/tensor.js';
import { makeRng } from '../../../src/ir/interpret/random.js';
import { F32, F64, axes, expectValues, f32, names, run } from './helpers.js';

/** Offset of the element whose position along each axis (by id) is `pos`. */
function offset(axesList: readonly Axis[], pos: Map<number, number>): number {
  let off = 0;
  for (const a of axesList) off = off * a.size + pos.get(a.id)!;
  return off;
}

/** einsum by the definition: loop over every output and contracted position. */
function naiveContract(a: Tensor, b: Tensor, over: readonly Axis[], out: readonly Axis[]): Tensor {
  const all = [...out, ...over];
  const data = new Float64Array(out.reduce((n, x) => n * x.size, 1));
  const idx = all.map(() => 0);
  const pos = new Map<number, number>();
  const total = all.reduce((n, x) => n * x.size, 1);
  for (let t = 0; t < total; t++) {
    all.forEach((x, i) => pos.set(x.id, idx[i]));
    data[offset(out, pos)] += a.data[offset(a.type.axes, pos)] * b.data[offset(b.type.axes, pos)];
    for (let d = all.length - 1; d >= 0; d--) {
      if (++idx[d] < all[d].size) break;
      idx[d] = 0;
    }
  }
  return { type: { dtype: 'f32', axes: out }, data };
}

function random(axesList: readonly Axis[], seed: number): Tensor {
  const rng = makeRng(seed, 'contract-test');
  const n = axesList.reduce((p, x) => p * x.size, 1);
  return f32(axesList, Array.from({ length: n }, () => rng.normal()));
}

function expectMatchesNaive(a: Tensor, b: Tensor, over: readonly Axis[]): Tensor {
  const r = run({ op: 'contract', over }, [a, b]);
  const d = diffTensors(r, naiveContract(a, b, over, r.type.axes), 1e-12, 1e-12);
  expect(d.message).toBe('');
  return r;
}

describe('contract', () => {
  it('multiplies a 2x3 by a 3x2 matrix', () => {
    const { m, k, n } = axes({ m: 2, k: 3, n: 2 });
    const a = f32([m, k], [1, 2, 3, 4, 5, 6]);
    const b = f32([k, n], [7, 8, 9, 10, 11, 12]);
    const r = run({ op: 'contract', over: [k] }, [a, b]);
    expect(names(r)).toEqual(['m', 'n']);
    expectValues(r, [58, 64, 139, 154]);
    // the same product with b stored transposed: alignment is by name
    const bt = f32([n, k], [7, 9, 11, 8, 10, 12]);
    expectValues(run({ op: 'contract', over: [k] }, [a, bt]), [58, 64, 139, 154]);
    // and with the operands swapped the result is [n, m]
    const s = run({ op: 'contract', over: [k] }, [b, a]);
    expect(names(s)).toEqual(['n', 'm']);
    expectValues(s, [58, 139, 64, 154]);
  });

  it('contracts two vectors to a scalar', () => {
    const { k } = axes({ k: 3 });
    const r = run({ op: 'contract', over: [k] }, [f32([k], [1, 2, 3]), f32([k], [4, 5, 6])]);
    expect(r.type.axes).toEqual([]);
    expectValues(r, [32]);
  });

  it('contracts over two axes at once', () => {
    const { m, k1, k2 } = axes({ m: 2, k1: 2, k2: 2 });
    const a = f32([m, k1, k2], [1, 2, 3, 4, 5, 6, 7, 8]);
    const b = f32([k2, k1], [1, 2, 3, 4]);
    const r = run({ op: 'contract', over: [k1, k2] }, [a, b]);
    expect(names(r)).toEqual(['m']);
    expectValues(r, [29, 69]);
    expectMatchesNaive(random([m, k2, k1], 1), random([k1, k2, m], 2), [k2, k1]);
  });

  it('keeps shared axes that are not summed as batch axes', () => {
    const { bt, m, k, n } = axes({ bt: 3, m: 5, k: 7, n: 6 });
    const r = expectMatchesNaive(random([bt, m, k], 3), random([n, k, bt], 4), [k]);
    expect(names(r)).toEqual(['bt', 'm', 'n']);
    // batch axis in the middle of a and last in b
    const r2 = expectMatchesNaive(random([m, bt, k], 5), random([k, n, bt], 6), [k]);
    expect(names(r2)).toEqual(['m', 'bt', 'n']);
  });

  it('computes attention scores and the weighted sum (q . k over head, p . v over key)', () => {
    const { batch, seq, key, heads, head } = axes({ batch: 2, seq: 3, key: 3, heads: 2, head: 4 });
    const q = random([batch, seq, heads, head], 7);
    const kk = random([batch, key, heads, head], 8);
    const s = expectMatchesNaive(q, kk, [head]);
    expect(names(s)).toEqual(['batch', 'seq', 'heads', 'key']);
    const v = random([batch, key, heads, head], 9);
    const o = expectMatchesNaive(s, v, [key]);
    expect(names(o)).toEqual(['batch', 'seq', 'heads', 'head']);
    // projection over two axes: o . wo over (heads, head)
    const { embed } = axes({ embed: 5 });
    expectMatchesNaive(o, random([heads, head, embed], 10), [heads, head]);
  });

  it('handles odd sizes, matrix-vector and vector-matrix products', () => {
    const { m, k, n } = axes({ m: 5, k: 9, n: 3 });
    expectMatchesNaive(random([m, k], 11), random([k, n], 12), [k]); // M, K, N odd: every tail loop
    expectMatchesNaive(random([m, k], 13), random([k], 14), [k]); // N = 1
    expectMatchesNaive(random([k], 15), random([k, n], 16), [k]); // M = 1
    const { one } = axes({ one: 1 });
    expectMatchesNaive(random([one, k], 17), random([k, one], 18), [k]);
  });

  it('follows IEEE: an infinity times a zero weight is NaN', () => {
    const { m, k } = axes({ m: 2, k: 2 });
    const a = f32([m, k], [Infinity, 1, 1, 1]);
    const b = f32([k], [0, 1]);
    expectValues(run({ op: 'contract', over: [k] }, [a, b]), [NaN, 1]);
  });

  it('accumulates at the evaluation precision', () => {
    const { m, k, n } = axes({ m: 4, k: 33, n: 5 });
    const a = random([m, k], 19);
    const b = random([k, n], 20);
    const r32 = run({ op: 'contract', over: [k] }, [a, b], F32);
    const r64 = run({ op: 'contract', over: [k] }, [a, b], F64);
    expect(r32.data).toBeInstanceOf(Float32Array);
    expect(r64.data).toBeInstanceOf(Float64Array);
    expect(diffTensors(r32, r64, 1e-5, 1e-5).message).toBe('');
    expect(Array.from(r32.data)).not.toEqual(Array.from(r64.data));
  });
});
