/** `where(mask, a, b)`: a where the mask holds, else b. */
import { describeDtype, fail, ok, unionAxes, unitCost, type OpDef } from './def.js';
import { numElements } from '../types.js';
import { alloc, broadcastRows } from '../tensor/index.js';

export const whereOp: OpDef<'where'> = {
  op: 'where',
  arity: 3,
  type: ([c, a, b]) => {
    if (c.dtype !== 'bool')
      return fail('E0304', `the condition of \`where\` must be a comparison (a mask), found ${describeDtype(c)}`, 'write a comparison such as `where(key > seq, -inf, s)`', 0);
    if (a.dtype !== b.dtype)
      return fail('E0304', `the two branches of \`where\` have different kinds: ${describeDtype(a)} and ${describeDtype(b)}`, 'make both branches floats', 2);
    return ok({ dtype: a.dtype, axes: unionAxes(a, b, c) });
  },
  /** Selects without arithmetic: where(mask, -inf, x) is exactly -inf where the mask holds. */
  evaluate: ([c, a, b], _attrs, out, ctx) => {
    const O = alloc(out.dtype, numElements(out), ctx.precision);
    const C = c.data;
    const A = a.data;
    const B = b.data;
    const it = broadcastRows(out.axes, [c.type.axes, a.type.axes, b.type.axes]);
    const n = it.n;
    const sc = it.step[1];
    const sa = it.step[2];
    const sb = it.step[3];
    for (let r = it.count; r > 0; r--, it.next()) {
      const o = it.offs[0];
      let pc = it.offs[1];
      let pa = it.offs[2];
      let pb = it.offs[3];
      for (let j = 0; j < n; j++, pc += sc, pa += sa, pb += sb) O[o + j] = C[pc] !== 0 ? A[pa] : B[pb];
    }
    return { type: out, data: O };
  },
  // The mask carries no gradient.
  differentiable: () => [1, 2],
  vjp: (b, n, g, wanted) => {
    const c = n.inputs[0];
    const zero = b.constant(0);
    return [undefined, wanted.includes(1) ? b.add({ op: 'where' }, [c, g, zero]) : undefined, wanted.includes(2) ? b.add({ op: 'where' }, [c, zero, g]) : undefined];
  },
  facts: (_n, [c, x, y]) => ({ varies: new Set([...c.varies, ...x.varies, ...y.varies]), mayBeInfinite: x.mayBeInfinite || y.mayBeInfinite, nonZero: x.nonZero && y.nonZero }),
  fusion: 'elementwise',
  cost: unitCost,
  surface: ['where'],
};
