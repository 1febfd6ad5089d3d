/**
 * Dead parameters. W0801: a parameter no output depends on. W0803: a parameter the loss
 * depends on only through non-differentiable paths (a comparison, a mask condition, an index)
 * or only through a shift a softmax ignores (a term constant along the softmax's axis), so
 * its gradient is structurally zero and training never changes it.
 */
import { diagnostic, type Diagnostic } from '../../diagnostics/index.js';
import type { Graph, ParamInfo } from '../types.js';
import type { NodeFacts } from './facts.js';
import { isMaskConstant } from './masks.js';
import { reach } from '../graph.js';
import { differentiableInputs } from '../ops/index.js';

/**
 * The nodes the loss's gradient reaches. Below a softmax over an axis A, a term that is
 * constant along A and only added (or selected by a mask) into its input gets no gradient:
 * softmax(x + c) = softmax(x), so the gradient into the input sums to 0 along every row.
 */
export function trainedNodes(graph: Graph, loss: number, facts: readonly NodeFacts[]): Set<number> {
  const nodes = graph.nodes;
  const trained = new Set<number>();
  const seen = new Set<string>();
  /** [node, axis id the gradient arriving here sums to 0 along, or -1]. */
  const stack: [number, number][] = [[loss, -1]];
  const isMask = (id: number) => isMaskConstant(nodes[id]);
  while (stack.length) {
    const [id, blind] = stack.pop()!;
    const key = `${id}:${blind}`;
    if (seen.has(key)) continue;
    seen.add(key);
    // Constant along the axis its gradient sums to 0 along: this path gives it nothing.
    if (blind >= 0 && !facts[id].varies.has(blind)) continue;
    trained.add(id);
    const n = nodes[id];
    const a = n.attrs;
    const push = (i: number, b: number) => stack.push([n.inputs[i], b]);
    if (a.op === 'softmax') push(0, a.axis.id);
    else if (blind >= 0 && a.op === 'binary' && (a.fn === 'add' || a.fn === 'sub')) n.inputs.forEach((_, i) => push(i, blind));
    else if (blind >= 0 && a.op === 'unary' && a.fn === 'neg') push(0, blind);
    else if (blind >= 0 && a.op === 'expand') push(0, blind);
    else if (blind >= 0 && a.op === 'rename') {
      const from = nodes[n.inputs[0]].type.axes;
      const i = n.type.axes.findIndex((x) => x.id === blind);
      push(0, i >= 0 ? from[i].id : blind);
    } else if (blind >= 0 && a.op === 'where' && (isMask(n.inputs[1]) || isMask(n.inputs[2]))) push(isMask(n.inputs[1]) ? 2 : 1, blind);
    else for (const i of differentiableInputs(n)) push(i, -1);
  }
  return trained;
}

export function checkParameters(graph: Graph, loss: number | undefined, facts: readonly NodeFacts[]): Diagnostic[] {
  const out: Diagnostic[] = [];
  const roots = [...graph.outputs.values()];
  const used = reach(graph, roots, (n) => n.inputs.map((_, i) => i));
  const viaLoss = loss === undefined ? new Set<number>() : reach(graph, [loss], (n) => n.inputs.map((_, i) => i));
  const trained = loss === undefined ? new Set<number>() : trainedNodes(graph, loss, facts);
  // One diagnostic per declaration: a block's parameter has one instance per call (and per
  // repeat), all at the same source line.
  const dead = new Map<number, ParamInfo[]>();
  for (const p of graph.params) {
    if (used.has(p.node) && loss !== undefined && viaLoss.has(p.node) && !trained.has(p.node)) note(dead, p);
  }
  out.push(...unusedParameters(graph, (p) => used.has(p.node)));
  for (const ps of dead.values()) {
    out.push(
      diagnostic('W0803', `the ${ps.length === 1 ? 'gradient' : 'gradients'} of ${names(ps)} ${ps.length === 1 ? 'is' : 'are'} always zero: the loss depends on ${ps.length === 1 ? 'it' : 'them'} only through a comparison, mask or index, or a term a softmax ignores (constant along its axis)`, ps[0].span, {
        help: 'use the parameter in arithmetic that reaches the loss, or make it a constant',
      }),
    );
  }
  return out;
}

/**
 * W0801 for every parameter that `isUsed` says is not. On a model whose elaboration failed
 * the graph lacks what failed, so the caller passes "referenced by name at all" instead.
 */
export function unusedParameters(graph: Graph, isUsed: (p: ParamInfo) => boolean): Diagnostic[] {
  const unused = new Map<number, ParamInfo[]>();
  for (const p of graph.params) if (!isUsed(p)) note(unused, p);
  return [...unused.values()].map((ps) =>
    diagnostic('W0801', `${ps.length === 1 ? 'parameter' : 'parameters'} ${names(ps)} ${ps.length === 1 ? 'is' : 'are'} never used`, ps[0].span, { help: 'remove it, or use it in the forward pass' }),
  );
}

function note(m: Map<number, ParamInfo[]>, p: ParamInfo) {
  m.set(p.span.start, [...(m.get(p.span.start) ?? []), p]);
}

/** `a`, or `a`, `b` and 2 more (instances of one declaration). */
function names(ps: readonly ParamInfo[]): string {
  const shown = ps.slice(0, 2).map((p) => `\`${p.name}\``);
  if (ps.length === 1) return shown[0];
  if (ps.length === 2) return `${shown[0]} and ${shown[1]}`;
  return `${shown.join(', ')} and ${ps.length - 2} more`;
}
