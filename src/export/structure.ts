/**
 * The model's structure recovered from the elaborated IR: blocks are inlined and repeats
 * unrolled there, but every node records the block call or repeat iteration it came from
 * (`IRNode.scope`). This rebuilds the tree of module instances (the model, its block calls,
 * its repeats' iterations), the values that flow into and out of each, and the items a
 * module's forward pass is made of: its own nodes, calls of child blocks, and repeats (as
 * one loop over an nn.ModuleList when every iteration has the same interface).
 */
import type { Graph, ParamInfo, ScopeInfo } from '../ir/types.js';

export interface ModuleInstance {
  /** undefined for the model itself. */
  scope?: ScopeInfo;
  /** Parameter-name prefix without the final dot (`blocks.0.attention`; '' for the model). */
  path: string;
  parent?: ModuleInstance;
  children: ModuleInstance[];
  /** Non-constant nodes created in this instance or its children, in id order. */
  subtree: number[];
  /** Nodes created directly in this instance (not in a child), in id order. */
  own: number[];
  params: ParamInfo[];
}

export type Item =
  | { kind: 'node'; id: number }
  /** A block call or one repeat iteration called on its own. */
  | { kind: 'call'; child: ModuleInstance; args: number[]; outputs: number[] }
  | { kind: 'loop'; loop: RepeatLoop };

/**
 * A repeat whose iterations all take and return values in the same places: run as
 * `for layer in self.NAME: carried = layer(carried, invariants)`.
 */
export interface RepeatLoop {
  name: string;
  iterations: ModuleInstance[];
  /** Per iteration: the values it reads from outside itself, in order (carried slots and invariants). */
  args: number[][];
  /** Per argument slot: the position (in the previous iteration's subtree) of the value it carries, or -1 for an invariant. */
  carriedFrom: number[];
  /** Positions in an iteration's subtree of the values it returns (carried values, then values read after the loop). */
  returns: number[];
  /** Per iteration: the returned nodes. */
  outputs: number[][];
}

export class StructureError extends Error {}

/** The tree of module instances of a graph (the root is the model). */
export function moduleTree(graph: Graph): ModuleInstance {
  const root: ModuleInstance = { path: '', children: [], subtree: [], own: [], params: [] };
  const byScope = new Map<ScopeInfo, ModuleInstance>();
  const instanceOf = (s: ScopeInfo | undefined): ModuleInstance => {
    if (!s) return root;
    let m = byScope.get(s);
    if (m) return m;
    const parent = instanceOf(s.parent);
    m = { scope: s, path: s.path, parent, children: [], subtree: [], own: [], params: [] };
    parent.children.push(m);
    byScope.set(s, m);
    return m;
  };
  for (const n of graph.nodes) {
    if (n.attrs.op === 'const') continue;
    const m = instanceOf(n.scope);
    m.own.push(n.id);
    for (let a: ModuleInstance | undefined = m; a; a = a.parent) a.subtree.push(n.id);
  }
  for (const p of graph.params) instanceOf(graph.nodes[p.node].scope).params.push(p);
  // Children in the order their first node was made.
  const order = (m: ModuleInstance) => {
    m.children.sort((a, b) => a.subtree[0] - b.subtree[0]);
    m.children.forEach(order);
  };
  order(root);
  return root;
}

/** Which node reads which: readers[id] lists the nodes with `id` among their inputs (once per use). */
export function readersOf(graph: Graph): number[][] {
  const readers: number[][] = graph.nodes.map(() => []);
  for (const n of graph.nodes) for (const i of n.inputs) readers[i].push(n.id);
  return readers;
}

/**
 * Values an instance reads from outside itself (not constants), in order of first read: for
 * a block, its arguments and any top-level parameters its body uses.
 */
export function externalReads(graph: Graph, m: ModuleInstance): number[] {
  const inside = new Set(m.subtree);
  const out: number[] = [];
  for (const id of m.subtree) {
    for (const i of graph.nodes[id].inputs) {
      if (inside.has(i) || graph.nodes[i].attrs.op === 'const' || out.includes(i)) continue;
      out.push(i);
    }
  }
  return out;
}

/** Nodes of an instance that are read outside it, or are graph outputs, in id order. */
export function externalUses(graph: Graph, m: ModuleInstance, readers: number[][]): number[] {
  const inside = new Set(m.subtree);
  const outputs = new Set(graph.outputs.values());
  return m.subtree.filter((id) => outputs.has(id) || readers[id].some((r) => !inside.has(r)));
}

/** The arguments of a block call: its declared inputs, then top-level parameters it reads. */
export function blockArgs(graph: Graph, m: ModuleInstance): number[] {
  const declared = (m.scope?.inputs ?? []).map((i) => i.node);
  return [...declared, ...externalReads(graph, m).filter((id) => !declared.includes(id))];
}

/**
 * The items of instance `m`'s body, in the order they run: its own nodes, one call per
 * child block, and one item per repeat (a loop when the iterations agree, else one call per
 * iteration).
 */
export function itemsOf(graph: Graph, m: ModuleInstance, readers: number[][]): Item[] {
  const childOf = new Map<number, ModuleInstance>();
  for (const c of m.children) for (const id of c.subtree) childOf.set(id, c);
  const own = new Set(m.own);
  const done = new Set<ModuleInstance>();
  const items: Item[] = [];
  for (const id of m.subtree) {
    if (own.has(id)) {
      items.push({ kind: 'node', id });
      continue;
    }
    const c = childOf.get(id)!;
    if (done.has(c)) continue;
    if (c.scope?.kind === 'repeat') {
      const iterations = m.children.filter((x) => x.scope?.kind === 'repeat' && x.scope.span.start === c.scope!.span.start);
      iterations.forEach((x) => done.add(x));
      const loop = repeatLoop(graph, iterations, readers);
      if (loop) items.push({ kind: 'loop', loop });
      else for (const it of iterations) items.push({ kind: 'call', child: it, args: externalReads(graph, it), outputs: externalUses(graph, it, readers) });
      continue;
    }
    done.add(c);
    const output = c.scope?.output;
    items.push({ kind: 'call', child: c, args: blockArgs(graph, c), outputs: output === undefined ? [] : [output] });
  }
  return items;
}

/**
 * The iterations of one repeat as a loop, or undefined when they do not agree (then each
 * iteration is called on its own). Iteration k reads, in the same order as iteration 0,
 * either the same outside value (an invariant) or a value that iteration k - 1 made at the
 * same position of its subtree (a carried value).
 */
export function repeatLoop(graph: Graph, iterations: ModuleInstance[], readers: number[][]): RepeatLoop | undefined {
  if (iterations.length === 0) return undefined;
  const args = iterations.map((it) => externalReads(graph, it));
  const n = args[0].length;
  if (args.some((a) => a.length !== n)) return undefined;
  const carriedFrom: number[] = [];
  for (let j = 0; j < n; j++) {
    if (iterations.length === 1) {
      carriedFrom.push(-1);
      continue;
    }
    const q = iterations[0].subtree.indexOf(args[1][j]);
    for (let k = 1; k < iterations.length; k++) {
      if (q < 0 ? args[k][j] !== args[0][j] : iterations[k - 1].subtree.indexOf(args[k][j]) !== q) return undefined;
    }
    carriedFrom.push(q);
  }
  // Every iteration returns the same positions: what the next one carries, and what is read after the loop.
  const last = iterations[iterations.length - 1];
  const returns = [...new Set(carriedFrom.filter((q) => q >= 0))];
  for (const id of externalUses(graph, last, readers)) {
    const q = last.subtree.indexOf(id);
    if (!returns.includes(q)) returns.push(q);
  }
  // Values an earlier iteration gives to anything but the next iteration break the loop form.
  for (let k = 0; k + 1 < iterations.length; k++) {
    const next = new Set(iterations[k + 1].subtree);
    for (const id of externalUses(graph, iterations[k], readers)) {
      if (!readers[id].every((r) => next.has(r))) return undefined;
      if (!returns.includes(iterations[k].subtree.indexOf(id))) return undefined;
    }
  }
  const outputs = iterations.map((it) => returns.map((q) => it.subtree[q]));
  return { name: iterations[0].scope!.name, iterations, args, carriedFrom, returns, outputs };
}
