/**
 * Reading a `.mdl` file (Node.js): UTF-8 with the byte-order mark stripped, size-bounded.
 *
 *   readSourceFile(path) → SourceFile        (E0001 unreadable, E0002 not UTF-8, E0003 empty)
 */
import { FileReadError, readBounded } from '../../runtime/files.js';
import { diagnostic, type Diagnostic } from '../diagnostics/diagnostic.js';
import { fileSpan, type SourceFile } from '../diagnostics/span.js';
import { EMPTY_MESSAGE } from './parse.js';

export interface ReadResult {
  source?: SourceFile;
  diagnostics: Diagnostic[];
}

/** Model files larger than this are refused before they are read (a model is a few KiB). */
export const MAX_SOURCE_BYTES = 1 << 20;

/** Read a `.mdl` file as UTF-8 (BOM stripped). Never throws. */
export function readSourceFile(path: string): ReadResult {
  let bytes: Uint8Array;
  try {
    bytes = readBounded(path, MAX_SOURCE_BYTES);
  } catch (e) {
    const why = e instanceof FileReadError ? e.detail : String(e);
    const help = e instanceof FileReadError && e.reason === 'too-large' ? { help: 'a model file may be at most 1 MiB; is this the model you meant?' } : {};
    return { diagnostics: [diagnostic('E0001', `cannot read \`${path}\`: ${why}`, fileSpan(path), help)] };
  }
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch {
    const at = firstInvalidUtf8(bytes);
    return {
      diagnostics: [
        diagnostic('E0002', `\`${path}\` is not valid UTF-8 (first bad byte at offset ${at})`, fileSpan(path), {
          help: 'save the file as UTF-8',
        }),
      ],
    };
  }
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  const source: SourceFile = { path, text };
  if (isBlank(text)) return { source, diagnostics: [diagnostic('E0003', EMPTY_MESSAGE, fileSpan(path))] };
  return { source, diagnostics: [] };
}

/** Nothing but whitespace and comments. */
function isBlank(text: string): boolean {
  return text.split('\n').every((line) => /^[ \t\r\f\v\ufeff]*(#.*)?$/.test(line));
}

function firstInvalidUtf8(bytes: Uint8Array): number {
  const dec = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
  // Binary search for the longest valid prefix would be wrong (a prefix can end mid-sequence);
  // scan sequences instead.
  let i = 0;
  while (i < bytes.length) {
    const b = bytes[i];
    const n = b < 0x80 ? 1 : b >= 0xc2 && b < 0xe0 ? 2 : b >= 0xe0 && b < 0xf0 ? 3 : b >= 0xf0 && b < 0xf5 ? 4 : 0;
    if (n === 0) return i;
    try {
      dec.decode(bytes.subarray(i, i + n));
    } catch {
      return i;
    }
    i += n;
  }
  return i;
}
