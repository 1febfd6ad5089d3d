/**
 * The built `mdlc` process on adversarial input and plumbing: output through pipes (every
 * diagnostic arrives, even to a slow reader), a reader that goes away, special files, huge
 * files. These run bin/mdlc.js as a process, so `npm run build` must have run.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const tmp = mkdtempSync(join(tmpdir(), 'mdlc-hard-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
beforeAll(() => {
  if (!existsSync('dist/src/cli/main.js')) throw new Error('run `npm run build` (npm ci does it) before the tests');
});

/** Run a shell command line (for pipes) with the built CLI as `mdlc`. */
function sh(cmd: string, timeout = 60_000) {
  const r = spawnSync('sh', ['-c', cmd.replaceAll('mdlc ', `"${process.execPath}" bin/mdlc.js `)], { encoding: 'utf8', timeout, maxBuffer: 64 << 20 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr, signal: r.signal };
}

/** A model file with `n` errors (unknown dims), one per line. */
function manyErrors(name: string, n: number): string {
  const path = join(tmp, name);
  writeFileSync(path, ['model m', ...Array.from({ length: n }, (_, i) => `dim d${i} = nope${i}`)].join('\n') + '\n');
  return path;
}

describe('output through a pipe', () => {
  it('delivers every diagnostic on stderr to a slow reader before exiting', () => {
    // 8 files of 50 errors: ~100 KB of stderr, more than a pipe buffers, read only after a pause.
    const files = Array.from({ length: 8 }, (_, i) => manyErrors(`e${i}.mdl`, 50));
    const r = sh(`mdlc check ${files.join(' ')} 2>&1 | (sleep 1; cat)`);
    expect(r.stdout.match(/^error\[E0201\]/gm)?.length).toBe(400);
    // The last thing written (the per-file status lines come first, the diagnostics after) arrived.
    expect(r.stdout.trimEnd().endsWith('= help: declare it with `dim nope49 = ...`')).toBe(true);
  });

  it('delivers stdout to a slow reader too (--format json)', () => {
    const file = manyErrors('json.mdl', 300);
    const r = sh(`mdlc check --format json ${file} | (sleep 1; cat)`);
    expect(JSON.parse(r.stdout).diagnostics.filter((d: { code: string }) => d.code === 'E0201')).toHaveLength(300);
  });

  it('prints no stack trace when the reader goes away early', () => {
    const file = manyErrors('head.mdl', 3000);
    const r = sh(`mdlc check ${file} 2>&1 | head -1`);
    expect(r.stdout).toMatch(/^\S*head\.mdl: failed \(3001 errors\)\n$/);
    const direct = sh(`mdlc check --format json ${file} | head -c 10 >/dev/null`);
    expect(direct.stderr).toBe('');
  });
});

describe('caps', () => {
  it('prints at most 100 diagnostics per file and says how many more there are', () => {
    const file = manyErrors('cap.mdl', 400);
    const r = sh(`mdlc check ${file}`);
    expect(r.status).toBe(1);
    // 400 unknown dims and the missing forward.
    expect(r.stderr).toContain('cap.mdl: failed (401 errors)');
    expect(r.stderr.match(/^error\[E0\d+\]/gm)).toHaveLength(100);
    expect(r.stderr).toContain('note: 301 more diagnostics in');
    const json = sh(`mdlc check --format json ${file}`);
    expect(JSON.parse(json.stdout).diagnostics).toHaveLength(401);
  });
});
