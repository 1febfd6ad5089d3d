/**
 * Sibling reductions: a reduction with the same output axes and reduced axes as an earlier
 * one (the layernorm backward's Σ dy and Σ dy·x̂, the bias gradients) joins that kernel as one
 * more accumulator in its loop, when it can move up to it; or the earlier one moves down to
 * it, when nothing after it conflicts (a bias gradient joining a layernorm's sums). Each
 * shared loop reads the rows once instead of once per reduction.
 */
import type { Axis } from '../../ir/types.js';
import { absorb, canMove, conflicts } from '../kernel-ir/kernel.js';
import type { Kernel, ReduceKernel, Schedule, ValueId } from '../kernel-ir/types.js';

export function mergeReductions(s: Schedule, region: (v: ValueId) => ValueId): Schedule {
  const out: Kernel[] = [];
  const ids = (axes: readonly Axis[]) => axes.map((a) => a.id).join(',');
  const siblings = (p: Kernel, k: ReduceKernel): p is ReduceKernel => p.kind === 'reduce' && ids(p.axes) === ids(k.axes) && ids(p.over) === ids(k.over);
  const join = (p: ReduceKernel, k: ReduceKernel) => {
    (p.siblings ??= []).push({ fn: k.fn, value: k.value, out: k.out, nodes: k.nodes }, ...(k.siblings ?? []));
    absorb(p, k);
  };
  next: for (const k of s.kernels) {
    if (k.kind === 'reduce') {
      // Up: the latest sibling it can move up to.
      for (let j = out.length - 1; j >= 0; j--) {
        const p = out[j];
        if (conflicts(p, k, region)) break;
        if (siblings(p, k)) {
          join(p, k);
          continue next;
        }
      }
      // Down: the latest sibling that can move down to it.
      for (let j = out.length - 1; j >= 0; j--) {
        const p = out[j];
        if (!siblings(p, k) || conflicts(p, k, region) || !canMove(out, j, out.length, p, region)) continue;
        out.splice(j, 1);
        join(p, k);
        out.push(p);
        continue next;
      }
    }
    out.push(k);
  }
  return { kernels: out, values: s.values };
}
