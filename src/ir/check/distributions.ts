/**
 * Rules on distributions: a softmax over A must be consumed over A.
 * E0501: contracted over another axis while A survives (attention weights applied along the wrong axis).
 * E0502: summed over A against an operand that does not vary along A (weights sum to 1: no effect).
 */
import { diagnostic, type Diagnostic, type Label } from '../../diagnostics/index.js';
import { hasAxis, type Graph, type IRNode } from '../types.js';
import type { NodeFacts } from './facts.js';

export function checkDistributions(graph: Graph, facts: readonly NodeFacts[]): Diagnostic[] {
  const out: Diagnostic[] = [];
  const nodes = graph.nodes;
  const label = (n: IRNode, message: string): Label[] => (n.span ? [{ span: n.span, message }] : []);
  const named = (n: IRNode) => (n.name ? `\`${n.name}\`` : 'this value');

  for (const n of nodes) {
    if (!n.span) continue;
    if (n.attrs.op === 'contract') {
      const over = n.attrs.over;
      n.inputs.forEach((inp, side) => {
        const d = facts[inp].distribution;
        if (!d) return;
        const other = nodes[n.inputs[1 - side]];
        const src = nodes[inp];
        const distLabel = d.span ? [{ span: d.span, message: `a distribution over \`${d.axis.name}\`` }] : [];
        if (!over.some((o) => o.id === d.axis.id)) {
          const overNames = over.map((o) => `\`${o.name}\``).join(', ');
          out.push(
            diagnostic(
              'E0501',
              `${named(src)} is a softmax over \`${d.axis.name}\`, but it is contracted over ${overNames} while \`${d.axis.name}\` survives`,
              n.span!,
              {
                labels: distLabel,
                help: other.type.axes.some((a) => a.id === d.axis.id)
                  ? `contract over the distribution's axis: \`over ${d.axis.name}\``
                  : `the other operand has no \`${d.axis.name}\`; rename its matching axis (\`as [... -> ${d.axis.name}]\`) and contract \`over ${d.axis.name}\`, or take the softmax over ${overNames}`,
              },
            ),
          );
          return;
        }
        if (!facts[other.id].varies.has(d.axis.id)) {
          out.push(
            diagnostic(
              'E0502',
              `${named(src)} is a softmax over \`${d.axis.name}\`, summed over \`${d.axis.name}\` against ${named(other)}, which does not vary along \`${d.axis.name}\`: the weights sum to 1 and have no effect`,
              n.span!,
              { labels: [...distLabel, ...label(other, `constant along \`${d.axis.name}\``)], help: `weight a value that varies along \`${d.axis.name}\` (e.g. values renamed \`as [seq -> ${d.axis.name}]\`)` },
            ),
          );
        }
      });
    }
    // sum(p * x, over: A) with p a distribution over A and x constant along A.
    if (n.attrs.op === 'reduce' && n.attrs.fn !== 'max') {
      const prod = nodes[n.inputs[0]];
      if (prod.attrs.op !== 'binary' || prod.attrs.fn !== 'mul') continue;
      for (const side of [0, 1]) {
        const d = facts[prod.inputs[side]].distribution;
        const other = nodes[prod.inputs[1 - side]];
        if (!d) continue;
        if (!n.attrs.axes.some((a) => a.id === d.axis.id)) {
          // sum(p * x, over: B) with B an axis of both is the contraction `p . x over B`: the
          // same rule applies (E0501 when the distribution's axis survives).
          const src = nodes[prod.inputs[side]];
          const shared = n.attrs.axes.filter((a) => hasAxis(src.type, a) && hasAxis(other.type, a));
          if (shared.length === 0) continue;
          const overNames = shared.map((o) => `\`${o.name}\``).join(', ');
          out.push(
            diagnostic('E0501', `${named(src)} is a softmax over \`${d.axis.name}\`, but it is summed with ${named(other)} over ${overNames} while \`${d.axis.name}\` survives`, n.span!, {
              labels: d.span ? [{ span: d.span, message: `a distribution over \`${d.axis.name}\`` }] : [],
              help: hasAxis(other.type, d.axis)
                ? `sum over the distribution's axis: \`over: ${d.axis.name}\``
                : `the other operand has no \`${d.axis.name}\`; rename its matching axis (\`as [... -> ${d.axis.name}]\`) and sum \`over: ${d.axis.name}\`, or take the softmax over ${overNames}`,
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
            { labels: d.span ? [{ span: d.span, message: `a distribution over \`${d.axis.name}\`` }] : [], help: `weight a value that varies along \`${d.axis.name}\`` },
          ),
        );
      }
    }
  }
  return out;
}
