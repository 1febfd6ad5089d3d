/**
 * Activation copies (register GEMMs only): activations stored a second time in the layout a
 * GEMM wants.
 *
 * The register GEMM is fast when one operand is contiguous across its free axis: each lane
 * then reads four columns as one vec4 (see wgsl/gemm.ts). Some contractions have no such
 * operand: the attention scores q·kᵀ and the backward dp = dO·vᵀ contract `head`, the
 * innermost axis of both operands. Read "along k" they ran at 0.6–0.7 of the speed of the
 * same GEMM on a contiguous operand (bench/gemm.mjs).
 *
 * When such an operand is written by a GEMM, that GEMM also stores it a second time with the
 * consumer's free axes innermost (one more output: an `extra` that stores the output value
 * through other strides, no extra dispatch), and the consumer reads the copy. A fused sibling
 * GEMM (q, k and v in one) copies all its members, so k's and v's copies come from one store.
 * Other readers keep the original layout: p·v and ds·k read v and k across their columns.
 */
import type { Axis } from '../../ir/types.js';
import type { Groups } from '../buffers.js';
import { isGroupAxis, sizeOf } from '../kernel-ir/ids.js';
import { accessesValue } from '../kernel-ir/kernel.js';
import { layoutStrides } from '../kernel-ir/layout.js';
import type { Access, GemmKernel, Schedule, Value, ValueId } from '../kernel-ir/types.js';
import { CPU_TARGET, type RegisterGemmRules } from '../target.js';
import { registerReadMode } from '../wgsl/gemm.js';

/** Multiply-adds per copied element below which a copy does not pay (a guess: stores are scattered, 4 per vec4). */
const MIN_REUSE = 8;

/** The copy of one value (or of a fused group's members, one copy each). */
interface Copy {
  /** The copies' value ids, in the group's order. */
  ids: ValueId[];
  /** The original's axes in the copy's order (row-major). */
  order: Axis[];
}

/**
 * Rewrites `s` in place: GEMMs that would read an operand along k read a copy written by
 * the operand's producer GEMM, where that makes the read contiguous across columns.
 * `groups` holds the fused groups (sibling GEMMs' outputs); copies of a group become a group.
 * Values in `keep` (persistent or aliased) are never copied.
 */
export function planActivationCopies(s: Schedule, groups: Groups, keep: ReadonlySet<ValueId>, rules: RegisterGemmRules = CPU_TARGET.register): void {
  const writer = new Map<ValueId, number>();
  s.kernels.forEach((k, i) => k.writes.forEach((w) => writer.set(w, i)));
  const copies = new Map<ValueId, Copy>();

  s.kernels.forEach((k, i) => {
    if (k.kind !== 'gemm' || registerReadMode(k, rules) === 'cols') return;
    for (const side of ['b', 'a'] as const) {
      const x = k[side].value;
      const original = s.values.get(x);
      const p = writer.get(x);
      if (original.arena !== 'f32' || keep.has(x) || p === undefined || p >= i) continue;
      const producer = s.kernels[p];
      const members = groups.groupOf(x) ?? [x];
      if (producer.kind !== 'gemm' || producer.out.value !== members[0] || members.some((m) => keep.has(m))) continue;
      // Each copied element feeds (the other side's size) multiply-adds: too few, and the
      // copy's scattered stores cost more than the faster reads gain.
      if (sizeOf(side === 'a' ? k.n : k.m) < MIN_REUSE) continue;
      const order = consumerOrder(original, k, side);
      if (!order) continue;
      const existing = copies.get(members[0]);
      if (existing && existing.order.map((a) => a.id).join() !== order.map((a) => a.id).join()) continue; // another consumer wants another order
      const ids = existing?.ids ?? members.map((m) => s.values.copy('relayout', m, order).node);
      const operand = relayout(k[side], kernelAxes(k), original, order);
      const outStrides = relayout(producer.out, kernelAxes(producer), original, order);
      if (!operand || !outStrides) continue;
      const rewritten: GemmKernel = { ...k, [side]: { ...operand, value: ids[members.indexOf(x)] } };
      if (registerReadMode(rewritten, rules) !== 'cols') continue;
      if (!existing) {
        copies.set(members[0], { ids, order });
        producer.extra = [...(producer.extra ?? []), { access: { ...outStrides, value: ids[0] }, value: { k: 'acc' }, nodes: [] }];
        producer.writes.push(...ids);
        if (ids.length > 1) groups.add(ids);
      }
      rewritten.reads = [...new Set([...k.reads.filter((v) => v !== x || accessesValue(rewritten, x)), rewritten[side].value])];
      s.kernels[i] = rewritten;
      return;
    }
  });
}

/**
 * The original's axes reordered for a GEMM reading it as operand `side`: the axes it reads
 * as batch axes first, then the contracted ones, then its free ones (each in the original
 * order), so that its free axes are innermost. Undefined if the kernel does not read each
 * non-unit axis of the value through exactly one of its own axes of the same size.
 */
function consumerOrder(original: Value, k: GemmKernel, side: 'a' | 'b'): Axis[] | undefined {
  const access = k[side];
  const layout = layoutStrides(original.axes);
  const rank = new Map<number, number>();
  const groupsOf: [readonly Axis[], number][] = [
    [k.batch, 0],
    [k.k, 1],
    [side === 'a' ? k.m : k.n, 2],
  ];
  for (const [axes, r] of groupsOf) {
    for (const a of axes) {
      const stride = access.strides.get(a.id) ?? 0;
      if (a.size === 1 || stride === 0) continue;
      const j = original.axes.findIndex((v) => v.size > 1 && layout.get(v.id) === stride);
      if (j < 0 || original.axes[j].size !== a.size || rank.has(j)) return undefined;
      rank.set(j, r);
    }
  }
  if (original.axes.some((v, j) => v.size > 1 && !rank.has(j))) return undefined;
  const order = original.axes.map((axis, j) => ({ axis, r: rank.get(j) ?? -1, j }));
  order.sort((a, b) => a.r - b.r || a.j - b.j);
  if (order.every((o, j) => o.j === j)) return undefined; // already in that order
  return order.map((o) => o.axis);
}

/**
 * `access` (over the kernel's `axes`, reading `original` in its row-major layout) rewritten
 * to read the copy laid out in `order`. The group axis of a fused GEMM keeps its stride (the
 * copies are spaced as the originals); undefined if some axis is not one of the original's.
 */
function relayout(access: Access, axes: ReadonlyMap<number, Axis>, original: Value, order: readonly Axis[]): Access | undefined {
  const from = layoutStrides(original.axes);
  const to = layoutStrides(order);
  const strides = new Map<number, number>();
  for (const [id, stride] of access.strides) {
    const axis = axes.get(id);
    if (isGroupAxis(id) || stride === 0 || axis?.size === 1) {
      strides.set(id, isGroupAxis(id) ? stride : 0);
      continue;
    }
    const v = original.axes.find((a) => a.size > 1 && from.get(a.id) === stride);
    if (!v || !axis || axis.size !== v.size) return undefined;
    strides.set(id, to.get(v.id)!);
  }
  return { ...access, strides };
}

function kernelAxes(k: GemmKernel): Map<number, Axis> {
  return new Map([...k.batch, ...k.m, ...k.n, ...k.k].map((a) => [a.id, a]));
}
