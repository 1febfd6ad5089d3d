/** `softmax(x, over: A)`: a distribution over A (what the checker's distribution rules track). */
import { allInputs, bin, describeDtype, fail, ok, unitCost, type OpDef } from './def.js';
import { axisIndex, formatAxes, hasAxis, type Axis } from '../types.js';
import { alloc } from '../tensor/index.js';

/** x's layout around `axis`: rows of `n` elements `inner` apart; `outer * inner` rows. */
export function rowsAround(axes: readonly Axis[], axis: Axis): { outer: number; n: number; inner: number } {
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
  differentiable: allInputs(1),
  /** dx = y ⊙ (g − Σ_axis g ⊙ y) */
  vjp: (b, n, g) => {
    const y = n.id;
    const s = b.add({ op: 'reduce', fn: 'sum', axes: [n.attrs.axis] }, [bin(b, 'mul', g, y)]);
    return [bin(b, 'mul', y, bin(b, 'sub', g, s))];
  },
  facts: (n, [x]) => ({ varies: new Set(x.varies), mayBeInfinite: false, nonZero: false, distribution: { axis: n.attrs.axis, span: n.span, softmax: n.id } }),
  fusion: 'kernel',
  cost: unitCost,
  surface: ['softmax'],
};

/** The maximum of a row (n values, `inner` apart from `base`); NaN if the row holds a NaN. */
export function rowMax(X: ArrayLike<number>, base: number, n: number, inner: number): number {
  let mx = -Infinity;
  for (let k = 0, p = base; k < n; k++, p += inner) {
    const v = X[p];
    if (v > mx || v !== v) mx = v;
  }
  return mx;
}
