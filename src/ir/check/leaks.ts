/**
 * Information leaks, by a position-dependency analysis over the IR.
 *
 * Every value gets, per data-bound input, the window positions (and batch examples) each of
 * its elements can depend on, as a few terms: "positions w with w - pos(axis) ∈ D" (the
 * same position, or an offset range) or "positions w ∈ D" whatever the element (all of a
 * window). Elementwise ops pass terms along the diagonal; a reduction or contraction over
 * an axis turns terms relative to it into terms relative to a surviving axis when the value
 * is zero outside a band between the two (a causally masked softmax, and p . v after it),
 * and into absolute terms otherwise. A softmax over an axis depends, per row, on the entries
 * its masks keep (masks.ts turns `key > seq + 1`, sliding windows and nested `where`s into
 * offset ranges without visiting positions), so the analysis is linear in the graph.
 *
 * E1201: where the targets are window positions c.. (target i is window position c + i),
 * the logits at position i must not depend on window positions ≥ c + i. Absolute terms are
 * checked only where the train section shifts the targets past an input (an autoencoder
 * that rebuilds its window through a bottleneck depends on all of it, legitimately); terms
 * relative to the targets' axis always are (a prediction that sees its own target copies it).
 * W1202: one example's logits depend on other examples of the batch.
 */
import { diagnostic, type Diagnostic, type Label } from '../../diagnostics/index.js';
import type { ElaboratedModel, WindowSlice } from '../elaborate/model.js';
import { BINARY, preservesZero, UNARY } from '../ops/index.js';
import type { Axis, Graph, IRNode } from '../types.js';
import { add as addSets, ALL_INTS, has, intersect, isEmpty, maxOf, minOf, point, range, sameSet, union, type IntSet } from './intsets.js';
import { maskingWheres, type MaskAnalysis } from './masks.js';
import { and, dropAxes, EVERYWHERE, not, NOWHERE, offsetIn, or, renameAxes, rowWithNoEntry, type Region } from './regions.js';

export interface Term {
  /** The input node whose window positions (or batch examples) these are. */
  src: number;
  kind: 'pos' | 'ex';
  /** Axis id the offsets are relative to, or -1 for absolute positions. */
  axis: number;
  /** Relative: w - pos(axis) for every w the element may depend on; absolute: the w. */
  d: IntSet;
  /** Derived through a mask the analysis could not read: never reported. */
  approx: boolean;
}

/** Where a data-bound input's elements sit: window positions along its time axis, examples along batch. */
export interface Source {
  time?: { axis: Axis; start: number };
  batch?: Axis;
}

/** What each value depends on, and where it may be non-zero. */
export class Dependencies {
  readonly terms: Term[][] = [];
  readonly support: Region[] = [];
  /**
   * The support is larger than the truth because of a mask the analysis could not read:
   * terms derived through it are approximate (never reported).
   */
  readonly loose: boolean[] = [];
  private readonly axisSize = new Map<number, number>();

  constructor(
    private readonly graph: Graph,
    private readonly masks: MaskAnalysis,
    private readonly sources: ReadonlyMap<number, Source>,
  ) {
    for (const n of graph.nodes) for (const a of n.type.axes) this.axisSize.set(a.id, a.size);
    for (const n of graph.nodes) {
      // A support computed from loose ones is loose; a softmax decides for itself.
      this.loose.push(n.inputs.some((i) => this.loose[i]));
      const [terms, support] = this.visit(n);
      this.terms.push(terms);
      this.support.push(support);
    }
  }

  private visit(n: IRNode): [Term[], Region] {
    const a = n.attrs;
    const ins = n.inputs.map((i) => this.terms[i]);
    const sup = (i: number) => this.support[n.inputs[i]];
    const loose = this.loose[n.id];
    const all = () => merge(ins.flat());
    const forms = this.masks.forms;
    switch (a.op) {
      case 'input': {
        const s = this.sources.get(n.id);
        const out: Term[] = [];
        if (s?.time) out.push({ src: n.id, kind: 'pos', axis: s.time.axis.id, d: point(s.time.start), approx: false });
        if (s?.batch) out.push({ src: n.id, kind: 'ex', axis: s.batch.id, d: point(0), approx: false });
        return [out, EVERYWHERE];
      }
      case 'param':
      case 'iota':
        return [[], EVERYWHERE];
      case 'const':
        return [[], a.value === 0 ? NOWHERE : EVERYWHERE];
      case 'unary':
        return [all(), preservesZero(UNARY[a.fn]) ? sup(0) : EVERYWHERE];
      case 'cast': {
        const isMask = this.graph.nodes[n.inputs[0]].type.dtype === 'bool';
        return [all(), isMask ? (forms.regionOf(n.inputs[0]) ?? EVERYWHERE) : sup(0)];
      }
      case 'compare':
        return [all(), EVERYWHERE];
      case 'binary': {
        // Where the value can be nonzero, from where its operands can be.
        switch (BINARY[a.fn].facts.zero) {
          case 'either':
            return [all(), and(sup(0), sup(1)) ?? sup(0)];
          case 'left':
            return [all(), sup(0)];
          case 'both':
            return [all(), or(sup(0), sup(1)) ?? EVERYWHERE];
          case 'never':
            return [all(), EVERYWHERE];
        }
      }
      case 'where': {
        const c = forms.regionOf(n.inputs[0]);
        const nc = c && not(c);
        const l = c && and(c, sup(1));
        const r = nc && and(nc, sup(2));
        return [all(), (l && r && or(l, r)) ?? or(sup(1), sup(2)) ?? EVERYWHERE];
      }
      case 'expand':
        return [all(), sup(0)];
      case 'rename': {
        const map = forms.renameMap(n);
        return [ins[0].map((t) => ({ ...t, axis: map.get(t.axis) ?? t.axis })), renameAxes(sup(0), map)];
      }
      case 'reduce': {
        const over = new Set(a.axes.map((x) => x.id));
        return [this.eliminate(ins[0], over, sup(0), n, loose), dropAxes(sup(0), over)];
      }
      case 'contract': {
        const over = new Set(a.over.map((x) => x.id));
        const region = and(sup(0), sup(1)) ?? sup(0);
        return [this.eliminate(all(), over, region, n, loose), dropAxes(region, over)];
      }
      case 'gather': {
        // Which row of the table is read depends on the index: terms along the gathered axis cover it all.
        const table = this.eliminate(ins[0], new Set([a.axis.id]), EVERYWHERE, n, false);
        return [merge([...table, ...ins[1]]), EVERYWHERE];
      }
      case 'softmax': {
        const { region, loose } = this.softmaxSupport(n.inputs[0], a.axis);
        this.loose[n.id] = loose;
        return [this.eliminate(ins[0], new Set([a.axis.id]), region, n, loose), region];
      }
      case 'scatter_add':
      case 'cross_entropy': {
        const every = new Set(this.graph.nodes[n.inputs[0]].type.axes.map((x) => x.id));
        return [this.eliminate(all(), every, EVERYWHERE, n, false), EVERYWHERE];
      }
    }
  }

  /**
   * Where a softmax over `axis` of `input` can be non-zero: each row depends only on the
   * entries its masks keep, since the others weigh exactly 0. A huge negative entry
   * (`- 1e9 * mask`) weighs 0 only next to an entry that is not one: where some row has
   * none, only infinities count as masked (a row of -1e9 is a softmax like any other).
   */
  private softmaxSupport(input: number, axis: Axis): { region: Region; loose: boolean } {
    const axes = this.graph.nodes[input].type.axes;
    const ex = this.masks.extremes(input);
    const keptBig = not(ex.low);
    const big = keptBig && rowWithNoEntry(keptBig, axes, axis);
    if (keptBig && big && big.decided && !big.row) return { region: keptBig, loose: !ex.exact };
    const inf = this.masks.nonFinite(input).region;
    const keptInf = inf && not(inf);
    const rows = keptInf && rowWithNoEntry(keptInf, axes, axis);
    // Rows of huge values only: each is a plain softmax of what is finite, unless penalties
    // of different sizes stack (-2e9 beside -1e9 weighs 0 too, and the analysis cannot say where).
    if (keptInf && rows && rows.decided && !rows.row) return { region: keptInf, loose: ex.stacked };
    // A row of infinities only is NaN (E0602); a mask that could not be read is approximate.
    return { region: EVERYWHERE, loose: !keptInf || !rows || !rows.decided };
  }

  /**
   * Terms relative to the axes `over` (reduced, contracted or normalised over) become terms
   * relative to an axis of `n` that `region` ties them to (pos(over) - pos(q) ∈ D), or
   * absolute terms over the positions the region allows.
   */
  private eliminate(terms: readonly Term[], over: ReadonlySet<number>, region: Region, n: IRNode, approx: boolean): Term[] {
    const survivors = n.type.axes.map((x) => x.id).filter((x) => !over.has(x));
    const out: Term[] = [];
    for (const t of terms) {
      if (!over.has(t.axis)) {
        out.push(t);
        continue;
      }
      const k = t.axis;
      const kSize = this.axisSize.get(k) ?? 1;
      for (const box of region) {
        const kSet = intersect(box.unary.get(k) ?? range(0, kSize - 1), range(0, kSize - 1));
        if (isEmpty(kSet)) continue;
        // Tie the term to a surviving axis the box constrains: by an offset (a band), or by
        // the ranges both positions can take (rows q ≥ 4 that keep keys ≤ 2 see only the past).
        const q = survivors.find((x) => box.rel.has(k < x ? `${k},${x}` : `${x},${k}`)) ?? survivors.find((x) => box.unary.has(x));
        if (q === undefined) {
          out.push(this.clip({ ...t, axis: -1, d: addSets(t.d, kSet), approx: t.approx || approx }));
          continue;
        }
        const qSize = this.axisSize.get(q) ?? 1;
        const qSet = intersect(box.unary.get(q) ?? range(0, qSize - 1), range(0, qSize - 1));
        // k - q over the positions both can take, within the box's band.
        const band = intersect(offsetIn(box, k, q) ?? ALL_INTS, range(minOf(kSet) - maxOf(qSet), maxOf(kSet) - minOf(qSet)));
        if (isEmpty(band) || isEmpty(qSet)) continue;
        out.push(this.clip({ ...t, axis: q, d: addSets(t.d, band), approx: t.approx || approx }));
      }
    }
    return merge(out);
  }

  /**
   * May the element of node `id` at `pos` (axis id → position) depend on position `w` of
   * source `src` (a window position for 'pos', an example for 'ex')? Approximate terms count.
   */
  covers(id: number, src: number, kind: Term['kind'], pos: ReadonlyMap<number, number>, w: number): boolean {
    return this.terms[id].some((t) => t.src === src && t.kind === kind && has(t.d, t.axis < 0 ? w : w - (pos.get(t.axis) ?? 0)));
  }

  /** Keep only positions the source has: a window slice's positions, a batch's examples. */
  private clip(t: Term): Term {
    const s = this.sources.get(t.src);
    const lo = t.kind === 'pos' ? (s?.time?.start ?? 0) : 0;
    const n = t.kind === 'pos' ? (s?.time?.axis.size ?? 1) : (s?.batch?.size ?? 1);
    if (t.axis < 0) return { ...t, d: intersect(t.d, range(lo, lo + n - 1)) };
    const size = this.axisSize.get(t.axis) ?? 1;
    return { ...t, d: intersect(t.d, range(lo - (size - 1), lo + n - 1)) };
  }
}

/** One term per (source, kind, axis, approx), offsets united. */
function merge(terms: readonly Term[]): Term[] {
  const by = new Map<string, Term>();
  for (const t of terms) {
    if (isEmpty(t.d)) continue;
    const key = `${t.src}|${t.kind}|${t.axis}|${t.approx}`;
    const had = by.get(key);
    by.set(key, had ? { ...had, d: union(had.d, t.d) } : t);
  }
  return [...by.values()];
}

/** The prediction the rules protect: a cross-entropy of logits against window-slice targets. */
interface Prediction {
  crossEntropy: IRNode;
  logits: number;
  targets: { node: number; slice: WindowSlice; time: Axis };
  /** Another data input starts earlier in the window: the targets are shifted past it. */
  shifted: boolean;
  batch?: Axis;
}

/**
 * E1201 and W1202 for every cross-entropy against window-slice targets. `quiet`: nodes at or
 * after an error already reported (a misused softmax leaks as a consequence; one error is
 * enough), where no origin is reported.
 */
/** The model's data-bound inputs: where each one's elements sit in the window and the batch. */
export function sourcesOf(model: ElaboratedModel): { sources: Map<number, Source>; slices: Map<number, WindowSlice> } {
  const batch = model.batch?.axis;
  const sources = new Map<number, Source>();
  const slices = new Map<number, WindowSlice>();
  for (const info of model.graph.inputs) {
    const slice = model.train.slices.find((s) => s.name === info.name);
    if (!slice || info.type.dtype !== 'i32') continue;
    const time = info.type.axes.filter((a) => a.id !== batch?.id);
    sources.set(info.node, {
      time: time.length === 1 ? { axis: time[0], start: slice.start } : undefined,
      batch: batch && info.type.axes.some((a) => a.id === batch.id) ? batch : undefined,
    });
    slices.set(info.node, slice);
  }
  return { sources, slices };
}

export function checkLeaks(model: ElaboratedModel, masks: MaskAnalysis, quiet: ReadonlySet<number> = new Set()): Diagnostic[] {
  const graph = model.graph;
  const { sources, slices } = sourcesOf(model);
  if (sources.size === 0) return [];
  const predictions: Prediction[] = [];
  for (const n of graph.nodes) {
    if (n.attrs.op !== 'cross_entropy') continue;
    const [logits, targets] = n.inputs;
    const s = sources.get(targets);
    const slice = slices.get(targets);
    if (!s?.time || !slice || !graph.nodes[logits].type.axes.some((a) => a.id === s.time!.axis.id)) continue;
    const shifted = [...sources].some(([id, other]) => id !== targets && other.time !== undefined && other.time.start < slice.start);
    predictions.push({ crossEntropy: n, logits, targets: { node: targets, slice, time: s.time.axis }, shifted, batch: s.batch });
  }
  if (predictions.length === 0) return [];
  const deps = new Dependencies(graph, masks, sources);
  const out: Diagnostic[] = [];
  for (const p of predictions) {
    const leaks = (t: Term) =>
      !t.approx && t.kind === 'pos' && maxOf(t.d) >= p.targets.slice.start && (t.axis === p.targets.time.id || (t.axis < 0 && p.shifted));
    for (const o of origins(graph, deps, p.logits, leaks)) if (!quiet.has(o)) out.push(leakDiagnostic(model, masks, deps, p, o, leaks, slices));
    if (p.batch) {
      const b = p.batch.id;
      const mixes = (t: Term) => !t.approx && t.kind === 'ex' && (t.axis < 0 || (t.axis === b && !sameSet(t.d, point(0))));
      for (const o of origins(graph, deps, p.logits, mixes)) {
        const n = graph.nodes[o];
        if (!n.span || quiet.has(o)) continue;
        out.push(
          diagnostic('W1202', `${describeMixing(n, b)} mixes the examples of a batch: each example's \`${model.outputName}\` depend on the other examples`, n.span, {
            help: 'normalise each example on its own (e.g. `over: embed`); statistics over the batch make a prediction depend on which examples share its batch',
          }),
        );
      }
    }
  }
  return out;
}

/** The nodes where the property first holds on the way to `root`: they have it, none of their inputs does. */
function origins(graph: Graph, deps: Dependencies, root: number, bad: (t: Term) => boolean): number[] {
  const has = (id: number) => deps.terms[id].some(bad);
  if (!has(root)) return [];
  const out: number[] = [];
  const seen = new Set<number>();
  const stack = [root];
  while (stack.length) {
    const id = stack.pop()!;
    if (seen.has(id)) continue;
    seen.add(id);
    const from = graph.nodes[id].inputs.filter(has);
    if (from.length === 0) out.push(id);
    else stack.push(...from);
  }
  return out.sort((a, b) => a - b);
}

function describeMixing(n: IRNode, axis: number): string {
  const a = n.attrs;
  if (a.op === 'reduce') return `this \`${a.fn}\` over \`${a.axes.find((x) => x.id === axis)?.name ?? a.axes[0].name}\``;
  if (a.op === 'contract') return `this contraction over \`${a.over.find((x) => x.id === axis)?.name ?? a.over[0].name}\``;
  return 'this value';
}

/** `i`, `i + 2`, `i - 1`. */
function at(k: number): string {
  return k === 0 ? 'i' : k > 0 ? `i + ${k}` : `i - ${-k}`;
}

function leakDiagnostic(
  model: ElaboratedModel,
  masks: MaskAnalysis,
  deps: Dependencies,
  p: Prediction,
  origin: number,
  leaks: (t: Term) => boolean,
  slices: ReadonlyMap<number, WindowSlice>,
): Diagnostic {
  const graph = model.graph;
  const n = graph.nodes[origin];
  const time = p.targets.time;
  const c = p.targets.slice.start;
  const term = deps.terms[origin].filter(leaks).sort((x, y) => maxOf(y.d) - maxOf(x.d))[0];
  const src = graph.nodes[term.src];
  const a = slices.get(term.src)?.start ?? 0;
  const srcName = `\`${src.name ?? 'the input'}\``;
  const targetsName = `\`${p.targets.slice.name}\``;
  const seen =
    term.axis >= 0
      ? `the \`${model.outputName}\` at \`${time.name}\` position i depend on ${srcName} up to position ${at(maxOf(term.d) - a)}, but ${targetsName} at i is ${srcName} at ${at(c - a)}`
      : `the \`${model.outputName}\` at every \`${time.name}\` position depend on ${srcName} up to position ${maxOf(term.d) - a}, but ${targetsName} at position 0 is ${srcName} at ${c - a}`;
  const consequence = term.axis >= 0 && maxOf(term.d) === c ? 'each prediction sees its own target' : 'predictions see the tokens they are trained to predict';

  if (n.attrs.op === 'input') {
    // The input itself is positioned at (or after) the targets: the train section's slices.
    const tokens = slices.get(origin)!;
    const labels: Label[] = [{ span: tokens.span, message: `\`${tokens.name}\` = window positions ${tokens.start} ..` }];
    return diagnostic('E1201', `${targetsName} starts at window position ${c}, ${c === tokens.start ? 'where' : 'before'} \`${tokens.name}\` starts: ${seen}, so ${consequence}`, p.targets.slice.span, {
      labels,
      help: `for next-token prediction, shift the targets one past the inputs: \`${p.targets.slice.name} = data[${tokens.start + 1} .. ${time.name} + ${tokens.start + 1}]\`, with a window one longer; a model that rebuilds its input must pass it through a bottleneck, never position by position`,
    });
  }

  if (n.attrs.op === 'softmax' && !graph.nodes[n.inputs[0]].type.axes.some((x) => x.id === time.id)) {
    // The softmax's rows are not the predictions' positions (a prefix, a bottleneck): the input itself overlaps the targets.
    const slice = slices.get(term.src);
    return diagnostic('E1201', `${srcName} reaches every prediction through this softmax over \`${n.attrs.axis.name}\`: ${seen}, so ${consequence}`, n.span ?? p.crossEntropy.span!, {
      help: `what every prediction sees must lie before the first target (window position ${c}): slice ${srcName} to end there${slice ? ` (it is \`data[${slice.start} .. ${slice.end}]\`)` : ''}, or mask this softmax by position`,
    });
  }

  if (n.attrs.op === 'softmax') {
    const k = n.attrs.axis;
    const axes = graph.nodes[n.inputs[0]].type.axes;
    const kept = not(masks.extremes(n.inputs[0]).low);
    const starved = kept && !deps.loose[n.id] && rowWithNoEntry(kept, axes, k).row;
    if (starved) {
      // A finite mask (`- 1e9 * ...`) that keeps nothing in a row leaves it a plain softmax.
      const row = axes.filter((x) => starved.has(x.id)).map((x) => `${x.name} = ${starved.get(x.id)}`).join(', ') || 'every row';
      return diagnostic('E1201', `the mask keeps no \`${k.name}\` in the row where ${row}, so that row's weights spread over every \`${k.name}\`: ${seen}, so ${consequence}`, n.span!, {
        help: `keep at least one position per row, e.g. \`where(${k.name} > ${time.name}, -inf, s)\` keeps the diagonal`,
      });
    }
    const wheres = maskingWheres(graph.nodes, n.inputs[0]);
    const before = deps.terms[n.inputs[0]].filter((t) => t.src === term.src && t.kind === 'pos' && t.axis === k.id);
    const mk = before.length ? Math.max(...before.map((t) => maxOf(t.d))) : a;
    const m = c - 1 - mk;
    const mask = `where(${k.name} > ${time.name}${m === 0 ? '' : m > 0 ? ` + ${m}` : ` - ${-m}`}, -inf, s)`;
    const where = wheres.length ? graph.nodes[wheres[0]] : undefined;
    const span = where?.span ?? n.span!;
    const labels: Label[] = where?.span && n.span ? [{ span: n.span, message: `softmax over \`${k.name}\` here` }] : [];
    const what = where ? `this mask keeps \`${k.name}\` positions after each \`${time.name}\` position` : `the softmax over \`${k.name}\` has no mask`;
    return diagnostic('E1201', `${what}: ${seen}, so ${consequence}`, span, {
      labels,
      help: `mask every later position before the softmax: \`${mask}\` keeps ${k.name} ≤ ${time.name}${m === 0 ? '' : m > 0 ? ` + ${m}` : ` - ${-m}`}`,
    });
  }

  const span = n.span ?? graph.nodes[p.logits].span ?? p.crossEntropy.span!;
  if (n.attrs.op === 'reduce' || n.attrs.op === 'contract') {
    const axes = n.attrs.op === 'reduce' ? n.attrs.axes : n.attrs.over;
    const posAxes = new Set(n.inputs.flatMap((i) => deps.terms[i].filter((t) => t.kind === 'pos').map((t) => t.axis)));
    const mixed = axes.find((x) => posAxes.has(x.id)) ?? axes[0];
    const what = n.attrs.op === 'reduce' ? `this \`${n.attrs.fn}\` over \`${mixed.name}\`` : `this contraction over \`${mixed.name}\``;
    return diagnostic('E1201', `${what} mixes every position of \`${mixed.name}\`: ${seen}, so ${consequence}`, span, {
      help:
        n.attrs.op === 'reduce'
          ? `reduce over the features instead (a layer norm is \`over: embed\`); mix positions only through attention with a causal mask, \`where(key > ${time.name}, -inf, s)\``
          : `mix positions only causally: zero the weights of later positions (\`where(key > ${time.name}, 0.0, w)\` for weights over [${time.name}, key]), or use attention with a causal mask`,
    });
  }
  if (n.attrs.op === 'rename') {
    const pair = n.attrs.pairs.find(([, to]) => to.id === time.id) ?? n.attrs.pairs[0];
    return diagnostic('E1201', `renaming \`${pair[0].name}\` to \`${pair[1].name}\` lines each position up with what later positions hold: ${seen}, so ${consequence}`, span, {
      help: `what becomes \`${time.name}\` position i must depend only on positions before the target; mix positions causally (for weights over [${time.name}, ${pair[0].name}] contracted over \`${time.name}\`: \`where(${time.name} > ${pair[0].name}, 0.0, w)\`)`,
    });
  }
  return diagnostic('E1201', `here ${seen}, so ${consequence}`, span, {
    help: `mix positions only through attention with a causal mask, \`where(key > ${time.name}, -inf, s)\``,
  });
}
