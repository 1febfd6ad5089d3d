/**
 * Sets of integers as sorted, disjoint, closed intervals `[lo, hi]` (lo may be -Infinity, hi
 * +Infinity): the offsets `key - seq` a mask keeps, the window positions a value depends on.
 * Every operation is exact except `add` (a Minkowski sum), which merges the closest intervals
 * once there are more than MAX_PARTS and so can only grow the set.
 */
export type IntSet = readonly (readonly [number, number])[];

export const NO_INTS: IntSet = [];
export const ALL_INTS: IntSet = [[-Infinity, Infinity]];

const MAX_PARTS = 16;

export function range(lo: number, hi: number): IntSet {
  return lo <= hi ? [[lo, hi]] : NO_INTS;
}

export function point(v: number): IntSet {
  return [[v, v]];
}

/** Sort and merge overlapping or adjacent intervals; drop empty ones. */
function normalize(parts: (readonly [number, number])[]): IntSet {
  const xs = parts.filter(([lo, hi]) => lo <= hi).sort((a, b) => a[0] - b[0]);
  const out: [number, number][] = [];
  for (const [lo, hi] of xs) {
    const last = out[out.length - 1];
    if (last && lo <= last[1] + 1) last[1] = Math.max(last[1], hi);
    else out.push([lo, hi]);
  }
  return out;
}

export function isEmpty(s: IntSet): boolean {
  return s.length === 0;
}

export function isAll(s: IntSet): boolean {
  return s.length === 1 && s[0][0] === -Infinity && s[0][1] === Infinity;
}

export function sameSet(a: IntSet, b: IntSet): boolean {
  return a.length === b.length && a.every(([lo, hi], i) => lo === b[i][0] && hi === b[i][1]);
}

export function minOf(s: IntSet): number {
  return s.length ? s[0][0] : Infinity;
}

export function maxOf(s: IntSet): number {
  return s.length ? s[s.length - 1][1] : -Infinity;
}

export function has(s: IntSet, v: number): boolean {
  return s.some(([lo, hi]) => lo <= v && v <= hi);
}

export function union(a: IntSet, b: IntSet): IntSet {
  return normalize([...a, ...b]);
}

export function intersect(a: IntSet, b: IntSet): IntSet {
  const out: [number, number][] = [];
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) {
    const lo = Math.max(a[i][0], b[j][0]);
    const hi = Math.min(a[i][1], b[j][1]);
    if (lo <= hi) out.push([lo, hi]);
    if (a[i][1] < b[j][1]) i++;
    else j++;
  }
  return out;
}

export function complement(s: IntSet): IntSet {
  const out: [number, number][] = [];
  let lo = -Infinity;
  for (const [a, b] of s) {
    if (a > lo) out.push([lo, a - 1]);
    lo = b + 1;
  }
  if (maxOf(s) !== Infinity) out.push([lo, Infinity]);
  return normalize(out);
}

export function negate(s: IntSet): IntSet {
  return normalize(s.map(([lo, hi]) => [0 - hi, 0 - lo] as const));
}

/** { x + y : x ∈ a, y ∈ b } (never smaller than the exact set). */
export function add(a: IntSet, b: IntSet): IntSet {
  const parts: [number, number][] = [];
  for (const [al, ah] of a) for (const [bl, bh] of b) parts.push([al + bl, ah + bh]);
  let s = normalize(parts);
  while (s.length > MAX_PARTS) {
    // Fill the smallest gap.
    let best = 1;
    for (let i = 2; i < s.length; i++) if (s[i][0] - s[i - 1][1] < s[best][0] - s[best - 1][1]) best = i;
    s = normalize([...s.slice(0, best - 1), [s[best - 1][0], s[best][1]], ...s.slice(best + 1)]);
  }
  return s;
}

/** The integers x with `alpha * x + c OP 0` (alpha non-zero). */
export function solve(alpha: number, c: number, op: 'lt' | 'le' | 'gt' | 'ge' | 'eq' | 'ne'): IntSet {
  let t = -c / alpha;
  // Division of integers can land a hair off an integer; snap it back.
  if (Math.abs(t - Math.round(t)) < 1e-9) t = Math.round(t);
  const flip = { lt: 'gt', le: 'ge', gt: 'lt', ge: 'le', eq: 'eq', ne: 'ne' } as const;
  const o = alpha > 0 ? op : flip[op];
  switch (o) {
    case 'gt':
      return [[Math.floor(t) + 1, Infinity]];
    case 'ge':
      return [[Math.ceil(t), Infinity]];
    case 'lt':
      return [[-Infinity, Math.ceil(t) - 1]];
    case 'le':
      return [[-Infinity, Math.floor(t)]];
    case 'eq':
      return Number.isInteger(t) ? point(t) : NO_INTS;
    case 'ne':
      return Number.isInteger(t) ? complement(point(t)) : ALL_INTS;
  }
}
