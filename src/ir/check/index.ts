/**
 * The static checker's semantic rules, run on an elaborated model. Shape, axis and dtype
 * rules run earlier, as each node is added (the op type rules); these rules need the whole
 * graph: distributions, NaN hazards, dead parameters, information leaks.
 */
import type { Diagnostic } from '../../diagnostics/index.js';
import type { ElaboratedModel } from '../elaborate/model.js';
import type { Graph } from '../types.js';
import { checkDistributions } from './distributions.js';
import { computeFacts, type NodeFacts } from './facts.js';
import { checkParameters, unusedParameters } from './gradients.js';
import { checkLeaks } from './leaks.js';
import { MaskAnalysis } from './masks.js';
import { checkNanHazards } from './nan.js';

export { computeFacts, type NodeFacts } from './facts.js';

/** Rules that are sound on any well-typed (possibly partial) graph. */
export function checkGraph(graph: Graph): Diagnostic[] {
  const facts = computeFacts(graph);
  return graphRules(graph, facts, new MaskAnalysis(graph, facts));
}

function graphRules(graph: Graph, facts: readonly NodeFacts[], masks: MaskAnalysis): Diagnostic[] {
  return dedupe([...checkDistributions(graph, facts, masks), ...checkNanHazards(graph, facts, masks)]);
}

/**
 * The rules for a graph that elaboration left incomplete: those of checkGraph, and unused
 * parameters among those never referenced by name (`referenced`: parameter node ids), the
 * only ones the missing parts cannot have used.
 */
export function checkPartialGraph(graph: Graph, referenced: ReadonlySet<number>): Diagnostic[] {
  return [...checkGraph(graph), ...unusedParameters(graph, (p) => referenced.has(p.node))];
}

/** All rules; the dead-parameter and leak rules need the complete model (no elaboration errors). */
export function checkModel(model: ElaboratedModel): Diagnostic[] {
  const graph = model.graph;
  const facts = computeFacts(graph);
  const masks = new MaskAnalysis(graph, facts);
  const found = graphRules(graph, facts, masks);
  return [...found, ...checkParameters(graph, model.loss, facts), ...dedupe(checkLeaks(model, masks, downstreamOfErrors(graph, found)))];
}

/** The nodes at or after a node an error was reported at (matched by span). */
function downstreamOfErrors(graph: Graph, diags: readonly Diagnostic[]): Set<number> {
  const at = new Set(diags.filter((d) => d.severity === 'error').map((d) => `${d.span.start}:${d.span.end}`));
  const out = new Set<number>();
  for (const n of graph.nodes) {
    if ((n.span && at.has(`${n.span.start}:${n.span.end}`)) || n.inputs.some((i) => out.has(i))) out.add(n.id);
  }
  return out;
}

/**
 * A block inlined N times (calls, repeats) has N copies of each node, all at one span: report
 * the first (messages may differ only in the instance's parameter names).
 */
function dedupe(diags: readonly Diagnostic[]): Diagnostic[] {
  const seen = new Set<string>();
  return diags.filter((d) => {
    const k = `${d.code}|${d.span.file}|${d.span.start}|${d.span.end}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}
