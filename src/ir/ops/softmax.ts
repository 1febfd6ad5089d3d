/** softmax over a named axis, and cross-entropy of logits against index targets. */
import { describeDtype, fail, ok, type OpDef } from './def.js';
import { axisIndex, formatAxes, hasAxis, type Axis } from '../types.js';
import { alloc, permute } from '../interpret/tensor.js';
import { indexOutOfRange } from './gather.js';

/** x's layout around `axis`: rows of `n` elements `inner` apart; `outer * inner` rows. */
function rowsAround(axes: readonly Axis[], axis: Axis): { outer: number; n: number; inner: number } {
  const p = axisIndex({ axes }, axis);
  let outer = 1;
  let inner = 1;
  for (let i = 0; i < p; i++) outer *= axes[i].size;
  for (let i = p + 1; i < axes.length; i++) inner *= axes[i].size;
  return { outer, n: axes[p].size, inner };
}

export const softmaxOp: OpDef<'softmax'> = {
  op: 'softmax',
  arity: 1,
  type: ([x], attrs) => {
    if (x.dtype === 'i32' && x.indexOf)
      return fail('E0402', `softmax of ${describeDtype(x)}`, 'index tensors hold positions, not numbers; gather with them (`table[index]`) instead', 0);
    if (x.dtype !== 'f32') return fail('E0304', `softmax needs a float operand, found ${describeDtype(x)}`, undefined, 0);
    if (!hasAxis(x, attrs.axis))
      return fail('E0305', `cannot take softmax over \`${attrs.axis.name}\`: the value has axes ${formatAxes(x.axes)}`, `take it over one of ${formatAxes(x.axes)}`, 0);
    return ok({ dtype: 'f32', axes: x.axes });
  },
  /**
   * exp(x - max) / sum, per row along `axis`, in double. A row whose entries are all -inf
   * gives NaN (-inf - -inf), the IEEE result; the checker rules such masks out.
   */
  evaluate: ([x], attrs, out, ctx) => {
    const X = x.data;
    const O = alloc('f32', X.length, ctx.precision);
    const { outer, n, inner } = rowsAround(x.type.axes, attrs.axis);
    const e = new Float64Array(n);
    for (let o = 0; o < outer; o++) {
      for (let i = 0; i < inner; i++) {
        const base = o * n * inner + i;
        const mx = rowMax(X, base, n, inner);
        let sum = 0;
        for (let k = 0, p = base; k < n; k++, p += inner) {
          const v = Math.exp(X[p] - mx);
          e[k] = v;
          sum += v;
        }
        for (let k = 0, p = base; k < n; k++, p += inner) O[p] = e[k] / sum;
      }
    }
    return { type: out, data: O };
  },
};

/**
 * Mean over all positions of -log softmax(logits, axis)[target]. The targets must index
 * `axis` and have exactly the logits' other axes.
 */
export const crossEntropyOp: OpDef<'cross_entropy'> = {
  op: 'cross_entropy',
  arity: 2,
  type: ([logits, targets], attrs) => {
    if (logits.dtype !== 'f32') return fail('E0304', `cross-entropy logits must be floats, found ${describeDtype(logits)}`, undefined, 0);
    if (!hasAxis(logits, attrs.axis))
      return fail('E0305', `cannot take cross-entropy over \`${attrs.axis.name}\`: the logits have axes ${formatAxes(logits.axes)}`, `take it over one of ${formatAxes(logits.axes)}`, 0);
    if (targets.dtype !== 'i32' || !targets.indexOf)
      return fail('E0503', `cross-entropy targets must be an index tensor, found ${describeDtype(targets)}`, `declare the targets as \`index[...] of ${attrs.axis.name}\``, 1);
    if (targets.indexOf.id !== attrs.axis.id)
      return fail(
        'E0503',
        `cross-entropy over \`${attrs.axis.name}\`, but the targets are positions of \`${targets.indexOf.name}\``,
        hasAxis(logits, targets.indexOf) ? `take it \`over: ${targets.indexOf.name}\`` : `the targets must index \`${attrs.axis.name}\``,
        1,
      );
    const rest = logits.axes.filter((a) => a.id !== attrs.axis.id);
    const same = rest.length === targets.axes.length && rest.every((a) => hasAxis(targets, a));
    if (!same)
      return fail('E0301', `the targets have axes ${formatAxes(targets.axes)} but the logits without \`${attrs.axis.name}\` have ${formatAxes(rest)}`, 'targets need one position per logits row', 1);
    return ok({ dtype: 'f32', axes: [] });
  },
  /**
   * mean over rows of logsumexp(row) - row[target], in double; targets are aligned to the
   * logits by axis identity. A target out of range throws.
   */
  evaluate: ([logits, targets], attrs, out, ctx) => {
    const X = logits.data;
    const axis = attrs.axis;
    const rest = logits.type.axes.filter((a) => a.id !== axis.id);
    const targetsAligned = permute(targets, rest);
    const T = targetsAligned.data;
    const { outer, n, inner } = rowsAround(logits.type.axes, axis);
    let total = 0;
    for (let o = 0; o < outer; o++) {
      for (let i = 0; i < inner; i++) {
        const row = o * inner + i;
        const t = T[row];
        if (!(t >= 0 && t < n)) throw indexOutOfRange('cross_entropy', t, axis, targetsAligned, row);
        const base = o * n * inner + i;
        const mx = rowMax(X, base, n, inner);
        let sum = 0;
        for (let k = 0, p = base; k < n; k++, p += inner) sum += Math.exp(X[p] - mx);
        total += mx + Math.log(sum) - X[base + t * inner];
      }
    }
    const data = alloc('f32', 1, ctx.precision);
    data[0] = total / (outer * inner);
    return { type: out, data };
  },
};

/** The maximum of a row (n values, `inner` apart from `base`); NaN if the row holds a NaN. */
function rowMax(X: ArrayLike<number>, base: number, n: number, inner: number): number {
  let mx = -Infinity;
  for (let k = 0, p = base; k < n; k++, p += inner) {
    const v = X[p];
    if (v > mx || v !== v) mx = v;
  }
  return mx;
}
