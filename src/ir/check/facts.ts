/**
 * Semantic facts over a graph that the checker's rules consult, each node's from its op's
 * `facts` rule (src/ir/ops):
 * - which axes a value truly varies along (a broadcast axis does not count),
 * - which values are distributions over an axis (softmax outputs and what keeps that meaning),
 * - which values may hold ±inf, and which are provably non-zero,
 * - which values depend on a parameter or an input at all.
 */
import { OPS, type NodeFacts, type OpDef } from '../ops/index.js';
import type { Graph, OpName } from '../types.js';

export type { NodeFacts } from '../ops/index.js';

export function computeFacts(graph: Graph): NodeFacts[] {
  const out: NodeFacts[] = [];
  for (const n of graph.nodes) {
    const live = n.attrs.op === 'param' || n.attrs.op === 'input' || n.inputs.some((i) => out[i].live);
    const ins = n.inputs.map((i) => out[i]);
    out.push({ ...(OPS[n.attrs.op] as OpDef<OpName>).facts(n as never, ins), live });
  }
  return out;
}
