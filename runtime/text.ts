/**
 * Text as tokens, without files: the character vocabulary, UTF-8 bytes to token ids, the
 * train/validation split and the deterministic sampler of sliding windows, and the datasets a
 * model can name. Browser-safe: no Node imports (loading files is data.ts's and corpus.ts's).
 */
import { makeRng, type Rng } from './random.js';

/** A problem with the data: reported as one line, exit code 1 (never a stack trace). */
export class DataError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DataError';
  }
}

export interface NamedDataset {
  url: string;
  sha256: string;
  bytes: number;
}

/** Datasets `text("NAME", ...)` can name; anything else is treated as a file path. */
export const DATASETS: Record<string, NamedDataset> = {
  tinyshakespeare: {
    url: 'https://raw.githubusercontent.com/karpathy/char-rnn/master/data/tinyshakespeare/input.txt',
    sha256: '86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed',
    bytes: 1115394,
  },
};

/** Decode bytes as UTF-8, rejecting invalid sequences and empty text. */
export function decodeText(bytes: Uint8Array, what: string): string {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new DataError(`${what} is not valid UTF-8 text`);
  }
  if (text.length === 0) throw new DataError(`${what} is empty`);
  return text;
}

/** The characters of a text, sorted by code point: token i is `chars[i]`. */
export class Vocab {
  readonly index: Map<string, number>;
  constructor(readonly chars: readonly string[]) {
    this.index = new Map(chars.map((c, i) => [c, i]));
    if (this.index.size !== chars.length) throw new DataError('vocabulary has duplicate characters');
  }

  static fromText(text: string): Vocab {
    // Iterated, not Array.from: an array of one string per character costs ~10 bytes each.
    const seen = new Set<number>();
    for (const ch of text) seen.add(ch.codePointAt(0)!);
    return Vocab.fromCodePoints(seen);
  }

  /** The vocabulary of these code points (any order, no duplicates). */
  static fromCodePoints(codePoints: Iterable<number>): Vocab {
    return new Vocab([...codePoints].sort((a, b) => a - b).map((c) => String.fromCodePoint(c)));
  }

  static fromJSON(json: unknown): Vocab {
    if (!json || typeof json !== 'object' || !Array.isArray((json as { chars?: unknown }).chars)) throw new DataError('vocabulary file is malformed');
    const chars = (json as { chars: unknown[] }).chars;
    if (!chars.every((c) => typeof c === 'string' && Array.from(c).length === 1)) throw new DataError('vocabulary file is malformed');
    return new Vocab(chars as string[]);
  }

  toJSON(): { chars: string[] } {
    return { chars: [...this.chars] };
  }

  get size(): number {
    return this.chars.length;
  }

  encode(text: string): Int32Array {
    const out = new Int32Array(text.length); // at least one UTF-16 unit per character
    let n = 0;
    for (const ch of text) {
      const t = this.index.get(ch);
      if (t === undefined) throw new DataError(`character ${JSON.stringify(ch)} is not in the vocabulary`);
      out[n++] = t;
    }
    return n === out.length ? out : out.slice(0, n);
  }

  decode(tokens: ArrayLike<number>): string {
    let s = '';
    for (let i = 0; i < tokens.length; i++) s += this.chars[tokens[i]] ?? '\uFFFD';
    return s;
  }
}

/**
 * Token ids of a text, one per character: the narrowest array that holds the vocabulary
 * (Uint8Array up to 256 characters, Uint16Array up to 65,536, else Int32Array).
 */
export type TokenArray = Uint8Array | Uint16Array | Int32Array;

export interface Split<T extends TokenArray = TokenArray> {
  train: T;
  val: T;
}

/** The first (1 - valFraction) of the tokens train, the rest validate (as nanoGPT). Views, not copies. */
export function splitTokens<T extends TokenArray>(tokens: T, valFraction: number, window: number): Split<T> {
  const cut = Math.floor(tokens.length * (1 - valFraction));
  const split = { train: tokens.subarray(0, cut) as T, val: tokens.subarray(cut) as T };
  if (split.train.length < window) throw new DataError(`the training text has ${split.train.length} characters, shorter than one window of ${window}`);
  if (split.val.length < window) throw new DataError(`the validation text has ${split.val.length} characters, shorter than one window of ${window}; use more text or a larger val_fraction`);
  return split;
}

/**
 * Random sliding windows: each batch row is `window` consecutive tokens starting at a
 * uniformly random position (stride 1 over the text: abcd, bcde, ...). The state is the
 * number of batches drawn, so a resumed run continues the same sequence. Batches are Int32Array
 * whatever the width of the token array.
 */
export class WindowSampler {
  private rng: Rng;
  private drawn = 0;
  constructor(
    readonly tokens: TokenArray,
    readonly window: number,
    readonly seed: number,
  ) {
    if (tokens.length < window) throw new DataError(`the text has ${tokens.length} characters, shorter than one window of ${window}`);
    this.rng = makeRng(seed, 'windows');
  }

  /** Number of distinct windows. */
  get count(): number {
    return this.tokens.length - this.window + 1;
  }

  get batchesDrawn(): number {
    return this.drawn;
  }

  /** Start positions of the next batch. */
  starts(batch: number): Int32Array {
    const out = new Int32Array(batch);
    for (let i = 0; i < batch; i++) out[i] = this.rng.int(this.count);
    this.drawn++;
    return out;
  }

  /** The next batch of windows, [batch, window] row-major. */
  nextBatch(batch: number): Int32Array<ArrayBuffer> {
    return this.windowsAt(this.starts(batch));
  }

  windowsAt(starts: Int32Array): Int32Array<ArrayBuffer> {
    const w = this.window;
    const out = new Int32Array(starts.length * w);
    for (let i = 0; i < starts.length; i++) out.set(this.tokens.subarray(starts[i], starts[i] + w), i * w);
    return out;
  }

  /** Skip ahead `n` batches of `batch` (to resume a run). */
  skip(n: number, batch: number): void {
    for (let i = 0; i < n; i++) this.starts(batch);
  }
}

/** Columns [start, end) of every row of a [rows, window] array: `tokens = data[0 .. seq]`. */
export function sliceWindows(windows: Int32Array, rows: number, window: number, start: number, end: number): Int32Array<ArrayBuffer> {
  const w = end - start;
  const out = new Int32Array(rows * w);
  for (let r = 0; r < rows; r++) out.set(windows.subarray(r * window + start, r * window + end), r * w);
  return out;
}

export interface Corpus {
  vocab: Vocab;
  /** One token per character of the text, ids as in `vocab`. */
  tokens: TokenArray;
}

/**
 * Turns UTF-8 bytes, pushed in chunks of any size, into tokens. Ids are handed out in order of
 * first appearance while reading and renumbered by code point at the end (the vocabulary's
 * order), in place. A leading byte-order mark is dropped, as TextDecoder drops it.
 */
export class CorpusEncoder {
  /** Provisional id of each code point, -1 for unseen. */
  private readonly ids = new Int32Array(0x110000).fill(-1);
  /** Code point of each provisional id. */
  private readonly seen: number[] = [];
  private tokens: TokenArray = new Uint8Array(1 << 16);
  private count = 0;
  /** Bytes consumed so far, and the bytes of a character cut off at the end of the last chunk. */
  private offset = 0;
  private pending: Uint8Array = new Uint8Array(0);
  /** Characters the reserved capacity was sized for (a regular file's byte count), or 0. */
  private expected = 0;

  constructor(private readonly what: string) {}

  /** Make room for `bytes` more bytes of text at once (at most that many characters). */
  reserve(bytes: number): void {
    this.expected = bytes;
    if (bytes > this.tokens.length) this.tokens = new Uint8Array(bytes);
  }

  push(chunk: Uint8Array): void {
    let bytes = chunk;
    if (this.pending.length) {
      bytes = new Uint8Array(this.pending.length + chunk.length);
      bytes.set(this.pending);
      bytes.set(chunk, this.pending.length);
      this.offset -= this.pending.length;
      this.pending = new Uint8Array(0);
    }
    const n = bytes.length;
    const ids = this.ids;
    let tokens = this.tokens;
    let count = this.count;
    let i = 0;
    while (i < n) {
      const b = bytes[i];
      let cp: number;
      if (b < 0x80) {
        cp = b;
        i++;
      } else {
        const len = b >= 0xc2 && b <= 0xdf ? 2 : b >= 0xe0 && b <= 0xef ? 3 : b >= 0xf0 && b <= 0xf4 ? 4 : 0;
        if (len === 0) this.invalid(i);
        // The second byte's range rules out overlong forms, surrogates and code points past U+10FFFF.
        const lo = b === 0xe0 ? 0xa0 : b === 0xf0 ? 0x90 : 0x80;
        const hi = b === 0xed ? 0x9f : b === 0xf4 ? 0x8f : 0xbf;
        const have = Math.min(len, n - i);
        for (let k = 1; k < have; k++) {
          const c = bytes[i + k];
          if (k === 1 ? c < lo || c > hi : c < 0x80 || c > 0xbf) this.invalid(i);
        }
        if (have < len) {
          // A character cut by the chunk's end: finish it with the next chunk.
          this.pending = bytes.slice(i);
          break;
        }
        cp = len === 2 ? ((b & 0x1f) << 6) | (bytes[i + 1] & 0x3f) : len === 3 ? ((b & 0x0f) << 12) | ((bytes[i + 1] & 0x3f) << 6) | (bytes[i + 2] & 0x3f) : ((b & 0x07) << 18) | ((bytes[i + 1] & 0x3f) << 12) | ((bytes[i + 2] & 0x3f) << 6) | (bytes[i + 3] & 0x3f);
        i += len;
        if (cp === 0xfeff && count === 0 && this.offset + i === 3) continue; // the byte-order mark
      }
      let id = ids[cp];
      if (id < 0) {
        id = ids[cp] = this.seen.length;
        this.seen.push(cp);
        if (id === 256 || id === 65536) tokens = this.widen(count, this.offset + i);
      }
      if (count === tokens.length) tokens = this.grow(count, this.offset + i);
      tokens[count++] = id;
    }
    this.count = count;
    this.offset += n;
  }

  /** The vocabulary and the tokens renumbered to it. */
  finish(): Corpus {
    if (this.pending.length) this.invalid(-this.pending.length);
    if (this.count === 0) throw new DataError(`${this.what} is empty`);
    const order = this.seen.map((cp, id) => ({ cp, id })).sort((a, b) => a.cp - b.cp);
    const rank = new Int32Array(order.length);
    order.forEach((o, r) => (rank[o.id] = r));
    const tokens = this.tokens;
    if (order.some((o, r) => o.id !== r)) for (let i = 0; i < this.count; i++) tokens[i] = rank[tokens[i]];
    // Give back reserved room the text did not use (a multi-byte text has fewer characters than bytes).
    const used = this.count < tokens.length * 0.75 ? tokens.slice(0, this.count) : tokens.subarray(0, this.count);
    return { vocab: Vocab.fromCodePoints(order.map((o) => o.cp)), tokens: used };
  }

  private invalid(at: number): never {
    throw new DataError(`${this.what} is not valid UTF-8 text (bad byte at offset ${this.offset + at})`);
  }

  /** Room for more characters than `count`, at byte `position`: the rest of a reserved file, or twice as much. */
  private capacityFor(count: number, position: number): number {
    const rest = this.expected > position ? this.expected - position : 0;
    return Math.max(count + rest + 1, count * (rest > 0 ? 1 : 2), 1 << 16);
  }

  private grow(count: number, position: number): TokenArray {
    const next = new (this.tokens.constructor as new (n: number) => TokenArray)(this.capacityFor(count, position));
    next.set(this.tokens.subarray(0, count));
    return (this.tokens = next);
  }

  /** A wider array once the vocabulary outgrows 8 or 16 bits. */
  private widen(count: number, position: number): TokenArray {
    const size = Math.max(this.tokens.length, this.capacityFor(count, position));
    const next = this.seen.length > 65536 ? new Int32Array(size) : new Uint16Array(size);
    next.set(this.tokens.subarray(0, count));
    return (this.tokens = next);
  }
}

/** The tokens of a whole text given as UTF-8 bytes (a file dropped into a page, a fetched dataset). */
export function encodeCorpus(bytes: Uint8Array, what: string): Corpus {
  const encoder = new CorpusEncoder(what);
  encoder.reserve(bytes.length);
  encoder.push(bytes);
  return encoder.finish();
}
