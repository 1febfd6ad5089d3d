import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { DATASETS, DataError, loadDataset, readTextFile, sliceWindows, splitTokens, Vocab, WindowSampler } from '../../runtime/data.js';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'mdlc-data-'));
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('Vocab', () => {
  it('is the sorted set of characters, independent of their order in the text', () => {
    const v = Vocab.fromText('hello, world');
    expect(v.chars).toEqual([' ', ',', 'd', 'e', 'h', 'l', 'o', 'r', 'w']);
    expect(Vocab.fromText('world hello,').chars).toEqual(v.chars);
    expect(v.size).toBe(9);
  });

  it('sorts by code point and keeps astral characters whole', () => {
    const v = Vocab.fromText('b😀aé😀A');
    expect(v.chars).toEqual(['A', 'a', 'b', 'é', '😀']);
    expect(Array.from(v.encode('😀é'))).toEqual([4, 3]);
  });

  it('survives a save/load JSON round trip unchanged', () => {
    const v = Vocab.fromText('The quick brown fox, 42 times!\n');
    const json = JSON.stringify(v);
    const back = Vocab.fromJSON(JSON.parse(json));
    expect(back.chars).toEqual(v.chars);
    expect(JSON.stringify(back)).toBe(json);
    const text = 'quick fox\n';
    expect(Array.from(back.encode(text))).toEqual(Array.from(v.encode(text)));
  });

  it('rejects malformed vocabulary files', () => {
    expect(() => Vocab.fromJSON({})).toThrow(DataError);
    expect(() => Vocab.fromJSON({ chars: ['a', 'bc'] })).toThrow(DataError);
    expect(() => Vocab.fromJSON({ chars: ['a', 'a'] })).toThrow(DataError);
    expect(() => Vocab.fromJSON(null)).toThrow(DataError);
  });

  it('encodes and decodes', () => {
    const v = Vocab.fromText('abcdefgh');
    const t = v.encode('badge');
    expect(Array.from(t)).toEqual([1, 0, 3, 6, 4]);
    expect(v.decode(t)).toBe('badge');
    expect(() => v.encode('z')).toThrow(DataError);
  });
});

describe('windows', () => {
  const text = 'abcdefgh';
  const vocab = Vocab.fromText(text);
  const tokens = vocab.encode(text);
  const seq = 3;
  const window = seq + 1; // data = text("...", window: seq + 1)

  it('every sampled window is a run of consecutive characters of the text', () => {
    const s = new WindowSampler(tokens, window, 7);
    expect(s.count).toBe(5); // abcd bcde cdef defg efgh
    const seen = new Set<string>();
    for (let i = 0; i < 50; i++) {
      const w = s.nextBatch(3);
      for (let r = 0; r < 3; r++) {
        const row = vocab.decode(w.subarray(r * window, (r + 1) * window));
        expect(text).toContain(row);
        expect(row.length).toBe(window);
        seen.add(row);
      }
    }
    expect([...seen].sort()).toEqual(['abcd', 'bcde', 'cdef', 'defg', 'efgh']);
  });

  it('tokens = data[0 .. seq] and targets = data[1 .. seq + 1] are the same text shifted by one', () => {
    const s = new WindowSampler(tokens, window, 3);
    const batch = 4;
    for (let i = 0; i < 10; i++) {
      const w = s.nextBatch(batch);
      const inputs = sliceWindows(w, batch, window, 0, seq);
      const targets = sliceWindows(w, batch, window, 1, seq + 1);
      expect(inputs.length).toBe(batch * seq);
      for (let r = 0; r < batch; r++) {
        const x = vocab.decode(inputs.subarray(r * seq, (r + 1) * seq));
        const y = vocab.decode(targets.subarray(r * seq, (r + 1) * seq));
        // y is x shifted one character along the text: y[i] is the character after x[i].
        const at = text.indexOf(x);
        expect(at).toBeGreaterThanOrEqual(0);
        expect(y).toBe(text.slice(at + 1, at + 1 + seq));
        expect(y.slice(0, seq - 1)).toBe(x.slice(1));
      }
    }
  });

  it('slices exact columns of every row', () => {
    const w = Int32Array.from([0, 1, 2, 3, 10, 11, 12, 13]);
    expect(Array.from(sliceWindows(w, 2, 4, 0, 3))).toEqual([0, 1, 2, 10, 11, 12]);
    expect(Array.from(sliceWindows(w, 2, 4, 1, 4))).toEqual([1, 2, 3, 11, 12, 13]);
  });

  it('is deterministic under a seed and differs across seeds', () => {
    const long = Vocab.fromText('the quick brown fox jumps over the lazy dog').encode('the quick brown fox jumps over the lazy dog'.repeat(4));
    const draw = (seed: number) => {
      const s = new WindowSampler(long, 9, seed);
      return Array.from({ length: 5 }, () => Array.from(s.nextBatch(4)));
    };
    expect(draw(1234)).toEqual(draw(1234));
    expect(draw(1234)).not.toEqual(draw(1235));
  });

  it('skip() resumes the same sequence of batches', () => {
    const long = Int32Array.from({ length: 200 }, (_, i) => i % 17);
    const a = new WindowSampler(long, 9, 42);
    const all = Array.from({ length: 8 }, () => Array.from(a.nextBatch(3)));
    const b = new WindowSampler(long, 9, 42);
    b.skip(5, 3);
    expect(b.batchesDrawn).toBe(5);
    expect(Array.from({ length: 3 }, () => Array.from(b.nextBatch(3)))).toEqual(all.slice(5));
  });

  it('rejects text shorter than one window', () => {
    expect(() => new WindowSampler(Int32Array.from([1, 2, 3]), 4, 0)).toThrow(DataError);
    expect(() => new WindowSampler(Int32Array.from([1, 2, 3, 4]), 4, 0)).not.toThrow();
  });
});

describe('splitTokens', () => {
  it('the first (1 - val_fraction) trains, the rest validates', () => {
    const t = Int32Array.from({ length: 100 }, (_, i) => i);
    const s = splitTokens(t, 0.1, 5);
    expect(s.train.length).toBe(90);
    expect(s.val.length).toBe(10);
    expect(s.train[89]).toBe(89);
    expect(s.val[0]).toBe(90);
    const q = splitTokens(Int32Array.from({ length: 101 }, (_, i) => i), 0.25, 5);
    expect(q.train.length).toBe(75); // floor(101 * 0.75)
    expect(q.val.length).toBe(26);
  });

  it('is a DataError when either part is shorter than one window', () => {
    const t = Int32Array.from({ length: 100 }, (_, i) => i);
    expect(() => splitTokens(t, 0.1, 11)).toThrow(DataError); // 10 validation tokens
    expect(() => splitTokens(t, 0.1, 10)).not.toThrow();
    expect(() => splitTokens(Int32Array.from([1, 2, 3]), 0.5, 4)).toThrow(/shorter than one window/);
  });
});

describe('reading text files', () => {
  it('is a DataError for a missing file', () => {
    expect(() => readTextFile(join(dir, 'nope.txt'))).toThrow(DataError);
    expect(() => readTextFile(join(dir, 'nope.txt'))).toThrow(/does not exist/);
  });

  it('is a DataError for an empty file', () => {
    const f = join(dir, 'empty.txt');
    writeFileSync(f, '');
    expect(() => readTextFile(f)).toThrow(DataError);
    expect(() => readTextFile(f)).toThrow(/empty/);
  });

  it('is a DataError for a file that is not UTF-8', () => {
    const f = join(dir, 'latin1.txt');
    writeFileSync(f, Uint8Array.from([0x63, 0x61, 0x66, 0xe9, 0x0a])); // "café\n" in Latin-1
    expect(() => readTextFile(f)).toThrow(DataError);
    expect(() => readTextFile(f)).toThrow(/UTF-8/);
  });

  it('is a DataError for a directory', () => {
    expect(() => readTextFile(dir)).toThrow(DataError);
  });

  it('loadDataset of a path reads the file', async () => {
    const f = join(dir, 'ok.txt');
    writeFileSync(f, 'héllo\n');
    await expect(loadDataset(f)).resolves.toBe('héllo\n');
    await expect(loadDataset(join(dir, 'missing.txt'))).rejects.toThrow(DataError);
  });
});

describe('loadDataset of a named dataset', () => {
  // A stand-in entry in the dataset table, so the download path runs without the network.
  const name = 'mdlc-test-dataset';
  const body = new TextEncoder().encode('To be, or not to be: that is the question.\n');
  const sha256 = createHash('sha256').update(body).digest('hex');
  const url = 'https://example.invalid/test-dataset.txt';

  function fakeFetch(bytes: Uint8Array, status = 200) {
    const calls: string[] = [];
    const impl = (async (input: string | URL | Request) => {
      calls.push(String(input));
      return new Response(bytes.slice(), { status });
    }) as typeof fetch;
    return { impl, calls };
  }

  beforeAll(() => {
    DATASETS[name] = { url, sha256, bytes: body.length };
  });
  afterAll(() => {
    delete DATASETS[name];
  });
  let cache: string;
  afterEach(() => {
    if (cache) rmSync(cache, { recursive: true, force: true });
  });

  it('downloads through fetchImpl, verifies the hash, caches, and then reads the cache without fetching', async () => {
    cache = join(dir, 'cache-ok', 'nested'); // created on demand
    const first = fakeFetch(body);
    await expect(loadDataset(name, { fetchImpl: first.impl, cache })).resolves.toBe(new TextDecoder().decode(body));
    expect(first.calls).toEqual([url]);
    // Cached under the dataset's name, complete, with no temporary file left behind.
    expect(readdirSync(cache)).toEqual([`${name}.txt`]);
    expect(readFileSync(join(cache, `${name}.txt`))).toEqual(Buffer.from(body));

    const second = fakeFetch(new Uint8Array(0), 500);
    await expect(loadDataset(name, { fetchImpl: second.impl, cache })).resolves.toBe(new TextDecoder().decode(body));
    expect(second.calls).toEqual([]);
  });

  it('a wrong SHA-256 is a DataError and nothing is cached', async () => {
    cache = join(dir, 'cache-bad');
    const tampered = new TextEncoder().encode('To be, or not to be: that is the question?\n');
    const f = fakeFetch(tampered);
    await expect(loadDataset(name, { fetchImpl: f.impl, cache })).rejects.toThrow(DataError);
    await expect(loadDataset(name, { fetchImpl: f.impl, cache })).rejects.toThrow(/SHA-256/);
    expect(existsSync(join(cache, `${name}.txt`))).toBe(false);
    expect(existsSync(cache) ? readdirSync(cache) : []).toEqual([]);
  });

  it('an HTTP error or a failing fetch is a DataError', async () => {
    cache = join(dir, 'cache-http');
    await expect(loadDataset(name, { fetchImpl: fakeFetch(body, 404).impl, cache })).rejects.toThrow(/HTTP 404/);
    const throwing = (async () => {
      throw new TypeError('fetch failed');
    }) as typeof fetch;
    await expect(loadDataset(name, { fetchImpl: throwing, cache })).rejects.toThrow(DataError);
    expect(existsSync(join(cache, `${name}.txt`))).toBe(false);
  });

  it('urlOverride is where it downloads from', async () => {
    cache = join(dir, 'cache-url');
    mkdirSync(cache, { recursive: true });
    const f = fakeFetch(body);
    await loadDataset(name, { fetchImpl: f.impl, cache, urlOverride: 'http://mirror.invalid/x.txt' });
    expect(f.calls).toEqual(['http://mirror.invalid/x.txt']);
  });
});
