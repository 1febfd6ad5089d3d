/** `sum(x, over: A)`. */
import type { ReducePrim } from './def.js';

export const sum: ReducePrim = {
  surface: 'sum',
  identity: 0,
  combine: (acc, v) => acc + v,
  averages: false,
  vjp: (b, _x, _y, g, axes) => b.add({ op: 'expand', axes }, [g]),
  wgsl: { init: '0.0', combine: (acc, v) => `${acc} + ${v}` },
  torch: { method: 'sum' },
};
