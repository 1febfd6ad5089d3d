/**
 * The scheduler: groups the IR nodes of a graph into kernels.
 *
 * - Constants, axis positions (iota), renames and broadcasts are never kernels: they are
 *   literals, position variables and strides inside the kernels that use them.
 * - Elementwise nodes (and gathers) with one consumer are inlined into that consumer, so a
 *   chain of elementwise ops becomes one expression; such chains also fuse into the
 *   prologue of reductions and softmax, and into the epilogue of contractions (scale, bias,
 *   GELU, residual add).
 * - Elementwise nodes read by several kernels, graph outputs, and contraction operands are
 *   materialised once (a `map` kernel), except cheap ones (RECOMPUTE_COST), which each
 *   reader recomputes.
 * - Reductions, softmax, cross-entropy, scatter-add and contractions are kernels of their own.
 * The fusion decisions are the table FUSION below, consulted per op.
 */
import type { Axis, Graph, IRNode, OpName } from '../ir/types.js';
import type { Access, Arena, Kernel, KExpr } from './spec.js';

/** How each op takes part in fusion. */
export const FUSION: Record<OpName, 'leaf' | 'free' | 'view' | 'elementwise' | 'kernel'> = {
  param: 'leaf',
  input: 'leaf',
  const: 'free',
  iota: 'free',
  rename: 'view',
  expand: 'view',
  unary: 'elementwise',
  binary: 'elementwise',
  compare: 'elementwise',
  where: 'elementwise',
  cast: 'elementwise',
  gather: 'elementwise',
  reduce: 'kernel',
  contract: 'kernel',
  softmax: 'kernel',
  cross_entropy: 'kernel',
  scatter_add: 'kernel',
};

/**
 * Elementwise work (in `opCost` units) worth recomputing in every kernel that reads a value
 * rather than storing it once: a few multiplies, or one rsqrt, cost less than the extra
 * dispatch and the pass over memory (the layernorm backward's `dy * g` and `dy * g * rstd`,
 * a causal mask, `rsqrt(var + eps)`).
 */
export const RECOMPUTE_COST = 8;

/**
 * Deepest bracket nesting of an inlined expression; a longer chain of elementwise nodes is
 * stored part-way. Later passes walk inlined expressions recursively, and Tint refuses WGSL
 * nested about 128 deep ("maximum parser recursive depth reached"): a chain of 10,000
 * statements (`x = x * 1.0001`) overflowed the stack, and one of 300 made an invalid shader.
 * The reference models nest at most 67 deep, so their kernels are unchanged.
 */
export const MAX_INLINE_DEPTH = 96;

/** Rough cost of one elementwise node when inlined: transcendental functions count more. */
function opCost(n: IRNode): number {
  const a = n.attrs;
  if (a.op === 'unary') return a.fn === 'gelu' || a.fn === 'gelu_grad' ? 8 : a.fn === 'exp' || a.fn === 'log' || a.fn === 'tanh' || a.fn === 'sigmoid' || a.fn === 'rsqrt' || a.fn === 'sqrt' ? 2 : 1;
  if (a.op === 'binary' && (a.fn === 'pow' || a.fn === 'div')) return 2;
  return 1;
}

/** A tensor stored in an arena: the node it holds and its layout (row-major over `axes`). */
export interface Value {
  node: number;
  arena: Arena;
  axes: readonly Axis[];
  size: number;
}

export interface Schedule {
  kernels: Kernel[];
  /** Materialised values by node id, in the order they are first written. */
  values: Map<number, Value>;
  /** For each kernel, the node ids of the values it reads and writes (for liveness). */
  reads: number[][];
  writes: number[][];
  /** Nodes computed as a temporary that is not an IR node (cross-entropy rows): keyed by kernel. */
  temps: Map<number, Value>;
}

export interface ScheduleOptions {
  /** Node ids the program must produce. */
  outputs: readonly number[];
  /** Values that will share a region (in-place updates: `param:x` → `x`), for hazard checks. */
  aliases?: ReadonlyMap<number, number>;
}

export function arenaOf(n: IRNode): Arena {
  return n.type.dtype === 'f32' ? 'f32' : 'i32';
}

function sizeOf(axes: readonly Axis[]): number {
  return axes.reduce((s, a) => s * a.size, 1);
}

/** Row-major strides of a layout, keyed by axis id. */
export function layoutStrides(axes: readonly Axis[]): Map<number, number> {
  const out = new Map<number, number>();
  let s = 1;
  for (let i = axes.length - 1; i >= 0; i--) {
    out.set(axes[i].id, s);
    s *= axes[i].size;
  }
  return out;
}

/**
 * An access to value `v` with its axes mapped to iteration axes by `sub`. The offset is set
 * by the buffer planner once regions are assigned.
 */
function pendingAccess(v: Value, sub: ReadonlyMap<number, Axis>): Access {
  const strides = new Map<number, number>();
  for (const [id, s] of layoutStrides(v.axes)) strides.set((sub.get(id) ?? { id }).id, s);
  return { arena: v.arena, value: v.node, offset: 0, strides };
}

export function schedule(graph: Graph, options: ScheduleOptions): Schedule {
  const nodes = graph.nodes;
  const outputs = new Set(options.outputs);

  // Needed nodes and their consumers.
  const needed = new Uint8Array(nodes.length);
  for (const o of outputs) needed[o] = 1;
  for (let id = nodes.length - 1; id >= 0; id--) if (needed[id]) for (const i of nodes[id].inputs) needed[i] = 1;
  const consumers: number[][] = nodes.map(() => []);
  for (const n of nodes) if (needed[n.id]) for (const i of n.inputs) consumers[i].push(n.id);

  const kindOf = (n: IRNode) => FUSION[n.attrs.op];
  /** Follow views back to the node whose storage they describe. */
  const viewBase = (id: number): number => {
    while (kindOf(nodes[id]) === 'view') id = nodes[id].inputs[0];
    return id;
  };

  // Which nodes get their own storage. An elementwise node read by several kernels is stored
  // once, unless recomputing it in each is cheaper than a pass that stores it (see RECOMPUTE).
  const materialized = new Set<number>();
  const inlineCost = new Map<number, number>();
  const inlineDepth = new Map<number, number>();
  for (const n of nodes) {
    if (!needed[n.id]) continue;
    const k = kindOf(n);
    if (k === 'leaf' || k === 'kernel') materialized.add(n.id);
    if (outputs.has(n.id) && k !== 'leaf') materialized.add(n.id);
    if (k === 'view' || k === 'elementwise') {
      const own = k === 'view' ? 0 : opCost(n);
      inlineCost.set(n.id, own + n.inputs.reduce((c, i) => c + (materialized.has(i) ? 0 : (inlineCost.get(i) ?? 0)), 0));
      // Views (renames, broadcasts) add no nesting to the expression; elementwise nodes add
      // their WGSL's brackets (a sigmoid is `(1.0 / (1.0 + exp(-x)))`).
      const nesting = k === 'view' ? 0 : n.attrs.op === 'unary' && n.attrs.fn === 'sigmoid' ? 3 : 1;
      inlineDepth.set(n.id, nesting + n.inputs.reduce((d, i) => Math.max(d, materialized.has(i) ? 0 : (inlineDepth.get(i) ?? 0)), 0));
    }
    if (k === 'elementwise' && distinctConsumers(n.id) > 1 && inlineCost.get(n.id)! > RECOMPUTE_COST) materialized.add(n.id);
    if (k === 'elementwise' && inlineDepth.get(n.id)! >= MAX_INLINE_DEPTH) materialized.add(n.id);
  }
  // Contraction operands and scatter indices are read through strides: materialise their base.
  for (const n of nodes) {
    if (!needed[n.id]) continue;
    if (n.attrs.op === 'contract') for (const i of n.inputs) materialized.add(viewBase(i));
    if (n.attrs.op === 'gather') materialized.add(viewBase(n.inputs[0]));
  }
  /** Consumers of a value, counting those that read it through views. */
  function distinctConsumers(id: number): number {
    // A value read through views by several consumers counts each final consumer.
    let count = 0;
    for (const c of consumers[id]) count += kindOf(nodes[c]) === 'view' ? Math.max(1, distinctConsumers(c)) : 1;
    return count;
  }

  // GEMM epilogues: a contraction whose only consumer chain is elementwise over the same axes
  // is stored as the end of that chain, computed in the GEMM kernel.
  const absorbedContract = new Map<number, number>(); // root id → contract id
  for (const n of nodes) {
    if (!needed[n.id] || n.attrs.op !== 'contract' || outputs.has(n.id)) continue;
    let cur = n.id;
    for (;;) {
      if (outputs.has(cur) && cur !== n.id) break;
      const cs = consumers[cur];
      if (cs.length !== 1) break;
      const u = nodes[cs[0]];
      if (kindOf(u) !== 'elementwise' || u.attrs.op === 'gather') break;
      if (!sameAxisSet(u.type.axes, n.type.axes)) break;
      // The contraction must enter the chain exactly once.
      if (u.inputs.filter((i) => i === cur).length !== 1) break;
      cur = u.id;
      if (materialized.has(cur)) break;
    }
    // One accumulator per GEMM: a root that already absorbs a contraction takes no second one.
    if (cur !== n.id && !absorbedContract.has(cur)) {
      absorbedContract.set(cur, n.id);
      materialized.delete(n.id);
      materialized.add(cur);
    }
  }

  const values = new Map<number, Value>();
  const valueOf = (id: number): Value => {
    let v = values.get(id);
    if (!v) {
      const n = nodes[id];
      v = { node: id, arena: arenaOf(n), axes: n.type.axes, size: sizeOf(n.type.axes) };
      values.set(id, v);
    }
    return v;
  };

  const kernels: Kernel[] = [];
  const reads: number[][] = [];
  const writes: number[][] = [];
  const temps = new Map<number, Value>();

  interface ExprContext {
    /** Stored values read (for liveness). */
    reads: Set<number>;
    /** Node ids computed inline (for the kernel's comment). */
    covered: Set<number>;
    /** In a GEMM epilogue: the contraction whose result is the accumulator. */
    acc?: number;
  }

  /**
   * The expression computing node `id`, with the node's axes mapped to iteration axes by
   * `sub` (renames substitute axes; broadcasts simply do not index the missing axes).
   * `root`: compute the node itself rather than loading its stored value.
   */
  function expr(id: number, sub: ReadonlyMap<number, Axis>, cx: ExprContext, root = false): KExpr {
    const n = nodes[id];
    if (cx.acc !== undefined && id === cx.acc) return { k: 'acc' };
    if (!root && materialized.has(id)) {
      cx.reads.add(id);
      return { k: 'load', access: pendingAccess(valueOf(id), sub), dtype: n.type.dtype };
    }
    cx.covered.add(id);
    const a = n.attrs;
    const rec = (i: number, s: ReadonlyMap<number, Axis> = sub) => expr(n.inputs[i], s, cx);
    switch (a.op) {
      case 'const':
        return { k: 'const', value: a.value, dtype: a.dtype === 'f32' ? 'f32' : 'i32' };
      case 'iota':
        return { k: 'iota', axis: sub.get(a.axis.id) ?? a.axis };
      case 'rename':
        return rec(0, renameSub(a.pairs, sub));
      case 'expand':
        return rec(0);
      case 'unary':
        return { k: 'unary', fn: a.fn, x: rec(0) };
      case 'binary':
        return { k: 'binary', fn: a.fn, a: rec(0), b: rec(1), dtype: n.type.dtype === 'f32' ? 'f32' : 'i32' };
      case 'compare':
        return { k: 'compare', fn: a.fn, a: rec(0), b: rec(1) };
      case 'where':
        return { k: 'where', c: rec(0), a: rec(1), b: rec(2) };
      case 'cast':
        return { k: 'cast', to: a.to, from: nodes[n.inputs[0]].type.dtype, x: rec(0) };
      case 'gather':
        return { k: 'gather', access: viewAccess(n.inputs[0], sub, cx.reads), dtype: n.type.dtype, axis: a.axis, index: rec(1) };
      default:
        throw new Error(`internal: ${a.op} cannot be inlined`);
    }
  }

  /** The input's axis `from` is read at the position this node has on axis `to`. */
  function renameSub(pairs: readonly (readonly [Axis, Axis])[], sub: ReadonlyMap<number, Axis>): Map<number, Axis> {
    const s = new Map(sub);
    for (const [from, to] of pairs) s.set(from.id, sub.get(to.id) ?? to);
    return s;
  }

  /** Access to the stored value under a chain of views (renames, broadcasts) of node `id`. */
  function viewAccess(id: number, sub: ReadonlyMap<number, Axis>, reads: Set<number>): Access {
    let cur = id;
    let s: ReadonlyMap<number, Axis> = sub;
    while (FUSION[nodes[cur].attrs.op] === 'view') {
      const a = nodes[cur].attrs;
      if (a.op === 'rename') s = renameSub(a.pairs, s);
      cur = nodes[cur].inputs[0];
    }
    if (!materialized.has(cur)) throw new Error(`internal: node ${cur} is read through strides but not stored`);
    reads.add(cur);
    return pendingAccess(valueOf(cur), s);
  }

  const identity = new Map<number, Axis>();
  for (const n of nodes) {
    if (!needed[n.id] || !materialized.has(n.id) || kindOf(n) === 'leaf') continue;
    const cx: ExprContext = { reads: new Set(), covered: new Set() };
    const readSet = cx.reads;
    const covered = cx.covered;
    const out = valueOf(n.id);
    const outAccess = pendingAccess(out, identity);
    const a = n.attrs;
    let kernel: Kernel;
    const contract = absorbedContract.get(n.id);
    if (a.op === 'contract' || contract !== undefined) {
      const c = nodes[contract ?? n.id];
      if (c.attrs.op !== 'contract') throw new Error('internal');
      const [x, y] = c.inputs;
      const ax = nodes[x].type.axes;
      const by = nodes[y].type.axes;
      const over = c.attrs.over;
      const isOver = (t: Axis) => over.some((o) => o.id === t.id);
      const inB = (t: Axis) => by.some((b) => b.id === t.id);
      const inA = (t: Axis) => ax.some((b) => b.id === t.id);
      covered.add(c.id);
      const epilogue: KExpr = contract !== undefined ? expr(n.id, identity, { ...cx, acc: c.id }, true) : { k: 'acc' };
      kernel = {
        kind: 'gemm',
        name: '',
        nodes: [],
        lines: [],
        batch: ax.filter((t) => inB(t) && !isOver(t)),
        m: ax.filter((t) => !inB(t) && !isOver(t)),
        n: by.filter((t) => !inA(t) && !isOver(t)),
        k: [...over],
        a: viewAccess(x, identity, readSet),
        b: viewAccess(y, identity, readSet),
        epilogue,
        out: outAccess,
      };
    } else if (a.op === 'reduce') {
      const value = expr(n.inputs[0], identity, cx);
      kernel = { kind: 'reduce', name: '', nodes: [], lines: [], axes: [...n.type.axes], over: [...a.axes], fn: a.fn, value, out: outAccess };
    } else if (a.op === 'softmax') {
      const value = expr(n.inputs[0], identity, cx);
      kernel = { kind: 'softmax', name: '', nodes: [], lines: [], axes: n.type.axes.filter((t) => t.id !== a.axis.id), axis: a.axis, value, out: outAccess };
    } else if (a.op === 'cross_entropy') {
      // Two kernels: per-row terms into a temporary, then their mean.
      const logitsT = nodes[n.inputs[0]].type;
      const rows = logitsT.axes.filter((t) => t.id !== a.axis.id);
      const logits = expr(n.inputs[0], identity, cx);
      const target = expr(n.inputs[1], identity, cx);
      const temp: Value = { node: -1 - kernels.length, arena: 'f32', axes: rows, size: sizeOf(rows) };
      temps.set(kernels.length, temp);
      const tempAccess: Access = { arena: 'f32', value: temp.node, offset: 0, strides: layoutStrides(rows) };
      const ce: Kernel = { kind: 'ce_rows', name: '', nodes: [...covered, n.id], lines: [], axes: rows, axis: a.axis, logits, target, out: tempAccess };
      push(ce, [...readSet], [temp.node]);
      kernel = {
        kind: 'reduce',
        name: '',
        nodes: [],
        lines: [],
        axes: [],
        over: rows,
        fn: 'mean',
        value: { k: 'load', access: { ...tempAccess, strides: new Map(tempAccess.strides) }, dtype: 'f32' },
        out: outAccess,
      };
      readSet.clear();
      readSet.add(temp.node);
    } else if (a.op === 'scatter_add') {
      const [vals, index] = n.inputs;
      const positions = [...nodes[index].type.axes];
      const value = expr(vals, identity, cx);
      const idx = expr(index, identity, cx);
      kernel = { kind: 'scatter', name: '', nodes: [], lines: [], axes: [...n.type.axes], axis: a.axis, positions, index: idx, value, out: outAccess };
    } else {
      const value = expr(n.id, identity, cx, true);
      kernel = { kind: 'map', name: '', nodes: [], lines: [], axes: [...n.type.axes], stores: [{ access: outAccess, value, nodes: [n.id] }] };
    }
    covered.add(n.id);
    kernel.nodes = [...covered].filter((x) => x >= 0).sort((p, q) => p - q);
    push(kernel, [...readSet], [n.id]);
  }

  function push(k: Kernel, r: number[], w: number[]) {
    k.name = `k${String(kernels.length).padStart(3, '0')}_${k.kind}`;
    const lines = new Set<string>();
    for (const id of k.nodes) {
      const s = id >= 0 ? nodes[id]?.span : undefined;
      if (s) lines.add(`${s.file.split('/').pop()}:${s.line}`);
    }
    k.lines = [...lines];
    kernels.push(k);
    reads.push(r);
    writes.push(w);
  }

  const aliases = options.aliases ?? new Map<number, number>();
  return mergeReductions(mergeSumSquares(mergeRows(absorbMapsIntoGemms(mergeMapKernels({ kernels, values, reads, writes, temps }, aliases)), aliases)), aliases);
}

function sameAxisSet(a: readonly Axis[], b: readonly Axis[]): boolean {
  return a.length === b.length && a.every((x) => b.some((y) => y.id === x.id));
}

/**
 * Merge adjacent map kernels over the same iteration space into one kernel with several
 * stores (e.g. an optimizer's m, v and parameter updates), when every value one of them
 * writes is read by the other only at the element being written: each invocation then reads
 * what it wrote itself, in program order, and no other invocation is affected.
 */
function mergeMapKernels(s: Schedule, aliases: ReadonlyMap<number, number>): Schedule {
  const region = (v: number) => aliases.get(v) ?? v;
  const sameStrides = (a: ReadonlyMap<number, number>, b: ReadonlyMap<number, number>) => a.size === b.size && [...a].every(([id, st]) => b.get(id) === st);
  const out: Schedule = { kernels: [], values: s.values, reads: [], writes: [], temps: new Map() };
  s.kernels.forEach((k, i) => {
    if (k.kind === 'map') {
      // Join the latest map over the same axes that it may move up to: no kernel in between
      // writes what it reads or touches what it writes (the optimizer's updates of equal-shaped
      // parameters of every layer become one kernel).
      const reads = new Set(s.reads[i].map(region));
      const writes = new Set(s.writes[i].map(region));
      for (let j = out.kernels.length - 1; j >= 0; j--) {
        const prev = out.kernels[j];
        if (prev.kind === 'map' && sameAxisSet(prev.axes, k.axes) && compatible(prev, k) && compatible(k, prev)) {
          prev.stores.push(...k.stores);
          prev.nodes = [...new Set([...prev.nodes, ...k.nodes])].sort((a, b) => a - b);
          prev.lines = [...new Set([...prev.lines, ...k.lines])];
          out.reads[j] = [...new Set([...out.reads[j], ...s.reads[i]])];
          out.writes[j] = [...out.writes[j], ...s.writes[i]];
          return;
        }
        const w = out.writes[j].map(region);
        const r = out.reads[j].map(region);
        if (w.some((x) => reads.has(x) || writes.has(x)) || r.some((x) => writes.has(x))) break;
      }
    }
    appendKernel(out, s, i);
  });
  return out;

  /** Every access `b` makes to a region `a` stores into is at the stored element. */
  function compatible(a: import('./spec.js').MapKernel, b: import('./spec.js').MapKernel): boolean {
    for (const st of a.stores) {
      const r = region(st.access.value);
      for (const acc of [...b.stores.map((x) => x.access), ...b.stores.flatMap((x) => loadsOf(x.value))]) {
        if (region(acc.value) === r && !sameStrides(acc.strides, st.access.strides)) return false;
      }
      for (const x of b.stores) if (gathersFrom(x.value, r, region)) return false;
    }
    return true;
  }
}

/** The accesses an expression reads: loads, and gathers with their index expressions. */
export function loadsOf(e: KExpr): Access[] {
  switch (e.k) {
    case 'load':
      return [e.access];
    case 'gather':
      return [e.access, ...loadsOf(e.index)];
    case 'unary':
    case 'cast':
      return loadsOf(e.x);
    case 'binary':
    case 'compare':
      return [...loadsOf(e.a), ...loadsOf(e.b)];
    case 'where':
      return [...loadsOf(e.c), ...loadsOf(e.a), ...loadsOf(e.b)];
    default:
      return [];
  }
}

/** Whether an expression gathers (reads at data-dependent positions) from region `r`. */
function gathersFrom(e: KExpr, r: number, region: (v: number) => number): boolean {
  switch (e.k) {
    case 'gather':
      return region(e.access.value) === r || gathersFrom(e.index, r, region);
    case 'unary':
    case 'cast':
      return gathersFrom(e.x, r, region);
    case 'binary':
    case 'compare':
      return gathersFrom(e.a, r, region) || gathersFrom(e.b, r, region);
    case 'where':
      return gathersFrom(e.c, r, region) || gathersFrom(e.a, r, region) || gathersFrom(e.b, r, region);
    default:
      return false;
  }
}

/**
 * A reduction that sums the squares of a whole stored value, in any order: the value's region
 * read as a flat range.
 */
function sumOfSquaresOf(k: Kernel, values: ReadonlyMap<number, Value>): { input: Access; size: number; out: Access } | undefined {
  if (k.kind !== 'reduce' || k.fn !== 'sum' || k.axes.length !== 0) return undefined;
  const v = k.value;
  if (v.k !== 'unary' || v.fn !== 'square' || v.x.k !== 'load' || v.x.dtype !== 'f32') return undefined;
  const load = v.x.access;
  const stored = values.get(load.value);
  if (!stored) return undefined;
  const over = new Set(k.over.map((a) => a.id));
  const covers = load.strides.size === over.size && [...load.strides.keys()].every((id) => over.has(id)) && k.over.reduce((n, a) => n * a.size, 1) === stored.size;
  return covers ? { input: load, size: stored.size, out: k.out } : undefined;
}

/** Runs of consecutive whole-value sums of squares (one per parameter's gradient) become one kernel. */
function mergeSumSquares(s: Schedule): Schedule {
  const out: Schedule = { kernels: [], values: s.values, reads: [], writes: [], temps: new Map() };
  s.kernels.forEach((k, i) => {
    const part = s.temps.has(i) ? undefined : sumOfSquaresOf(k, s.values);
    const last = out.kernels.length - 1;
    const prev = out.kernels[last];
    const prevPart = prev && !out.temps.has(last) ? (prev.kind === 'sum_squares' ? prev.parts[0] : sumOfSquaresOf(prev, s.values)) : undefined;
    if (part && prevPart && !s.reads[i].some((r) => out.writes[last].includes(r))) {
      const group: import('./spec.js').SumSquaresKernel =
        prev.kind === 'sum_squares' ? prev : { kind: 'sum_squares', name: prev.name, nodes: [...prev.nodes], lines: [...prev.lines], parts: [prevPart] };
      group.parts.push(part);
      group.nodes = [...new Set([...group.nodes, ...k.nodes])].sort((a, b) => a - b);
      out.kernels[last] = group;
      out.reads[last] = [...new Set([...out.reads[last], ...s.reads[i]])];
      out.writes[last] = [...out.writes[last], ...s.writes[i]];
      return;
    }
    appendKernel(out, s, i);
  });
  return out;
}

/** Copy kernel `i` of `s` (with its reads, writes and temporary) to the end of `out`. */
/**
 * A map right after a GEMM or a softmax, over its output axes, that reads that output only at
 * the element it writes, becomes more outputs of the kernel's last pass (`h = gelu(pre)` stored
 * next to `pre`; the cross-entropy gradient `(p - onehot) / n` next to `p`): one dispatch and
 * one pass over the output fewer.
 */
function absorbMapsIntoGemms(s: Schedule): Schedule {
  const out: Schedule = { kernels: [], values: s.values, reads: [], writes: [], temps: new Map() };
  const sameStrides = (a: ReadonlyMap<number, number>, b: ReadonlyMap<number, number>) => a.size === b.size && [...a].every(([id, st]) => b.get(id) === st);
  s.kernels.forEach((k, i) => {
    const last = out.kernels.length - 1;
    const g = out.kernels[last];
    const produces = g?.kind === 'gemm' ? [...g.batch, ...g.m, ...g.n] : g?.kind === 'softmax' ? [...g.axes, g.axis] : undefined;
    if (k.kind === 'map' && (g?.kind === 'gemm' || g?.kind === 'softmax') && produces && g.out.arena === 'f32' && sameAxisSet(k.axes, produces) && k.stores.every((st) => st.access.arena === 'f32')) {
      const produced = g.out.value;
      const readsOk = k.stores.every((st) => loadsOf(st.value).every((a) => a.value !== produced || sameStrides(a.strides, g.out.strides)) && !gathersFrom(st.value, produced, (v) => v));
      // Its stores must not land on anything the GEMM reads (in-place updates stay maps).
      const gemmReads = new Set(out.reads[last]);
      if (readsOk && !s.writes[i].some((w) => gemmReads.has(w))) {
        const toAcc = (e: KExpr): KExpr => {
          switch (e.k) {
            case 'load':
              return e.access.value === produced ? { k: 'acc' } : e;
            case 'unary':
            case 'cast':
              return { ...e, x: toAcc(e.x) };
            case 'binary':
            case 'compare':
              return { ...e, a: toAcc(e.a), b: toAcc(e.b) };
            case 'where':
              return { ...e, c: toAcc(e.c), a: toAcc(e.a), b: toAcc(e.b) };
            case 'gather':
              return { ...e, index: toAcc(e.index) };
            default:
              return e;
          }
        };
        (g.extra ??= []).push(...k.stores.map((st) => ({ access: st.access, value: toAcc(st.value), nodes: st.nodes })));
        g.nodes = [...new Set([...g.nodes, ...k.nodes])].sort((a, b) => a - b);
        g.lines = [...new Set([...g.lines, ...k.lines])];
        out.reads[last] = [...new Set([...out.reads[last], ...s.reads[i].filter((r) => r !== produced)])];
        out.writes[last] = [...out.writes[last], ...s.writes[i]];
        return;
      }
    }
    appendKernel(out, s, i);
  });
  return out;
}

/**
 * Sibling reductions: a reduction with the same output and reduced axes as an earlier one
 * (the layernorm backward's Σ dy and Σ dy·x̂, bias gradients) joins that kernel as one more
 * accumulator in its loop, when no kernel in between writes what it reads.
 */
function mergeReductions(s: Schedule, aliases: ReadonlyMap<number, number>): Schedule {
  const region = (v: number) => aliases.get(v) ?? v;
  const out: Schedule = { kernels: [], values: s.values, reads: [], writes: [], temps: new Map() };
  const ids = (axes: readonly Axis[]) => axes.map((a) => a.id).join(',');
  s.kernels.forEach((k, i) => {
    if (k.kind === 'reduce' && !s.temps.has(i)) {
      const reads = new Set(s.reads[i]);
      for (let j = out.kernels.length - 1; j >= 0; j--) {
        const p = out.kernels[j];
        const candidate = p.kind === 'reduce' && !out.temps.has(j) && ids(p.axes) === ids(k.axes) && ids(p.over) === ids(k.over);
        if (candidate && !out.writes[j].some((w) => reads.has(w))) {
          (p.siblings ??= []).push({ fn: k.fn, value: k.value, out: k.out, nodes: k.nodes }, ...(k.siblings ?? []));
          p.nodes = [...new Set([...p.nodes, ...k.nodes])].sort((a, b) => a - b);
          p.lines = [...new Set([...p.lines, ...k.lines])];
          out.reads[j] = [...new Set([...out.reads[j], ...s.reads[i]])];
          out.writes[j] = [...out.writes[j], ...s.writes[i]];
          return;
        }
        // It cannot run before a kernel that writes what it reads.
        if (out.writes[j].some((w) => reads.has(w))) break;
      }
      // Or an earlier sibling moves down to it: when nothing after the sibling reads what the
      // sibling writes or writes what it reads (a bias gradient joining a layernorm's sums).
      for (let j = out.kernels.length - 1; j >= 0; j--) {
        const p = out.kernels[j];
        if (p.kind !== 'reduce' || out.temps.has(j) || ids(p.axes) !== ids(k.axes) || ids(p.over) !== ids(k.over)) continue;
        if (out.writes[j].some((w) => reads.has(w))) continue; // it reads the sibling's result
        const pw = new Set(out.writes[j].map(region));
        const pr = new Set(out.reads[j].map(region));
        let free = true;
        for (let t = j + 1; t < out.kernels.length && free; t++) {
          if (out.reads[t].some((r) => pw.has(region(r))) || out.writes[t].some((w) => pr.has(region(w)))) free = false;
        }
        if (!free) continue;
        const [moved] = out.kernels.splice(j, 1) as import('./spec.js').ReduceKernel[];
        const [movedReads] = out.reads.splice(j, 1);
        const [movedWrites] = out.writes.splice(j, 1);
        const temps = new Map<number, Value>();
        for (const [t, v] of out.temps) temps.set(t > j ? t - 1 : t, v);
        out.temps = temps;
        (moved.siblings ??= []).push({ fn: k.fn, value: k.value, out: k.out, nodes: k.nodes }, ...(k.siblings ?? []));
        moved.nodes = [...new Set([...moved.nodes, ...k.nodes])].sort((a, b) => a - b);
        moved.lines = [...new Set([...moved.lines, ...k.lines])];
        out.kernels.push(moved);
        out.reads.push([...new Set([...movedReads, ...s.reads[i]])]);
        out.writes.push([...movedWrites, ...s.writes[i]]);
        return;
      }
    }
    appendKernel(out, s, i);
  });
  return out;
}

function appendKernel(out: Schedule, s: Schedule, i: number): void {
  if (s.temps.has(i)) out.temps.set(out.kernels.length, s.temps.get(i)!);
  out.kernels.push(s.kernels[i]);
  out.reads.push(s.reads[i]);
  out.writes.push(s.writes[i]);
}

/**
 * Row fusion: a reduction over one axis A starts a row kernel over its output axes R; each
 * following kernel joins while it is a reduction over A to R or a map over R ∪ {A} and reads
 * what the group wrote only within the same row, at the element it was written (per-row
 * values broadcast along A). Nothing the newcomer writes may be touched by the group.
 */
function mergeRows(s: Schedule, aliases: ReadonlyMap<number, number>): Schedule {
  const region = (v: number) => aliases.get(v) ?? v;
  const out: Schedule = { kernels: [], values: s.values, reads: [], writes: [], temps: new Map() };
  const sameStrides = (a: ReadonlyMap<number, number>, b: ReadonlyMap<number, number>) => a.size === b.size && [...a].every(([id, st]) => b.get(id) === st);
  const storesOf = (k: import('./spec.js').ReduceKernel | import('./spec.js').MapKernel): Access[] => (k.kind === 'reduce' ? [k.out] : k.stores.map((x) => x.access));
  const exprsOf = (k: import('./spec.js').ReduceKernel | import('./spec.js').MapKernel): KExpr[] => (k.kind === 'reduce' ? [k.value] : k.stores.map((x) => x.value));
  const fits = (g: import('./spec.js').RowKernel, k: Kernel): k is import('./spec.js').ReduceKernel | import('./spec.js').MapKernel =>
    (k.kind === 'reduce' && k.fn !== 'max' && k.over.length === 1 && k.over[0].id === g.axis.id && sameAxisSet(k.axes, g.rows)) ||
    (k.kind === 'map' && sameAxisSet(k.axes, [...g.rows, g.axis]));

  s.kernels.forEach((k, i) => {
    const last = out.kernels.length - 1;
    const prev = out.kernels[last];
    if (prev?.kind === 'rows' && !s.temps.has(i) && fits(prev, k) && rowLocal(prev, k)) {
      prev.phases.push(k);
      prev.nodes = [...new Set([...prev.nodes, ...k.nodes])].sort((a, b) => a - b);
      prev.lines = [...new Set([...prev.lines, ...k.lines])];
      out.reads[last] = [...new Set([...out.reads[last], ...s.reads[i]])];
      out.writes[last] = [...out.writes[last], ...s.writes[i]];
      return;
    }
    // A single-axis sum or mean starts a candidate group (a lone one is unwrapped below).
    // (Not reductions to a scalar: one invocation would then do the whole group's work.)
    if (k.kind === 'reduce' && k.fn !== 'max' && k.over.length === 1 && k.axes.length > 0 && !s.temps.has(i) && !s.writes[i].some((w) => aliases.has(w))) {
      out.kernels.push({ kind: 'rows', name: k.name, nodes: [...k.nodes], lines: [...k.lines], rows: [...k.axes], axis: k.over[0], phases: [k] });
      out.reads.push(s.reads[i]);
      out.writes.push(s.writes[i]);
      return;
    }
    appendKernel(out, s, i);
  });
  // A group of one phase is just that reduction.
  out.kernels = out.kernels.map((k) => (k.kind === 'rows' && k.phases.length === 1 ? k.phases[0] : k));
  return out;

  function rowLocal(g: import('./spec.js').RowKernel, k: import('./spec.js').ReduceKernel | import('./spec.js').MapKernel): boolean {
    const written = new Map<number, Access>();
    for (const p of g.phases) for (const st of storesOf(p)) written.set(region(st.value), st);
    for (const st of storesOf(k)) if (aliases.has(st.value) || written.has(region(st.value))) return false;
    const touched = new Set(g.phases.flatMap((p) => [...storesOf(p), ...exprsOf(p).flatMap(loadsOf)]).map((a) => region(a.value)));
    if (storesOf(k).some((st) => touched.has(region(st.value)))) return false;
    for (const e of exprsOf(k)) {
      for (const acc of loadsOf(e)) {
        const w = written.get(region(acc.value));
        if (w && !sameStrides(acc.strides, w.strides)) return false;
      }
      for (const r of written.keys()) if (gathersFrom(e, r, region)) return false;
    }
    return true;
  }
}
