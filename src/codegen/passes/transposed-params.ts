/**
 * Transposed parameters (register GEMMs only; whole program): parameters that some GEMM reads
 * with the contracted axes innermost (`dY · Wᵀ` in the backward pass, a head tied to the
 * embedding). The register GEMM reads such an operand "along k", measured 0.5–0.7× as fast as
 * reading it across columns. Those GEMMs read a copy with the contracted axes outermost
 * instead, and the optimizer's update kernel writes the copy next to the parameter (one more
 * store per element, no extra dispatch). It looks at every entry point's GEMMs, and rewrites
 * their operands and the training step's update kernels; the copies are persistent values.
 */
import type { Graph } from '../../ir/types.js';
import type { TrainStep } from '../../ir/optimizer/index.js';
import type { ValueTable } from '../kernel-ir/ids.js';
import { accessesValue } from '../kernel-ir/kernel.js';
import { layoutStrides } from '../kernel-ir/layout.js';
import type { MapKernel, Schedule, Store, Value, ValueId } from '../kernel-ir/types.js';

export interface TransposedParam {
  /** The copy, a persistent value. */
  value: Value;
  /** `perm[j]` is the parameter axis that is the copy's j-th. */
  perm: number[];
}

/** Rewrites the GEMMs of `scheds` (the first is the training step's) and returns the copies by parameter node. */
export function planTransposedParams(g: Graph, step: TrainStep, scheds: readonly Schedule[], values: ValueTable): Map<ValueId, TransposedParam> {
  const out = new Map<ValueId, TransposedParam>();
  const paramNodes = new Set(g.params.map((p) => p.node));
  const update = new Map(step.params.map((p) => [p.param.node, p.newParam]));
  // The update kernel of each parameter, and its store of the new value.
  const updateStore = new Map<ValueId, { kernel: MapKernel; store: Store }>();
  for (const k of scheds[0].kernels) {
    if (k.kind !== 'map') continue;
    for (const st of k.stores) for (const [param, next] of update) if (st.access.value === next) updateStore.set(param, { kernel: k, store: st });
  }
  for (const sched of scheds) {
    for (const k of sched.kernels) {
      if (k.kind !== 'gemm') continue;
      for (const [operand, free] of [[k.a, k.m], [k.b, k.n]] as const) {
        if (!paramNodes.has(operand.value)) continue;
        const param = g.nodes[operand.value];
        const axes = param.type.axes;
        const kAxes = k.k.filter((a) => operand.strides.has(a.id));
        const freeAxes = free.filter((a) => operand.strides.has(a.id));
        // Only plain parameters read whole: every axis contracted or free, innermost contracted.
        if (kAxes.length + freeAxes.length !== axes.length || !axes.every((a) => operand.strides.has(a.id)) || !kAxes.length || !freeAxes.some((a) => a.size > 1)) continue;
        const inner = [...axes].reverse().find((a) => a.size > 1);
        if (!inner || !kAxes.some((a) => a.id === inner.id) || operand.strides.get(inner.id) !== 1) continue;
        const upd = updateStore.get(param.id);
        if (!upd || !axes.every((a) => upd.store.access.strides.has(a.id))) continue;
        const order = [...kAxes, ...freeAxes];
        const perm = order.map((a) => axes.findIndex((b) => b.id === a.id));
        let t = out.get(param.id);
        if (!t) {
          t = { value: values.copy('transposed', param.id, order), perm };
          out.set(param.id, t);
          upd.kernel.stores.push({
            access: { arena: 'f32', value: t.value.node, offset: 0, strides: layoutStrides(order) },
            value: { k: 'load', access: { ...upd.store.access, strides: new Map(upd.store.access.strides) }, dtype: 'f32' },
            nodes: [],
          });
          upd.kernel.writes.push(t.value.node);
        } else if (t.perm.join() !== perm.join()) continue; // another GEMM wants another order: it reads the parameter
        operand.value = t.value.node;
        operand.strides = new Map([...layoutStrides(t.value.axes)].filter(([id]) => operand.strides.has(id)));
        k.reads = [...new Set([...k.reads.filter((r) => r !== param.id || accessesValue(k, r)), t.value.node])];
      }
    }
  }
  return out;
}
