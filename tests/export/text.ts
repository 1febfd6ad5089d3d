/** A small deterministic English-like text for training tests (no download needed). */
import { makeRng } from '../../runtime/random.js';

const WORDS = 'the king and queen of a small land spoke to their people about bread wine war peace, and all men heard them; what say you? we shall see.'.split(' ');

/** About `chars` characters of sentences drawn from a fixed word list, with newlines between lines. */
export function sampleText(chars: number, seed = 5): string {
  const rng = makeRng(seed, 'text');
  let out = '';
  while (out.length < chars) {
    const n = 4 + rng.int(8);
    const line = Array.from({ length: n }, () => WORDS[rng.int(WORDS.length)]).join(' ');
    out += line[0].toUpperCase() + line.slice(1) + (rng.int(3) === 0 ? ':\n' : '.\n');
  }
  return out;
}
