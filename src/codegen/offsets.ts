/**
 * Offset slots: kernels read where their regions start from a per-dispatch uniform, so that
 * kernels that differ only in where their data lives (the same op in every layer) share one
 * WGSL module and one pipeline. Each distinct region a kernel accesses gets a slot, in the
 * order of first access; the dispatch's block of the offsets buffer holds the regions'
 * offsets by slot.
 */
import { accessesOf } from './kernel-ir/kernel.js';
import type { Access, Kernel, OffsetRef } from './kernel-ir/types.js';

/** Offset slots a kernel may have: one uniform block of u32s per dispatch (OFFSETS_BLOCK bytes). */
export const MAX_OFFSET_SLOTS = 1024;
/** Bytes of each dispatch's offsets block: a multiple of WebGPU's 256-byte dynamic-offset alignment. */
export const OFFSETS_BLOCK = MAX_OFFSET_SLOTS * 4;

/**
 * Slots a kernel's regions and segment tables may take: all but the block's last, which is
 * never written and so always 0 (RUNTIME_ZERO).
 */
export const ASSIGNABLE_OFFSET_SLOTS = MAX_OFFSET_SLOTS - 1;
/**
 * A u32 that is 0 at run time but that no shader compiler can fold: the last slot of the
 * dispatch's offsets block. Kernels add it to the bounds of loops that must stay loops: Mesa
 * unrolls a loop whose trip count it knows, and on lavapipe every memory access outside the k
 * loop of a register GEMM unrolled 16 times cost seconds of LLVM time (issue 16, gemm.ts).
 */
export const RUNTIME_ZERO = `off[${(MAX_OFFSET_SLOTS - 1) >> 2}].${'xyzw'[(MAX_OFFSET_SLOTS - 1) & 3]}`;

/** The declaration of the offsets uniform (group 1), in every kernel of a program. */
export const OFFSETS_DECLARATION = `@group(1) @binding(0) var<uniform> off: array<vec4<u32>, ${MAX_OFFSET_SLOTS / 4}>;\n`;

/**
 * Give each distinct region `k` accesses a slot, in order of first access (so structurally
 * equal kernels get equal slots), and point its accesses at them; returns the regions'
 * offsets by slot. Offsets must be resolved.
 */
export function assignOffsetSlots(k: Kernel): number[] {
  const slots: number[] = [];
  for (const a of accessesOf(k)) {
    // Kernels read and write f32 regions as aligned vec4s (see vec4Readable): regions start at multiples of 4.
    if (a.arena === 'f32' && a.offset % 4 !== 0) throw new Error(`internal: kernel ${k.name} accesses an f32 region at ${a.offset}, not a multiple of 4`);
    let j = slots.indexOf(a.offset);
    if (j < 0) {
      j = slots.length;
      slots.push(a.offset);
    }
    a.base = { in: 'uniform', slot: j };
  }
  if (slots.length > ASSIGNABLE_OFFSET_SLOTS) throw new Error(`internal: kernel ${k.name} accesses ${slots.length} regions`);
  return slots;
}

/** The WGSL u32 expression of a region's start read at run time. */
export function offsetRef(ref: OffsetRef): string {
  return ref.in === 'uniform' ? `off[${ref.slot >> 2}].${'xyzw'[ref.slot & 3]}` : `o${ref.slot}`;
}

/** A region's start as a WGSL u32 term: read at run time, or a literal. */
export function offsetTerm(a: Access): string {
  return a.base ? offsetRef(a.base) : `${a.offset}u`;
}

/** Whether a region starts at a multiple of 4 elements (run-time offsets always do). */
export function offsetAligned4(a: Access): boolean {
  return a.base !== undefined || a.offset % 4 === 0;
}
