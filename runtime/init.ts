/**
 * Parameter initialisation for generated programs, identical to the reference
 * interpreter's `initParams`: parameter `name` draws from its own stream of the seed, so the
 * WebGPU and cpu backends start from the same values.
 */
import { makeRng } from './random.js';

export type Init = { kind: 'zeros' } | { kind: 'ones' } | { kind: 'normal'; std: number; mean: number } | { kind: 'uniform'; low: number; high: number };

/** Fill `data` (f32 by default; the interpreter passes f64 arrays) with parameter `name`'s initial values. */
export function initValues<T extends Float32Array<ArrayBuffer> | Float64Array<ArrayBuffer> = Float32Array<ArrayBuffer>>(
  init: Init,
  size: number,
  seed: number,
  name: string,
  data: T = new Float32Array(size) as T,
): T {
  switch (init.kind) {
    case 'zeros':
      break;
    case 'ones':
      data.fill(1);
      break;
    case 'normal': {
      const rng = makeRng(seed, name);
      for (let i = 0; i < size; i++) data[i] = init.mean + init.std * rng.normal();
      break;
    }
    case 'uniform': {
      const rng = makeRng(seed, name);
      const w = init.high - init.low;
      for (let i = 0; i < size; i++) data[i] = init.low + w * rng.next();
      break;
    }
  }
  return data;
}

export function initParameters(params: readonly { name: string; size: number; init: Init }[], seed: number): Map<string, Float32Array<ArrayBuffer>> {
  return new Map(params.map((p) => [p.name, initValues(p.init, p.size, seed, p.name)]));
}
