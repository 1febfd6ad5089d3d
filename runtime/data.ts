/**
 * Text data for character-level models from files (Node.js): a file the user passes, or a named
 * dataset downloaded once and cached. What needs no files (the vocabulary, the split, the
 * window sampler) is in text.ts, re-exported here.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { FileReadError, readBounded, readChunks } from './files.js';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { DataError, DATASETS, decodeText, type NamedDataset } from './text.js';

export { DataError, DATASETS, decodeText, Vocab, splitTokens, WindowSampler, sliceWindows } from './text.js';
export type { NamedDataset, TokenArray, Split } from './text.js';

export function cacheDir(): string {
  return process.env.MDLC_CACHE_DIR ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'mdlc');
}

/**
 * The longest text read whole into one string: V8's limit on a string's length (bytes are at
 * least characters, so any file within it decodes). Larger texts load with `loadCorpus`.
 */
export const MAX_TEXT_BYTES = 2 ** 29 - 24;

/** A failed read of a data file as the one-line DataError the user sees. */
export function dataReadError(path: string, e: unknown, what = `data file ${path}`): DataError {
  if (!(e instanceof FileReadError)) return new DataError(`cannot read ${what} (${(e as Error)?.message ?? String(e)})`);
  switch (e.reason) {
    case 'not-found':
      return new DataError(`${what} does not exist`);
    case 'directory':
      return new DataError(`${what} is a directory`);
    case 'too-large':
      return new DataError(`${what} is too large: ${e.detail}`);
    default:
      return new DataError(`cannot read ${what} (${e.detail})`);
  }
}

/**
 * A character device (/dev/zero, /dev/urandom, a terminal) is no training text: /dev/zero
 * would be read as gigabytes of NUL characters before a limit stopped it. Pipes and FIFOs
 * (`--data <(zcat text.gz)`) are read like files.
 */
export function refuseDevice(path: string, what = `data file ${path}`): void {
  let device = false;
  try {
    device = statSync(path).isCharacterDevice();
  } catch {
    return; // reading it reports why
  }
  if (device) throw new DataError(`${what} is a device, not a text file`);
}

export function readTextFile(path: string): string {
  refuseDevice(path);
  let bytes: Uint8Array;
  try {
    bytes = readBounded(path, MAX_TEXT_BYTES);
  } catch (e) {
    throw dataReadError(path, e);
  }
  return decodeText(bytes, `data file ${path}`);
}

export interface DatasetOptions {
  fetchImpl?: typeof fetch;
  cache?: string;
  urlOverride?: string;
}

/** The text of a named dataset (downloaded once into the cache, verified) or of a file path. */
export async function loadDataset(nameOrPath: string, options: DatasetOptions = {}): Promise<string> {
  return readTextFile(await datasetFile(nameOrPath, options));
}

/**
 * The local file holding `nameOrPath`: the path itself, or for a named dataset its copy in
 * the cache, downloaded when missing. A cached copy is verified on every use: its size each
 * time, its SHA-256 once per process. A wrong copy (truncated, edited) is downloaded again;
 * when that fails the error says what is wrong with the copy and how to mend it.
 */
export async function datasetFile(nameOrPath: string, options: DatasetOptions = {}): Promise<string> {
  if (!Object.hasOwn(DATASETS, nameOrPath)) return nameOrPath;
  const known = DATASETS[nameOrPath];
  const file = join(options.cache ?? cacheDir(), `${nameOrPath}.txt`);
  const problem = existsSync(file) ? cachedCopyProblem(file, known) : undefined;
  if (existsSync(file) && problem === undefined) return file;
  try {
    await download(nameOrPath, known, file, options);
  } catch (e) {
    if (!(e instanceof DataError)) throw e;
    if (problem === undefined) throw new DataError(`${e.message}; pass a local copy with --data FILE`);
    throw new DataError(`the cached copy of dataset '${nameOrPath}' (${file}) ${problem}, and downloading it again failed (${e.message}); delete the file, or pass a local copy with --data FILE`);
  }
  return file;
}

/** Cached files whose hash was checked in this process, with the size and mtime they had then. */
const verifiedCopies = new Map<string, string>();

/** What is wrong with a cached copy, or undefined when it is the dataset. */
function cachedCopyProblem(file: string, known: NamedDataset): string | undefined {
  let st;
  try {
    st = statSync(file);
  } catch (e) {
    return `cannot be read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`;
  }
  if (!st.isFile()) return 'is not a regular file';
  if (st.size !== known.bytes) return `has ${st.size.toLocaleString('en-US')} bytes instead of ${known.bytes.toLocaleString('en-US')} (a partial or edited copy)`;
  const stamp = `${st.size}:${st.mtimeMs}`;
  if (verifiedCopies.get(file) === stamp) return undefined;
  const hash = createHash('sha256');
  try {
    readChunks(file, known.bytes, (b) => hash.update(b));
  } catch (e) {
    return `cannot be read (${e instanceof FileReadError ? e.detail : (e as Error).message})`;
  }
  const digest = hash.digest('hex');
  if (digest !== known.sha256) return `has SHA-256 ${digest.slice(0, 12)}…, expected ${known.sha256.slice(0, 12)}… (an edited or corrupted copy)`;
  verifiedCopies.set(file, stamp);
  return undefined;
}

/** Download a dataset, check its hash, and write it to `file` atomically. */
async function download(name: string, known: NamedDataset, file: string, options: DatasetOptions): Promise<void> {
  const url = options.urlOverride ?? known.url;
  const doFetch = options.fetchImpl ?? fetch;
  let bytes: Uint8Array;
  try {
    const res = await doFetch(url);
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    bytes = new Uint8Array(await res.arrayBuffer());
  } catch (e) {
    throw new DataError(`cannot download dataset '${name}' from ${url} (${(e as Error).message})`);
  }
  const digest = createHash('sha256').update(bytes).digest('hex');
  if (digest !== known.sha256) throw new DataError(`dataset '${name}' downloaded from ${url} has SHA-256 ${digest.slice(0, 12)}…, expected ${known.sha256.slice(0, 12)}…`);
  mkdirSync(dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, bytes);
  renameSync(tmp, file);
  const st = statSync(file);
  verifiedCopies.set(file, `${st.size}:${st.mtimeMs}`);
}
