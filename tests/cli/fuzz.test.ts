/**
 * Fuzzing the command line with hostile inputs: very long and deeply nested expressions,
 * control characters, huge and odd dims, special files and oversized files. Whatever the
 * input, mdlc answers with diagnostics or a one-line error and exit 0, 1 or 2: never a stack
 * trace, never an internal error (exit 70), never a hang.
 *
 * Most inputs run in-process through `main` (fast); special files, and a sample of the
 * generated inputs, run as `bin/mdlc.js` processes with a timeout (native aborts, hangs,
 * pipes). FUZZ_SEED=n reproduces a run; FUZZ_RUNS scales the number of inputs.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';

const SEED = process.env.FUZZ_SEED ? Number(process.env.FUZZ_SEED) : undefined;
const SCALE = process.env.FUZZ_RUNS ? Number(process.env.FUZZ_RUNS) / 1000 : 1;
const runs = (n: number) => Math.max(1, Math.round(n * SCALE));

const tmp = mkdtempSync(join(tmpdir(), 'mdlc-fuzz-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const TINY = readFileSync(join(import.meta.dirname, '..', 'fixtures', 'check', 'good', 'tiny-transformer.mdl'), 'utf8');
const DATA = join(tmp, 'data.txt');
writeFileSync(DATA, 'First Citizen:\nBefore we proceed any further, hear me speak.\n'.repeat(50));

/** What must never appear in mdlc's output. */
const STACK = /^\s+at .+(:\d+:\d+\)?|\(native\))$|internal error|Maximum call stack|bad_alloc|FATAL ERROR/m;

function verdict(code: number | null, out: string, err: string, what: string) {
  expect([0, 1, 2], `${what}: exit ${code}\n${err.slice(0, 2000)}`).toContain(code);
  expect(out + err, what).not.toMatch(STACK);
}

async function runMain(argv: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  let code: number;
  try {
    code = await main(argv, { out: (s) => out.push(s), err: (s) => err.push(s), color: false });
  } catch (e) {
    throw new Error(`main threw on ${argv.join(' ').slice(0, 200)}: ${(e as Error)?.stack ?? e}`);
  }
  return { code, out: out.join('\n'), err: err.join('\n') };
}

// ---------------------------------------------------------------- generators

const n = (lo: number, hi: number) => fc.integer({ min: lo, max: hi });
const HUGE = ['1e12', '100000000000000000000', '1e308', '9007199254740993', '2147483648', '2147483647', '0.5', '0', '1e-300', '99999999999'];
const CONTROL = fc.constantFrom('\x00', '\x07', '\x08', '\x1b[31m', '\x1b]0;pwned\x07', '\x7f', '\x9b', '\u202e', '\r', '\f', '\v');

/** A change to the tiny transformer that makes it hostile. */
const edit: fc.Arbitrary<(t: string) => string> = fc.oneof(
  n(300, 20000).map((k) => (t: string) => t.replace('dim layers = 2', `dim layers = ${'1 + '.repeat(k)}1`)),
  n(300, 12000).map((k) => (t: string) => t.replace('  x = wte[tokens] + wpe\n', `  x = wte[tokens]${' + wpe'.repeat(k)}\n`)),
  n(60, 6000).map((k) => (t: string) => t.replace('return (x - mu)', `return ${'('.repeat(k)}x${')'.repeat(k)} - mu + (x - mu)`)),
  n(60, 9000).map((k) => (t: string) => t.replace('  mu  = mean(x, over: embed)', `  mu  = ${'-'.repeat(k)}mean(x, over: embed)`)),
  n(60, 3000).map((k) => (t: string) => t.replace('var + 1e-5', `var + ${'2 ^ '.repeat(k)}1e-5`)),
  n(100, 3000).map((k) => (t: string) => t.replace('  x = wte[tokens] + wpe\n', `  x = wte[tokens] + wpe\n${'  x = x * 1.0001\n'.repeat(k)}`)),
  fc.tuple(fc.constantFrom('vocab', 'batch', 'seq', 'embed', 'heads', 'hidden', 'layers'), fc.constantFrom(...HUGE)).map(
    ([dim, v]) =>
      (t: string) =>
        t.replace(new RegExp(`^dim ${dim} +=.*$`, 'm'), `dim ${dim} = ${v}`),
  ),
  fc.tuple(fc.nat(), fc.array(CONTROL, { minLength: 1, maxLength: 5 })).map(([at, cs]) => (t: string) => {
    const i = at % t.length;
    return t.slice(0, i) + cs.join('') + t.slice(i);
  }),
  n(1000, 60000).map((k) => (t: string) => t.replace('dim layers = 2', `dim layers = 2 ${'@'.repeat(k)}`)),
  n(200, 4000).map((k) => (t: string) => `${t}\n${'dim = = =\n'.repeat(k)}`),
  n(65, 400).map((k) => (t: string) => {
    const blocks = Array.from({ length: k }, (_, i) => `block c${i}(x) {\n  return c${i + 1}(x)\n}`).join('\n') + `\nblock c${k}(x) {\n  return x\n}\n`;
    return t.replace('forward(', `${blocks}\nforward(`).replace('  x = wte[tokens] + wpe\n', '  x = c0(wte[tokens] + wpe)\n');
  }),
  n(2, 40).map((k) => (t: string) => {
    // Blocks that call the next one twice: 2^k copies when inlined.
    const blocks = Array.from({ length: k }, (_, i) => `block d${i}(x) {\n  return d${i + 1}(x) + d${i + 1}(x)\n}`).join('\n') + `\nblock d${k}(x) {\n  return x * 2\n}\n`;
    return t.replace('forward(', `${blocks}\nforward(`).replace('  x = wte[tokens] + wpe\n', '  x = d0(wte[tokens] + wpe)\n');
  }),
  fc.constantFrom('repeat 1000000000 {', 'repeat layers * 100000 as blocks {', 'repeat 0 {').map((r) => (t: string) => t.replace('repeat layers as blocks {', r)),
);

const hostileModel = fc.array(edit, { minLength: 1, maxLength: 3 }).map((edits) => edits.reduce((t, e) => e(t), TINY));

/** `--set` values a user (or a script) could pass. */
const hostileSet = fc.tuple(fc.constantFrom('embed', 'seq', 'batch', 'layers', 'vocab', 'head', 'heads', 'steps', 'lr', 'min_lr', 'warmup', 'seed', 'clip', 'val_fraction', 'bogus'), fc.constantFrom(...HUGE, '-1', '1e-9', '3'));

let file = 0;
function writeModel(text: string): string {
  const path = join(tmp, `m${file++}.mdl`);
  writeFileSync(path, text);
  return path;
}

// ---------------------------------------------------------------- in-process

describe('mdlc check on generated hostile models', () => {
  it('always ends with diagnostics and exit 0 or 1', async () => {
    await fc.assert(
      fc.asyncProperty(hostileModel, fc.constantFrom('human', 'json', 'github'), async (text, format) => {
        const path = writeModel(text);
        const r = await runMain(['check', '--format', format, path]);
        verdict(r.code, r.out, r.err, `check --format ${format} of ${JSON.stringify(text.slice(0, 300))}`);
        expect(r.code).not.toBe(2);
        if (format === 'human') expect(r.out + r.err).not.toMatch(/[\x00-\x08\x0b-\x1f\x7f\x9b\u202e]/);
        if (format === 'json') JSON.parse(r.out);
      }),
      { numRuns: runs(80), seed: SEED },
    );
  }, 600_000);

  it('--set with huge, fractional and forbidden values is a diagnostic or a usage error', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(hostileSet, { minLength: 1, maxLength: 3 }), async (sets) => {
        const argv = ['check', writeModel(TINY), ...sets.flatMap(([k, v]) => ['--set', `${k}=${v}`])];
        const r = await runMain(argv);
        verdict(r.code, r.out, r.err, argv.join(' '));
      }),
      { numRuns: runs(60), seed: SEED },
    );
  }, 300_000);

  it('mdlc train --backend interpreter with hostile sizes refuses them before training', async () => {
    const cases = [
      ['--set', 'embed=8192'],
      ['--set', 'seq=100000'],
      ['--batch', '100000'],
      ['--batch', '1e15'],
      ['--set', 'layers=1000000000'],
      ['--set', 'vocab=10'],
      ['--set', 'head=7'],
      ['--steps', '0'],
      ['--steps', '2.5'],
      ['--set', 'min_lr=1'],
    ];
    process.env.MDLC_CPU_MEMORY = String(2 ** 30);
    try {
      for (const flags of cases) {
        const steps = flags.includes('--steps') ? [] : ['--steps', '1'];
        const r = await runMain(['train', writeModel(TINY), '--backend', 'interpreter', '--data', DATA, ...steps, ...flags]);
        verdict(r.code, r.out, r.err, flags.join(' '));
        expect(r.code, `${flags.join(' ')}\n${r.err}`).toBe(1);
        expect(r.out, flags.join(' ')).not.toMatch(/^step /m);
      }
    } finally {
      delete process.env.MDLC_CPU_MEMORY;
    }
  }, 120_000);
});

// ---------------------------------------------------------------- processes

describe('the mdlc process on special files and generated models', () => {
  beforeAll(() => {
    if (!existsSync('dist/src/cli/main.js')) throw new Error('run `npm run build` (npm ci does it) before the tests');
  });

  /** Run bin/mdlc.js; a hang is a failure (killed after `timeout`). */
  function mdlc(argv: string[], timeout = 60_000) {
    const r = spawnSync(process.execPath, ['bin/mdlc.js', ...argv], { encoding: 'utf8', timeout, maxBuffer: 64 << 20 });
    expect(r.signal, `${argv.join(' ')} was killed (${r.signal}): a hang or a crash`).toBeNull();
    return { code: r.status, out: r.stdout, err: r.stderr };
  }

  it('model files: /dev/zero, /dev/urandom, /dev/null, a directory, a file over 1 MiB', () => {
    const dir = join(tmp, 'a-directory.mdl');
    mkdirSync(dir, { recursive: true });
    const big = join(tmp, 'big.mdl');
    writeFileSync(big, TINY + '#'.repeat(2 << 20));
    for (const path of ['/dev/zero', '/dev/urandom', '/dev/null', dir, big]) {
      const r = mdlc(['check', path]);
      verdict(r.code, r.out, r.err, `check ${path}`);
      expect(r.code, path).toBe(1);
      expect(r.err).toMatch(/error\[E000[13]\]/);
    }
  });

  it('a FIFO fed by another process is read like a file', async () => {
    const fifo = join(tmp, 'model.fifo');
    expect(spawnSync('mkfifo', [fifo]).status).toBe(0);
    // The writer must not need this process's event loop: spawnSync below blocks it.
    const writer = spawn('sh', ['-c', `cat ${writeModel(TINY)} > ${fifo}`], { stdio: 'ignore' });
    const r = spawnSync(process.execPath, ['bin/mdlc.js', 'check', fifo], { encoding: 'utf8', timeout: 60_000 });
    await new Promise((res) => writer.on('exit', res));
    expect(r.signal).toBeNull();
    expect(r.status, r.stderr).toBe(0);
  });

  it('data files: /dev/zero, /dev/urandom, /dev/null, a directory', () => {
    const model = writeModel(TINY);
    for (const data of ['/dev/zero', '/dev/urandom', '/dev/null', tmp]) {
      const r = mdlc(['train', model, '--backend', 'interpreter', '--data', data, '--steps', '1', '--set', 'eval_batches=1']);
      verdict(r.code, r.out, r.err, `--data ${data}`);
      expect(r.code, `${data}: ${r.err}`).toBe(1);
      expect(r.err.trim().split('\n'), data).toHaveLength(1);
    }
  }, 300_000);

  it('generated hostile models, several per process', () => {
    fc.assert(
      fc.property(fc.array(hostileModel, { minLength: 4, maxLength: 4 }), (texts) => {
        const paths = texts.map(writeModel);
        const r = mdlc(['check', ...paths]);
        verdict(r.code, r.out, r.err, `check of ${paths.join(' ')}`);
      }),
      { numRuns: runs(5), seed: SEED },
    );
  }, 300_000);
});
