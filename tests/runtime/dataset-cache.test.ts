/**
 * A cached named dataset is verified on every use: its size each time, its SHA-256 once per
 * process. A wrong copy is downloaded again, or explained when that fails.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadCorpus } from '../../runtime/corpus.js';
import { DATASETS, DataError, datasetFile, loadDataset } from '../../runtime/data.js';

const dir = mkdtempSync(join(tmpdir(), 'mdlc-dscache-'));
const name = 'mdlc-cache-test';
const body = new TextEncoder().encode('Now is the winter of our discontent\nMade glorious summer by this sun of York;\n');
const url = 'https://example.invalid/cache-test.txt';

beforeAll(() => {
  DATASETS[name] = { url, sha256: createHash('sha256').update(body).digest('hex'), bytes: body.length };
});
afterAll(() => {
  delete DATASETS[name];
  rmSync(dir, { recursive: true, force: true });
});

function fetcher(bytes: Uint8Array | undefined) {
  const calls: string[] = [];
  const impl = (async (input: string | URL | Request) => {
    calls.push(String(input));
    if (!bytes) throw new TypeError('fetch failed');
    return new Response(bytes.slice(), { status: 200 });
  }) as typeof fetch;
  return { impl, calls };
}

let n = 0;
/** A cache directory holding `content` as the dataset's cached copy. */
function cacheWith(content: Uint8Array | string): { cache: string; file: string } {
  const cache = join(dir, `c${n++}`);
  mkdirSync(cache);
  const file = join(cache, `${name}.txt`);
  writeFileSync(file, content);
  return { cache, file };
}

describe('a cached named dataset', () => {
  it('is used without downloading when it is intact', async () => {
    const { cache } = cacheWith(body);
    const f = fetcher(undefined);
    await expect(loadDataset(name, { cache, fetchImpl: f.impl })).resolves.toBe(new TextDecoder().decode(body));
    expect(f.calls).toEqual([]);
  });

  it('is downloaded again when truncated (wrong size), and then holds the dataset', async () => {
    const { cache, file } = cacheWith(body.subarray(0, 20));
    const f = fetcher(body);
    const corpus = await loadCorpus(name, { cache, fetchImpl: f.impl });
    expect(f.calls).toEqual([url]);
    expect(corpus.vocab.decode(corpus.tokens)).toBe(new TextDecoder().decode(body));
    expect(readFileSync(file)).toEqual(Buffer.from(body));
  });

  it('is downloaded again when edited at the same size (wrong hash)', async () => {
    const edited = Uint8Array.from(body);
    edited[0] = 'n'.charCodeAt(0);
    const { cache, file } = cacheWith(edited);
    const f = fetcher(body);
    await expect(loadDataset(name, { cache, fetchImpl: f.impl })).resolves.toBe(new TextDecoder().decode(body));
    expect(f.calls).toEqual([url]);
    expect(readFileSync(file)).toEqual(Buffer.from(body));
  });

  it('is explained when it is wrong and cannot be downloaded again', async () => {
    const { cache, file } = cacheWith('Now is the');
    const err = await datasetFile(name, { cache, fetchImpl: fetcher(undefined).impl }).catch((e) => e);
    expect(err).toBeInstanceOf(DataError);
    expect(err.message).toBe(
      `the cached copy of dataset '${name}' (${file}) has 10 bytes instead of ${body.length} (a partial or edited copy), and downloading it again failed ` +
        `(cannot download dataset '${name}' from ${url} (fetch failed)); delete the file, or pass a local copy with --data FILE`,
    );
  });

  it('is hashed once per process: a verified copy is not read again while its size and time stay', async () => {
    const { cache, file } = cacheWith(body);
    const time = 1_700_000_000; // whole seconds, so that restoring it is exact
    utimesSync(file, time, time);
    await datasetFile(name, { cache, fetchImpl: fetcher(undefined).impl });
    // Edit the copy in place but keep its size and modification time: only a new hash could tell.
    const edited = Uint8Array.from(body);
    edited[1] = 'O'.charCodeAt(0);
    writeFileSync(file, edited);
    utimesSync(file, time, time);
    const f = fetcher(body);
    await datasetFile(name, { cache, fetchImpl: f.impl });
    expect(f.calls).toEqual([]);
    // A changed time makes it hash again, and the edit is found.
    utimesSync(file, time, time + 5);
    await datasetFile(name, { cache, fetchImpl: f.impl });
    expect(f.calls).toEqual([url]);
  });
});
