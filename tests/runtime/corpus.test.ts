/**
 * Streaming text loading (runtime/corpus.ts) against the string path it replaces: the same
 * vocabulary and tokens for any text and any chunking, the same verdict on invalid UTF-8,
 * and narrow token arrays.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { CorpusEncoder, encodeCorpus, loadCorpus, readCorpus } from '../../runtime/corpus.js';
import { DataError, decodeText, readTextFile, Vocab, WindowSampler } from '../../runtime/data.js';

const dir = mkdtempSync(join(tmpdir(), 'mdlc-corpus-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Encode `bytes` pushed in pieces of the given sizes (cycled). */
function encodeInChunks(bytes: Uint8Array, sizes: number[]) {
  const enc = new CorpusEncoder('test text');
  let i = 0;
  for (let k = 0; i < bytes.length; k++) {
    const n = Math.max(1, sizes[k % sizes.length]);
    enc.push(bytes.subarray(i, i + n));
    i += n;
  }
  return enc.finish();
}

/** What the string path gives: Vocab.fromText and encode of the decoded text. */
function reference(bytes: Uint8Array) {
  const text = decodeText(bytes, 'test text');
  const vocab = Vocab.fromText(text);
  return { chars: vocab.chars, tokens: Array.from(vocab.encode(text)) };
}

const char = fc.oneof(
  fc.constantFrom('a', 'b', ' ', '\n', '\r', 'é', 'ß', '中', '文', '😀', '𝄞', '\ufeff', '\u0000', '\u07ff', '\u0800', '\uffff'),
  fc.integer({ min: 0, max: 0x10ffff }).filter((c) => c < 0xd800 || c > 0xdfff).map((c) => String.fromCodePoint(c)),
);

describe('CorpusEncoder', () => {
  it('gives the vocabulary and tokens of Vocab.fromText + encode, for any text and chunking', () => {
    fc.assert(
      fc.property(fc.array(char, { minLength: 1, maxLength: 200 }), fc.array(fc.integer({ min: 1, max: 7 }), { minLength: 1, maxLength: 5 }), (chars, sizes) => {
        const bytes = new TextEncoder().encode(chars.join(''));
        if (chars.join('') === '\ufeff') {
          // Nothing but a byte-order mark: empty text either way.
          expect(() => reference(bytes)).toThrow(/is empty/);
          expect(() => encodeInChunks(bytes, sizes)).toThrow(/is empty/);
          return;
        }
        const want = reference(bytes);
        const got = encodeInChunks(bytes, sizes);
        expect(got.vocab.chars).toEqual(want.chars);
        expect(Array.from(got.tokens)).toEqual(want.tokens);
      }),
      { numRuns: 300 },
    );
  });

  it('rejects exactly the byte strings that TextDecoder (fatal) rejects', () => {
    const interesting = fc.constantFrom(0x00, 0x41, 0x7f, 0x80, 0xbf, 0xc0, 0xc1, 0xc2, 0xdf, 0xe0, 0xed, 0xef, 0xf0, 0xf4, 0xf5, 0xff, 0xa0, 0x9f, 0x90, 0x8f);
    fc.assert(
      fc.property(fc.array(fc.oneof(interesting, fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 12 }), fc.integer({ min: 1, max: 4 }), (arr, size) => {
        const bytes = Uint8Array.from(arr);
        let valid = true;
        try {
          decodeText(bytes, 'x');
        } catch {
          valid = false;
        }
        let ok = true;
        try {
          encodeInChunks(bytes, [size]);
        } catch (e) {
          expect(e).toBeInstanceOf(DataError);
          ok = false;
        }
        expect(ok, Buffer.from(bytes).toString('hex')).toBe(valid);
      }),
      { numRuns: 600 },
    );
  });

  it('says where the first bad byte is', () => {
    expect(() => encodeInChunks(Uint8Array.from([0x61, 0x62, 0xff]), [1])).toThrow('test text is not valid UTF-8 text (bad byte at offset 2)');
    expect(() => encodeInChunks(Uint8Array.from([0x61, 0xe2, 0x82]), [2])).toThrow(/bad byte at offset 1/);
  });

  it('drops a leading byte-order mark only', () => {
    const bytes = new TextEncoder().encode('\ufeffab\ufeff');
    const got = encodeInChunks(bytes, [1]);
    expect(got.vocab.chars).toEqual(['a', 'b', '\ufeff']);
    expect(Array.from(got.tokens)).toEqual([0, 1, 2]);
  });

  it('stores tokens in a Uint8Array up to 256 characters, then Uint16Array, then Int32Array', () => {
    const text = (n: number, from = 0x100) => Array.from({ length: n }, (_, i) => String.fromCodePoint(from + i)).join('');
    const of = (s: string) => encodeInChunks(new TextEncoder().encode(s), [5]).tokens;
    expect(of(text(256))).toBeInstanceOf(Uint8Array);
    expect(of(text(257))).toBeInstanceOf(Uint16Array);
    const wide = of(text(65537, 0x10000));
    expect(wide).toBeInstanceOf(Int32Array);
    expect(wide[65536]).toBe(65536);
    // The widened arrays keep the tokens seen before widening.
    expect(Array.from(of(text(300)).subarray(0, 3))).toEqual([0, 1, 2]);
  });

  it('an empty text is a DataError', () => {
    expect(() => new CorpusEncoder('x').finish()).toThrow('x is empty');
    expect(() => encodeInChunks(Uint8Array.from([0xef, 0xbb, 0xbf]), [3])).toThrow(/is empty/);
  });
});

describe('readCorpus and loadCorpus', () => {
  it('read a file as tokens, one byte per character for a small vocabulary', async () => {
    const f = join(dir, 'a.txt');
    writeFileSync(f, 'hello world\n'.repeat(1000));
    const c = readCorpus(f);
    expect(c.vocab.chars).toEqual(['\n', ' ', 'd', 'e', 'h', 'l', 'o', 'r', 'w']);
    expect(c.tokens).toBeInstanceOf(Uint8Array);
    expect(c.tokens.length).toBe(12000);
    expect(c.vocab.decode(c.tokens.subarray(0, 12))).toBe('hello world\n');
    expect((await loadCorpus(f)).tokens).toEqual(c.tokens);
  });

  it('turn missing, too large and non-UTF-8 files into one-line DataErrors', () => {
    expect(() => readCorpus(join(dir, 'missing.txt'))).toThrow(/does not exist/);
    const f = join(dir, 'b.txt');
    writeFileSync(f, 'x'.repeat(100));
    expect(() => readCorpus(f, 99)).toThrow(`data file ${f} is too large: it is 100 bytes, larger than the limit of 99 bytes`);
    // A device is refused before anything is read (/dev/zero would be gigabytes of NULs).
    expect(() => readCorpus('/dev/zero')).toThrow('data file /dev/zero is a device, not a text file');
    expect(() => readTextFile('/dev/urandom')).toThrow('data file /dev/urandom is a device, not a text file');
    expect(() => readCorpus(f, 99)).toThrow(/too large/);
    const bad = join(dir, 'bad.txt');
    writeFileSync(bad, Uint8Array.from([0x63, 0xe9, 0x0a]));
    expect(() => readCorpus(bad)).toThrow(/is not valid UTF-8 text \(bad byte at offset 1\)/);
    expect(() => readCorpus(dir)).toThrow(/is a directory/);
  });

  it('windows of a Uint8Array corpus are the Int32Array windows of the same tokens', () => {
    const f = join(dir, 'c.txt');
    writeFileSync(f, 'the quick brown fox jumps over the lazy dog'.repeat(4));
    const c = readCorpus(f);
    const narrow = new WindowSampler(c.tokens, 9, 5).nextBatch(4);
    const wide = new WindowSampler(Int32Array.from(c.tokens), 9, 5).nextBatch(4);
    expect(narrow).toBeInstanceOf(Int32Array);
    expect(narrow).toEqual(wide);
  });

  it("a text given as bytes (a page's dropped file or fetched dataset) gives what reading its file gives", () => {
    const f = join(dir, 'bytes.txt');
    const bytes = new TextEncoder().encode('\ufeffÉtienne: to be, or not to be?\n'.repeat(3));
    writeFileSync(f, bytes);
    const fromFile = readCorpus(f);
    const fromBytes = encodeCorpus(bytes, 'file bytes.txt');
    expect(fromBytes.vocab.chars).toEqual(fromFile.vocab.chars);
    expect(fromBytes.tokens).toEqual(fromFile.tokens);
    expect(fromBytes.tokens[0]).toBe(fromFile.vocab.index.get('É'));
    expect(() => encodeCorpus(Uint8Array.of(0x61, 0xff), 'file x.txt')).toThrow('file x.txt is not valid UTF-8 text (bad byte at offset 1)');
    expect(() => encodeCorpus(new Uint8Array(0), 'file x.txt')).toThrow('file x.txt is empty');
  });
});
