/**
 * Segmented updates (training step only): the optimizer's updates as one table-driven
 * kernel. After the passes before it, each parameter's update (new m, new v, new parameter,
 * and the transposed copy some have) is a few stores in a map over the parameter's axes; the
 * maps of equal-shaped parameters share a kernel, but every shape still needs its own, and
 * each merged body is long (lavapipe's LLVM took ~9 s to compile the largest). Every
 * parameter's update is the same elementwise body on contiguous regions, differing only in
 * where the regions are and in a few constants (weight decay), so one kernel can run all of
 * them: segment s of the dispatch runs the body on parameter s, reading its offsets and
 * constants from a table (see SegmentedMapKernel).
 */
import type { Axis } from '../../ir/types.js';
import { foldExpr, loadsOf, mapExpr, withChildren } from '../kernel-ir/expr.js';
import { segmentAxis } from '../kernel-ir/ids.js';
import { canMove, conflicts, type Footprint } from '../kernel-ir/kernel.js';
import { layoutStrides } from '../kernel-ir/layout.js';
import type { Access, Kernel, KExpr, MapKernel, Schedule, SegmentedMapKernel, SegmentRow, Store, ValueId } from '../kernel-ir/types.js';

/** The values one parameter's update stores: new m, new v and the new parameter, and the transposed copy if it has one. */
export interface ParamUpdate {
  /** The parameter's axes, in its layout order. */
  axes: readonly Axis[];
  values: number[];
  /** The transposed copy's value, stored from `of` (one of `values`). */
  copy?: { value: number; of: number };
}

/** A parameter's update in canonical form: its structure as text, its slots and constants, and the body over the segment's position. */
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
export function segmentUpdates(s: Schedule, updates: readonly ParamUpdate[], aliases: ReadonlyMap<ValueId, ValueId>, tableSlots: number): Schedule {
  const region = (v: ValueId) => aliases.get(v) ?? v;
  const where = new Map<ValueId, { kernel: number; store: number }>();
  s.kernels.forEach((k, i) => {
    if (k.kind === 'map') k.stores.forEach((st, j) => where.set(st.access.value, { kernel: i, store: j }));
  });
  const storeFootprint = (stores: readonly Store[]): Footprint => ({ reads: stores.flatMap((st) => loadsOf(st.value).map((a) => a.value)), writes: stores.map((st) => st.access.value) });

  // The updates that can move, with what they read and write.
  interface Candidate extends Footprint {
    kernel: number;
    stores: number[];
    canon: Canonical;
    reads: ValueId[];
    writes: ValueId[];
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
    const c: Candidate = { kernel, stores: order, canon, reads: [...new Set(order.flatMap((j) => loadsOf(map.stores[j].value).map((a) => a.value)))], writes: all };
    // Stores of the same kernel after the update must not conflict with it.
    if (conflicts(storeFootprint(map.stores.filter((_, j) => j > order[0] && !order.includes(j))), c, region)) continue;
    candidates.push(c);
  }
  if (!candidates.length) return s;

  // Each update moves down to the last candidate kernel: nothing in between may conflict with
  // it. Candidates' own stores do not count (they move too).
  const moving = new Map<number, Set<number>>();
  for (const c of candidates) moving.set(c.kernel, new Set([...(moving.get(c.kernel) ?? []), ...c.stores]));
  const last = Math.max(...candidates.map((c) => c.kernel));
  const staying: Footprint[] = s.kernels.map((k, j) => {
    const skip = moving.get(j);
    return k.kind === 'map' && skip ? storeFootprint(k.stores.filter((_, n) => !skip.has(n))) : k;
  });
  const chosen = candidates.filter((c) => canMove(staying, c.kernel, last + 1, c, region));
  if (!chosen.length) return s;

  // Classes of equal bodies; each class becomes one kernel per table's worth of segments.
  const classes = new Map<string, Candidate[]>();
  for (const c of chosen) classes.set(c.canon.key, [...(classes.get(c.canon.key) ?? []), c]);
  const sources = new Set(chosen.map((c) => c.kernel));
  const lines = [...new Set([...sources].flatMap((i) => s.kernels[i].lines))];
  const segmented: SegmentedMapKernel[] = [];
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
      segmented.push({
        kind: 'segmented',
        name: `${s.kernels[last].name}_seg${segmented.length}`,
        nodes: [...new Set(part.flatMap((m) => m.canon.stores.flatMap((st) => st.nodes)))].sort((a, b) => a - b),
        lines,
        reads: [...new Set(part.flatMap((m) => m.reads))],
        writes: part.flatMap((m) => m.stores.map((j) => (s.kernels[m.kernel] as MapKernel).stores[j].access.value)),
        lanes,
        flat: segmentAxis(Math.max(...part.map((m) => m.canon.size))),
        stores: proto.stores.map((st) => ({ ...st, value: fix(st.value) })),
        ...(copyOf === undefined ? {} : { transposedCopy: { of: copyOf, slot: copySlot } }),
        segments: rows.slice(from, from + perKernel),
      });
    }
  }

  // The schedule without the moved stores (kernels left empty disappear), the segmented kernels after the last source.
  const out: Kernel[] = [];
  s.kernels.forEach((k, i) => {
    const moved = new Set(chosen.filter((c) => c.kernel === i).flatMap((c) => c.stores));
    if (moved.size && k.kind === 'map') {
      const kept = k.stores.filter((_, n) => !moved.has(n));
      if (kept.length) {
        const gone = new Set(k.stores.filter((_, n) => moved.has(n)).map((st) => st.access.value));
        out.push({ ...k, stores: kept, nodes: [...new Set(kept.flatMap((st) => st.nodes))].sort((a, b) => a - b), writes: k.writes.filter((w) => !gone.has(w)) });
      }
    } else out.push(k);
    if (i === last) out.push(...segmented);
  });
  return { kernels: out, values: s.values };
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
  const element = segmentAxis(0).id;
  const flat = (j: number, kind: 'element' | 'scalar', value: ValueId): Access => ({ arena: 'f32', value, offset: 0, base: { in: 'segment', slot: j }, strides: kind === 'element' ? new Map([[element, 1]]) : new Map() });
  let ok = true;
  /** The structure of `e` as text (equal for bodies that can share a kernel), and `e` over slots and constant locals. */
  const walk = (e: KExpr) =>
    foldExpr<[string, KExpr]>(e, (x, kids) => {
      const keys = kids.map((c) => c[0]);
      const rebuilt = () => withChildren(x, kids.map((c) => c[1]));
      switch (x.k) {
        case 'load': {
          const kind = kindOf(x.access);
          if (!kind || x.dtype !== 'f32') break;
          const j = slotOf(x.access, kind);
          return [`L${j}${kind[0]}`, { k: 'load', dtype: 'f32', access: flat(j, kind, x.access.value) }];
        }
        case 'const':
          if (x.dtype !== 'f32') return [`I${x.value}`, x];
          consts.push(x.value);
          return ['C', { k: 'local', name: `c${consts.length - 1}` }];
        case 'unary':
        case 'cast':
          return [`${x.k === 'unary' ? x.fn : `${x.from}>${x.to}`}(${keys[0]})`, rebuilt()];
        case 'binary':
        case 'compare':
          return [`${x.fn}${x.k === 'binary' ? x.dtype : '?'}(${keys.join(',')})`, rebuilt()];
        case 'where':
          return [`where(${keys.join(',')})`, rebuilt()];
        default:
          break;
      }
      ok = false;
      return ['?', x];
    });

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
