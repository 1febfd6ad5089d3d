/**
 * The optimizer's updates as segmented maps. After scheduling, each parameter's update (new
 * m, new v, new parameter, and the transposed copy some have) is a few stores in a map over
 * the parameter's axes; the maps of equal-shaped parameters share a kernel, but every shape
 * still needs its own, and each merged body is long (lavapipe's LLVM took ~9 s to compile the
 * largest). Every parameter's update is the same elementwise body on contiguous regions,
 * differing only in where the regions are and in a few constants (weight decay), so one
 * kernel can run all of them: segment s of the dispatch runs the body on parameter s, reading
 * its offsets and constants from a table (see SegmentedMapKernel).
 */
import type { Axis } from '../ir/types.js';
import { layoutStrides, loadsOf, type Schedule } from './schedule.js';
import type { Access, KExpr, MapKernel, SegmentedMapKernel, SegmentRow, Store } from './spec.js';

/** The values one parameter's update stores: new m, new v and the new parameter, and the transposed copy if it has one. */
export interface ParamUpdate {
  /** The parameter's axes, in its layout order. */
  axes: readonly Axis[];
  values: number[];
  /** The transposed copy's value, stored from `of` (one of `values`). */
  copy?: { value: number; of: number };
}

/** Id of a segment's position axis (above every IR axis id and GROUP_AXIS). */
export const SEGMENT_AXIS = (1 << 24) + 1;
const PLACEHOLDER_BASE = 0x20000000;
const PLACEHOLDER_STEP = 0x10000;

/** The stand-in offset of slot j in a segmented body (a multiple of 4, like a real region). */
export function segmentSlotPlaceholder(j: number): number {
  return PLACEHOLDER_BASE + j * PLACEHOLDER_STEP;
}

/** Whether `n` is a slot stand-in (a leftover in generated code is a compiler bug). */
export function isSegmentPlaceholder(n: number): boolean {
  return n >= PLACEHOLDER_BASE && n < PLACEHOLDER_BASE + 4096 * PLACEHOLDER_STEP && (n - PLACEHOLDER_BASE) % PLACEHOLDER_STEP === 0;
}

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

/** A parameter's update in canonical form: its structure as text, its slots and constants, and the body over SEGMENT_AXIS. */
interface Canonical {
  key: string;
  size: number;
  slots: Access[];
  consts: number[];
  stores: { slot: number; value: KExpr; nodes: number[] }[];
  copy?: { of: number; access: Access; rows: number; cols: number };
}

/**
 * Move every parameter update that fits (stores over contiguous regions or scalars, nothing
 * in between that conflicts) out of its map kernel into segmented kernels, one per distinct
 * body and elements per invocation, with at most `tableSlots` u32s of table each. They take
 * the place of the last kernel that held one of the updates.
 */
export function segmentUpdates(s: Schedule, updates: readonly ParamUpdate[], aliases: ReadonlyMap<number, number>, tableSlots: number): Schedule {
  const region = (v: number) => aliases.get(v) ?? v;
  const where = new Map<number, { kernel: number; store: number }>();
  s.kernels.forEach((k, i) => {
    if (k.kind === 'map' && !s.temps.has(i)) k.stores.forEach((st, j) => where.set(st.access.value, { kernel: i, store: j }));
  });

  // The updates that can move, with what they read and write (as regions).
  interface Candidate {
    kernel: number;
    stores: number[];
    canon: Canonical;
    reads: Set<number>;
    writes: Set<number>;
    /** The values its loads read (node ids, for liveness). */
    loads: number[];
  }
  const candidates: Candidate[] = [];
  for (const u of updates) {
    const all = [...u.values, ...(u.copy ? [u.copy.value] : [])];
    const at = all.map((v) => where.get(v));
    if (at.some((x) => !x) || new Set(at.map((x) => x!.kernel)).size !== 1) continue;
    const kernel = at[0]!.kernel;
    const map = s.kernels[kernel] as MapKernel;
    const order = at.map((x) => x!.store).sort((a, b) => a - b);
    const canon = canonical(u, order.map((j) => map.stores[j]), region);
    if (!canon) continue;
    const loads = [...new Set(order.flatMap((j) => loadsOf(map.stores[j].value).map((a) => a.value)))];
    const reads = new Set(loads.map(region));
    const writes = new Set(all.map(region));
    // Stores of the same kernel after the update must not read what it writes or write what it reads.
    const later = map.stores.filter((_, j) => j > order[0] && !order.includes(j));
    if (later.some((st) => writes.has(region(st.access.value)) || reads.has(region(st.access.value)) || loadsOf(st.value).some((a) => writes.has(region(a.value))))) continue;
    candidates.push({ kernel, stores: order, canon, reads, writes, loads });
  }
  if (!candidates.length) return s;

  // Each update moves down to the last candidate kernel: nothing in between may touch what it
  // writes or write what it reads. Later candidates' own stores do not count (they move too).
  const moving = new Map<number, Set<number>>();
  for (const c of candidates) moving.set(c.kernel, new Set([...(moving.get(c.kernel) ?? []), ...c.stores]));
  const last = Math.max(...candidates.map((c) => c.kernel));
  const touched = (j: number): { reads: number[]; writes: number[] } => {
    const k = s.kernels[j];
    const skip = moving.get(j);
    if (k.kind !== 'map' || !skip) return { reads: s.reads[j].map(region), writes: s.writes[j].map(region) };
    const kept = k.stores.filter((_, n) => !skip.has(n));
    return { reads: kept.flatMap((st) => loadsOf(st.value).map((a) => region(a.value))), writes: kept.map((st) => region(st.access.value)) };
  };
  const chosen = candidates.filter((c) => {
    for (let j = c.kernel + 1; j <= last; j++) {
      const t = touched(j);
      if (t.writes.some((w) => c.writes.has(w) || c.reads.has(w)) || t.reads.some((r) => c.writes.has(r))) return false;
    }
    return true;
  });
  if (!chosen.length) return s;

  // Classes of equal bodies; each class becomes one kernel per table's worth of segments.
  const classes = new Map<string, Candidate[]>();
  for (const c of chosen) classes.set(c.canon.key, [...(classes.get(c.canon.key) ?? []), c]);
  const sources = new Set(chosen.map((c) => c.kernel));
  const lines = [...new Set([...sources].flatMap((i) => s.kernels[i].lines))];
  const segmented: { kernel: SegmentedMapKernel; reads: number[]; writes: number[] }[] = [];
  for (const members of classes.values()) {
    const lanes: 1 | 4 = members.every((m) => m.canon.size % 4 === 0) ? 4 : 1;
    const proto = members[0].canon;
    // Constants equal in every member stay literals; the others are read from the table.
    const varying = proto.consts.map((_, i) => members.some((m) => m.canon.consts[i] !== proto.consts[i]));
    const localName = new Map<string, number>();
    varying.forEach((v, i) => v && localName.set(`c${i}`, localName.size));
    const fix = (e: KExpr): KExpr => mapExpr(e, (x) => (x.k === 'local' ? (localName.has(x.name) ? { k: 'local', name: `c${localName.get(x.name)}` } : { k: 'const', value: proto.consts[Number(x.name.slice(1))], dtype: 'f32' }) : undefined));
    const copyOf = members.find((m) => m.canon.copy)?.canon.copy?.of;
    const copySlot = proto.slots.length;
    const rows: SegmentRow[] = members.map((m) => ({
      size: m.canon.size,
      slots: [...m.canon.slots, ...(copyOf === undefined ? [] : [m.canon.copy?.access ?? { ...m.canon.slots[0] }])],
      consts: m.canon.consts.filter((_, i) => varying[i]),
      rows: m.canon.copy?.rows ?? 0,
      cols: m.canon.copy?.cols ?? 0,
    }));
    const width = 3 + rows[0].slots.length + rows[0].consts.length;
    const perKernel = Math.max(1, Math.floor(tableSlots / width));
    for (let from = 0; from < members.length; from += perKernel) {
      const part = members.slice(from, from + perKernel);
      const kernel: SegmentedMapKernel = {
        kind: 'segmented',
        name: `${s.kernels[last].name}_seg${segmented.length}`,
        nodes: [...new Set(part.flatMap((m) => m.canon.stores.flatMap((st) => st.nodes)))].sort((a, b) => a - b),
        lines,
        lanes,
        flat: { id: SEGMENT_AXIS, name: 'e', size: Math.max(...part.map((m) => m.canon.size)) },
        stores: proto.stores.map((st) => ({ ...st, value: fix(st.value) })),
        ...(copyOf === undefined ? {} : { transposedCopy: { of: copyOf, slot: copySlot } }),
        segments: rows.slice(from, from + perKernel),
      };
      const writes = part.flatMap((m) => m.stores.map((j) => (s.kernels[m.kernel] as MapKernel).stores[j].access.value));
      segmented.push({ kernel, reads: [...new Set(part.flatMap((m) => m.loads))], writes });
    }
  }

  // The schedule without the moved stores (kernels left empty disappear), the segmented kernels after the last source.
  const out: Schedule = { kernels: [], values: s.values, reads: [], writes: [], temps: new Map() };
  s.kernels.forEach((k, i) => {
    const moved = new Set(chosen.filter((c) => c.kernel === i).flatMap((c) => c.stores));
    if (moved.size && k.kind === 'map') {
      const kept = k.stores.filter((_, n) => !moved.has(n));
      if (kept.length) {
        const gone = new Set(k.stores.filter((_, n) => moved.has(n)).map((st) => st.access.value));
        out.kernels.push({ ...k, stores: kept, nodes: [...new Set(kept.flatMap((st) => st.nodes))].sort((a, b) => a - b) });
        out.reads.push(s.reads[i]);
        out.writes.push(s.writes[i].filter((w) => !gone.has(w)));
      }
    } else {
      if (s.temps.has(i)) out.temps.set(out.kernels.length, s.temps.get(i)!);
      out.kernels.push(k);
      out.reads.push(s.reads[i]);
      out.writes.push(s.writes[i]);
    }
    if (i === last) {
      for (const x of segmented) {
        out.kernels.push(x.kernel);
        out.reads.push(x.reads);
        out.writes.push(x.writes);
      }
    }
  });
  return out;
}

/**
 * One update's stores (in kernel order) in canonical form, or undefined when it does not fit a
 * segment: every access an element of a region laid out in the parameter's order, or a scalar;
 * the copy a transposition of the parameter's axes split in two (rows × cols → cols × rows).
 */
function canonical(u: ParamUpdate, stores: readonly Store[], region: (v: number) => number): Canonical | undefined {
  const layout = layoutStrides(u.axes);
  const size = u.axes.reduce((n, a) => n * a.size, 1);
  const big = u.axes.filter((a) => a.size > 1);
  const unit = new Set(u.axes.filter((a) => a.size === 1).map((a) => a.id));
  const nonzero = (a: Access) => [...a.strides].filter(([id, st]) => st !== 0 && !unit.has(id));
  const sameAs = (a: Access, want: ReadonlyMap<number, number>) => {
    const nz = nonzero(a);
    return nz.length === big.length && nz.every(([id, st]) => want.get(id) === st);
  };
  const kindOf = (a: Access): 'element' | 'scalar' | undefined => {
    if (a.arena !== 'f32') return undefined;
    if (!nonzero(a).length) return 'scalar';
    return sameAs(a, layout) ? 'element' : undefined;
  };

  const slots: Access[] = [];
  const slotKeys: string[] = [];
  const slotOf = (a: Access, kind: 'element' | 'scalar') => {
    const key = `${region(a.value)}:${kind}`;
    let j = slotKeys.indexOf(key);
    if (j < 0) {
      j = slotKeys.length;
      slotKeys.push(key);
      slots.push({ arena: 'f32', value: a.value, offset: 0, strides: new Map() });
    }
    return j;
  };
  const consts: number[] = [];
  const flat = (j: number, kind: 'element' | 'scalar'): Access => ({ arena: 'f32', value: -1, offset: segmentSlotPlaceholder(j), strides: kind === 'element' ? new Map([[SEGMENT_AXIS, 1]]) : new Map() });
  let ok = true;
  const walk = (e: KExpr): [string, KExpr] => {
    switch (e.k) {
      case 'load': {
        const kind = kindOf(e.access);
        if (!kind || e.dtype !== 'f32') break;
        const j = slotOf(e.access, kind);
        return [`L${j}${kind[0]}`, { k: 'load', dtype: 'f32', access: flat(j, kind) }];
      }
      case 'const':
        if (e.dtype !== 'f32') return [`I${e.value}`, e];
        consts.push(e.value);
        return ['C', { k: 'local', name: `c${consts.length - 1}` }];
      case 'unary':
      case 'cast': {
        const [key, x] = walk(e.x);
        return [`${e.k === 'unary' ? e.fn : `${e.from}>${e.to}`}(${key})`, { ...e, x }];
      }
      case 'binary':
      case 'compare': {
        const [ka, a] = walk(e.a);
        const [kb, b] = walk(e.b);
        return [`${e.fn}${e.k === 'binary' ? e.dtype : '?'}(${ka},${kb})`, { ...e, a, b }];
      }
      case 'where': {
        const [kc, c] = walk(e.c);
        const [ka, a] = walk(e.a);
        const [kb, b] = walk(e.b);
        return [`where(${kc},${ka},${kb})`, { ...e, c, a, b }];
      }
      default:
        break;
    }
    ok = false;
    return ['?', e];
  };

  const body: Canonical['stores'] = [];
  const keys: string[] = [];
  let copy: Canonical['copy'];
  for (const st of stores) {
    if (u.copy && st.access.value === u.copy.value) {
      const split = rotation(u.axes, st.access, nonzero);
      const from = body.findIndex((b) => slotKeys[b.slot] === `${region(u.copy!.of)}:element`);
      const v = st.value;
      if (!split || from < 0 || v.k !== 'load' || region(v.access.value) !== region(u.copy.of) || kindOf(v.access) !== 'element') return undefined;
      copy = { of: from, access: { arena: 'f32', value: st.access.value, offset: 0, strides: new Map() }, ...split };
      continue;
    }
    if (kindOf(st.access) !== 'element') return undefined;
    const [key, value] = walk(st.value);
    const slot = slotOf(st.access, 'element');
    body.push({ slot, value, nodes: st.nodes });
    keys.push(`S${slot}=${key}`);
  }
  if (!ok || (u.copy && !copy)) return undefined;
  return { key: `${size % 4 === 0 ? 4 : 1}|${keys.join(';')}`, size, slots, consts, stores: body, ...(copy ? { copy } : {}) };
}

/** The rows × cols split if `a` stores the parameter's axes rotated (axes j.. first, then ..j), else undefined. */
function rotation(axes: readonly Axis[], a: Access, nonzero: (a: Access) => [number, number][]): { rows: number; cols: number } | undefined {
  const nz = nonzero(a);
  for (let j = 1; j < axes.length; j++) {
    const want = layoutStrides([...axes.slice(j), ...axes.slice(0, j)]);
    const big = axes.filter((x) => x.size > 1);
    if (nz.length === big.length && nz.every(([id, st]) => want.get(id) === st)) {
      return { rows: axes.slice(0, j).reduce((n, x) => n * x.size, 1), cols: axes.slice(j).reduce((n, x) => n * x.size, 1) };
    }
  }
  return undefined;
}

/** `e` with every subexpression that `f` returns a replacement for replaced (tried from the root down). */
export function mapExpr(e: KExpr, f: (x: KExpr) => KExpr | undefined): KExpr {
  const r = f(e);
  if (r) return r;
  switch (e.k) {
    case 'unary':
    case 'cast':
      return { ...e, x: mapExpr(e.x, f) };
    case 'binary':
    case 'compare':
      return { ...e, a: mapExpr(e.a, f), b: mapExpr(e.b, f) };
    case 'where':
      return { ...e, c: mapExpr(e.c, f), a: mapExpr(e.a, f), b: mapExpr(e.b, f) };
    case 'gather':
      return { ...e, index: mapExpr(e.index, f) };
    default:
      return e;
  }
}
