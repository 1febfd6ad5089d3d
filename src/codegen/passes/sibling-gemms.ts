/**
 * Sibling GEMMs: GEMMs with the same first (or second) operand and the same shapes and
 * layouts (x·Wq, x·Wk, x·Wv; and xᵀ·dQ, xᵀ·dK, xᵀ·dV) become one batched GEMM over a new
 * `group` axis: the shared operand has stride 0 along it, the other operands and the outputs
 * are placed one after another (a group the buffer planner honours). One dispatch reads the
 * shared operand once for all of them. A later member moves up to the first's place, so
 * nothing between them may conflict with it.
 */
import type { Axis } from '../../ir/types.js';
import { groupSpacing, type Groups } from '../buffers.js';
import { groupAxis } from '../kernel-ir/ids.js';
import { absorb, canMove, conflicts } from '../kernel-ir/kernel.js';
import type { Access, GemmKernel, Kernel, Schedule, ValueId } from '../kernel-ir/types.js';

/** Shapes and layouts of a GEMM (sizes of each axis group, strides of each operand and the output): equal for GEMMs that can share a kernel. */
export function gemmShape(k: GemmKernel): string {
  const strides = (a: Access, axes: readonly Axis[]) => axes.map((x) => a.strides.get(x.id) ?? 0).join(',');
  const sizes = (axes: readonly Axis[]) => axes.map((x) => x.size).join(',');
  return [sizes(k.batch), sizes(k.m), sizes(k.n), sizes(k.k), strides(k.a, [...k.batch, ...k.m, ...k.k]), strides(k.b, [...k.batch, ...k.n, ...k.k]), strides(k.out, [...k.batch, ...k.m, ...k.n])].join('|');
}

export function fuseSiblingGemms(s: Schedule, persistent: ReadonlySet<ValueId>, aliases: ReadonlyMap<ValueId, ValueId>, groups: Groups): Schedule {
  const aliased = new Set([...aliases.keys(), ...aliases.values()]);
  const region = (v: ValueId) => aliases.get(v) ?? v;
  const signature = (k: GemmKernel, shared: 'a' | 'b') => [shared, gemmShape(k), shared === 'a' ? k.a.value : k.b.value].join('|');
  const eligible = (k: Kernel): k is GemmKernel =>
    k.kind === 'gemm' && k.epilogue.k === 'acc' && !k.extra?.length && k.out.arena === 'f32' && !persistent.has(k.out.value) && !aliased.has(k.out.value);
  const kernels: (Kernel | undefined)[] = [...s.kernels];
  s.kernels.forEach((k, i) => {
    if (!kernels[i] || !eligible(k)) return;
    for (const shared of ['a', 'b'] as const) {
      const other = shared === 'a' ? 'b' : 'a';
      const sig = signature(k, shared);
      const otherPersistent = persistent.has(k[other].value);
      const members = [i];
      const used = new Set([k[other].value, k.out.value]);
      for (let j = i + 1; j < s.kernels.length; j++) {
        const c = s.kernels[j];
        if (!kernels[j] || !eligible(c) || signature(c, shared) !== sig || persistent.has(c[other].value) !== otherPersistent || used.has(c[other].value) || used.has(c.out.value)) continue;
        // It moves up to kernel i: nothing in between (but members) may conflict with it, and it may not read a member's output.
        if (members.some((m) => conflicts(s.kernels[m], c, region)) || !canMove(s.kernels, j, i, c, region, (t) => members.includes(t))) continue;
        members.push(j);
        used.add(c[other].value).add(c.out.value);
      }
      if (members.length < 2) continue;
      const fusing = members.map((m) => s.kernels[m] as GemmKernel);
      const operandGroup = fusing.map((x) => x[other].value);
      const outGroup = fusing.map((x) => x.out.value);
      if (!groups.fits(operandGroup) || !groups.fits(outGroup)) continue;
      const axis = groupAxis(members.length);
      const fused: GemmKernel = {
        ...k,
        nodes: [...k.nodes],
        lines: [...k.lines],
        reads: [...k.reads],
        writes: [...k.writes],
        batch: [axis, ...k.batch],
        [other]: { ...k[other], strides: new Map([...k[other].strides, [axis.id, groupSpacing(s.values.get(k[other].value).size)]]) },
        out: { ...k.out, strides: new Map([...k.out.strides, [axis.id, groupSpacing(s.values.get(k.out.value).size)]]) },
      };
      for (const m of fusing.slice(1)) absorb(fused, m);
      groups.add(operandGroup);
      groups.add(outGroup);
      for (const m of members.slice(1)) kernels[m] = undefined;
      kernels[i] = fused;
      return;
    }
  });
  return { kernels: kernels.filter((k): k is Kernel => k !== undefined), values: s.values };
}
