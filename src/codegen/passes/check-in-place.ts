/**
 * In-place check: an update written over the value it replaces (`param:x` over `x`) is safe
 * only in a map that reads the old value at exactly the element it writes, so that no
 * invocation reads an element another has already overwritten. This pass changes nothing; a
 * violation is a compiler bug, caught here rather than as wrong numbers.
 */
import { someExpr } from '../kernel-ir/expr.js';
import { sameStrides } from '../kernel-ir/layout.js';
import type { Schedule, ValueId } from '../kernel-ir/types.js';

export function checkInPlace(s: Schedule, aliases: ReadonlyMap<ValueId, ValueId>): void {
  for (const k of s.kernels) {
    // Segmented kernels are built from updates at the stored element only (segment-updates.ts).
    if (k.kind === 'segmented') continue;
    for (const w of k.writes) {
      const target = aliases.get(w);
      if (target === undefined) continue;
      const maps = k.kind === 'map' ? [k] : k.kind === 'maps' ? k.parts : [];
      const store = maps.flatMap((m) => m.stores).find((st) => st.access.value === w);
      if (!store) throw new Error(`internal: in-place update of ${w} by a ${k.kind} kernel`);
      const elsewhere = someExpr(store.value, (e) => e.k === 'load' && (e.access.value === target || e.access.value === w) && !sameStrides(e.access.strides, store.access.strides));
      if (elsewhere) throw new Error(`internal: in-place update of ${w} reads ${target} at another element`);
    }
  }
}
