/**
 * `prod(x, over: A)`: the product (1 over no elements; NaN propagates, 0 · inf is NaN).
 *
 * Its gradient is the product of the other elements, written so that zeros need no division
 * by them (as PyTorch does): with z the number of zeros in x's slice and p the product of its
 * nonzero elements, a nonzero element gets p / x when z = 0 (0 otherwise), a zero gets p when
 * it is the only zero (0 otherwise).
 */
import { bin } from '../def.js';
import type { ReducePrim } from './def.js';

export const prod: ReducePrim = {
  surface: 'prod',
  identity: 1,
  combine: (acc, v) => acc * v,
  averages: false,
  vjp: (b, x, _y, g, axes) => {
    const zero = b.constant(0);
    const one = b.constant(1);
    const isZero = b.add({ op: 'compare', fn: 'eq' }, [x, zero]);
    const nonZero = b.add({ op: 'where' }, [isZero, one, x]);
    const p = b.add({ op: 'reduce', fn: 'prod', axes }, [nonZero]);
    const zeros = b.add({ op: 'reduce', fn: 'sum', axes }, [b.add({ op: 'where' }, [isZero, one, zero])]);
    const when = (count: number, v: number) => b.add({ op: 'where' }, [b.add({ op: 'compare', fn: 'eq' }, [zeros, b.constant(count)]), v, zero]);
    const others = b.add({ op: 'where' }, [isZero, when(1, p), when(0, bin(b, 'div', p, nonZero))]);
    return bin(b, 'mul', g, others);
  },
  wgsl: { init: '1.0', combine: (acc, v) => `${acc} * ${v}` },
  // torch.prod takes one dim at a time.
  torch: { method: 'prod', oneDim: true },
};
