/**
 * Reverse-mode automatic differentiation over the IR, by each op's backward rule (its `vjp`,
 * src/ir/ops). Gradients are IR nodes added to the same graph, so they are type-checked by
 * the same op rules, evaluated by the same interpreter and lowered by the same code generator.
 */
import type { GraphBuilder } from '../graph.js';
import { differentiableInputs, OPS, type OpDef } from '../ops/index.js';
import { hasAxis, type IRNode, type OpName, type TensorType } from '../types.js';

/**
 * Add the gradients of scalar `output` with respect to `wrt` to the graph.
 * Returns, for each node of `wrt`, the node of its gradient (same axes as the node, possibly
 * in another order; a structurally zero gradient is a broadcast zero).
 */
export function gradients(b: GraphBuilder, output: number, wrt: readonly number[]): Map<number, number> {
  const nodes = b.graph.nodes;
  const outType = nodes[output].type;
  if (outType.axes.length !== 0 || outType.dtype !== 'f32') throw new Error('internal: gradients of a non-scalar');

  // Nodes on a differentiable path from some wrt node to the output.
  const wanted = new Set(wrt);
  const fromOutput = new Set<number>();
  const stack = [output];
  while (stack.length) {
    const id = stack.pop()!;
    if (fromOutput.has(id)) continue;
    fromOutput.add(id);
    for (const i of differentiableInputs(nodes[id])) stack.push(nodes[id].inputs[i]);
  }
  const dependsOnWrt = new Array<boolean>(output + 1).fill(false);
  for (let id = 0; id <= output; id++) {
    dependsOnWrt[id] = wanted.has(id) || differentiableInputs(nodes[id]).some((i) => dependsOnWrt[nodes[id].inputs[i]]);
  }

  const cot = new Map<number, number>();
  cot.set(output, b.constant(1));
  const made = nodes.length;
  for (let id = output; id >= 0; id--) {
    const g = cot.get(id);
    if (g === undefined || !fromOutput.has(id)) continue;
    // Name the gradient after its primal (the first one it is found for), for the code generator's labels.
    if (g >= made && nodes[g].attrs.op !== 'const') nodes[g].gradOf ??= id;
    const n = nodes[id];
    const ins = differentiableInputs(n).filter((i) => dependsOnWrt[n.inputs[i]]);
    if (ins.length === 0) continue;
    const rule = (OPS[n.attrs.op] as OpDef<OpName>).vjp;
    if (rule === 'none') throw new Error(`internal: ${n.attrs.op} has differentiable inputs but no backward rule`);
    const grads = rule(b, n as never, g, ins);
    for (const i of ins) {
      const gi = grads[i];
      if (gi === undefined) continue;
      const target = n.inputs[i];
      const fitted = fitTo(b, gi, nodes[target].type);
      const prev = cot.get(target);
      cot.set(target, prev === undefined ? fitted : b.add({ op: 'binary', fn: 'add' }, [prev, fitted]));
    }
  }

  const out = new Map<number, number>();
  for (const w of wrt) {
    const g = cot.get(w);
    out.set(w, g ?? zerosOf(b, nodes[w].type));
  }
  return out;
}

/** Sum a cotangent over axes its primal does not have (undoing broadcasting); add missing ones. */
export function fitTo(b: GraphBuilder, g: number, target: TensorType): number {
  const gt = b.type(g);
  const extra = gt.axes.filter((a) => !hasAxis(target, a));
  let r = g;
  if (extra.length) r = b.add({ op: 'reduce', fn: 'sum', axes: extra }, [r]);
  const missing = target.axes.filter((a) => !hasAxis(b.type(r), a));
  if (missing.length) r = b.add({ op: 'expand', axes: missing }, [r]);
  return r;
}

export function zerosOf(b: GraphBuilder, t: TensorType): number {
  const z = b.constant(0);
  return t.axes.length ? b.add({ op: 'expand', axes: t.axes }, [z]) : z;
}

export type { IRNode };
