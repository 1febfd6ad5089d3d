/**
 * Kernels as a whole: the accesses a kernel makes, folding one kernel into another (the
 * bookkeeping every fusion pass shares), and the one hazard rule that says when a kernel may
 * move past another.
 */
import type { Axis } from '../../ir/types.js';
import { subexpressions } from './expr.js';
import type { Access, Kernel, KExpr, SegmentedMapKernel, ValueId } from './types.js';

/** Every Access in a kernel (stores, loads, gathers, GEMM operands), in a fixed order: its offset slots are numbered by it. */
export function accessesOf(k: Kernel): Access[] {
  const out: Access[] = [];
  const visit = (e: KExpr) => {
    for (const x of subexpressions(e)) if (x.k === 'load' || x.k === 'gather') out.push(x.access);
  };
  /** A store: where it goes, then what its value reads. */
  const store = (a: Access, value: KExpr) => {
    out.push(a);
    visit(value);
  };
  switch (k.kind) {
    case 'map':
      for (const s of k.stores) store(s.access, s.value);
      break;
    case 'reduce':
      for (const r of [k, ...(k.siblings ?? [])]) store(r.out, r.value);
      break;
    case 'softmax':
      store(k.out, k.value);
      for (const x of k.extra ?? []) store(x.access, x.value);
      break;
    case 'ce_rows':
      store(k.out, k.logits);
      visit(k.target);
      break;
    case 'scatter':
      store(k.out, k.value);
      visit(k.index);
      break;
    case 'gemm':
      out.push(k.out, k.a, k.b);
      visit(k.epilogue);
      for (const x of k.extra ?? []) store(x.access, x.value);
      break;
    case 'sum_squares':
      for (const p of k.parts) out.push(p.input, p.out);
      break;
    case 'rows':
    case 'maps':
      for (const p of k.kind === 'rows' ? k.phases : k.parts) out.push(...accessesOf(p));
      break;
    case 'segmented':
      // The regions of every segment (the body reads them through the segment's table row).
      for (const seg of k.segments) out.push(...seg.slots);
      break;
  }
  return out;
}

/** Every expression a kernel evaluates (stored values, reductions' operands, indices, epilogues), in no particular order. */
export function exprsOf(k: Kernel): KExpr[] {
  switch (k.kind) {
    case 'map':
      return k.stores.map((s) => s.value);
    case 'reduce':
      return [k.value, ...(k.siblings ?? []).map((s) => s.value)];
    case 'softmax':
      return [k.value, ...(k.extra ?? []).map((x) => x.value)];
    case 'ce_rows':
      return [k.logits, k.target];
    case 'scatter':
      return [k.value, k.index];
    case 'gemm':
      return [k.epilogue, ...(k.extra ?? []).map((x) => x.value)];
    case 'sum_squares':
      return [];
    case 'rows':
      return k.phases.flatMap(exprsOf);
    case 'maps':
      return k.parts.flatMap(exprsOf);
    case 'segmented':
      return k.stores.map((s) => s.value);
  }
}

/** Whether kernel `k` accesses value `v` anywhere. */
export function accessesValue(k: Kernel, v: ValueId): boolean {
  return accessesOf(k).some((a) => a.value === v);
}

/** `a` and `b` with duplicates of `b` dropped, in order. */
function union<T>(a: readonly T[], b: readonly T[]): T[] {
  return [...new Set([...a, ...b])];
}

/**
 * Fold `from`'s bookkeeping into `into`, whose body now computes `from`'s work too (the body
 * itself is the caller's): the IR nodes it covers, its `.mdl` lines, what it reads (less
 * `dropRead`, values `into` now computes in place rather than reads), what it writes and its
 * temporaries.
 */
export function absorb(into: Kernel, from: Kernel, dropRead: (v: ValueId) => boolean = () => false): void {
  into.nodes = union(into.nodes, from.nodes).sort((a, b) => a - b);
  into.lines = union(into.lines, from.lines);
  into.reads = union(into.reads, from.reads.filter((r) => !dropRead(r)));
  into.writes = [...into.writes, ...from.writes];
  if (from.temps?.length) into.temps = [...(into.temps ?? []), ...from.temps];
}

/** What a kernel (or part of one) reads and writes. */
export interface Footprint {
  reads: Iterable<ValueId>;
  writes: Iterable<ValueId>;
}

/**
 * The hazard rule: two kernels conflict when one writes a region the other reads or writes.
 * Then their order is fixed; otherwise either may run first. `region` maps a value to the
 * region it shares (in-place updates write their target's).
 */
export function conflicts(a: Footprint, b: Footprint, region: (v: ValueId) => ValueId): boolean {
  const aw = new Set([...a.writes].map(region));
  const bw = new Set([...b.writes].map(region));
  for (const r of b.reads) if (aw.has(region(r))) return true;
  for (const r of a.reads) if (bw.has(region(r))) return true;
  for (const w of bw) if (aw.has(w)) return true;
  return false;
}

/**
 * Whether `k` may move from its place to just after (or before) kernel `to` of `kernels`:
 * nothing strictly between the two places conflicts with it. Kernels for which `skip` holds do
 * not count (they move along).
 */
export function canMove(kernels: readonly Footprint[], from: number, to: number, k: Footprint, region: (v: ValueId) => ValueId, skip: (t: number) => boolean = () => false): boolean {
  const [lo, hi] = from < to ? [from, to] : [to, from];
  for (let t = lo + 1; t < hi; t++) if (!skip(t) && conflicts(kernels[t], k, region)) return false;
  return true;
}

/** The axes a kernel iterates over (its position variables), each once, in a fixed order. */
export function iterationAxes(k: Kernel): Axis[] {
  const all = ((): Axis[] => {
    switch (k.kind) {
      case 'map':
        return k.axes;
      case 'reduce':
        return [...k.axes, ...k.over];
      case 'softmax':
      case 'ce_rows':
        return [...k.axes, k.axis];
      case 'scatter':
        return [...k.axes, ...k.positions];
      case 'gemm':
        return [...k.batch, ...k.m, ...k.n, ...k.k];
      case 'sum_squares':
        return [];
      case 'rows':
        return [...k.rows, k.axis];
      case 'maps':
        return k.parts.flatMap((p) => p.axes);
      case 'segmented':
        return [k.flat];
    }
  })();
  return [...new Map(all.map((a) => [a.id, a])).values()];
}

/*
 * A segmented kernel's table (the segment-updates pass makes such kernels; the renderer reads
 * the table, the program uploads it).
 */

/** u32s in one segment's table row: first invocation, slot offsets, constants, rows, cols. */
export function segmentRowWidth(k: SegmentedMapKernel): number {
  return 3 + k.segments[0].slots.length + k.segments[0].consts.length;
}

/** The dispatch's table: one row per segment (see segmentRowWidth). Offsets must be resolved. */
export function segmentTable(k: SegmentedMapKernel): number[] {
  const out: number[] = [];
  const bits = new Uint32Array(new Float32Array(1).buffer);
  const f32 = new Float32Array(bits.buffer);
  let start = 0;
  for (const s of k.segments) {
    out.push(start, ...s.slots.map((a) => a.offset));
    for (const c of s.consts) {
      f32[0] = c;
      out.push(bits[0]);
    }
    out.push(s.rows, s.cols);
    start += s.size / k.lanes;
  }
  return out;
}
