/**
 * Map merging: a map kernel joins the latest earlier map over the same elements that it may
 * move up to, as more stores of one kernel, when every value one of them stores is read by
 * the other only at the element being stored (each invocation then reads what it wrote
 * itself, in program order). Nothing in between may conflict with it. This is what makes the
 * optimizer's m, v and parameter updates one body, and the updates of equal-shaped
 * parameters of every layer one kernel.
 */
import { gathersFrom, loadsOf } from '../kernel-ir/expr.js';
import { absorb, canMove } from '../kernel-ir/kernel.js';
import { sameAxisSet, sameStrides } from '../kernel-ir/layout.js';
import type { Kernel, MapKernel, Schedule, ValueId } from '../kernel-ir/types.js';

export function mergeMaps(s: Schedule, region: (v: ValueId) => ValueId): Schedule {
  const out: Kernel[] = [];
  for (const k of s.kernels) {
    if (k.kind === 'map') {
      let j = out.length - 1;
      while (j >= 0 && !joins(out[j], k)) j--;
      const prev = out[j];
      if (prev?.kind === 'map' && canMove(out, out.length, j, k, region)) {
        prev.stores.push(...k.stores);
        absorb(prev, k);
        continue;
      }
    }
    out.push(k);
  }
  return { kernels: out, values: s.values };

  function joins(prev: Kernel, k: MapKernel): boolean {
    return prev.kind === 'map' && sameAxisSet(prev.axes, k.axes) && elementLocal(prev, k) && elementLocal(k, prev);
  }

  /** Every access `b` makes to a region `a` stores into is at the stored element. */
  function elementLocal(a: MapKernel, b: MapKernel): boolean {
    for (const st of a.stores) {
      const r = region(st.access.value);
      for (const acc of [...b.stores.map((x) => x.access), ...b.stores.flatMap((x) => loadsOf(x.value))]) {
        if (region(acc.value) === r && !sameStrides(acc.strides, st.access.strides)) return false;
      }
      for (const x of b.stores) if (gathersFrom(x.value, r, region)) return false;
    }
    return true;
  }
}
