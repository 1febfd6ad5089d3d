/**
 * (Shared by the interpreter and the generated programs.)
 * Seeded, reproducible random numbers for parameter initialisation and data sampling:
 * xoshiro128** (Blackman & Vigna) seeded through splitmix32, with a named stream so that,
 * e.g., every parameter draws from its own stream that depends only on (seed, name).
 */

export interface Rng {
  /** A uniform 32-bit unsigned integer. */
  nextU32(): number;
  /** A uniform double in [0, 1) with 53 random bits. */
  next(): number;
  /** A uniform integer in [0, n). */
  int(n: number): number;
  /** A standard normal draw (Box-Muller; the second value of each pair is kept for the next call). */
  normal(): number;
}

/** splitmix32 finaliser: a bijective mix of a 32-bit integer. */
function mix32(x: number): number {
  x = (x + 0x9e3779b9) | 0;
  x = Math.imul(x ^ (x >>> 16), 0x21f0aaad);
  x = Math.imul(x ^ (x >>> 15), 0x735a2d97);
  return (x ^ (x >>> 15)) >>> 0;
}

/** A 32-bit hash of a string (its UTF-16 code units), chained from `h`. */
export function hashString(s: string, h = 0x811c9dc5): number {
  for (let i = 0; i < s.length; i++) h = mix32(h ^ s.charCodeAt(i));
  return mix32(h ^ s.length);
}

const TWO_32 = 4294967296;

/**
 * A generator for `seed` (any finite number: integers up to 2^53 are distinguished) and an
 * optional stream name; the same (seed, stream) always yields the same sequence.
 */
export function makeRng(seed: number, stream = ''): Rng {
  if (!Number.isFinite(seed)) throw new Error(`random seed must be a finite number, got ${seed}`);
  const lo = seed >>> 0;
  const hi = Math.floor(seed / TWO_32) >>> 0;
  const h1 = hashString(stream);
  const h2 = hashString(stream, 0x2545f491);
  let x = mix32(lo ^ mix32(hi ^ mix32(h1 ^ mix32(h2))));
  const next4 = () => (x = mix32(x));
  let s0 = next4();
  let s1 = next4();
  let s2 = next4();
  let s3 = next4();
  if ((s0 | s1 | s2 | s3) === 0) s0 = 1; // the all-zero state is a fixed point
  let spare = 0;
  let hasSpare = false;

  const nextU32 = (): number => {
    const r = Math.imul(rotl(Math.imul(s1, 5), 7), 9) >>> 0;
    const t = s1 << 9;
    s2 ^= s0;
    s3 ^= s1;
    s1 ^= s2;
    s0 ^= s3;
    s2 ^= t;
    s3 = rotl(s3, 11);
    return r;
  };
  const next = (): number => ((nextU32() >>> 5) * 67108864 + (nextU32() >>> 6)) / 9007199254740992;
  return {
    nextU32,
    next,
    int: (n: number) => Math.floor(next() * n),
    normal: () => {
      if (hasSpare) {
        hasSpare = false;
        return spare;
      }
      const u1 = 1 - next(); // (0, 1]: log is finite
      const u2 = next();
      const r = Math.sqrt(-2 * Math.log(u1));
      const theta = 2 * Math.PI * u2;
      spare = r * Math.sin(theta);
      hasSpare = true;
      return r * Math.cos(theta);
    },
  };
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}
