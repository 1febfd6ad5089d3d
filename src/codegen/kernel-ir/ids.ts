/**
 * Ids the code generator hands out. Stored values are IR nodes or values the compiler makes
 * (a temporary, a parameter's transposed copy, an activation stored in another layout); the
 * value table gives the latter ids above every node id and remembers what each is, so that
 * no two values share an id (the buffer planner gives every id its own region). Axes the
 * compiler adds to kernels (the group axis of fused GEMMs, a segment's position) have ids
 * below every IR axis id (the elaborator's AxisTable counts up from 0).
 */
import type { Axis, Graph } from '../../ir/types.js';
import type { Arena, Value, ValueId } from './types.js';

/** What a stored value is: an IR node, a kernel's temporary, a parameter's transposed copy, or an activation in another layout. */
export type ValueKind = 'node' | 'temporary' | 'transposed' | 'relayout';

export function sizeOf(axes: readonly Axis[]): number {
  return axes.reduce((n, a) => n * a.size, 1);
}

export class ValueTable {
  private next: number;
  private made = new Map<ValueId, { value: Value; kind: Exclude<ValueKind, 'node'>; of?: ValueId }>();
  private nodeValues = new Map<ValueId, Value>();
  private copies = new Map<string, ValueId>();

  constructor(readonly graph: Graph) {
    this.next = graph.nodes.length;
  }

  isNode(id: ValueId): boolean {
    return Number.isInteger(id) && id >= 0 && id < this.graph.nodes.length;
  }

  kind(id: ValueId): ValueKind {
    if (this.isNode(id)) return 'node';
    const m = this.made.get(id);
    if (!m) throw new Error(`internal: unknown value ${id}`);
    return m.kind;
  }

  /** The stored value with this id: an IR node's in its declared layout, or one the compiler made. */
  get(id: ValueId): Value {
    if (this.isNode(id)) {
      let v = this.nodeValues.get(id);
      if (!v) {
        const n = this.graph.nodes[id];
        v = { node: id, arena: n.type.dtype === 'f32' ? 'f32' : 'i32', axes: n.type.axes, size: sizeOf(n.type.axes) };
        this.nodeValues.set(id, v);
      }
      return v;
    }
    const m = this.made.get(id);
    if (!m) throw new Error(`internal: unknown value ${id}`);
    return m.value;
  }

  /** A new temporary over `axes` (one per call). */
  temporary(axes: readonly Axis[], arena: Arena = 'f32'): Value {
    return this.make('temporary', axes, arena);
  }

  /**
   * The copy of value `of` laid out over `axes` (a permutation of its axes): the same id every
   * time the same copy is asked for, so every entry point that reads it names one value.
   */
  copy(kind: 'transposed' | 'relayout', of: ValueId, axes: readonly Axis[]): Value {
    const key = `${kind}:${of}:${axes.map((a) => a.id).join(',')}`;
    const id = this.copies.get(key);
    if (id !== undefined) return this.get(id);
    const v = this.make(kind, axes, this.get(of).arena, of);
    this.copies.set(key, v.node);
    return v;
  }

  /** What a copy copies (undefined for nodes and temporaries). */
  original(id: ValueId): ValueId | undefined {
    return this.made.get(id)?.of;
  }

  /** A short name for listings: `%12` for node 12, `tmp#40`, `%12ᵀ` (transposed), `%12'` (relayout). */
  label(id: ValueId): string {
    if (this.isNode(id)) return `%${id}`;
    const m = this.made.get(id);
    if (!m) return `?${id}`;
    if (m.kind === 'temporary') return `tmp#${id}`;
    return `%${m.of}${m.kind === 'transposed' ? 'ᵀ' : "'"}`;
  }

  private make(kind: Exclude<ValueKind, 'node'>, axes: readonly Axis[], arena: Arena, of?: ValueId): Value {
    const value: Value = { node: this.next++, arena, axes, size: sizeOf(axes) };
    this.made.set(value.node, { value, kind, ...(of === undefined ? {} : { of }) });
    return value;
  }
}

/** Axis ids of the axes the compiler adds: below every IR axis id. */
const GROUP_AXIS_ID = -1;
const SEGMENT_AXIS_ID = -2;

/** The axis along which a fused GEMM runs its members (one per kernel; the same id in all, so equal kernels stay equal). */
export function groupAxis(size: number): Axis {
  return { id: GROUP_AXIS_ID, name: 'group', size };
}

export function isGroupAxis(id: number): boolean {
  return id === GROUP_AXIS_ID;
}

/** The position within a segment of a segmented kernel (its size is the largest segment's). */
export function segmentAxis(size: number): Axis {
  return { id: SEGMENT_AXIS_ID, name: 'element', size };
}
