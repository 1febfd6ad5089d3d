/**
 * Loading a training text as tokens without ever holding it as a string: the file is read in
 * chunks, decoded from UTF-8 by hand (as strictly as TextDecoder's fatal mode) and each
 * character stored as its token id in the narrowest typed array that fits the vocabulary.
 * Memory is about one byte per character for texts of at most 256 distinct characters
 * (two bytes up to 65,536), so a text of a gigabyte or two trains; a string of it could
 * not even exist (V8 caps strings at 2^29 characters).
 */
import { DataError, dataReadError, datasetFile, refuseDevice, type DatasetOptions } from './data.js';
import { readChunks } from './files.js';
import { CorpusEncoder, type Corpus } from './text.js';

export { CorpusEncoder, encodeCorpus, type Corpus } from './text.js';

/**
 * The longest text `loadCorpus` reads: token positions (window starts, the split point) are
 * 32-bit integers.
 */
export const MAX_CORPUS_BYTES = 2 ** 31 - 1;

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
