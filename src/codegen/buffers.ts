/**
 * Buffer planning: every stored value gets a region of its arena. Values that outlive a step
 * (parameters, optimizer state, inputs, host-read outputs) keep theirs; temporaries are live
 * from the kernel that writes them to the last kernel that reads them, and their regions are
 * reused by first fit. A kernel's outputs never overlap its inputs.
 */
import { accessesOf } from './kernel-ir/kernel.js';
import type { Arena, Kernel, Schedule, Value, ValueId } from './kernel-ir/types.js';

/** Regions start at multiples of 16 elements (64 bytes): aligned for vec4 access. */
export const ALIGN = 16;

export interface Region {
  arena: Arena;
  offset: number;
  size: number;
}

export interface BufferPlan {
  regions: Map<number, Region>;
  /** Elements per arena. */
  arenaSize: Record<Arena, number>;
  /** Sum of both arenas in bytes: the step's peak device memory for values. */
  peakBytes: number;
}

export interface PlanOptions {
  /** Values that live for the whole program, with their sizes (params, state, inputs, outputs). */
  persistent: readonly Value[];
  /** Values written in place over another value's region (`param:x` over `x`). */
  aliases: ReadonlyMap<number, number>;
  /**
   * Values of equal size placed one after another, `align(size)` apart, in this order: a GEMM
   * over all of them reads them as one tensor with one more axis (horizontal fusion).
   */
  groups?: readonly (readonly number[])[];
}

/** Elements from one member of a group to the next. */
export function groupSpacing(size: number): number {
  return align(Math.max(size, 1));
}

const align = (n: number) => Math.ceil(n / ALIGN) * ALIGN;

/**
 * Groups of values placed one after another (see PlanOptions.groups), found by the fusion
 * passes. A value is in at most one group, the same in every entry point.
 */
export class Groups {
  private byValue = new Map<ValueId, readonly ValueId[]>();
  private list: (readonly ValueId[])[] = [];

  add(members: readonly ValueId[]): void {
    if (!this.fits(members)) throw new Error(`internal: values ${members.join(', ')} are already grouped otherwise`);
    if (this.byValue.has(members[0])) return;
    this.list.push(members);
    for (const v of members) this.byValue.set(v, members);
  }

  groupOf(v: ValueId): readonly ValueId[] | undefined {
    return this.byValue.get(v);
  }

  /** Whether `members` may form a group: each is in none yet, or in this very group. */
  fits(members: readonly ValueId[]): boolean {
    const key = members.join(',');
    return members.every((v) => (this.byValue.get(v)?.join(',') ?? key) === key);
  }

  all(): readonly (readonly ValueId[])[] {
    return this.list;
  }
}

class FreeList {
  /** Sorted, non-overlapping free ranges [start, end). */
  private free: [number, number][] = [];
  top = 0;

  alloc(size: number): number {
    const need = align(Math.max(size, 1));
    for (let i = 0; i < this.free.length; i++) {
      const [s, e] = this.free[i];
      if (e - s >= need) {
        if (e - s === need) this.free.splice(i, 1);
        else this.free[i] = [s + need, e];
        return s;
      }
    }
    const at = this.top;
    this.top += need;
    return at;
  }

  release(offset: number, size: number): void {
    const range: [number, number] = [offset, offset + align(Math.max(size, 1))];
    this.free.push(range);
    this.free.sort((a, b) => a[0] - b[0]);
    const merged: [number, number][] = [];
    for (const r of this.free) {
      const last = merged.at(-1);
      if (last && last[1] === r[0]) last[1] = r[1];
      else merged.push([...r]);
    }
    this.free = merged;
  }
}

/**
 * Plan the regions of several schedules that run at different times over the same
 * persistent values (the training step, evaluation, forward): persistent values get one
 * region each, shared by all; each schedule's temporaries are placed above them, reusing
 * space within the schedule, and overlapping freely with other schedules' temporaries.
 */
export function planBuffers(scheds: readonly Schedule[], options: PlanOptions): BufferPlan[] {
  const base: Record<Arena, FreeList> = { f32: new FreeList(), i32: new FreeList() };
  const shared = new Map<number, Region>();
  const persistent = new Set(options.persistent.map((v) => v.node));
  const groupOf = new Map<number, readonly number[]>();
  for (const g of options.groups ?? []) for (const v of g) groupOf.set(v, g);
  for (const v of options.persistent) {
    if (options.aliases.has(v.node) || shared.has(v.node)) continue;
    const group = groupOf.get(v.node);
    if (group) {
      const spacing = groupSpacing(v.size);
      const block = base[v.arena].alloc(spacing * group.length);
      group.forEach((m, i) => shared.set(m, { arena: v.arena, offset: block + i * spacing, size: v.size }));
      continue;
    }
    shared.set(v.node, { arena: v.arena, offset: base[v.arena].alloc(v.size), size: v.size });
  }
  for (const [value, target] of options.aliases) {
    const r = shared.get(target);
    if (!r) throw new Error(`internal: alias target ${target} has no region`);
    persistent.add(value);
    shared.set(value, r);
  }
  const plans = scheds.map((sched) => planOne(sched, shared, persistent, { f32: base.f32.top, i32: base.i32.top }, groupOf));
  const arenaSize = {
    f32: Math.max(ALIGN, ...plans.map((p) => p.arenaSize.f32)),
    i32: Math.max(ALIGN, ...plans.map((p) => p.arenaSize.i32)),
  };
  for (const p of plans) {
    p.arenaSize = arenaSize;
    p.peakBytes = 4 * (arenaSize.f32 + arenaSize.i32);
  }
  return plans;
}

function planOne(sched: Schedule, shared: ReadonlyMap<number, Region>, persistent: ReadonlySet<number>, start: Record<Arena, number>, groupOf: ReadonlyMap<number, readonly number[]>): BufferPlan {
  const lists: Record<Arena, FreeList> = { f32: new FreeList(), i32: new FreeList() };
  lists.f32.top = align(start.f32);
  lists.i32.top = align(start.i32);
  const regions = new Map<number, Region>(shared);
  const lastRead = new Map<number, number>();
  sched.kernels.forEach((k, i) => k.reads.forEach((v) => lastRead.set(v, i)));
  const dead = new Set<number>();

  sched.kernels.forEach((k, i) => {
    for (const w of k.writes) {
      if (regions.has(w)) continue;
      const v = sched.values.get(w);
      const group = groupOf.get(w);
      if (group) {
        // The whole group's block, placed when its first member is written.
        const spacing = groupSpacing(v.size);
        const block = lists[v.arena].alloc(spacing * group.length);
        group.forEach((m, j) => regions.set(m, { arena: v.arena, offset: block + j * spacing, size: v.size }));
        continue;
      }
      regions.set(w, { arena: v.arena, offset: lists[v.arena].alloc(v.size), size: v.size });
    }
    // Free after the kernel: its outputs were placed while its inputs were still held.
    for (const r of new Set([...k.reads, ...k.writes])) {
      if (persistent.has(r)) continue;
      if ((lastRead.get(r) ?? i) <= i) {
        const reg = regions.get(r);
        if (!reg) throw new Error(`internal: value ${r} is read before it is written (kernel ${i})`);
        lastRead.set(r, Number.POSITIVE_INFINITY);
        const group = groupOf.get(r);
        if (group) {
          // A group's block is freed once every member is dead.
          dead.add(r);
          if (group.every((m) => dead.has(m))) lists[reg.arena].release(regions.get(group[0])!.offset, groupSpacing(reg.size) * group.length);
          continue;
        }
        lists[reg.arena].release(reg.offset, reg.size);
      }
    }
  });
  const arenaSize = { f32: lists.f32.top, i32: lists.i32.top };
  return { regions, arenaSize, peakBytes: 4 * (arenaSize.f32 + arenaSize.i32) };
}

/** Fill in every access's offset from the plan. */
export function resolveOffsets(kernels: readonly Kernel[], plan: BufferPlan): void {
  for (const k of kernels) {
    for (const a of accessesOf(k)) {
      const r = plan.regions.get(a.value);
      if (!r) throw new Error(`internal: value ${a.value} has no region (kernel ${k.name})`);
      a.offset = r.offset;
    }
  }
}
