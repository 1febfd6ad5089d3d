/** `cross_entropy(logits, targets, over: A)`: the loss of a classifier, the targets indexing A. */
import { bin, describeDtype, fail, ok, unitCost, type OpDef } from './def.js';
import { formatAxes, hasAxis, numElements } from '../types.js';
import { alloc, permute } from '../tensor/index.js';
import { indexOutOfRange } from './gather.js';
import { rowMax, rowsAround } from './softmax.js';

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
  // The targets are indices: no gradient.
  differentiable: () => [0],
  /** d mean(CE)/d logits = (softmax(logits) − onehot(targets)) · g / positions */
  vjp: (b, n, g) => {
    const [logits, targets] = n.inputs;
    const axis = n.attrs.axis;
    const p = b.add({ op: 'softmax', axis }, [logits]);
    const hit = b.add({ op: 'compare', fn: 'eq' }, [b.add({ op: 'iota', axis }, []), targets]);
    const onehot = b.add({ op: 'cast', to: 'f32' }, [hit]);
    const positions = numElements(b.type(targets));
    return [bin(b, 'mul', bin(b, 'sub', p, onehot), bin(b, 'mul', g, b.constant(1 / positions)))];
  },
  facts: () => ({ varies: new Set(), mayBeInfinite: false, nonZero: false }),
  fusion: 'kernel',
  cost: unitCost,
  surface: ['cross_entropy'],
};

