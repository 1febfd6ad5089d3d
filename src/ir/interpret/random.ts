/**
 * The interpreter's random numbers are the runtime's, so the cpu and WebGPU backends start
 * from identical parameters for the same seed.
 */
export { makeRng, hashString, type Rng } from '../../../runtime/random.js';
