/** Building IR graphs: every node is type-checked by its op's rule as it is added. */
import type { Span } from '../diagnostics/span.js';
import { OPS } from './ops/index.js';
import type { TypeResult } from './ops/index.js';
import type { Graph, Init, IRNode, OpAttrs, TensorType } from './types.js';

export class GraphBuilder {
  readonly graph: Graph = { nodes: [], params: [], inputs: [], outputs: new Map() };
  /** Constants are shared: one node per (value, dtype). */
  private consts = new Map<string, number>();

  /** A builder that extends a copy of `g` (the original graph is left as it is). */
  static extend(g: Graph): GraphBuilder {
    const b = new GraphBuilder();
    // Copied in loops: spreading a large graph's nodes as arguments overflows the stack.
    for (const n of g.nodes) b.graph.nodes.push(n);
    for (const p of g.params) b.graph.params.push(p);
    for (const i of g.inputs) b.graph.inputs.push(i);
    for (const [k, v] of g.outputs) b.graph.outputs.set(k, v);
    for (const n of g.nodes) if (n.attrs.op === 'const') b.consts.set(constKey(n.attrs.value, n.attrs.dtype), n.id);
    return b;
  }

  node(id: number): IRNode {
    return this.graph.nodes[id];
  }

  type(id: number): TensorType {
    return this.graph.nodes[id].type;
  }

  /** Type-check and add a node; on a type error nothing is added and the failure is returned. */
  tryAdd(attrs: OpAttrs, inputs: readonly number[], span?: Span): { id: number } | Extract<TypeResult, { ok: false }> {
    const def = OPS[attrs.op];
    if (inputs.length !== def.arity) throw new Error(`internal: ${attrs.op} takes ${def.arity} inputs, got ${inputs.length}`);
    const result = def.type(
      inputs.map((i) => this.type(i)),
      attrs as never,
    );
    if (!result.ok) return result;
    return { id: this.push(attrs, inputs, result.type, span) };
  }

  /** Add a node the compiler made (gradients, optimizer): a type error here is a compiler bug. */
  add(attrs: OpAttrs, inputs: readonly number[], span?: Span): number {
    const r = this.tryAdd(attrs, inputs, span);
    if ('id' in r) return r.id;
    throw new Error(`internal: ill-typed ${attrs.op} node: ${r.message}`);
  }

  constant(value: number, dtype: 'f32' | 'i32' = 'f32'): number {
    const key = constKey(value, dtype);
    const hit = this.consts.get(key);
    if (hit !== undefined) return hit;
    const id = this.push({ op: 'const', value, dtype }, [], { dtype, axes: [] }, undefined);
    this.consts.set(key, id);
    return id;
  }

  param(name: string, type: TensorType, init: Init, span: Span): number {
    const id = this.push({ op: 'param', name }, [], type, span);
    this.graph.nodes[id].name = name;
    this.graph.params.push({ name, node: id, type, init, span });
    return id;
  }

  input(name: string, type: TensorType, span: Span): number {
    const id = this.push({ op: 'input', name }, [], type, span);
    this.graph.nodes[id].name = name;
    this.graph.inputs.push({ name, node: id, type, span });
    return id;
  }

  output(name: string, id: number): void {
    this.graph.outputs.set(name, id);
  }

  private push(attrs: OpAttrs, inputs: readonly number[], type: TensorType, span: Span | undefined): number {
    const id = this.graph.nodes.length;
    this.graph.nodes.push({ id, attrs, inputs: [...inputs], type, span });
    return id;
  }
}

function constKey(value: number, dtype: string): string {
  return `${dtype}:${Object.is(value, -0) ? '-0' : value}`;
}

/**
 * The nodes `roots` depend on (the roots included), following the inputs `edges` picks of
 * each node (by position; default: all of them).
 */
export function reach(graph: Graph, roots: readonly number[], edges: (n: IRNode) => number[] = (n) => n.inputs.map((_, i) => i)): Set<number> {
  const seen = new Set<number>();
  const stack = [...roots];
  while (stack.length) {
    const id = stack.pop()!;
    if (seen.has(id)) continue;
    seen.add(id);
    const n = graph.nodes[id];
    for (const i of edges(n)) stack.push(n.inputs[i]);
  }
  return seen;
}

/**
 * A memoized analysis that recurses over inputs (`get(i)` calls `get` on i's inputs), made
 * safe for long chains: before `get(id)`, every ancestor of `id` not yet in `memo` is computed
 * in increasing id order (ids are topological), so no call recurses more than one level.
 * A model may chain thousands of elementwise statements.
 */
export function bottomUp<V>(nodes: readonly IRNode[], memo: { has(id: number): boolean }, id: number, get: (i: number) => V): V {
  if (!memo.has(id)) {
    const order: number[] = [];
    const seen = new Set<number>();
    const stack = [id];
    while (stack.length) {
      const i = stack.pop()!;
      if (seen.has(i) || memo.has(i)) continue;
      seen.add(i);
      order.push(i);
      for (const j of nodes[i].inputs) stack.push(j);
    }
    order.sort((a, b) => a - b);
    for (const i of order) if (i !== id) get(i);
  }
  return get(id);
}
