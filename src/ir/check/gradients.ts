/**
 * Dead parameters. W0801: a parameter no output depends on. W0803: a parameter the loss
 * depends on only through non-differentiable paths (a comparison, a mask condition, an index),
 * so its gradient is structurally zero and training never changes it.
 */
import { diagnostic, type Diagnostic } from '../../diagnostics/index.js';
import type { Graph, IRNode, ParamInfo } from '../types.js';
import { reach } from '../graph.js';

/** Which inputs of a node carry gradient. */
export function differentiableInputs(n: IRNode): number[] {
  const a = n.attrs;
  switch (a.op) {
    case 'compare':
    case 'cast':
    case 'iota':
    case 'const':
    case 'param':
    case 'input':
      return [];
    case 'unary':
      return a.fn === 'step' ? [] : [0];
    case 'where':
      return [1, 2];
    case 'gather':
    case 'scatter_add':
    case 'cross_entropy':
      return [0];
    default:
      return n.inputs.map((_, i) => i);
  }
}

export function checkParameters(graph: Graph, loss: number | undefined): Diagnostic[] {
  const out: Diagnostic[] = [];
  const roots = [...graph.outputs.values()];
  const used = reach(graph, roots, (n) => n.inputs.map((_, i) => i));
  const viaLoss = loss === undefined ? new Set<number>() : reach(graph, [loss], (n) => n.inputs.map((_, i) => i));
  const trained = loss === undefined ? new Set<number>() : reach(graph, [loss], differentiableInputs);
  // One diagnostic per declaration: a block's parameter has one instance per call (and per
  // repeat), all at the same source line.
  const unused = new Map<number, ParamInfo[]>();
  const dead = new Map<number, ParamInfo[]>();
  const note = (m: Map<number, ParamInfo[]>, p: ParamInfo) => m.set(p.span.start, [...(m.get(p.span.start) ?? []), p]);
  for (const p of graph.params) {
    if (!used.has(p.node)) note(unused, p);
    else if (loss !== undefined && viaLoss.has(p.node) && !trained.has(p.node)) note(dead, p);
  }
  for (const ps of unused.values()) {
    out.push(diagnostic('W0801', `${ps.length === 1 ? 'parameter' : 'parameters'} ${names(ps)} ${ps.length === 1 ? 'is' : 'are'} never used`, ps[0].span, { help: 'remove it, or use it in the forward pass' }));
  }
  for (const ps of dead.values()) {
    out.push(
      diagnostic('W0803', `the ${ps.length === 1 ? 'gradient' : 'gradients'} of ${names(ps)} ${ps.length === 1 ? 'is' : 'are'} always zero: the loss depends on ${ps.length === 1 ? 'it' : 'them'} only through a comparison, mask or index`, ps[0].span, {
        help: 'use the parameter in arithmetic that reaches the loss, or make it a constant',
      }),
    );
  }
  return out;
}

/** `a`, or `a`, `b` and 2 more (instances of one declaration). */
function names(ps: readonly ParamInfo[]): string {
  const shown = ps.slice(0, 2).map((p) => `\`${p.name}\``);
  if (ps.length === 1) return shown[0];
  if (ps.length === 2) return `${shown[0]} and ${shown[1]}`;
  return `${shown.join(', ')} and ${ps.length - 2} more`;
}
