/** Reading whole files safely: limits, directories, devices and pipes. */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FileReadError, formatBytes, readBounded, readChunks } from '../../runtime/files.js';

const dir = mkdtempSync(join(tmpdir(), 'mdlc-files-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function reason(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    if (e instanceof FileReadError) return `${e.reason}: ${e.detail}`;
    throw e;
  }
  return 'no error';
}

describe('readBounded', () => {
  it('reads a regular file whole', () => {
    const f = join(dir, 'a.txt');
    writeFileSync(f, 'hello');
    expect(Buffer.from(readBounded(f, 5)).toString()).toBe('hello');
  });

  it('refuses a regular file over the limit by its size, before reading', () => {
    const f = join(dir, 'big.txt');
    writeFileSync(f, 'x'.repeat(2048));
    expect(reason(() => readBounded(f, 1024))).toBe('too-large: it is 2,048 bytes, larger than the limit of 1 KiB');
  });

  it('stops reading an endless device at the limit (/dev/zero), with a clear reason', () => {
    expect(reason(() => readBounded('/dev/zero', 1 << 16))).toBe('too-large: it holds more than the limit of 64 KiB');
  });

  it('reads an empty device (/dev/null) as no bytes', () => {
    expect(readBounded('/dev/null', 10).length).toBe(0);
  });

  it('refuses a directory and names a missing file', () => {
    expect(reason(() => readBounded(dir, 10))).toBe('directory: it is a directory');
    expect(reason(() => readBounded(join(dir, 'missing'), 10))).toBe('not-found: no such file');
  });

  it('reads a FIFO that a writer fills, up to the limit', async () => {
    const fifo = join(dir, 'fifo');
    expect(spawnSync('mkfifo', [fifo]).status).toBe(0);
    const writer = spawn('sh', ['-c', `printf 'model m\\n' > ${fifo}`]);
    expect(Buffer.from(readBounded(fifo, 100)).toString()).toBe('model m\n');
    await new Promise((r) => writer.on('exit', r));
    const endless = spawn('sh', ['-c', `yes > ${fifo}`]);
    expect(reason(() => readBounded(fifo, 4096))).toBe('too-large: it holds more than the limit of 4 KiB');
    endless.kill();
    await new Promise((r) => endless.on('exit', r));
  });
});

describe('readChunks', () => {
  it('hands every byte over in chunks and reports the size first', () => {
    const f = join(dir, 'chunks.txt');
    const body = Buffer.from(Array.from({ length: 1000 }, (_, i) => i % 251));
    writeFileSync(f, body);
    const parts: Buffer[] = [];
    let size: number | undefined = -1;
    const n = readChunks(f, 1000, (b) => parts.push(Buffer.from(b)), (s) => (size = s), 64);
    expect(n).toBe(1000);
    expect(size).toBe(1000);
    expect(parts.length).toBe(Math.ceil(1000 / 64));
    expect(Buffer.concat(parts).equals(body)).toBe(true);
    expect(reason(() => readChunks(f, 999, () => {}))).toMatch(/^too-large/);
  });
});

describe('formatBytes', () => {
  it('uses binary units', () => {
    expect(formatBytes(512)).toBe('512 bytes');
    expect(formatBytes(1 << 20)).toBe('1 MiB');
    expect(formatBytes(1536)).toBe('1.5 KiB');
    expect(formatBytes(2 ** 31 - 1)).toBe('2 GiB');
  });
});
