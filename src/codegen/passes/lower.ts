/**
 * Lowering: the IR nodes an entry point needs, grouped into one kernel per stored value.
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
 * How each op takes part is its `fusion` class (src/ir/ops), and its inlined work its `cost`. The passes after this
 * one merge these kernels further (see passes/index.ts).
 */
import { OPS, UNARY, type OpDef } from '../../ir/ops/index.js';
import type { Axis, Graph, IRNode, OpName } from '../../ir/types.js';
import { ValueTable } from '../kernel-ir/ids.js';
import { layoutStrides, sameAxisSet } from '../kernel-ir/layout.js';
import type { Access, Kernel, KExpr, Schedule, Value } from '../kernel-ir/types.js';

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

/** Rough cost of one elementwise node when inlined (its op's, src/ir/ops: transcendental functions count more). */
function opCost(n: IRNode): number {
  return (OPS[n.attrs.op] as OpDef<OpName>).cost(n.attrs as never);
}

/**
 * The brackets an elementwise node's WGSL puts around its operands (a sigmoid is
 * `(1.0 / (1.0 + exp(-x)))`: 3), counted in its unary function's WGSL form.
 */
function nesting(n: IRNode): number {
  if (n.attrs.op !== 'unary') return 1;
  const text = UNARY[n.attrs.fn].wgsl.scalar('@'); // '@' stands for the operand
  let depth = 0;
  let deepest = 0;
  for (const c of text) {
    if (c === '(') depth++;
    else if (c === ')') depth--;
    else if (c === '@') deepest = Math.max(deepest, depth);
  }
  return deepest;
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

/** The kernels computing `outputs` of `graph`, one per stored value, in the graph's order. */
export function lower(graph: Graph, outputs: readonly number[], values: ValueTable = new ValueTable(graph)): Schedule {
  const nodes = graph.nodes;
  const isOutput = new Set(outputs);

  // Needed nodes and their consumers.
  const needed = new Uint8Array(nodes.length);
  for (const o of isOutput) needed[o] = 1;
  for (let id = nodes.length - 1; id >= 0; id--) if (needed[id]) for (const i of nodes[id].inputs) needed[i] = 1;
  const consumers: number[][] = nodes.map(() => []);
  for (const n of nodes) if (needed[n.id]) for (const i of n.inputs) consumers[i].push(n.id);

  const kindOf = (n: IRNode) => OPS[n.attrs.op].fusion;
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
    if (isOutput.has(n.id) && k !== 'leaf') materialized.add(n.id);
    if (k === 'view' || k === 'elementwise') {
      const own = k === 'view' ? 0 : opCost(n);
      inlineCost.set(n.id, own + n.inputs.reduce((c, i) => c + (materialized.has(i) ? 0 : (inlineCost.get(i) ?? 0)), 0));
      // Views (renames, broadcasts) add no nesting to the expression; elementwise nodes add
      // their WGSL's brackets (a sigmoid is `(1.0 / (1.0 + exp(-x)))`).
      inlineDepth.set(n.id, (k === 'view' ? 0 : nesting(n)) + n.inputs.reduce((d, i) => Math.max(d, materialized.has(i) ? 0 : (inlineDepth.get(i) ?? 0)), 0));
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
    if (!needed[n.id] || n.attrs.op !== 'contract' || isOutput.has(n.id)) continue;
    let cur = n.id;
    for (;;) {
      if (isOutput.has(cur) && cur !== n.id) break;
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

  const valueOf = (id: number): Value => values.get(id);
  const kernels: Kernel[] = [];

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
      case 'param':
      case 'input':
      case 'reduce':
      case 'contract':
      case 'scatter_add':
      case 'softmax':
      case 'cross_entropy':
        // Stored (leaves and kernels are always materialised): reached only by a compiler bug.
        throw new Error(`internal: ${a.op} cannot be inlined`);
      default:
        return a satisfies never;
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
    while (OPS[nodes[cur].attrs.op].fusion === 'view') {
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
        reads: [],
        writes: [],
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
      kernel = { kind: 'reduce', name: '', nodes: [], lines: [], reads: [], writes: [], axes: [...n.type.axes], over: [...a.axes], fn: a.fn, value, out: outAccess };
    } else if (a.op === 'softmax') {
      const value = expr(n.inputs[0], identity, cx);
      kernel = { kind: 'softmax', name: '', nodes: [], lines: [], reads: [], writes: [], axes: n.type.axes.filter((t) => t.id !== a.axis.id), axis: a.axis, value, out: outAccess };
    } else if (a.op === 'cross_entropy') {
      // Two kernels: per-row terms into a temporary, then their mean.
      const logitsT = nodes[n.inputs[0]].type;
      const rows = logitsT.axes.filter((t) => t.id !== a.axis.id);
      const logits = expr(n.inputs[0], identity, cx);
      const target = expr(n.inputs[1], identity, cx);
      const temp = values.temporary(rows);
      const tempAccess: Access = { arena: 'f32', value: temp.node, offset: 0, strides: layoutStrides(rows) };
      const ce: Kernel = { kind: 'ce_rows', name: '', nodes: [...covered, n.id], lines: [], reads: [...readSet], writes: [temp.node], temps: [temp], axes: rows, axis: a.axis, logits, target, out: tempAccess };
      push(ce);
      kernel = {
        kind: 'reduce',
        name: '',
        nodes: [],
        lines: [],
        reads: [],
        writes: [],
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
      kernel = { kind: 'scatter', name: '', nodes: [], lines: [], reads: [], writes: [], axes: [...n.type.axes], axis: a.axis, positions, index: idx, value, out: outAccess };
    } else {
      const value = expr(n.id, identity, cx, true);
      kernel = { kind: 'map', name: '', nodes: [], lines: [], reads: [], writes: [], axes: [...n.type.axes], stores: [{ access: outAccess, value, nodes: [n.id] }] };
    }
    covered.add(n.id);
    kernel.nodes = [...covered].sort((p, q) => p - q);
    kernel.reads = [...readSet];
    kernel.writes = [n.id];
    push(kernel);
  }

  function push(k: Kernel) {
    k.name = `k${String(kernels.length).padStart(3, '0')}_${k.kind}`;
    const lines = new Set<string>();
    for (const id of k.nodes) {
      const s = nodes[id]?.span;
      if (s) lines.add(`${s.file.split('/').pop()}:${s.line}`);
    }
    k.lines = [...lines];
    kernels.push(k);
  }

  return { kernels, values };
}
