/**
 * Row fusion: a reduction over one axis A starts a row kernel over its output axes R; each
 * following kernel joins while it is a reduction over A to R, or a map over R ∪ {A}, and
 * reads what the group wrote only within the same row, at the element it was written
 * (per-row values broadcast along A). One invocation per row then runs the phases in order,
 * so a layernorm (mean, centre, variance, normalise) or a softmax backward (sum, then scale)
 * is one dispatch. Nothing the newcomer writes may be touched by the group, and in-place
 * updates never join.
 */
import { gathersFrom, loadsOf } from '../kernel-ir/expr.js';
import { absorb } from '../kernel-ir/kernel.js';
import { sameAxisSet, sameStrides } from '../kernel-ir/layout.js';
import type { Access, Kernel, KExpr, MapKernel, ReduceKernel, RowKernel, Schedule, ValueId } from '../kernel-ir/types.js';

type Phase = ReduceKernel | MapKernel;

export function mergeRows(s: Schedule, aliases: ReadonlyMap<ValueId, ValueId>): Schedule {
  const region = (v: ValueId) => aliases.get(v) ?? v;
  const storesOf = (k: Phase): Access[] => (k.kind === 'reduce' ? [k.out] : k.stores.map((x) => x.access));
  const exprsOf = (k: Phase): KExpr[] => (k.kind === 'reduce' ? [k.value] : k.stores.map((x) => x.value));
  const fits = (g: RowKernel, k: Kernel): k is Phase =>
    (k.kind === 'reduce' && k.over.length === 1 && k.over[0].id === g.axis.id && sameAxisSet(k.axes, g.rows)) ||
    (k.kind === 'map' && sameAxisSet(k.axes, [...g.rows, g.axis]));

  const out: Kernel[] = [];
  for (const k of s.kernels) {
    const prev = out.at(-1);
    if (prev?.kind === 'rows' && fits(prev, k) && rowLocal(prev, k)) {
      prev.phases.push(k);
      absorb(prev, k);
      continue;
    }
    // A single-axis reduction starts a candidate group (a lone one is unwrapped below).
    // (Not reductions to a scalar: one invocation would then do the whole group's work.)
    if (k.kind === 'reduce' && k.over.length === 1 && k.axes.length > 0 && !k.writes.some((w) => aliases.has(w))) {
      out.push({ kind: 'rows', name: k.name, nodes: [...k.nodes], lines: [...k.lines], reads: [...k.reads], writes: [...k.writes], rows: [...k.axes], axis: k.over[0], phases: [k] });
      continue;
    }
    out.push(k);
  }
  // A group of one phase is just that reduction.
  return { kernels: out.map((k) => (k.kind === 'rows' && k.phases.length === 1 ? k.phases[0] : k)), values: s.values };

  function rowLocal(g: RowKernel, k: Phase): boolean {
    const written = new Map<ValueId, Access>();
    for (const p of g.phases) for (const st of storesOf(p)) written.set(region(st.value), st);
    for (const st of storesOf(k)) if (aliases.has(st.value) || written.has(region(st.value))) return false;
    const touched = new Set(g.phases.flatMap((p) => [...storesOf(p), ...exprsOf(p).flatMap(loadsOf)]).map((a) => region(a.value)));
    if (storesOf(k).some((st) => touched.has(region(st.value)))) return false;
    for (const e of exprsOf(k)) {
      for (const acc of loadsOf(e)) {
        const w = written.get(region(acc.value));
        if (w && !sameStrides(acc.strides, w.strides)) return false;
      }
      for (const r of written.keys()) if (gathersFrom(e, r, region)) return false;
    }
    return true;
  }
}
