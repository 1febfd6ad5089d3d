/** Reductions over named axes, and their inverse (expand: broadcast to more axes). */
import { describeDtype, fail, ok, duplicateAxis, type OpDef } from './def.js';
import { formatAxes, hasAxis, numElements } from '../types.js';
import { alloc } from '../interpret/tensor.js';
import { broadcastRows, contiguousStrides, Rows, sizesOf, stridesAlong } from '../interpret/strided.js';

export const reduceOp: OpDef<'reduce'> = {
  op: 'reduce',
  arity: 1,
  type: ([x], attrs) => {
    if (x.dtype === 'i32' && x.indexOf)
      return fail('E0402', `\`${attrs.fn}\` of ${describeDtype(x)}`, 'index tensors hold positions, not numbers; gather with them (`table[index]`) instead', 0);
    if (x.dtype !== 'f32') return fail('E0304', `\`${attrs.fn}\` needs a float operand, found ${describeDtype(x)}`, 'convert it with `float(...)` first', 0);
    for (const a of attrs.axes) {
      if (!hasAxis(x, a))
        return fail('E0305', `cannot take \`${attrs.fn}\` over \`${a.name}\`: the value has axes ${formatAxes(x.axes)}`, `reduce over one of ${formatAxes(x.axes)}`, 0);
    }
    const dup = duplicateAxis(attrs.axes);
    if (dup) return fail('E0303', `axis \`${dup.name}\` is named twice in \`over:\``, 'name each axis once');
    return ok({ dtype: 'f32', axes: x.axes.filter((a) => !attrs.axes.some((r) => r.id === a.id)) });
  },
  /**
   * Walks x in its own layout, adding each element into its output slot (stride 0 along the
   * reduced axes). Sums accumulate in double and are rounded once. Over an empty axis: sum 0,
   * max -inf, mean NaN. max propagates NaN.
   */
  evaluate: ([x], attrs, out, ctx) => {
    const X = x.data;
    const m = numElements(out);
    const acc = new Float64Array(m);
    const sizes = sizesOf(x.type.axes);
    const it = new Rows(sizes, [contiguousStrides(sizes), stridesAlong(out.axes, x.type.axes)]);
    const n = it.n;
    const so = it.step[1];
    if (attrs.fn === 'max') {
      acc.fill(-Infinity);
      for (let r = it.count; r > 0; r--, it.next()) {
        const p = it.offs[0];
        let q = it.offs[1];
        for (let j = 0; j < n; j++, q += so) {
          const v = X[p + j];
          if (v > acc[q] || v !== v) acc[q] = v;
        }
      }
    } else {
      for (let r = it.count; r > 0; r--, it.next()) {
        const p = it.offs[0];
        let q = it.offs[1];
        for (let j = 0; j < n; j++, q += so) acc[q] += X[p + j];
      }
      if (attrs.fn === 'mean') {
        let count = 1;
        for (const a of attrs.axes) count *= a.size;
        for (let i = 0; i < m; i++) acc[i] /= count;
      }
    }
    if (ctx.precision === 'f64') return { type: out, data: acc };
    const data = alloc('f32', m, ctx.precision);
    data.set(acc);
    return { type: out, data };
  },
};

/** Broadcast `x` along additional axes (appended after its own). Used by gradients of reductions. */
export const expandOp: OpDef<'expand'> = {
  op: 'expand',
  arity: 1,
  type: ([x], attrs) => {
    for (const a of attrs.axes) {
      if (hasAxis(x, a)) return fail('E0303', `cannot broadcast along \`${a.name}\`: the value already has it`, 'broadcast only along axes the value lacks', 0);
    }
    const dup = duplicateAxis(attrs.axes);
    if (dup) return fail('E0303', `axis \`${dup.name}\` is named twice`);
    return ok({ dtype: x.dtype, axes: [...x.axes, ...attrs.axes], indexOf: x.indexOf });
  },
  evaluate: ([x], _attrs, out, ctx) => {
    const X = x.data;
    const O = alloc(out.dtype, numElements(out), ctx.precision);
    const it = broadcastRows(out.axes, [x.type.axes]);
    const n = it.n;
    const s = it.step[1];
    for (let r = it.count; r > 0; r--, it.next()) {
      const o = it.offs[0];
      let p = it.offs[1];
      for (let j = 0; j < n; j++, p += s) O[o + j] = X[p];
    }
    return { type: out, data: O };
  },
};
