/**
 * Text data for character-level models: loading (a file the user passes, or a named dataset
 * downloaded once and cached), the character vocabulary, the train/validation split and a
 * deterministic sampler of sliding windows. Standard JavaScript only, except loading files.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
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

export function readTextFile(path: string): string {
  let bytes: Buffer;
  try {
    if (statSync(path).isDirectory()) throw new DataError(`data file ${path} is a directory`);
    bytes = readFileSync(path);
  } catch (e) {
    if (e instanceof DataError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    throw new DataError(code === 'ENOENT' ? `data file ${path} does not exist` : `cannot read data file ${path} (${code ?? (e as Error).message})`);
  }
  return decodeText(bytes, `data file ${path}`);
}

/**
 * The text of a named dataset, downloaded once into the cache (verified by SHA-256, written
 * atomically), or of a file path.
 */
export async function loadDataset(nameOrPath: string, options: { fetchImpl?: typeof fetch; cache?: string; urlOverride?: string } = {}): Promise<string> {
  const known = DATASETS[nameOrPath];
  if (!known) return readTextFile(nameOrPath);
  const file = join(options.cache ?? cacheDir(), `${nameOrPath}.txt`);
  if (existsSync(file)) return readTextFile(file);
  const url = options.urlOverride ?? known.url;
  const doFetch = options.fetchImpl ?? fetch;
  let bytes: Uint8Array;
  try {
    const res = await doFetch(url);
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    bytes = new Uint8Array(await res.arrayBuffer());
  } catch (e) {
    throw new DataError(`cannot download dataset '${nameOrPath}' from ${url} (${(e as Error).message}); pass a local copy with --data FILE`);
  }
  const digest = createHash('sha256').update(bytes).digest('hex');
  if (digest !== known.sha256) throw new DataError(`dataset '${nameOrPath}' downloaded from ${url} has SHA-256 ${digest.slice(0, 12)}…, expected ${known.sha256.slice(0, 12)}…`);
  mkdirSync(dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, bytes);
  renameSync(tmp, file);
  return decodeText(bytes, `dataset '${nameOrPath}'`);
}

/** The characters of a text, sorted by code point: token i is `chars[i]`. */
export class Vocab {
  readonly index: Map<string, number>;
  constructor(readonly chars: readonly string[]) {
    this.index = new Map(chars.map((c, i) => [c, i]));
    if (this.index.size !== chars.length) throw new DataError('vocabulary has duplicate characters');
  }

  static fromText(text: string): Vocab {
    return new Vocab([...new Set(Array.from(text))].sort((a, b) => a.codePointAt(0)! - b.codePointAt(0)!));
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
    const cps = Array.from(text);
    const out = new Int32Array(cps.length);
    for (let i = 0; i < cps.length; i++) {
      const t = this.index.get(cps[i]);
      if (t === undefined) throw new DataError(`character ${JSON.stringify(cps[i])} is not in the vocabulary`);
      out[i] = t;
    }
    return out;
  }

  decode(tokens: ArrayLike<number>): string {
    let s = '';
    for (let i = 0; i < tokens.length; i++) s += this.chars[tokens[i]] ?? '\uFFFD';
    return s;
  }
}

export interface Split {
  train: Int32Array;
  val: Int32Array;
}

/** The first (1 - valFraction) of the tokens train, the rest validate (as nanoGPT). */
export function splitTokens(tokens: Int32Array, valFraction: number, window: number): Split {
  const cut = Math.floor(tokens.length * (1 - valFraction));
  const split = { train: tokens.subarray(0, cut), val: tokens.subarray(cut) };
  if (split.train.length < window) throw new DataError(`the training text has ${split.train.length} characters, shorter than one window of ${window}`);
  if (split.val.length < window) throw new DataError(`the validation text has ${split.val.length} characters, shorter than one window of ${window}; use more text or a larger val_fraction`);
  return split;
}

/**
 * Random sliding windows: each batch row is `window` consecutive tokens starting at a
 * uniformly random position (stride 1 over the text: abcd, bcde, ...). The state is the
 * number of batches drawn, so a resumed run continues the same sequence.
 */
export class WindowSampler {
  private rng: Rng;
  private drawn = 0;
  constructor(
    readonly tokens: Int32Array,
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
