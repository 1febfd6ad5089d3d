/**
 * Loading a training text as tokens without ever holding it as a string: the file is read in
 * chunks, decoded from UTF-8 by hand (as strictly as TextDecoder's fatal mode) and each
 * character stored as its token id in the narrowest typed array that fits the vocabulary.
 * Memory is about one byte per character for texts of at most 256 distinct characters
 * (two bytes up to 65,536), so a text of a gigabyte or two trains; a string of it could
 * not even exist (V8 caps strings at 2^29 characters).
 */
import { DataError, dataReadError, datasetFile, refuseDevice, Vocab, type DatasetOptions, type TokenArray } from './data.js';
import { readChunks } from './files.js';

/**
 * The longest text `loadCorpus` reads: token positions (window starts, the split point) are
 * 32-bit integers.
 */
export const MAX_CORPUS_BYTES = 2 ** 31 - 1;

export interface Corpus {
  vocab: Vocab;
  /** One token per character of the text, ids as in `vocab`. */
  tokens: TokenArray;
}

/** The text of a named dataset (downloaded and verified as `loadDataset` does) or a file path, as tokens. */
export async function loadCorpus(nameOrPath: string, options: DatasetOptions & { maxBytes?: number } = {}): Promise<Corpus> {
  return readCorpus(await datasetFile(nameOrPath, options), options.maxBytes);
}

/** Read a UTF-8 text file as tokens, streaming (see the module comment). */
export function readCorpus(path: string, maxBytes = MAX_CORPUS_BYTES): Corpus {
  const what = `data file ${path}`;
  refuseDevice(path, what);
  const encoder = new CorpusEncoder(what);
  try {
    // A regular file's size bounds its number of characters: reserve that once.
    readChunks(path, maxBytes, (bytes) => encoder.push(bytes), (size) => encoder.reserve(size ?? 0));
  } catch (e) {
    throw e instanceof DataError ? e : dataReadError(path, e);
  }
  return encoder.finish();
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
