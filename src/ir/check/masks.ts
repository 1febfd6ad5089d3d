/**
 * Masks before a softmax, as regions of positions (regions.ts): where a softmax input is
 * certainly not finite (NaN hazards, E0602), where it is so negative that its weight is
 * exactly 0 (what a softmax row can see, for the leak analysis), and whether it varies
 * along the softmax axis other than through such masks (uniform weights, E0504; zero
 * gradients, W0803). Every answer errs on the side that reports less.
 */
import { BINARY, keepsNonFinite, UNARY } from '../ops/index.js';
import type { Graph, IRNode } from '../types.js';
import { bottomUp } from '../graph.js';
import type { NodeFacts } from './facts.js';
import { and, EVERYWHERE, isNowhere, not, NOWHERE, or, PositionForms, renameAxes, type Region } from './regions.js';

/** A finite mask value at least this large in magnitude (`-1e9`, `-1e4`) zeroes a softmax weight: exp underflows to 0. */
export const NEGLIGIBLE = 1e3;

/** Is the node a constant that masks (an infinity, or at least NEGLIGIBLE in magnitude)? */
export function isMaskConstant(n: IRNode): boolean {
  return n.attrs.op === 'const' && (!Number.isFinite(n.attrs.value) || Math.abs(n.attrs.value) >= NEGLIGIBLE);
}

/** The `where`s under a softmax input that select a masking constant, directly or in a branch: last applied first. */
export function maskingWheres(nodes: readonly IRNode[], id: number): number[] {
  const out: number[] = [];
  const memo = new Map<number, boolean>();
  const masking = (i: number): boolean => {
    if (memo.has(i)) return memo.get(i)!;
    memo.set(i, false);
    const n = nodes[i];
    const a = n.attrs;
    let r = false;
    if (a.op === 'const') r = isMaskConstant(n);
    else if (a.op === 'where') {
      // Both branches are visited (no short cut): every masking `where` is collected.
      const [x, y] = [masking(n.inputs[1]), masking(n.inputs[2])];
      r = x || y;
      if (r) out.push(i);
    } else if ((a.op === 'binary' && a.fn !== 'pow') || a.op === 'rename' || a.op === 'expand' || a.op === 'cast' || (a.op === 'unary' && a.fn === 'neg')) {
      r = n.inputs.map(masking).some((x) => x);
    }
    memo.set(i, r);
    return r;
  };
  masking(id);
  return out.sort((x, y) => y - x);
}

/** Where a value is at most -NEGLIGIBLE (`low`) or at least +NEGLIGIBLE (`high`), infinities included. */
export interface Extremes {
  low: Region;
  high: Region;
  /** False when some masking could not be located (the regions are then smaller than the truth). */
  exact: boolean;
  /**
   * Extremes of different sizes may meet (two penalties added, -inf beside -1e9): within
   * `low`, some entries may then be so much lower than others that they weigh 0 too.
   */
  stacked: boolean;
}

/** Where a value is certainly not finite, and the `where` nodes that put the infinities there. */
export interface NonFinite {
  /** Undefined when the mask is not a function of positions the regions can express. */
  region?: Region;
  wheres: number[];
}

const NONE: Extremes = { low: NOWHERE, high: NOWHERE, exact: true, stacked: false };

export class MaskAnalysis {
  readonly forms: PositionForms;
  private nf = new Map<number, NonFinite>();
  private ex = new Map<number, Extremes>();
  private vary = new Map<string, boolean>();
  private live = new Map<number, boolean>();
  private readonly nodes: readonly IRNode[];

  constructor(
    graph: Graph,
    private readonly facts: readonly NodeFacts[],
  ) {
    this.nodes = graph.nodes;
    this.forms = new PositionForms(graph.nodes);
  }

  /** Where the value is certainly ±inf or NaN (an under-approximation). */
  nonFinite(id: number): NonFinite {
    return bottomUp(this.nodes, this.nf, id, (i) => cached(this.nf, i, () => this.computeNonFinite(i)));
  }

  /** The region nonFinite would find if `only` were the sole masking `where` (the others pass their finite branch). */
  nonFiniteOnly(id: number, only: number): Region | undefined {
    return this.computeNonFinite(id, only).region;
  }

  private computeNonFinite(id: number, only?: number): NonFinite {
    const n = this.nodes[id];
    const a = n.attrs;
    const rec = (i: number) => (only === undefined ? this.nonFinite(i) : this.computeNonFinite(i, only));
    const none: NonFinite = { region: NOWHERE, wheres: [] };
    const mayInf = (i: number) => this.facts[i].mayBeInfinite;
    switch (a.op) {
      case 'const':
        return { region: Number.isFinite(a.value) ? NOWHERE : EVERYWHERE, wheres: [] };
      case 'where': {
        const [c, x, y] = n.inputs;
        const direct = this.isNonFiniteConst(x) || this.isNonFiniteConst(y);
        if (direct && only !== undefined && only !== id) return rec(this.isNonFiniteConst(x) ? y : x);
        const fx = rec(x);
        const fy = rec(y);
        const wheres = [...fx.wheres, ...fy.wheres];
        if (direct) wheres.push(id);
        if (!direct && wheres.length === 0) return none;
        const rc = this.forms.regionOf(c);
        const nc = rc && not(rc);
        if (!rc || !nc || !fx.region || !fy.region) return { wheres };
        const l = and(rc, fx.region);
        const r = and(nc, fy.region);
        return { region: l && r && or(l, r), wheres };
      }
      case 'unary':
        return keepsNonFinite(UNARY[a.fn]) ? rec(n.inputs[0]) : none;
      case 'binary': {
        const passes = BINARY[a.fn].facts.nonFinite;
        if (passes === 'neither') return none;
        const [x, y] = n.inputs;
        // inf ± finite, inf × finite (NaN if 0: still not finite), inf / finite.
        if (!mayInf(y)) return rec(x);
        if (!mayInf(x) && passes === 'either') return rec(y);
        return none;
      }
      case 'rename': {
        const f = rec(n.inputs[0]);
        return { region: f.region && renameAxes(f.region, this.forms.renameMap(n)), wheres: f.wheres };
      }
      case 'expand':
        return rec(n.inputs[0]);
      default:
        return none;
    }
  }

  /** The axes (in this value's names) along which its masks' conditions vary. */
  maskAxes(id: number): Set<number> {
    const n = this.nodes[id];
    const a = n.attrs;
    const mayInf = (i: number) => this.facts[i].mayBeInfinite;
    switch (a.op) {
      case 'where':
        return new Set([...this.facts[n.inputs[0]].varies, ...this.maskAxes(n.inputs[1]), ...this.maskAxes(n.inputs[2])]);
      case 'unary':
      case 'expand':
        return this.maskAxes(n.inputs[0]);
      case 'binary':
        return new Set([...(mayInf(n.inputs[0]) ? this.maskAxes(n.inputs[0]) : []), ...(mayInf(n.inputs[1]) ? this.maskAxes(n.inputs[1]) : [])]);
      case 'rename': {
        const map = this.forms.renameMap(n);
        return new Set([...this.maskAxes(n.inputs[0])].map((x) => map.get(x) ?? x));
      }
      default:
        return new Set();
    }
  }

  private isNonFiniteConst(id: number): boolean {
    const a = this.nodes[id].attrs;
    return a.op === 'const' && !Number.isFinite(a.value);
  }

  /** Where the value is hugely negative or positive (masked out, or all a softmax row's weight). */
  extremes(id: number): Extremes {
    return bottomUp(this.nodes, this.ex, id, (i) => cached(this.ex, i, () => this.computeExtremes(i)));
  }

  private computeExtremes(id: number): Extremes {
    const n = this.nodes[id];
    const a = n.attrs;
    const unknown = (inputs: readonly Extremes[]): Extremes => ({
      low: NOWHERE,
      high: NOWHERE,
      exact: inputs.every((x) => x.exact && isNowhere(x.low) && isNowhere(x.high)) && !this.facts[id].mayBeInfinite,
      stacked: false,
    });
    const swap = (x: Extremes): Extremes => ({ ...x, low: x.high, high: x.low });
    const some = (x: Extremes) => !isNowhere(x.low) || !isNowhere(x.high);
    /** Extremes from both sides meet (unless `x` and `y` are the same value). */
    const combine = (x: Extremes, y: Extremes, low: Region | undefined, high: Region | undefined): Extremes =>
      low && high
        ? { low, high, exact: x.exact && y.exact, stacked: x.stacked || y.stacked || (x !== y && some(x) && some(y)) }
        : { low: NOWHERE, high: NOWHERE, exact: false, stacked: false };
    switch (a.op) {
      case 'const':
        return { low: a.value <= -NEGLIGIBLE ? EVERYWHERE : NOWHERE, high: a.value >= NEGLIGIBLE ? EVERYWHERE : NOWHERE, exact: true, stacked: false };
      case 'where': {
        const [c, x0, y0] = n.inputs;
        const x = this.extremes(x0);
        const y = this.extremes(y0);
        if (isNowhere(x.low) && isNowhere(x.high) && isNowhere(y.low) && isNowhere(y.high)) return { ...NONE, exact: x.exact && y.exact };
        const rc = this.forms.regionOf(c);
        const nc = rc && not(rc);
        if (!rc || !nc) {
          // A mask of data: only what both branches share is certain.
          const low = and(x.low, y.low);
          const high = and(x.high, y.high);
          return { low: low ?? NOWHERE, high: high ?? NOWHERE, exact: false, stacked: true };
        }
        const pick = (rx: Region, ry: Region) => {
          const l = and(rc, rx);
          const r = and(nc, ry);
          return l && r && or(l, r);
        };
        return combine(x, y, pick(x.low, y.low), pick(x.high, y.high));
      }
      case 'unary': {
        const x = this.extremes(n.inputs[0]);
        return a.fn === 'neg' ? swap(x) : unknown([x]);
      }
      case 'binary': {
        const [x0, y0] = n.inputs;
        const x = this.extremes(x0);
        const y = this.extremes(y0);
        switch (a.fn) {
          case 'add':
            return combine(x, y, or(x.low, y.low), or(x.high, y.high));
          case 'sub':
            return combine(x, y, or(x.low, y.high), or(x.high, y.low));
          case 'max':
            return combine(x, y, and(x.low, y.low), or(x.high, y.high));
          case 'min':
            return combine(x, y, or(x.low, y.low), and(x.high, y.high));
          case 'mul':
          case 'div': {
            if (a.fn === 'mul') {
              // A 0/1 mask times a value: the value where the mask holds, 0 (or NaN) elsewhere.
              for (const [m, other] of [[x0, y], [y0, x]] as const) {
                const r = this.maskOf(m);
                if (!r) continue;
                return combine(other, other, and(other.low, r), and(other.high, r));
              }
            }
            // Scaling by a finite constant keeps the sign's extremes (and flips them if negative).
            const k = this.constValue(y0);
            if (k !== undefined && Number.isFinite(k)) return k > 0 ? x : k < 0 ? swap(x) : unknown([x]);
            const j = a.fn === 'mul' ? this.constValue(x0) : undefined;
            if (j !== undefined && Number.isFinite(j)) return j > 0 ? y : j < 0 ? swap(y) : unknown([y]);
            return unknown([x, y]);
          }
          default:
            return unknown([x, y]);
        }
      }
      case 'rename': {
        const x = this.extremes(n.inputs[0]);
        const map = this.forms.renameMap(n);
        return { ...x, low: renameAxes(x.low, map), high: renameAxes(x.high, map) };
      }
      case 'expand':
        return this.extremes(n.inputs[0]);
      default:
        return unknown(n.inputs.map((i) => this.extremes(i)));
    }
  }

  /** `float(mask)` (0 or 1): the region where it is 1. */
  private maskOf(id: number): Region | undefined {
    const n = this.nodes[id];
    if (n.attrs.op === 'cast' && this.nodes[n.inputs[0]].type.dtype === 'bool') return this.forms.regionOf(n.inputs[0]);
    if (n.attrs.op === 'rename') {
      const r = this.maskOf(n.inputs[0]);
      return r && renameAxes(r, this.forms.renameMap(n));
    }
    if (n.attrs.op === 'expand') return this.maskOf(n.inputs[0]);
    return undefined;
  }

  private constValue(id: number): number | undefined {
    const a = this.nodes[id].attrs;
    return a.op === 'const' ? a.value : undefined;
  }

  private isMaskConst(id: number): boolean {
    return isMaskConstant(this.nodes[id]);
  }

  /**
   * Does the value vary along `axis` other than through masks (a `where` that selects an
   * infinity or a huge constant, an added or subtracted mask)? A softmax over `axis` of a
   * value that does not is uniform over the positions it keeps, whatever the rest computes.
   */
  variesBeyondMask(id: number, axis: number): boolean {
    return cached(this.vary, `${id}:${axis}`, () => this.computeVaries(id, axis));
  }

  private computeVaries(id: number, axis: number): boolean {
    const n = this.nodes[id];
    const a = n.attrs;
    if (!this.facts[id].varies.has(axis)) return false;
    switch (a.op) {
      case 'where': {
        const [, x, y] = n.inputs;
        if (this.isMaskConst(x)) return this.variesBeyondMask(y, axis);
        if (this.isMaskConst(y)) return this.variesBeyondMask(x, axis);
        return true;
      }
      case 'binary': {
        const [x, y] = n.inputs;
        if (a.fn === 'add' || a.fn === 'sub') return this.variesBeyondMask(x, axis) || this.variesBeyondMask(y, axis);
        if (a.fn === 'mul' || a.fn === 'div') {
          if (this.constValue(y) !== undefined) return this.variesBeyondMask(x, axis);
          if (a.fn === 'mul' && this.constValue(x) !== undefined) return this.variesBeyondMask(y, axis);
        }
        return true;
      }
      case 'unary':
        return a.fn === 'neg' ? this.variesBeyondMask(n.inputs[0], axis) : true;
      case 'rename': {
        const back = [...this.forms.renameMap(n)].find(([, to]) => to === axis);
        return this.variesBeyondMask(n.inputs[0], back ? back[0] : axis);
      }
      case 'expand':
        return this.variesBeyondMask(n.inputs[0], axis);
      default:
        return true;
    }
  }

  /**
   * Does the value, masks aside, depend on a parameter or an input? `where(key > seq, -inf,
   * 0.0)` does not: a softmax of it is a deliberate uniform average over the kept positions.
   */
  coreIsLive(id: number): boolean {
    return bottomUp(this.nodes, this.live, id, (i) => cached(this.live, i, () => this.computeLive(i)));
  }

  private computeLive(id: number): boolean {
    const n = this.nodes[id];
    const a = n.attrs;
    if (!this.facts[id].live) return false;
    switch (a.op) {
      case 'where': {
        const [, x, y] = n.inputs;
        if (this.isMaskConst(x)) return this.coreIsLive(y);
        if (this.isMaskConst(y)) return this.coreIsLive(x);
        return true;
      }
      case 'binary':
        return a.fn === 'add' || a.fn === 'sub' || a.fn === 'mul' || a.fn === 'div' ? n.inputs.some((i) => this.coreIsLive(i)) : true;
      case 'unary':
      case 'rename':
      case 'expand':
        return this.coreIsLive(n.inputs[0]);
      default:
        return true;
    }
  }
}

function cached<K, V>(memo: Map<K, V>, key: K, compute: () => V): V {
  if (memo.has(key)) return memo.get(key)!;
  const v = compute();
  memo.set(key, v);
  return v;
}
