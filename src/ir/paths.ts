/** Dataflow paths through an IR graph: what can reach what, and around which node. */
import type { Graph } from './types.js';

/**
 * A path of node ids from `from` to `to` that does not pass through `avoid` (a bypass), or
 * undefined when every path from `from` to `to` passes through `avoid` (or none exists).
 * With `avoid` the value an autoencoder squeezes its input into, undefined proves that the
 * output sees the input only through that value.
 */
export function pathAvoiding(g: Graph, from: number, to: number, avoid: number): number[] | undefined {
  if (from === avoid || to === avoid) return undefined;
  // Nodes only read earlier nodes: one pass in id order finds, for every node reachable from
  // `from` without `avoid`, the input it was first reached through.
  const via = new Map<number, number>([[from, from]]);
  for (const n of g.nodes) {
    if (n.id <= from || n.id === avoid || n.id > to) continue;
    const input = n.inputs.find((i) => via.has(i));
    if (input !== undefined) via.set(n.id, input);
  }
  if (!via.has(to)) return undefined;
  const path = [to];
  while (path[0] !== from) path.unshift(via.get(path[0])!);
  return path;
}
