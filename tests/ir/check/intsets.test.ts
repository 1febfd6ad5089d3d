/** Integer interval sets: every operation against brute force over a window of integers. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { add, complement, has, intersect, isAll, maxOf, minOf, negate, range, solve, union, type IntSet } from '../../../src/ir/check/intsets.js';

const WINDOW = 40;
const members = (s: IntSet) => Array.from({ length: 2 * WINDOW + 1 }, (_, i) => i - WINDOW).filter((v) => has(s, v));
/** A set of up to 4 intervals inside [-12, 12], or reaching to ±infinity. */
const arbSet = fc.array(fc.tuple(fc.integer({ min: -12, max: 12 }), fc.integer({ min: 0, max: 6 }), fc.constantFrom('finite', 'finite', 'finite', 'down', 'up')), { maxLength: 4 }).map((parts) =>
  parts.reduce<IntSet>((s, [lo, len, kind]) => union(s, kind === 'down' ? [[-Infinity, lo]] : kind === 'up' ? [[lo, Infinity]] : range(lo, lo + len)), []),
);
const inWindow = (v: number) => v >= -WINDOW && v <= WINDOW;

describe('integer interval sets', () => {
  it('keep their intervals sorted, disjoint and not touching', () => {
    fc.assert(
      fc.property(arbSet, (s) => {
        for (let i = 1; i < s.length; i++) expect(s[i][0]).toBeGreaterThan(s[i - 1][1] + 1);
      }),
    );
    expect(union(range(0, 2), range(3, 5))).toEqual([[0, 5]]);
    expect(union(range(0, 2), range(4, 5))).toEqual([
      [0, 2],
      [4, 5],
    ]);
  });

  it('union, intersection, complement and negation are exact', () => {
    fc.assert(
      fc.property(arbSet, arbSet, (a, b) => {
        const A = new Set(members(a));
        const B = new Set(members(b));
        expect(members(union(a, b))).toEqual(members(a).concat(members(b).filter((v) => !A.has(v))).sort((x, y) => x - y));
        expect(members(intersect(a, b))).toEqual(members(a).filter((v) => B.has(v)));
        expect(members(complement(a))).toEqual(members(range(-WINDOW, WINDOW)).filter((v) => !A.has(v)));
        expect(members(negate(a))).toEqual(members(a).map((v) => 0 - v).filter(inWindow).sort((x, y) => x - y));
      }),
    );
    expect(isAll(complement([]))).toBe(true);
    expect(complement([[-Infinity, Infinity]])).toEqual([]);
    expect(complement([[-Infinity, 3]])).toEqual([[4, Infinity]]);
  });

  it('the Minkowski sum contains every sum, and is exact while it has few parts', () => {
    fc.assert(
      fc.property(arbSet, arbSet, (a, b) => {
        const got = add(a, b);
        const sums = new Set<number>();
        for (const x of members(a)) for (const y of members(b)) sums.add(x + y);
        for (const v of sums) expect(has(got, v)).toBe(true);
        // Exact inside the window, away from the edges where unbounded parts enter from outside.
        const finite = a.every(([lo, hi]) => Number.isFinite(lo) && Number.isFinite(hi)) && b.every(([lo, hi]) => Number.isFinite(lo) && Number.isFinite(hi));
        if (finite) expect(members(got)).toEqual([...sums].sort((x, y) => x - y));
      }),
    );
    expect(add([[-Infinity, 0]], point3())).toEqual([[-Infinity, 3]]);
  });

  it('solve(alpha, c, op) is the set of integers x with alpha x + c OP 0', () => {
    const ops = ['lt', 'le', 'gt', 'ge', 'eq', 'ne'] as const;
    const truth = { lt: (v: number) => v < 0, le: (v: number) => v <= 0, gt: (v: number) => v > 0, ge: (v: number) => v >= 0, eq: (v: number) => v === 0, ne: (v: number) => v !== 0 };
    fc.assert(
      fc.property(fc.constantFrom(-3, -2, -1, -0.5, 0.5, 1, 2, 3), fc.integer({ min: -9, max: 9 }), fc.constantFrom(0, 0.5, 0.25), fc.constantFrom(...ops), (alpha, ci, frac, op) => {
        const c = ci + frac;
        const want = members(range(-WINDOW, WINDOW)).filter((x) => truth[op](alpha * x + c));
        expect(members(solve(alpha, c, op)), `${alpha} x + ${c} ${op} 0`).toEqual(want);
      }),
    );
  });

  it('reports bounds', () => {
    expect(minOf(range(2, 5))).toBe(2);
    expect(maxOf(union(range(2, 5), range(9, 9)))).toBe(9);
    expect(maxOf([])).toBe(-Infinity);
  });
});

function point3(): IntSet {
  return [[3, 3]];
}
