/** The backward rule max and min share. */
import type { BinaryPrim } from './def.js';

/** The gradient goes to the operand that was selected (to x on ties): x where `x pick y` holds (ge for max, le for min). */
export function selectedOperand(pick: 'ge' | 'le'): BinaryPrim['vjp'] {
  return (b, x, y, _out, g, want) => {
    const pickX = b.add({ op: 'compare', fn: pick }, [x, y]);
    const zero = b.constant(0);
    return [want(0) ? b.add({ op: 'where' }, [pickX, g, zero]) : undefined, want(1) ? b.add({ op: 'where' }, [pickX, zero, g]) : undefined];
  };
}
