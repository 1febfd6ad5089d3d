/**
 * Contractions whose operands name the wrong one of two sibling axes (`axis key = seq`):
 * E0302 then says which operand to rename, and where it is defined.
 */
import { diagnostic, type Diagnostic, type Span } from '../../diagnostics/index.js';
import type { Expr } from '../../parser/ast.js';
import { formatType, hasAxis, type Axis } from '../types.js';
import type { ElabContext } from './expr.js';

/**
 * E0302 with the fix: contracting over `key` an operand that has `seq` instead, a sibling of
 * `key` (`axis key = seq`), suggests renaming it where it is defined. Undefined when no
 * operand lacks an axis that way (the type rule's own message then stands).
 */
export function renameSuggestion(cx: ElabContext, l: number, r: number, over: readonly Axis[], operands: readonly Expr[], span: Span): Diagnostic | undefined {
  const root = (a: Axis) => cx.aliasRoot.get(a.id) ?? a.id;
  for (const axis of over) {
    for (const [side, id] of [l, r].entries()) {
      const t = cx.b.type(id);
      if (t.dtype !== 'f32' || hasAxis(t, axis)) continue;
      const sib = t.axes.find((a) => a.id !== axis.id && root(a) === root(axis) && !over.some((o) => o.id === a.id));
      if (!sib) continue;
      const operand = operands[side];
      const name = operand.kind === 'NameRef' ? `\`${operand.name.name}\`` : `the ${side === 0 ? 'left' : 'right'} operand`;
      const other = [l, r][1 - side];
      if (softmaxAxis(cx, other)?.id === sib.id && hasAxis(cx.b.type(other), sib)) {
        // The other operand is a distribution over the sibling both have: contract over it.
        const o = operands[1 - side];
        const oname = o.kind === 'NameRef' ? `\`${o.name.name}\`` : 'the other operand';
        return diagnostic('E0302', `cannot contract over \`${axis.name}\`: ${name} has \`${sib.name}\` but not \`${axis.name}\``, span, {
          labels: [{ span: operand.span, message: `this is ${formatType(t)}` }],
          help: `${oname} is a softmax over \`${sib.name}\`, which both operands have: contract \`over ${sib.name}\``,
        });
      }
      const def = cx.b.node(id).span;
      const labels = [{ span: operand.span, message: `this is ${formatType(t)}: \`${sib.name}\`, not \`${axis.name}\`` }];
      if (def && (def.start < operand.span.start || def.end > operand.span.end)) labels.push({ span: def, message: `rename \`${sib.name}\` here: \`(...) as [${sib.name} -> ${axis.name}]\`` });
      return diagnostic('E0302', `cannot contract over \`${axis.name}\`: ${name} has \`${sib.name}\` (the same size) but not \`${axis.name}\``, span, {
        labels,
        help: `rename its \`${sib.name}\` to \`${axis.name}\` where it is defined: \`(...) as [${sib.name} -> ${axis.name}]\``,
      });
    }
  }
  return undefined;
}

/** The axis a value is a softmax over, through renames and scaling (a peek: the checker's facts come later). */
function softmaxAxis(cx: ElabContext, id: number): Axis | undefined {
  const n = cx.b.node(id);
  const a = n.attrs;
  if (a.op === 'softmax') return a.axis;
  if (a.op === 'binary' && (a.fn === 'mul' || a.fn === 'div')) return softmaxAxis(cx, n.inputs[0]) ?? (a.fn === 'mul' ? softmaxAxis(cx, n.inputs[1]) : undefined);
  if (a.op === 'rename') {
    const inner = softmaxAxis(cx, n.inputs[0]);
    const i = inner ? cx.b.type(n.inputs[0]).axes.findIndex((x) => x.id === inner.id) : -1;
    return i >= 0 ? n.type.axes[i] : undefined;
  }
  return undefined;
}
