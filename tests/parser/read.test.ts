import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { MAX_SOURCE_BYTES, parseModel, readSourceFile } from '../../src/parser/index.js';

const dir = mkdtempSync(join(tmpdir(), 'mdlc-parser-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function write(name: string, content: string | Uint8Array): string {
  const path = join(dir, name);
  writeFileSync(path, content);
  return path;
}

describe('readSourceFile', () => {
  it('reads a valid file', () => {
    const path = write('ok.mdl', 'model m\ndim a = 1\n');
    const r = readSourceFile(path);
    expect(r.diagnostics).toEqual([]);
    expect(r.source).toEqual({ path, text: 'model m\ndim a = 1\n' });
  });

  it('E0001 for a missing file', () => {
    const path = join(dir, 'nope.mdl');
    const r = readSourceFile(path);
    expect(r.source).toBeUndefined();
    expect(r.diagnostics).toHaveLength(1);
    expect(r.diagnostics[0]).toMatchObject({ code: 'E0001', severity: 'error', span: { file: path, line: 1, column: 1 } });
    expect(r.diagnostics[0].message).toContain('no such file');
  });

  it('E0001 for a directory', () => {
    const path = join(dir, 'adir.mdl');
    mkdirSync(path);
    const r = readSourceFile(path);
    expect(r.diagnostics[0].code).toBe('E0001');
    expect(r.source).toBeUndefined();
  });

  it('E0002 for bytes that are not UTF-8', () => {
    const path = write('latin1.mdl', Uint8Array.from([0x6d, 0x6f, 0x64, 0x65, 0x6c, 0x20, 0xe9, 0x0a]));
    const r = readSourceFile(path);
    expect(r.source).toBeUndefined();
    expect(r.diagnostics).toHaveLength(1);
    expect(r.diagnostics[0].code).toBe('E0002');
    expect(r.diagnostics[0].message).toContain('offset 6');
  });

  it('E0002 for a truncated multi-byte sequence and for UTF-16', () => {
    expect(readSourceFile(write('trunc.mdl', Uint8Array.from([0x61, 0xe2, 0x82]))).diagnostics[0].code).toBe('E0002');
    const utf16 = Uint8Array.from([0xff, 0xfe, 0x6d, 0x00, 0xd8, 0x00]);
    expect(readSourceFile(write('utf16.mdl', utf16)).diagnostics[0].code).toBe('E0002');
  });

  it('E0003 for an empty, blank or comment-only file', () => {
    for (const [name, content] of [
      ['empty.mdl', ''],
      ['blank.mdl', '  \n\t\r\n'],
      ['comments.mdl', '# just a comment\n   # another\n'],
      ['bom-only.mdl', '\ufeff\n'],
    ] as const) {
      const r = readSourceFile(write(name, content));
      expect(r.diagnostics.map((d) => d.code), name).toEqual(['E0003']);
      expect(r.diagnostics[0].message).toBe('file is empty: a model needs at least `model NAME` and a forward');
    }
  });

  it('strips a UTF-8 byte-order mark', () => {
    const path = write('bom.mdl', Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('model m\n')]));
    const r = readSourceFile(path);
    expect(r.diagnostics).toEqual([]);
    expect(r.source!.text).toBe('model m\n');
    expect(parseModel(r.source!).diagnostics).toEqual([]);
  });

  it('E0001 for a model file over MAX_SOURCE_BYTES, refused by its size', () => {
    const path = write('huge.mdl', 'model m\n' + '#'.repeat(MAX_SOURCE_BYTES));
    const r = readSourceFile(path);
    expect(r.source).toBeUndefined();
    expect(r.diagnostics.map((d) => d.code)).toEqual(['E0001']);
    expect(r.diagnostics[0].message).toMatch(/larger than the limit of 1 MiB/);
  });

  it('E0001 for an endless device such as /dev/zero (read up to the limit, never whole)', () => {
    const r = readSourceFile('/dev/zero');
    expect(r.diagnostics.map((d) => d.code)).toEqual(['E0001']);
    expect(r.diagnostics[0].message).toBe('cannot read `/dev/zero`: it holds more than the limit of 1 MiB');
  });

  it('/dev/null reads as an empty file', () => {
    expect(readSourceFile('/dev/null').diagnostics.map((d) => d.code)).toEqual(['E0003']);
  });

  it('parseModel reports E0003 for blank text too', () => {
    expect(parseModel({ path: 'x.mdl', text: '' }).diagnostics.map((d) => d.code)).toEqual(['E0003']);
    expect(parseModel({ path: 'x.mdl', text: '# nothing\n' }).diagnostics.map((d) => d.code)).toEqual(['E0003']);
    expect(parseModel({ path: 'x.mdl', text: '' }).ast).toBeUndefined();
  });
});
