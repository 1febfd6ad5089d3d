/** `max(x, over: A)` (-inf over no elements; NaN propagates). `min(x, over: A)` elaborates to -max(-x). */
import type { ReducePrim } from './def.js';

export const max: ReducePrim = {
  surface: 'max',
  identity: -Infinity,
  combine: (acc, v) => (v > acc || v !== v ? v : acc),
  averages: false,
  // Routed to the maximal entries (all of them on ties, as XLA does).
  vjp: (b, x, y, g) => {
    const isMax = b.add({ op: 'compare', fn: 'eq' }, [x, y]);
    return b.add({ op: 'where' }, [isMax, g, b.constant(0)]);
  },
  // -inf (WGSL has no literal for it: the prelude's pos_inf() reads its bits).
  wgsl: { init: '(-pos_inf())', combine: (acc, v) => `max(${acc}, ${v})` },
  torch: { method: 'amax' },
};
