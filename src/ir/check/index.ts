/**
 * The static checker's semantic rules, run on an elaborated model. Shape, axis and dtype
 * rules run earlier, as each node is added (the op type rules); these rules need the whole
 * graph: distributions, NaN hazards, dead parameters.
 */
import type { Diagnostic } from '../../diagnostics/index.js';
import type { ElaboratedModel } from '../elaborate/model.js';
import type { Graph } from '../types.js';
import { checkDistributions } from './distributions.js';
import { computeFacts } from './facts.js';
import { checkParameters } from './gradients.js';
import { checkNanHazards } from './nan.js';

export { computeFacts, type NodeFacts } from './facts.js';
export { differentiableInputs } from './gradients.js';

/** Rules that are sound on any well-typed (possibly partial) graph. */
export function checkGraph(graph: Graph): Diagnostic[] {
  const facts = computeFacts(graph);
  return dedupe([...checkDistributions(graph, facts), ...checkNanHazards(graph, facts)]);
}

/** All rules; the dead-parameter rules need the complete model (no elaboration errors). */
export function checkModel(model: ElaboratedModel): Diagnostic[] {
  return [...checkGraph(model.graph), ...checkParameters(model.graph, model.loss)];
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
