/** Layouts: row-major strides over named axes, and comparing them. */
import type { Axis } from '../../ir/types.js';

/** Row-major strides of a layout, keyed by axis id. */
export function layoutStrides(axes: readonly Axis[]): Map<number, number> {
  const out = new Map<number, number>();
  let s = 1;
  for (let i = axes.length - 1; i >= 0; i--) {
    out.set(axes[i].id, s);
    s *= axes[i].size;
  }
  return out;
}

/** Whether two accesses step through memory alike along every axis (same axes, same strides). */
export function sameStrides(a: ReadonlyMap<number, number>, b: ReadonlyMap<number, number>): boolean {
  return a.size === b.size && [...a].every(([id, st]) => b.get(id) === st);
}

/** Whether `a` and `b` hold the same axes (in any order). */
export function sameAxisSet(a: readonly Axis[], b: readonly Axis[]): boolean {
  return a.length === b.length && a.every((x) => b.some((y) => y.id === x.id));
}
