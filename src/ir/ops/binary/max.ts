/** `max(a, b)`, elementwise (NaN propagates). */
import type { BinaryPrim } from './def.js';
import { selectedOperand } from './select.js';

export const max: BinaryPrim = {
  surface: { call: 'max' },
  scalar: Math.max,
  int: Math.max,
  vjp: selectedOperand('ge'),
  facts: { nonZeroIfBoth: false, keepsDistribution: 'no', nonFinite: 'neither', zero: 'both' },
  cost: 1,
  wgsl: (a, b) => `max(${a}, ${b})`,
  torch: { call: 'torch.maximum', clamp: 'min' },
};
