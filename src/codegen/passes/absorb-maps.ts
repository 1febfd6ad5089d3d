/**
 * Absorbing maps into their producer: a map right after a GEMM or a softmax, over the
 * producer's output elements, that reads that output only at the element it writes, becomes
 * more outputs of the producer's last pass (`h = gelu(pre)` stored next to `pre`; the
 * cross-entropy gradient `(p - onehot) / n` next to `p`). That saves a dispatch and a pass
 * over the output. Its stores must not land on anything the producer reads, so in-place
 * updates stay maps.
 */
import { gathersFrom, loadsOf, mapExpr } from '../kernel-ir/expr.js';
import { absorb } from '../kernel-ir/kernel.js';
import { sameAxisSet, sameStrides } from '../kernel-ir/layout.js';
import type { Kernel, KExpr, Schedule } from '../kernel-ir/types.js';

export function absorbMaps(s: Schedule): Schedule {
  const out: Kernel[] = [];
  for (const k of s.kernels) {
    const g = out.at(-1);
    const produces = g?.kind === 'gemm' ? [...g.batch, ...g.m, ...g.n] : g?.kind === 'softmax' ? [...g.axes, g.axis] : undefined;
    if (k.kind === 'map' && (g?.kind === 'gemm' || g?.kind === 'softmax') && produces && g.out.arena === 'f32' && sameAxisSet(k.axes, produces) && k.stores.every((st) => st.access.arena === 'f32')) {
      const produced = g.out.value;
      const readsOk = k.stores.every((st) => loadsOf(st.value).every((a) => a.value !== produced || sameStrides(a.strides, g.out.strides)) && !gathersFrom(st.value, produced));
      const producerReads = new Set(g.reads);
      if (readsOk && !k.writes.some((w) => producerReads.has(w))) {
        const toAcc = (e: KExpr) => mapExpr(e, (x) => (x.k === 'load' && x.access.value === produced ? { k: 'acc' } : undefined));
        (g.extra ??= []).push(...k.stores.map((st) => ({ access: st.access, value: toAcc(st.value), nodes: st.nodes })));
        absorb(g, k, (r) => r === produced);
        continue;
      }
    }
    out.push(k);
  }
  return { kernels: out, values: s.values };
}
