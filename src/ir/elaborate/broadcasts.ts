/**
 * Implicit broadcasts that grow a value. Axes align by name, so `x = x + f(x)` where f(x)
 * carries an axis x lacks makes x grow that axis, and the mistake surfaces lines later.
 * E0311 reports it at the broadcast; `broadcast(x, over: A)` says it on purpose.
 */
import { diagnostic, type Diagnostic, type Label, type Span } from '../../diagnostics/index.js';
import type { GraphBuilder } from '../graph.js';
import { formatAxes, formatType, hasAxis, type Axis } from '../types.js';

/** An elementwise node where an operand lacking some of `axes` meets one that has them. */
export interface Broadcast {
  node: number;
  /** The operands, and the axes each has that the other lacks. */
  sides: { id: number; brings: Axis[] }[];
}

/** Does `id` depend on `target` (node ids only grow along edges, so the search stays below `id`)? */
function dependsOn(b: GraphBuilder, id: number, target: number): boolean {
  const seen = new Set<number>();
  const stack = [id];
  while (stack.length) {
    const i = stack.pop()!;
    if (i === target) return true;
    if (i < target || seen.has(i)) continue;
    seen.add(i);
    stack.push(...b.node(i).inputs);
  }
  return false;
}

/**
 * The broadcast closest to `result` (among nodes made since `firstNew`) where an operand that
 * lacks one of `grown` (and depends on `from`, if given) meets an operand that has it.
 */
export function findGrowth(b: GraphBuilder, result: number, from: number | undefined, grown: readonly Axis[], firstNew = 0): Broadcast | undefined {
  const seen = new Set<number>();
  const queue = [result];
  while (queue.length) {
    const id = queue.shift()!;
    if (seen.has(id) || id < firstNew) continue;
    seen.add(id);
    const n = b.node(id);
    const elementwise = n.attrs.op === 'binary' || n.attrs.op === 'where' || n.attrs.op === 'compare';
    if (elementwise && grown.some((a) => hasAxis(n.type, a))) {
      const operands = [...new Set(n.inputs)];
      const lacks = operands.some(
        (i) => grown.some((a) => hasAxis(n.type, a) && !hasAxis(b.type(i), a)) && b.type(i).axes.length > 0 && (from === undefined || dependsOn(b, i, from)),
      );
      if (lacks) {
        // What each operand has that the others lack (scalars take no part).
        const shaped = operands.filter((i) => b.type(i).axes.length > 0);
        const sides = shaped.map((i) => ({ id: i, brings: b.type(i).axes.filter((a) => !shaped.some((j) => j !== i && hasAxis(b.type(j), a))) }));
        return { node: id, sides };
      }
    }
    queue.push(...n.inputs);
  }
  return undefined;
}

const SIDE_NAMES = ['the left side', 'the right side'];

/** E0311 at the broadcast that made `name` grow from `before` to `after`. */
export function growthDiagnostic(b: GraphBuilder, name: string, before: readonly Axis[], g: Broadcast, grown: readonly Axis[], blockResults: ReadonlyMap<number, string>): Diagnostic {
  const n = b.node(g.node);
  const names = (axes: readonly Axis[]) => axes.map((a) => `\`${a.name}\``).join(', ');
  const op = n.attrs.op === 'binary' ? { add: '`+`', sub: '`-`', mul: '`*`', div: '`/`', pow: '`^`', max: '`max`', min: '`min`' }[n.attrs.fn] : `\`${n.attrs.op}\``;
  const sideNames = n.attrs.op === 'where' ? ['the mask', 'the first branch', 'the second branch'] : SIDE_NAMES;
  const sides = g.sides.map((s) => `${sideNames[n.inputs.indexOf(s.id)]} brings ${s.brings.length ? names(s.brings) : 'no axis of its own'}`).join(', ');
  const span = n.span!;
  const labels: Label[] = [];
  for (const s of g.sides) {
    const at = b.node(s.id).span;
    if (!at || !s.brings.some((a) => grown.some((x) => x.id === a.id))) continue;
    // A block's result carries the span of the block's `return`: say so.
    const block = blockResults.get(s.id);
    const named = b.node(s.id).name;
    const message = block ? `\`${block}\` returns ${formatType(b.type(s.id))} here` : named ? `\`${named}\` is ${formatType(b.type(s.id))}` : `this is ${formatType(b.type(s.id))}`;
    labels.push({ span: at, message });
  }
  const list = grown.length === 1 ? grown[0].name : `(${grown.map((a) => a.name).join(', ')})`;
  if (maskBrings(b, g, grown)) {
    // `s = where(key > seq, -inf, s)` with scores that lack `key`: the mask repeats them.
    const sib = before.find((a) => grown.some((x) => x.size === a.size));
    return diagnostic('E0311', `this \`where\` broadcasts: the mask brings ${names(grown)}, which \`${name}\` (${formatAxes(before)}) lacks, so every ${names(grown)} position gets the same value`, span, {
      labels,
      help: `give \`${name}\` ${names(grown)} where it is computed${sib && grown.length === 1 ? ` (from values renamed \`as [${sib.name} -> ${grown[0].name}]\`)` : ''}; to repeat it on purpose, broadcast it explicitly: \`broadcast(${name}, over: ${list})\``,
    });
  }
  return diagnostic('E0311', `this ${op} broadcasts: ${sides}, so \`${name}\`, which was ${formatAxes(before)}, becomes ${formatAxes(b.type(g.node).axes)}`, span as Span, {
    labels,
    help: `reduce ${names(grown)} or contract ${grown.length === 1 ? 'it' : 'them'} away before the ${op} (e.g. \`. w over ${list}\`); to grow \`${name}\` on purpose, broadcast it explicitly: \`broadcast(${name}, over: ${list})\``,
  });
}

/** Did the growth come from a `where`'s mask (the condition brings every grown axis)? */
export function maskBrings(b: GraphBuilder, g: Broadcast, grown: readonly Axis[]): boolean {
  const n = b.node(g.node);
  if (n.attrs.op !== 'where') return false;
  const mask = g.sides.find((s) => s.id === n.inputs[0]);
  return !!mask && grown.every((a) => mask.brings.some((x) => x.id === a.id));
}
