// Memory of loading a training text: peak RSS per input byte, for texts up to a gigabyte.
//
//   node bench/data-load.mjs            # 100 MB, 500 MB and 1 GB (SIZES=100,500,1000 in MB)
//
// The inputs are generated here, in a temporary directory that is removed afterwards
// (never committed): Tiny Shakespeare repeated (65 characters, one byte each), and a
// multilingual text (ASCII with Greek, CJK and emoji, about 1,100 characters) at 100 MB.
// Each measurement runs in a fresh process: `loadCorpus` (what `mdlc train` uses), the
// string path it replaced (`readTextFile` + `Vocab.fromText` + `encode`, where it still
// fits), and a whole `mdlc train --backend cpu` of one step of a tiny model on the text.
import { spawnSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { benchData, machine, requireBuild, root, writeSection } from './lib.mjs';

requireBuild();
const sizes = (process.env.SIZES ?? '100,500,1000').split(',').map((s) => Number(s) * 1e6);
const seed = readFileSync(benchData());
const dir = mkdtempSync(join(tmpdir(), 'mdlc-bench-data-'));
const load = loadavg()[0];

/** Write `bytes` bytes of `unit` repeated (cut at a character boundary) to a new file. */
function generate(name, unit, bytes) {
  const path = join(dir, name);
  const fd = openSync(path, 'w');
  let left = bytes;
  while (left > 0) {
    let chunk = unit.subarray(0, Math.min(unit.length, left));
    // Never end inside a UTF-8 sequence.
    let end = chunk.length;
    while (end > 0 && end < unit.length && (unit[end] & 0xc0) === 0x80) end--;
    chunk = chunk.subarray(0, end || chunk.length);
    writeSync(fd, chunk);
    left -= chunk.length;
  }
  closeSync(fd);
  return path;
}

/** Run `code` (an ES module body) in a fresh node; returns its JSON output and peak RSS. */
function measure(code) {
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', code], { cwd: root, encoding: 'utf8', maxBuffer: 1 << 24 });
  const last = r.stdout.trim().split('\n').at(-1) ?? '';
  try {
    return JSON.parse(last);
  } catch {
    return { error: (r.stderr.trim().split('\n').find((l) => /Error|error/.test(l)) ?? r.stderr.trim().split('\n').at(-1) ?? `exit ${r.status}`).slice(0, 120) };
  }
}

const report = `const report = (extra) => console.log(JSON.stringify({ ...extra, maxRss: process.resourceUsage().maxRSS * 1024 }));`;

function corpusRun(path) {
  return measure(`${report}
    const { loadCorpus } = await import('./dist/runtime/corpus.js');
    const { splitTokens, WindowSampler } = await import('./dist/runtime/data.js');
    const base = process.memoryUsage().rss;
    const t0 = performance.now();
    const c = await loadCorpus(${JSON.stringify(path)});
    const seconds = (performance.now() - t0) / 1000;
    const split = splitTokens(c.tokens, 0.1, 65);
    new WindowSampler(split.train, 65, 1).nextBatch(12);
    report({ base, seconds, chars: c.tokens.length, vocab: c.vocab.size, array: c.tokens.constructor.name });`);
}

function stringRun(path) {
  return measure(`${report}
    const { readTextFile, Vocab } = await import('./dist/runtime/data.js');
    const base = process.memoryUsage().rss;
    const t0 = performance.now();
    const text = readTextFile(${JSON.stringify(path)});
    const tokens = Vocab.fromText(text).encode(text);
    report({ base, seconds: (performance.now() - t0) / 1000, chars: tokens.length });`);
}

function trainRun(path) {
  return measure(`${report}
    const { main } = await import('./dist/src/cli/main.js');
    const quiet = { out: () => {}, err: (s) => console.error(s), color: false };
    const code = await main(['train', 'models/transformer.mdl', '--backend', 'cpu', '--data', ${JSON.stringify(path)}, '--steps', '1',
      '--set', 'layers=1', '--set', 'embed=32', '--set', 'seq=16', '--batch', '4', '--set', 'eval_batches=1'], quiet);
    report({ code });`);
}

const mb = (b) => (b / 2 ** 20).toFixed(0);
const perByte = (r, bytes) => (r.error ? r.error : (r.maxRss / bytes).toFixed(2));
const rows = [];
try {
  const inputs = sizes.map((bytes) => ({ what: 'Tiny Shakespeare repeated', bytes, path: generate(`shakespeare-${bytes}.txt`, seed, bytes) }));
  const multi = Buffer.from(Array.from({ length: 4000 }, (_, i) => `${seed.subarray(i * 40, i * 40 + 40).toString('latin1')} αβγ${String.fromCodePoint(0x4e00 + (i % 1000))}${i % 7 ? '' : '😀'}\n`).join(''));
  inputs.push({ what: 'multilingual (ASCII, Greek, CJK, emoji)', bytes: 100e6, path: generate('multilingual-100MB.txt', multi, 100e6) });
  for (const input of inputs) {
    const corpus = corpusRun(input.path);
    const old = input.bytes <= 2 ** 29 - 24 ? stringRun(input.path) : { error: 'cannot run: a JavaScript string holds at most 2^29 − 24 characters' };
    const train = trainRun(input.path);
    console.log(input.what, input.bytes, { corpus, old, train });
    rows.push(
      `| ${input.what} | ${(input.bytes / 1e6).toFixed(0)} MB | ${corpus.error ?? `${corpus.chars.toLocaleString('en-US')} chars, vocab ${corpus.vocab}, ${corpus.array}`} | ` +
        `${corpus.error ? '' : `${mb(corpus.maxRss)} MiB (${perByte(corpus, input.bytes)}), ${corpus.seconds.toFixed(1)} s`} | ` +
        `${old.error ?? `${mb(old.maxRss)} MiB (${perByte(old, input.bytes)}), ${old.seconds.toFixed(1)} s`} | ` +
        `${train.error ?? (train.code === 0 ? `${mb(train.maxRss)} MiB (${perByte(train, input.bytes)})` : `exit ${train.code}`)} |`,
    );
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}

writeSection(
  'data-load',
  `## Loading training text: peak memory per input byte

Measured by \`node bench/data-load.mjs\` on ${machine()}, ${new Date().toISOString().slice(0, 10)}; load average (1 min)
${load.toFixed(1)} on ${2} cores before the run${load > 1.5 ? ' (other work shared the machine: times are slow, memory figures are not affected)' : ''}. Inputs are generated by the script and deleted after.
Each cell is the peak RSS of a fresh process (Node's own ~45 MiB included) and, in parentheses, that peak divided by
the input's size in bytes. *loadCorpus*: \`loadCorpus\` + the train/validation split + one batch, what \`mdlc train\`
does (streamed 4 MiB at a time into one typed array of token ids). *string path*: \`readTextFile\` + \`Vocab.fromText\`
+ \`encode\`, what \`mdlc train\` did before and generated programs still do (already without the \`Array.from\` that made
it ~11.5 bytes per character and failed at 200 MB). *mdlc train*: one cpu training step of a
1-layer, 32-wide transformer on the text, the whole \`mdlc train\` process.

| text | size | tokens | loadCorpus: peak RSS (per byte), time | string path: peak RSS (per byte), time | mdlc train --backend cpu, 1 step: peak RSS (per byte) |
|---|---|---|---|---|---|
${rows.join('\n')}`,
);
