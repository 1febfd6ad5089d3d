import { describe, expect, it } from 'vitest';
import { GraphBuilder } from '../../../src/ir/graph.js';
import type { Init } from '../../../src/ir/types.js';
import { initParams } from '../../../src/ir/interpret/index.js';
import { makeRng } from '../../../src/ir/interpret/random.js';
import { SPAN, axes } from './helpers.js';

const draws = (seed: number, stream = '', n = 8) => {
  const r = makeRng(seed, stream);
  return Array.from({ length: n }, () => r.nextU32());
};

function stats(xs: ArrayLike<number>): { mean: number; std: number } {
  let s = 0;
  for (let i = 0; i < xs.length; i++) s += xs[i];
  const mean = s / xs.length;
  let v = 0;
  for (let i = 0; i < xs.length; i++) v += (xs[i] - mean) ** 2;
  return { mean, std: Math.sqrt(v / xs.length) };
}

describe('makeRng', () => {
  it('is reproducible and pinned (checkpoints and data order depend on it)', () => {
    expect(draws(42, '', 3)).toEqual([2264281356, 1938650891, 973345997]);
    expect(draws(7, 'x')).toEqual(draws(7, 'x'));
  });

  it('differs by seed, by stream, and for seeds beyond 2^32', () => {
    expect(draws(1)).not.toEqual(draws(2));
    expect(draws(1, 'wte')).not.toEqual(draws(1, 'wpe'));
    expect(draws(1)).not.toEqual(draws(1 + 2 ** 32));
    expect(() => makeRng(NaN)).toThrow(/finite/);
  });

  it('uniform draws lie in [0, 1) and integers in [0, n)', () => {
    const r = makeRng(3);
    const counts = new Array(6).fill(0);
    for (let i = 0; i < 6000; i++) {
      const u = r.next();
      expect(u >= 0 && u < 1).toBe(true);
      counts[r.int(6)]++;
    }
    for (const c of counts) expect(Math.abs(c - 1000)).toBeLessThan(150);
  });

  it('normal draws have mean 0 and std 1 over 10k draws', () => {
    const r = makeRng(4);
    const xs = Array.from({ length: 10000 }, () => r.normal());
    const { mean, std } = stats(xs);
    expect(Math.abs(mean)).toBeLessThan(0.04);
    expect(Math.abs(std - 1)).toBeLessThan(0.03);
    expect(xs.every(Number.isFinite)).toBe(true);
  });
});

describe('initParams', () => {
  function build(extra: boolean) {
    const { rows, cols, n } = axes({ rows: 100, cols: 100, n: 4 });
    const g = new GraphBuilder();
    if (extra) g.param('aaa', { dtype: 'f32', axes: [n] }, { kind: 'normal', mean: 0, std: 1 }, SPAN);
    const params: [string, Init][] = [
      ['w', { kind: 'normal', mean: 0, std: 0.02 }],
      ['shifted', { kind: 'normal', mean: 3, std: 0.5 }],
      ['b', { kind: 'zeros' }],
      ['g', { kind: 'ones' }],
      ['u', { kind: 'uniform', low: -1, high: 2 }],
    ];
    for (const [name, init] of params) g.param(name, { dtype: 'f32', axes: name === 'w' || name === 'shifted' ? [rows, cols] : [n] }, init, SPAN);
    return g.graph;
  }

  it('fills zeros, ones, uniform and normal(mean, std)', () => {
    const p = initParams(build(false), 1, 'f64');
    expect(Array.from(p.get('b')!.data)).toEqual([0, 0, 0, 0]);
    expect(Array.from(p.get('g')!.data)).toEqual([1, 1, 1, 1]);
    for (const u of p.get('u')!.data) expect(u >= -1 && u < 2).toBe(true);
    const w = stats(p.get('w')!.data);
    expect(Math.abs(w.mean)).toBeLessThan(0.02 * 0.04);
    expect(Math.abs(w.std / 0.02 - 1)).toBeLessThan(0.03);
    const sh = stats(p.get('shifted')!.data);
    expect(Math.abs(sh.mean - 3)).toBeLessThan(0.5 * 0.04);
    expect(Math.abs(sh.std / 0.5 - 1)).toBeLessThan(0.03);
  });

  it('is reproducible per seed and differs across seeds', () => {
    const a = initParams(build(false), 1, 'f64');
    const b = initParams(build(false), 1, 'f64');
    const c = initParams(build(false), 2, 'f64');
    expect(Array.from(a.get('w')!.data)).toEqual(Array.from(b.get('w')!.data));
    expect(Array.from(a.get('w')!.data)).not.toEqual(Array.from(c.get('w')!.data));
  });

  it('gives each parameter a stream of its own: adding a parameter changes no other', () => {
    const a = initParams(build(false), 9, 'f64');
    const b = initParams(build(true), 9, 'f64');
    expect(b.has('aaa')).toBe(true);
    for (const name of ['w', 'shifted', 'u']) expect(Array.from(b.get(name)!.data)).toEqual(Array.from(a.get(name)!.data));
    // and two parameters with the same init do not get the same values
    expect(Array.from(a.get('w')!.data.slice(0, 10)).map((x) => x / 0.02)).not.toEqual(
      Array.from(a.get('shifted')!.data.slice(0, 10)).map((x) => (x - 3) / 0.5),
    );
  });

  it('stores f32 values at f32 precision (the f64 values rounded)', () => {
    const a = initParams(build(false), 5, 'f32');
    const b = initParams(build(false), 5, 'f64');
    expect(a.get('w')!.data).toBeInstanceOf(Float32Array);
    expect(b.get('w')!.data).toBeInstanceOf(Float64Array);
    expect(a.get('w')!.data[17]).toBe(Math.fround(b.get('w')!.data[17]));
  });
});
