// The autoencoder learns, and its bottleneck is what limits it. First `mdlc train --overfit`
// at the file's settings (one batch must fall below 0.05); then models/autoencoder.mdl
// trained on Tiny Shakespeare at the file's settings once per code width (the numbers per
// slot; the `latent` slots stay as the file has them), through `mdlc train` on WebGPU.
// Prints and writes to BENCHMARKS.md the validation reconstruction loss (nats and bits per
// character) of each width, the wall time of each run and the machine's load while it ran.
//   CODES=4,8,16,32 (default)  STEPS=N (default: the file's)  BACKEND=webgpu|cpu
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { benchData, machine, requireBuild, root, writeSection } from './lib.mjs';

requireBuild();
const data = benchData();
const codes = (process.env.CODES ?? '4,8,16,32').split(',').map(Number);
const backend = process.env.BACKEND ?? 'webgpu';
const steps = process.env.STEPS;

const runs = mkdtempSync(join(tmpdir(), 'mdlc-sweep-'));

/** What a run directory's metrics.jsonl says: every validation loss by step, steps run, and the last throughput. */
function readMetrics(dir) {
  const lines = readFileSync(join(dir, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  const val = lines.filter((m) => m.val_loss !== undefined).map((m) => ({ step: m.step, loss: m.val_loss }));
  const trained = lines.filter((m) => m.loss !== undefined);
  return { val, steps: trained.at(-1)?.step, tokensPerSecond: trained.at(-1)?.tokens_per_s };
}

/** `mdlc train models/autoencoder.mdl ARGS...`: its output, wall time and the load around it. */
function train(what, ...args) {
  const load = loadavg()[0];
  const t0 = performance.now();
  const dir = join(runs, what.replace(/\W+/g, '-'));
  const r = spawnSync(process.execPath, ['bin/mdlc.js', 'train', 'models/autoencoder.mdl', '--backend', backend, '--data', data, '--run-dir', dir, '--log-every', '100', ...args], {
    cwd: root,
    encoding: 'utf8',
    maxBuffer: 1 << 26,
    env: { ...process.env, XDG_RUNTIME_DIR: process.env.XDG_RUNTIME_DIR ?? '/tmp' },
  });
  const seconds = (performance.now() - t0) / 1000;
  if (r.status !== 0) throw new Error(`${what}: mdlc train failed:\n${r.stderr}\n${r.stdout.slice(-2000)}`);
  return { stdout: r.stdout, seconds, load: [load, loadavg()[0]], metrics: readMetrics(dir) };
}

const overfit = train('--overfit', '--overfit');
const reached = /overfit: ok, the loss reached (\d+\.\d+)/.exec(overfit.stdout)?.[1];
const overfitSteps = overfit.metrics.steps;
const overfitLine = `\`--overfit\` at the file's settings: loss ${reached} < 0.05 after ${overfitSteps} steps on one batch of 16 windows (${overfit.seconds.toFixed(0)} s with the build, load ${overfit.load.map((x) => x.toFixed(1)).join(' → ')})`;
console.log(overfitLine);

const rows = [];
for (const code of codes) {
  const { stdout, seconds, load, metrics: log } = train(`code=${code}`, '--set', `code=${code}`, ...(steps ? ['--steps', steps] : []));
  const last = log.val.at(-1);
  if (!last) throw new Error(`code=${code}: no validation loss in the output:\n${stdout.slice(-2000)}`);
  const row = { code, val: last.loss, bits: last.loss / Math.LN2, curve: log.val, seconds, tokensPerSecond: log.tokensPerSecond, load };
  rows.push(row);
  console.log(`code ${code}: val ${row.val.toFixed(4)} nats = ${row.bits.toFixed(3)} bits/char after ${last.step} steps; ${seconds.toFixed(0)} s, ${row.tokensPerSecond} tokens/s, load ${row.load.map((x) => x.toFixed(1)).join(' → ')}`);
}
rmSync(runs, { recursive: true, force: true });

rows.sort((a, b) => a.code - b.code);
const steps0 = rows[0].curve.map((c) => c.step);
const table = [
  `| code (numbers per slot) | code size (8 slots) | val loss (nats/char) | bits/char | ${steps0.map((s) => `val @${s}`).join(' | ')} | run time | tokens/s | load (1 min, start → end) |`,
  `|---:|---:|---:|---:|${steps0.map(() => '---:').join('|')}|---:|---:|---|`,
  ...rows.map(
    (r) =>
      `| ${r.code} | ${r.code * 8} | ${r.val.toFixed(4)} | ${r.bits.toFixed(3)} | ${r.curve.map((c) => c.loss.toFixed(3)).join(' | ')} | ${(r.seconds / 60).toFixed(1)} min | ${r.tokensPerSecond} | ${r.load.map((x) => x.toFixed(1)).join(' → ')} |`,
  ),
];
for (const l of table) console.log(l);
writeSection(
  'autoencoder-sweep',
  `## Autoencoder: validation reconstruction against the code width

\`node bench/autoencoder-sweep.mjs\`: \`models/autoencoder.mdl\` trained on Tiny Shakespeare at the
file's settings (${steps ? `${steps} steps` : 'its steps'}, batch 16 × window 64, 8 slots) on the \`${backend}\` backend, with
\`--set code=N\`. The loss is the validation cross-entropy of rebuilding every character of a
window from its code (nats per character; bits = nats / ln 2). For scale: predicting each
window's own character histogram at every position (what a code that keeps only the bag of
characters allows) scores 2.96 nats on validation windows of 64, and the character
frequencies of the whole text 3.31. Machine: ${machine()}; the load column is the 1-minute load average (2 cores)
when each run started and ended: other work shared the machine.

${overfitLine}.

${table.join('\n')}
`,
);
