/**
 * NaN hazards.
 * E0601: `inf * x` where x can be 0 (inf × 0 is NaN): use `where(mask, -inf, x)`.
 * E0602: masks before a softmax that leave some row with no finite entry (softmax of all -inf
 * is NaN). Every nested `where` counts, in any order. Masks of positions are regions
 * (regions.ts), so a row is checked with a few interval operations, never by visiting its
 * entries; a mask the regions cannot express is evaluated position by position, within a
 * budget (past it, nothing is reported).
 */
import { diagnostic, type Diagnostic, type Label } from '../../diagnostics/index.js';
import { BINARY, COMPARE, keepsNonFinite, UNARY } from '../ops/index.js';
import type { Axis, Graph, IRNode } from '../types.js';
import type { NodeFacts } from './facts.js';
import { MaskAnalysis } from './masks.js';
import { axesOf, not, rowHasEntry, rowWithNoEntry } from './regions.js';

/** Entries of a mask the regions cannot express, evaluated one by one at most. */
const EVAL_BUDGET = 1 << 20;

export function checkNanHazards(graph: Graph, facts: readonly NodeFacts[], masks = new MaskAnalysis(graph, facts)): Diagnostic[] {
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
      const d = starvedRow(graph, facts, masks, n.inputs[0], n.attrs.axis);
      if (!d) continue;
      // The mask is what to fix: point at it, and label the softmax it starves.
      const where = d.blame !== undefined ? nodes[d.blame] : undefined;
      const labels: Label[] = [];
      if (where?.span) labels.push({ span: n.span, message: `softmax over \`${n.attrs.axis.name}\` here` });
      for (const w of d.together) if (nodes[w].span) labels.push({ span: nodes[w].span!, message: 'together with this mask' });
      out.push(
        diagnostic('E0602', `the mask leaves no finite \`${n.attrs.axis.name}\` entry in ${d.row ? `the softmax row where ${d.row}` : 'any softmax row'}: softmax of all -inf is NaN`, where?.span ?? n.span, {
          labels,
          help: d.help,
        }),
      );
    }
  }
  return out;
}

interface Starved {
  row: string;
  /** The `where` to point at, and others that mask the row only together with it. */
  blame?: number;
  together: number[];
  help: string;
}

/** A row of the softmax over `axis` of `input` whose every entry is certainly not finite. */
function starvedRow(graph: Graph, facts: readonly NodeFacts[], masks: MaskAnalysis, input: number, axis: Axis): Starved | undefined {
  const nf = masks.nonFinite(input);
  if (nf.wheres.length === 0) return undefined;
  const axes = graph.nodes[input].type.axes;
  const kept = nf.region && not(nf.region);
  const bad = kept ? rowWithNoEntry(kept, axes, axis).row : emptyRowByEvaluation(graph, facts, input, axis, masks.maskAxes(input));
  if (!bad) return undefined;
  const others = axes.filter((a) => a.id !== axis.id && bad.has(a.id));
  const row = others.map((a) => `${a.name} = ${bad.get(a.id)}`).join(', ');
  const wheres = [...new Set(nf.wheres)].sort((a, b) => b - a); // the last applied first
  // Blame a mask that starves the row alone; else the last applied, with the others.
  let blame: number | undefined;
  if (wheres.length > 1 && kept) {
    for (const w of wheres) {
      const alone = masks.nonFiniteOnly(input, w);
      const keptAlone = alone && not(alone);
      if (keptAlone && !rowHasEntry(keptAlone, bad, axis)) {
        blame = w;
        break;
      }
    }
  }
  const together = blame === undefined ? wheres.slice(1) : [];
  blame ??= wheres[0];
  const mentionsAxis = nf.region ? axesOf(nf.region).has(axis.id) : true;
  // The example names the query axis: one the masks relate to the softmax axis, or one of its size.
  const q = others[0] ?? axes.find((a) => a.id !== axis.id && a.size === axis.size);
  const example = q ? `, e.g. a causal mask \`where(${axis.name} > ${q.name}, -inf, s)\` keeps the diagonal` : '';
  return {
    row,
    blame,
    together,
    help: mentionsAxis ? `keep at least one position per row${example}` : 'a mask must vary along the softmax axis and leave at least one position per row',
  };
}

/** The fallback for masks that are not regions: evaluate each entry (within a budget). */
function emptyRowByEvaluation(graph: Graph, facts: readonly NodeFacts[], input: number, axis: Axis, mentioned: ReadonlySet<number>): Map<number, number> | undefined {
  const nodes = graph.nodes;
  const inputAxes = nodes[input].type.axes;
  const others = inputAxes.filter((a) => a.id !== axis.id && mentioned.has(a.id));
  const total = others.reduce((n, a) => n * a.size, 1);
  let budget = EVAL_BUDGET;
  const idx = others.map(() => 0);
  for (let r = 0; r < total; r++) {
    const pos = new Map(others.map((a, i) => [a.id, idx[i]]));
    let starved = true;
    for (let k = 0; k < axis.size; k++) {
      if (--budget < 0) return undefined;
      pos.set(axis.id, k);
      const v = evalNonFinite(nodes, facts, input, pos);
      if (v !== true) {
        starved = false;
        break;
      }
    }
    pos.delete(axis.id);
    if (starved) return pos;
    for (let i = others.length - 1; i >= 0; i--) {
      if (++idx[i] < others[i].size) break;
      idx[i] = 0;
    }
  }
  return undefined;
}

/** Is the value at `pos` certainly not finite? Mirrors MaskAnalysis.nonFinite; undefined if data-dependent. */
function evalNonFinite(nodes: readonly IRNode[], facts: readonly NodeFacts[], id: number, pos: Map<number, number>): boolean | undefined {
  const n = nodes[id];
  const a = n.attrs;
  switch (a.op) {
    case 'const':
      return !Number.isFinite(a.value);
    case 'where': {
      const c = evalMask(nodes, n.inputs[0], pos);
      if (c === undefined) return undefined;
      return evalNonFinite(nodes, facts, n.inputs[c ? 1 : 2], pos);
    }
    case 'unary':
      return keepsNonFinite(UNARY[a.fn]) ? evalNonFinite(nodes, facts, n.inputs[0], pos) : false;
    case 'binary': {
      const passes = BINARY[a.fn].facts.nonFinite;
      if (passes === 'neither') return false;
      const [x, y] = n.inputs;
      if (!facts[y].mayBeInfinite) return evalNonFinite(nodes, facts, x, pos);
      if (!facts[x].mayBeInfinite && passes === 'either') return evalNonFinite(nodes, facts, y, pos);
      return false;
    }
    case 'rename':
      return evalNonFinite(nodes, facts, n.inputs[0], renamedBack(nodes, n, pos));
    case 'expand':
      return evalNonFinite(nodes, facts, n.inputs[0], pos);
    default:
      return false;
  }
}

/** Positions of a rename's input, given positions of its output. */
function renamedBack(nodes: readonly IRNode[], n: IRNode, pos: Map<number, number>): Map<number, number> {
  const p = new Map(pos);
  const from = nodes[n.inputs[0]].type.axes;
  from.forEach((a, i) => {
    const to = n.type.axes[i];
    if (to.id !== a.id && pos.has(to.id)) p.set(a.id, pos.get(to.id)!);
  });
  return p;
}

/** The deepest mask expression followed (positions evaluated are bounded by EVAL_BUDGET). */
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
    case 'expand':
      return ev(0);
    case 'rename':
      return evalMask(nodes, n.inputs[0], renamedBack(nodes, n, pos), depth + 1);
    // The functions' own semantics (src/ir/ops), as the interpreter computes them.
    case 'unary': {
      const x = ev(0);
      return x === undefined ? undefined : UNARY[a.fn].scalar(x);
    }
    case 'binary': {
      const x = ev(0);
      const y = ev(1);
      if (x === undefined || y === undefined) return undefined;
      return BINARY[a.fn].scalar(x, y);
    }
    case 'compare': {
      const x = ev(0);
      const y = ev(1);
      if (x === undefined || y === undefined) return undefined;
      return +COMPARE[a.fn].scalar(x, y);
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
