/**
 * Summed GEMMs: a GEMM whose epilogue adds the outputs of other GEMMs of the same shapes and
 * layouts, read nowhere else (the input gradient through q, k and v: dQ·Wqᵀ + dK·Wkᵀ +
 * dV·Wvᵀ), becomes one GEMM contracting over one more axis, `group`: the first operands and
 * the second operands are each placed one after another (in the order of a group they
 * already form, if any). One dispatch instead of three, and no partial sums stored. The
 * partners' reads move to the last GEMM, so nothing in between may conflict with them.
 */
import { groupSpacing, type Groups } from '../buffers.js';
import { groupAxis, isGroupAxis } from '../kernel-ir/ids.js';
import { absorb, canMove } from '../kernel-ir/kernel.js';
import { sameStrides } from '../kernel-ir/layout.js';
import type { GemmKernel, Kernel, KExpr, Schedule, ValueId } from '../kernel-ir/types.js';
import { gemmShape } from './sibling-gemms.js';

export function fuseSummedGemms(s: Schedule, aliases: ReadonlyMap<ValueId, ValueId>, groups: Groups): Schedule {
  const aliased = new Set([...aliases.keys(), ...aliases.values()]);
  const region = (v: ValueId) => aliases.get(v) ?? v;
  const writer = new Map<ValueId, number>();
  s.kernels.forEach((k, i) => k.writes.forEach((w) => writer.set(w, i)));
  const readers = new Map<ValueId, number>();
  for (const k of s.kernels) for (const r of k.reads) readers.set(r, (readers.get(r) ?? 0) + 1);
  /** The leaves of a tree of f32 adds. */
  const addLeaves = (e: KExpr): KExpr[] => (e.k === 'binary' && e.fn === 'add' && e.dtype === 'f32' ? [...addLeaves(e.a), ...addLeaves(e.b)] : [e]);
  const kernels: (Kernel | undefined)[] = [...s.kernels];
  s.kernels.forEach((g, i) => {
    if (g.kind !== 'gemm' || g.extra?.length || g.batch.some((a) => isGroupAxis(a.id)) || g.k.some((a) => isGroupAxis(a.id))) return;
    const leaves = addLeaves(g.epilogue);
    if (leaves.filter((l) => l.k === 'acc').length !== 1) return;
    const partners: number[] = [];
    const kept: KExpr[] = [];
    for (const l of leaves) {
      const j = l.k === 'load' ? writer.get(l.access.value) : undefined;
      const p = j !== undefined ? s.kernels[j] : undefined;
      const ok =
        l.k === 'load' && p?.kind === 'gemm' && j !== undefined && j < i && kernels[j] && p.epilogue.k === 'acc' && !p.extra?.length && p.out.value === l.access.value &&
        readers.get(l.access.value) === 1 && !aliased.has(l.access.value) && sameStrides(l.access.strides, g.out.strides) && gemmShape(p) === gemmShape(g) && !partners.includes(j);
      if (ok) partners.push(j!);
      else kept.push(l);
    }
    if (!partners.length || !partners.every((j) => canMove(s.kernels, j, i, s.kernels[j], region))) return;
    const members = [...partners, i].map((m) => s.kernels[m] as GemmKernel);
    // Order the group axis as an existing group of the first operands, else as the members.
    const aValues = members.map((m) => m.a.value);
    const existing = groups.groupOf(aValues[0]);
    const order = existing && existing.length === aValues.length && aValues.every((v) => existing.includes(v)) ? existing.map((v) => aValues.indexOf(v)) : aValues.map((_, x) => x);
    const aGroup = order.map((x) => members[x].a.value);
    const bGroup = order.map((x) => members[x].b.value);
    if (new Set([...aGroup, ...bGroup]).size !== 2 * members.length || !groups.fits(aGroup) || !groups.fits(bGroup)) return;
    const first = members[order[0]];
    const axis = groupAxis(members.length);
    const partnerOuts = new Set(partners.map((j) => (s.kernels[j] as GemmKernel).out.value));
    const fused: GemmKernel = {
      ...g,
      nodes: [...g.nodes],
      lines: [...g.lines],
      reads: g.reads.filter((r) => !partnerOuts.has(r)),
      writes: [...g.writes],
      k: [axis, ...g.k],
      a: { ...first.a, strides: new Map([...first.a.strides, [axis.id, groupSpacing(s.values.get(aGroup[0]).size)]]) },
      b: { ...first.b, strides: new Map([...first.b.strides, [axis.id, groupSpacing(s.values.get(bGroup[0]).size)]]) },
      epilogue: kept.reduce((x, y) => ({ k: 'binary', fn: 'add', a: x, b: y, dtype: 'f32' }) as KExpr),
    };
    // The partners' outputs are gone: only what they read moves here.
    for (const j of partners) absorb(fused, { ...s.kernels[j], writes: [] });
    groups.add(aGroup);
    groups.add(bGroup);
    for (const j of partners) kernels[j] = undefined;
    kernels[i] = fused;
  });
  return { kernels: kernels.filter((k): k is Kernel => k !== undefined), values: s.values };
}
