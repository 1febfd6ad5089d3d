/** `mean(x, over: A)`: the sum divided by the number of elements (NaN over no elements). */
import { numElements } from '../../types.js';
import { bin } from '../def.js';
import type { ReducePrim } from './def.js';

export const mean: ReducePrim = {
  surface: 'mean',
  identity: 0,
  combine: (acc, v) => acc + v,
  averages: true,
  vjp: (b, _x, _y, g, axes) => b.add({ op: 'expand', axes }, [bin(b, 'mul', g, b.constant(1 / numElements({ axes })))]),
  wgsl: { init: '0.0', combine: (acc, v) => `${acc} + ${v}` },
  torch: { method: 'mean' },
};
