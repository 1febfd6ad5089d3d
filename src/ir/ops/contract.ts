/**
 * Contraction by axis name (einsum): multiply `a` and `b`, broadcasting by name, and sum over
 * the `over` axes, which both operands must have. Axes both operands share but that are not
 * summed are batch axes; the result has a's remaining axes, then b's.
 */
import { allInputs, bin, describeDtype, fail, ok, duplicateAxis, unionAxes, unitCost, type OpDef } from './def.js';
import { formatAxes, hasAxis, type Axis } from '../types.js';
import { allocFloat, copyStrided, matmulAccumulate, permute, sizesOf, stridesAlong, type FloatData, type Tensor } from '../tensor/index.js';

export const contractOp: OpDef<'contract'> = {
  op: 'contract',
  arity: 2,
  type: ([a, b], attrs) => {
    for (const [i, t] of [a, b].entries()) {
      if (t.dtype !== 'f32') return fail(t.indexOf ? 'E0402' : 'E0304', `contraction of ${describeDtype(t)}`, t.indexOf ? 'gather with the index instead: `table[index]`' : 'convert it with `float(...)` first', i);
    }
    const dup = duplicateAxis(attrs.over);
    if (dup) return fail('E0303', `axis \`${dup.name}\` is named twice in \`over\``, 'name each axis once');
    if (attrs.over.length === 0) return fail('E0302', 'a contraction must name at least one axis in `over`');
    for (const ax of attrs.over) {
      for (const [i, t] of [a, b].entries()) {
        if (!hasAxis(t, ax)) {
          const shared = a.axes.filter((x) => hasAxis(b, x)).map((x) => `\`${x.name}\``);
          const side = i === 0 ? 'left' : 'right';
          return fail(
            'E0302',
            `cannot contract over \`${ax.name}\`: the ${side} operand has axes ${formatAxes(t.axes)}`,
            shared.length ? `the operands share ${shared.join(', ')}; contract over one of those` : 'rename an axis with `as [from -> to]` so that both operands have it',
            i,
          );
        }
      }
    }
    const keep = (x: { id: number }) => !attrs.over.some((o) => o.id === x.id);
    const axes = unionAxes({ axes: a.axes.filter(keep) }, { axes: b.axes.filter(keep) });
    if (attrs.order) {
      const same = attrs.order.length === axes.length && attrs.order.every((x) => axes.some((y) => y.id === x.id));
      if (!same) return fail('E0303', `internal: contraction order ${formatAxes(attrs.order)} is not a permutation of ${formatAxes(axes)}`);
      return ok({ dtype: 'f32', axes: [...attrs.order] });
    }
    return ok({ dtype: 'f32', axes });
  },
  /**
   * A batched matmul: a is laid out as [batch, M, K] and b as [batch, K, N] (copies only where
   * the layout differs), C[batch, M, N] = a · b accumulates in the evaluation precision, and
   * C is laid out in out's order (a copy only if that differs). Batch axes are the shared
   * axes not summed, M a's own, N b's own; each group is ordered as in `out`, K as in a.
   */
  evaluate: ([a, b], attrs, out, ctx) => {
    const inA = (x: Axis) => hasAxis(a.type, x);
    const inB = (x: Axis) => hasAxis(b.type, x);
    const batchAxes = out.axes.filter((x) => inA(x) && inB(x));
    const mAxes = out.axes.filter((x) => inA(x) && !inB(x));
    const nAxes = out.axes.filter((x) => !inA(x) && inB(x));
    const kAxes = a.type.axes.filter((x) => attrs.over.some((o) => o.id === x.id));
    const size = (axes: readonly Axis[]) => axes.reduce((p, x) => p * x.size, 1);
    const B = size(batchAxes);
    const M = size(mAxes);
    const N = size(nAxes);
    const K = size(kAxes);
    const A = floatData(permute(a, [...batchAxes, ...mAxes, ...kAxes]));
    const Bm = floatData(permute(b, [...batchAxes, ...kAxes, ...nAxes]));
    const cAxes = [...batchAxes, ...mAxes, ...nAxes];
    const C = allocFloat(B * M * N, ctx.precision);
    matmulAccumulate(A, Bm, C, B, M, K, N);
    if (cAxes.every((x, i) => x.id === out.axes[i].id)) return { type: out, data: C };
    const O = allocFloat(C.length, ctx.precision);
    copyStrided(C, stridesAlong(cAxes, out.axes), sizesOf(out.axes), O);
    return { type: out, data: O };
  },
  differentiable: allInputs(2),
  /**
   * out = Σ_over a·b. The gradient of a is g contracted with b over b's axes that a lacks
   * (or a plain product when there are none); likewise for b.
   */
  vjp: (b, n, g, wanted) => {
    const [x, y] = n.inputs;
    const side = (other: number, self: number) => {
      const ot = b.type(other);
      const st = b.type(self);
      const free = ot.axes.filter((a) => !hasAxis(st, a));
      // The gradient comes out in its primal's layout, so updates read it element by element.
      if (!free.length) return bin(b, 'mul', g, other);
      const isFree = (a: { id: number }) => free.some((f) => f.id === a.id);
      const axes = [...b.type(g).axes, ...ot.axes].filter((a, i, all) => !isFree(a) && all.findIndex((x) => x.id === a.id) === i);
      const order = axes.length === st.axes.length && st.axes.every((a) => hasAxis({ axes }, a)) ? st.axes : undefined;
      return b.add({ op: 'contract', over: free, order }, [g, other]);
    };
    return [wanted.includes(0) ? side(y, x) : undefined, wanted.includes(1) ? side(x, y) : undefined];
  },
  facts: (n, ins) => {
    const v = new Set(ins.flatMap((x) => [...x.varies]));
    for (const ax of n.attrs.over) v.delete(ax.id);
    return { varies: v, mayBeInfinite: ins.some((x) => x.mayBeInfinite), nonZero: false };
  },
  fusion: 'kernel',
  cost: unitCost,
  // `a . b over AXES` is an operator of the language, not a function.
  surface: [],
};

function floatData(t: Tensor): FloatData {
  if (t.data instanceof Float32Array || t.data instanceof Float64Array) return t.data;
  throw new Error(`internal: contraction of a ${t.type.dtype} tensor`);
}
