/**
 * Reading a file whole into memory, safely: never more than a limit (so `/dev/zero` or a
 * 50 GB file is an error, not an abort in native code), directories refused, and pipes,
 * FIFOs and character devices read as streams up to the limit.
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';

export type ReadFailure = 'not-found' | 'directory' | 'permission' | 'too-large' | 'other';

/** Why a file could not be read; `detail` is the system's error code for `other`. */
export class FileReadError extends Error {
  constructor(
    readonly path: string,
    readonly reason: ReadFailure,
    readonly detail: string,
  ) {
    super(`cannot read ${path}: ${detail}`);
    this.name = 'FileReadError';
  }
}

/** Bytes as people read them: 1 MiB, 2 GiB, 512 bytes. */
export function formatBytes(n: number): string {
  const units = ['bytes', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return i === 0 ? `${n} bytes` : `${n.toFixed(1).replace(/\.0$/, '')} ${units[i]}`;
}

/**
 * Open `path` for reading and hand `body` the descriptor and its size (undefined for anything
 * that is not a regular file: its length is only known once read). Errors become FileReadError.
 */
export function withFile<T>(path: string, maxBytes: number, body: (fd: number, size: number | undefined) => T): T {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (e) {
    throw failure(path, e);
  }
  try {
    const st = fstatSync(fd);
    if (st.isDirectory()) throw new FileReadError(path, 'directory', 'it is a directory');
    if (st.isFile() && st.size > maxBytes) throw tooLarge(path, maxBytes, st.size);
    return body(fd, st.isFile() ? st.size : undefined);
  } catch (e) {
    throw e instanceof FileReadError ? e : failure(path, e);
  } finally {
    closeSync(fd);
  }
}

/**
 * Read a whole file, refusing more than `maxBytes`. Regular files are checked by size before
 * anything is read; other files (pipes, devices) are read in chunks until the limit.
 */
export function readBounded(path: string, maxBytes: number): Uint8Array {
  return withFile(path, maxBytes, (fd, size) => {
    // A regular file can grow while it is read: read to EOF, still within the limit.
    let buf = new Uint8Array(Math.min(maxBytes + 1, size !== undefined ? size + 1 : 64 * 1024));
    let n = 0;
    for (;;) {
      if (n === buf.length) {
        if (n > maxBytes) throw tooLarge(path, maxBytes);
        const bigger = new Uint8Array(Math.min(maxBytes + 1, buf.length * 2));
        bigger.set(buf);
        buf = bigger;
      }
      const got = readSync(fd, buf, n, buf.length - n, null);
      if (got === 0) break;
      n += got;
    }
    if (n > maxBytes) throw tooLarge(path, maxBytes);
    return buf.subarray(0, n);
  });
}

/**
 * Call `chunk` with successive pieces of a file (views into one reused buffer), refusing
 * files over `maxBytes`; returns the number of bytes read. Memory stays at one chunk.
 * `opened` learns the size first (undefined when only reading tells: pipes, devices).
 */
export function readChunks(
  path: string,
  maxBytes: number,
  chunk: (bytes: Uint8Array) => void,
  opened?: (size: number | undefined) => void,
  chunkBytes = 4 << 20,
): number {
  return withFile(path, maxBytes, (fd, size) => {
    opened?.(size);
    const buf = new Uint8Array(chunkBytes);
    let total = 0;
    for (;;) {
      const got = readSync(fd, buf, 0, buf.length, null);
      if (got === 0) return total;
      total += got;
      if (total > maxBytes) throw tooLarge(path, maxBytes);
      chunk(buf.subarray(0, got));
    }
  });
}

function tooLarge(path: string, maxBytes: number, size?: number): FileReadError {
  const what = size !== undefined ? `it is ${size.toLocaleString('en-US')} bytes, larger than` : 'it holds more than';
  return new FileReadError(path, 'too-large', `${what} the limit of ${formatBytes(maxBytes)}`);
}

function failure(path: string, e: unknown): FileReadError {
  const code = (e as NodeJS.ErrnoException).code;
  switch (code) {
    case 'ENOENT':
      return new FileReadError(path, 'not-found', 'no such file');
    case 'EISDIR':
      return new FileReadError(path, 'directory', 'it is a directory');
    case 'EACCES':
    case 'EPERM':
      return new FileReadError(path, 'permission', 'permission denied');
    default:
      return new FileReadError(path, 'other', code ?? (e as Error)?.message ?? String(e));
  }
}
