/**
 * NaN hazards.
 * E0601: `inf * x` where x can be 0 (inf × 0 is NaN): use `where(mask, -inf, x)`.
 * E0602: a mask before a softmax that leaves some row with no finite entry (softmax of all -inf is NaN).
 */
import { diagnostic, type Diagnostic } from '../../diagnostics/index.js';
import type { Axis, Graph, IRNode } from '../types.js';
import type { NodeFacts } from './facts.js';

export function checkNanHazards(graph: Graph, facts: readonly NodeFacts[]): Diagnostic[] {
  const out: Diagnostic[] = [];
  const nodes = graph.nodes;
  for (const n of nodes) {
    if (!n.span) continue;
    if (n.attrs.op === 'binary' && n.attrs.fn === 'mul') {
      const [x, y] = n.inputs;
      for (const [inf, other] of [[x, y], [y, x]] as const) {
        if (!facts[inf].mayBeInfinite) continue;
        if (facts[other].nonZero) continue;
        out.push(
          diagnostic('E0601', `infinity times ${nodes[other].name ? `\`${nodes[other].name}\`` : 'a value'} that can be 0 gives NaN (inf × 0)`, n.span, {
            labels: nodes[other].span ? [{ span: nodes[other].span!, message: 'this can be 0' }] : [],
            help: 'select instead of multiplying: `where(mask, -inf, x)`',
          }),
        );
        break;
      }
    }
    if (n.attrs.op === 'softmax') {
      const d = fullyMaskedRow(nodes, facts, n.inputs[0], n.attrs.axis);
      if (d) {
        // The mask is what to fix: point at it, and label the softmax it starves.
        out.push(
          diagnostic('E0602', `the mask leaves no finite \`${n.attrs.axis.name}\` entry in the softmax row where ${d.row}: softmax of all -inf is NaN`, d.where.span ?? n.span, {
            labels: d.where.span ? [{ span: n.span, message: `softmax over \`${n.attrs.axis.name}\` here` }] : [],
            help: d.help,
          }),
        );
      }
    }
  }
  return out;
}

/**
 * Find `where(cond, -inf, s)` feeding the softmax (through renames and finite arithmetic),
 * evaluate the mask exactly (it is built from axis positions), and look for a row that is
 * masked along the softmax axis everywhere.
 */
function fullyMaskedRow(nodes: readonly IRNode[], facts: readonly NodeFacts[], start: number, axis: Axis) {
  let id = start;
  let renames = new Map<number, Axis>();
  for (let guard = 0; guard < 64; guard++) {
    const n = nodes[id];
    if (n.attrs.op === 'rename') {
      // The mask lives in the input's axis names; map the softmax axis back.
      const back = new Map<number, Axis>();
      for (const [from, to] of n.attrs.pairs) back.set(to.id, from);
      renames = new Map([...renames].map(([k, v]) => [k, back.get(v.id) ?? v]));
      if (back.has(axis.id)) axis = back.get(axis.id)!;
      id = n.inputs[0];
      continue;
    }
    if (n.attrs.op === 'binary' && ['add', 'sub', 'mul', 'div'].includes(n.attrs.fn)) {
      const [x, y] = n.inputs;
      if (!facts[y].mayBeInfinite) {
        id = x;
        continue;
      }
      // add and mul commute: `c * where(mask, -inf, s)` masks like `where(mask, -inf, s) * c`.
      if (!facts[x].mayBeInfinite && (n.attrs.fn === 'add' || n.attrs.fn === 'mul')) {
        id = y;
        continue;
      }
      return undefined;
    }
    if (n.attrs.op === 'where') {
      const [c, a, b] = n.inputs;
      const negInfA = isNegInf(nodes[a]);
      const negInfB = isNegInf(nodes[b]);
      if (!negInfA && !negInfB) return undefined;
      const masked = (v: boolean) => (negInfA ? v : !v);
      const cond = nodes[c];
      const axes = cond.type.axes;
      if (!axes.some((x) => x.id === axis.id)) {
        // The mask does not vary along the softmax axis: a masked row is masked entirely.
        const anyMasked = forAll(axes, (pos) => masked(evalMask(nodes, c, pos) !== 0));
        if (anyMasked.found) return { where: n, row: describeRow(anyMasked.pos, axes), help: 'a mask must vary along the softmax axis and leave at least one position per row' };
        return undefined;
      }
      const others = axes.filter((x) => x.id !== axis.id);
      // Every row is walked along the axis: past this much work, say nothing rather than hang.
      if (others.reduce((n, a) => n * a.size, axis.size) > MASK_BUDGET) return undefined;
      const bad = forAll(others, (pos) => {
        for (let i = 0; i < axis.size; i++) {
          const p = new Map(pos);
          p.set(axis.id, i);
          const v = evalMask(nodes, c, p);
          if (v === undefined) return false;
          if (!masked(v !== 0)) return false;
        }
        return true;
      });
      if (bad.found)
        return {
          where: n,
          row: describeRow(bad.pos, others),
          help: 'keep at least one position per row, e.g. a causal mask `where(key > seq, -inf, s)` keeps the diagonal',
        };
      return undefined;
    }
    return undefined;
  }
  return undefined;
}

function isNegInf(n: IRNode): boolean {
  return n.attrs.op === 'const' && n.attrs.value === -Infinity;
}

function describeRow(pos: Map<number, number>, axes: readonly Axis[]): string {
  const parts = axes.map((a) => `${a.name} = ${pos.get(a.id) ?? 0}`);
  return parts.length ? parts.join(', ') : 'every row';
}

/** Visit every position over `axes` (up to a budget); report the first where `pred` holds. */
function forAll(axes: readonly Axis[], pred: (pos: Map<number, number>) => boolean): { found: boolean; pos: Map<number, number> } {
  const total = axes.reduce((n, a) => n * a.size, 1);
  if (total > 1 << 20) return { found: false, pos: new Map() };
  const idx = axes.map(() => 0);
  for (let k = 0; k < total; k++) {
    const pos = new Map(axes.map((a, i) => [a.id, idx[i]]));
    if (pred(pos)) return { found: true, pos };
    for (let i = axes.length - 1; i >= 0; i--) {
      if (++idx[i] < axes[i].size) break;
      idx[i] = 0;
    }
  }
  return { found: false, pos: new Map() };
}

/** Positions a mask is evaluated at, at most, and the deepest mask expression followed. */
const MASK_BUDGET = 1 << 22;
const MASK_DEPTH = 256;

/**
 * Value of a mask expression built from positions and constants at one position; undefined if
 * data-dependent, or deeper than MASK_DEPTH (a chain of statements can make it any depth).
 */
function evalMask(nodes: readonly IRNode[], id: number, pos: Map<number, number>, depth = 0): number | undefined {
  if (depth > MASK_DEPTH) return undefined;
  const n = nodes[id];
  const a = n.attrs;
  const ev = (i: number) => evalMask(nodes, n.inputs[i], pos, depth + 1);
  switch (a.op) {
    case 'const':
      return a.value;
    case 'iota':
      return pos.get(a.axis.id) ?? 0;
    case 'cast':
      return ev(0);
    case 'rename': {
      const p = new Map(pos);
      for (const [from, to] of a.pairs) if (pos.has(to.id)) p.set(from.id, pos.get(to.id)!);
      return evalMask(nodes, n.inputs[0], p, depth + 1);
    }
    case 'unary':
      return a.fn === 'neg' ? mapU(ev(0), (x) => -x) : undefined;
    case 'binary': {
      const x = ev(0);
      const y = ev(1);
      if (x === undefined || y === undefined) return undefined;
      return { add: x + y, sub: x - y, mul: x * y, div: x / y, pow: x ** y, max: Math.max(x, y), min: Math.min(x, y) }[a.fn];
    }
    case 'compare': {
      const x = ev(0);
      const y = ev(1);
      if (x === undefined || y === undefined) return undefined;
      return +{ lt: x < y, le: x <= y, gt: x > y, ge: x >= y, eq: x === y, ne: x !== y }[a.fn];
    }
    case 'where': {
      const c = ev(0);
      if (c === undefined) return undefined;
      return c ? ev(1) : ev(2);
    }
    default:
      return undefined;
  }
}

function mapU(x: number | undefined, f: (v: number) => number) {
  return x === undefined ? undefined : f(x);
}
