/**
 * Text data for character-level models: loading (a file the user passes, or a named dataset
 * downloaded once and cached), the character vocabulary, the train/validation split and a
 * deterministic sampler of sliding windows. Standard JavaScript only, except loading files.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { FileReadError, readBounded, readChunks } from './files.js';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
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

export function cacheDir(): string {
  return process.env.MDLC_CACHE_DIR ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'mdlc');
}

/**
 * The longest text read whole into one string: V8's limit on a string's length (bytes are at
 * least characters, so any file within it decodes). Larger texts load with `loadCorpus`.
 */
export const MAX_TEXT_BYTES = 2 ** 29 - 24;

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
