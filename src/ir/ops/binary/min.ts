/** `min(a, b)`, elementwise (NaN propagates). */
import type { BinaryPrim } from './def.js';
import { selectedOperand } from './select.js';

export const min: BinaryPrim = {
  surface: { call: 'min' },
  scalar: Math.min,
  int: Math.min,
  vjp: selectedOperand('le'),
  facts: { nonZeroIfBoth: false, keepsDistribution: 'no', nonFinite: 'neither', zero: 'both' },
  cost: 1,
  wgsl: (a, b) => `min(${a}, ${b})`,
  torch: { call: 'torch.minimum', clamp: 'max' },
};
