/**
 * Combining maps: runs of adjacent maps over different elements that do not conflict (the
 * optimizer's updates of parameters of different shapes that did not fit a segmented kernel)
 * become one dispatch, each map on its own range of invocations, while their stores number
 * at most the target's `combineMaxStores`: LLVM compiles a kernel that branches over large
 * bodies very slowly (target.ts).
 */
import { absorb, conflicts } from '../kernel-ir/kernel.js';
import type { Kernel, MapKernel, MultiMapKernel, Schedule, ValueId } from '../kernel-ir/types.js';

export function combineMaps(s: Schedule, region: (v: ValueId) => ValueId, maxStores: number): Schedule {
  const out: Kernel[] = [];
  let run: MapKernel[] = [];
  const flush = () => {
    if (run.length === 1) out.push(run[0]);
    if (run.length > 1) {
      const combined: MultiMapKernel = { kind: 'maps', name: run[0].name, nodes: [], lines: [], reads: [], writes: [], parts: run };
      for (const m of run) absorb(combined, m);
      out.push(combined);
    }
    run = [];
  };
  const stores = (ms: readonly MapKernel[]) => ms.reduce((n, m) => n + m.stores.length, 0);
  const footprint = () => ({ reads: run.flatMap((m) => m.reads), writes: run.flatMap((m) => m.writes) });
  for (const k of s.kernels) {
    if (k.kind !== 'map') {
      flush();
      out.push(k);
      continue;
    }
    if (!run.length || stores([...run, k]) > maxStores || conflicts(footprint(), k, region)) flush();
    run.push(k);
  }
  flush();
  return { kernels: out, values: s.values };
}
