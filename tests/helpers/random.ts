/** Deterministic test data from the runtime's PRNG (one generator for the whole project). */
import { makeRng } from '../../runtime/random.js';

/** `n` floats uniform in [-1, 1), the same for the same seed. */
export function randomFloats(n: number, seed: number): Float32Array {
  const rng = makeRng(seed, 'test-data');
  return Float32Array.from({ length: n }, () => rng.next() * 2 - 1);
}
