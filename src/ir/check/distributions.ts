/**
 * Rules on distributions: a softmax over A must be consumed over A, once, and must have
 * something to weigh.
 * E0501: contracted over another axis while A survives (attention weights applied along the wrong axis).
 * E0502: summed over A alone, or against an operand that does not vary along A (the weights sum to 1: no effect).
 * E0504: a softmax whose input varies along A only through a mask (uniform weights; what computed the scores is never trained).
 * E0505: a softmax or cross-entropy over A of something that is already a distribution over A.
 */
import { diagnostic, type Diagnostic, type Label } from '../../diagnostics/index.js';
import { hasAxis, type Axis, type Graph, type IRNode } from '../types.js';
import type { NodeFacts } from './facts.js';
import type { MaskAnalysis } from './masks.js';

export function checkDistributions(graph: Graph, facts: readonly NodeFacts[], masks: MaskAnalysis): Diagnostic[] {
  const out: Diagnostic[] = [];
  const nodes = graph.nodes;
  const label = (n: IRNode, message: string): Label[] => (n.span ? [{ span: n.span, message }] : []);
  const named = (n: IRNode) => (n.name ? `\`${n.name}\`` : 'this value');
  const distLabel = (d: NonNullable<NodeFacts['distribution']>): Label[] => (d.span ? [{ span: d.span, message: `a distribution over \`${d.axis.name}\`` }] : []);

  for (const n of nodes) {
    if (!n.span) continue;
    if (n.attrs.op === 'contract') {
      const over = n.attrs.over;
      n.inputs.forEach((inp, side) => {
        const d = facts[inp].distribution;
        if (!d) return;
        const other = nodes[n.inputs[1 - side]];
        const src = nodes[inp];
        if (!over.some((o) => o.id === d.axis.id)) {
          const overNames = over.map((o) => `\`${o.name}\``).join(', ');
          out.push(
            diagnostic('E0501', `${named(src)} is a softmax over \`${d.axis.name}\`, but it is contracted over ${overNames} while \`${d.axis.name}\` survives`, n.span!, {
              labels: distLabel(d),
              help: bothFixes(d.axis, over, other, 'contract'),
            }),
          );
          return;
        }
        if (!facts[other.id].varies.has(d.axis.id)) {
          out.push(
            diagnostic(
              'E0502',
              `${named(src)} is a softmax over \`${d.axis.name}\`, summed over \`${d.axis.name}\` against ${named(other)}, which does not vary along \`${d.axis.name}\`: the weights sum to 1 and have no effect`,
              n.span!,
              { labels: [...distLabel(d), ...label(other, `constant along \`${d.axis.name}\``)], help: `weight a value that varies along \`${d.axis.name}\` (e.g. values renamed \`as [seq -> ${d.axis.name}]\`)` },
            ),
          );
        }
      });
    }
    // Sums and means (linear: a softmax's weights sum to 1 under them); not max or prod.
    if (n.attrs.op === 'reduce' && (n.attrs.fn === 'sum' || n.attrs.fn === 'mean')) {
      const axes = n.attrs.axes;
      // sum(p, over: A) is 1 everywhere, mean(p, over: A) is 1/|A|: spent before it is used.
      const own = facts[n.inputs[0]].distribution;
      if (own && axes.some((a) => a.id === own.axis.id)) {
        const src = nodes[n.inputs[0]];
        const value = n.attrs.fn === 'sum' ? '1' : `1/${own.axis.size}`;
        out.push(
          diagnostic('E0502', `${named(src)} is a softmax over \`${own.axis.name}\`: its ${n.attrs.fn} over \`${own.axis.name}\` is always ${value}, so the weights have no effect`, n.span, {
            labels: distLabel(own),
            help: `weight the values inside the sum: \`sum(${src.name ?? 'p'} * v, over: ${own.axis.name})\` or \`${src.name ?? 'p'} . v over ${own.axis.name}\`, with v varying along \`${own.axis.name}\``,
          }),
        );
        continue;
      }
      // sum(p * x, over: A) with p a distribution over A and x constant along A.
      const prod = nodes[n.inputs[0]];
      if (prod.attrs.op !== 'binary' || prod.attrs.fn !== 'mul') continue;
      for (const side of [0, 1]) {
        const d = facts[prod.inputs[side]].distribution;
        const other = nodes[prod.inputs[1 - side]];
        if (!d) continue;
        if (!axes.some((a) => a.id === d.axis.id)) {
          // sum(p * x, over: B) with B an axis of both is the contraction `p . x over B`: the
          // same rule applies (E0501 when the distribution's axis survives).
          const src = nodes[prod.inputs[side]];
          const shared = axes.filter((a) => hasAxis(src.type, a) && hasAxis(other.type, a));
          if (shared.length === 0) continue;
          const overNames = shared.map((o) => `\`${o.name}\``).join(', ');
          out.push(
            diagnostic('E0501', `${named(src)} is a softmax over \`${d.axis.name}\`, but it is summed with ${named(other)} over ${overNames} while \`${d.axis.name}\` survives`, n.span!, {
              labels: distLabel(d),
              help: bothFixes(d.axis, shared, other, 'sum'),
            }),
          );
          continue;
        }
        if (facts[other.id].varies.has(d.axis.id)) continue;
        out.push(
          diagnostic(
            'E0502',
            `${named(nodes[prod.inputs[side]])} is a softmax over \`${d.axis.name}\`, summed over \`${d.axis.name}\` against ${named(other)}, which does not vary along \`${d.axis.name}\`: the weights sum to 1 and have no effect`,
            n.span!,
            { labels: distLabel(d), help: `weight a value that varies along \`${d.axis.name}\`` },
          ),
        );
      }
    }
    if (n.attrs.op === 'softmax' || n.attrs.op === 'cross_entropy') {
      const axis = n.attrs.axis;
      const input = n.inputs[0];
      const d = facts[input].distribution;
      if (d && d.axis.id === axis.id) {
        const src = nodes[input];
        const twice = n.attrs.op === 'softmax';
        out.push(
          diagnostic(
            'E0505',
            twice
              ? `${named(src)} is already a softmax over \`${axis.name}\`: a second softmax over it flattens the distribution`
              : `cross-entropy takes scores (logits), but ${named(src)} is already a softmax over \`${axis.name}\`: the loss would apply a second softmax`,
            n.span,
            {
              labels: distLabel(d),
              help: twice
                ? `take one softmax; for log-probabilities write \`log(${src.name ?? 'p'})\``
                : `pass the scores the softmax was taken of: \`cross_entropy(scores, targets, over: ${axis.name})\``,
            },
          ),
        );
        continue;
      }
      if (n.attrs.op === 'softmax' && !masks.variesBeyondMask(input, axis.id) && masks.coreIsLive(input)) {
        const core = coreOf(nodes, masks, input);
        const coreNode = nodes[core];
        const sibling = coreNode.type.axes.find((a) => a.size === axis.size && a.id !== axis.id);
        out.push(
          diagnostic(
            'E0504',
            `the softmax over \`${axis.name}\` is uniform: its input varies along \`${axis.name}\` only through a mask, so every kept position gets the same weight and what computes the scores is never trained`,
            n.span,
            {
              labels: coreNode.span && coreNode.span.start !== n.span.start ? label(coreNode, `${named(coreNode)} does not vary along \`${axis.name}\``) : [],
              help: sibling
                ? `make the scores vary along \`${axis.name}\`: compute them from keys renamed \`as [${sibling.name} -> ${axis.name}]\``
                : `make the scores vary along \`${axis.name}\`, or average with a constant: \`softmax(where(mask, -inf, 0.0), over: ${axis.name})\``,
            },
          ),
        );
      }
    }
  }
  return out;
}

/** "either contract over the softmax's axis (renaming the other operand's matching axis), or take the softmax over the contracted axes". */
function bothFixes(axis: Axis, over: readonly Axis[], other: IRNode, verb: 'contract' | 'sum'): string {
  const name = other.name ? `\`${other.name}\`` : 'the other operand';
  const overNames = over.map((o) => `\`${o.name}\``).join(', ');
  const overSyntax = verb === 'contract' ? `over ${axis.name}` : `over: ${axis.name}`;
  let first: string;
  if (hasAxis(other.type, axis)) first = `${verb} over the softmax's axis, \`${overSyntax}\``;
  else {
    const sib = over.find((a) => a.size === axis.size && hasAxis(other.type, a)) ?? other.type.axes.find((a) => a.size === axis.size && a.id !== axis.id);
    first = sib
      ? `rename ${name}'s \`${sib.name}\` to \`${axis.name}\` (\`as [${sib.name} -> ${axis.name}]\`) and ${verb} \`${overSyntax}\``
      : `give ${name} the axis \`${axis.name}\` (\`as [... -> ${axis.name}]\`) and ${verb} \`${overSyntax}\``;
  }
  return `either ${first}, or take the softmax over ${overNames}, the ${over.length === 1 ? 'axis' : 'axes'} it is ${verb === 'contract' ? 'contracted' : 'summed'} over`;
}

/**
 * The scores under a softmax's masks: through masking `where`s, added masks, constant scales
 * and renames, down to the first value the model names (`s`).
 */
function coreOf(nodes: readonly IRNode[], masks: MaskAnalysis, id: number): number {
  for (let guard = 0; guard < 64; guard++) {
    const n = nodes[id];
    const a = n.attrs;
    if (a.op === 'where') {
      const [, x, y] = n.inputs;
      const live = [x, y].filter((i) => masks.coreIsLive(i));
      if (live.length !== 1) return id;
      id = live[0];
    } else if (n.name !== undefined) return id;
    else if (a.op === 'binary' && (a.fn === 'add' || a.fn === 'sub' || a.fn === 'mul' || a.fn === 'div')) {
      const live = n.inputs.filter((i) => masks.coreIsLive(i));
      if (live.length !== 1) return id;
      id = live[0];
    } else if (a.op === 'unary' && a.fn === 'neg') id = n.inputs[0];
    else if (a.op === 'rename' || a.op === 'expand') id = n.inputs[0];
    else return id;
  }
  return id;
}
