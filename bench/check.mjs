// How long `mdlc check` takes on the reference models: as a whole process (what a user or CI
// waits for, Node start-up included) and in-process once warm (the compiler's own work).
// Also at --set seq=8192, where masks must be reasoned about symbolically (a causal mask, a
// sliding window, and a mask that starves a row, which the checker must find), not by
// visiting seq × seq positions.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { machine, median, requireBuild, root, writeSection } from './lib.mjs';

requireBuild();
const runs = Number(process.env.RUNS ?? 10);
const { compileSource } = await import(pathToFileURL(join(root, 'dist/src/driver/index.js')).href);
const load = [loadavg()[0]];
const tmp = mkdtempSync(join(tmpdir(), 'mdlc-bench-check-'));
const transformer = readFileSync(join(root, 'models/transformer.mdl'), 'utf8');
const CAUSAL = 's = where(key > seq, -inf, s)';
/** A copy of the transformer with its mask line replaced, as a file the CLI can check. */
const variant = (name, mask) => {
  const path = join(tmp, `${name}.mdl`);
  writeFileSync(path, transformer.replace(CAUSAL, mask));
  return path;
};
const cases = [
  { label: 'models/transformer.mdl', path: join(root, 'models/transformer.mdl'), set: [], expect: 0 },
  { label: 'models/autoencoder.mdl', path: join(root, 'models/autoencoder.mdl'), set: [], expect: 0 },
  { label: 'models/transformer.mdl --set seq=8192 --set batch=1', path: join(root, 'models/transformer.mdl'), set: ['seq=8192', 'batch=1'], expect: 0 },
  {
    label: 'the transformer with a sliding window (two nested masks), --set seq=8192 --set batch=1',
    path: variant('sliding-window', 's = where(key < seq - 256, -inf, where(key > seq, -inf, s))'),
    set: ['seq=8192', 'batch=1'],
    expect: 0,
  },
  { label: 'the transformer with `key >= seq` (E0602 at row 0), --set seq=8192 --set batch=1', path: variant('starved-row', 's = where(key >= seq, -inf, s)'), set: ['seq=8192', 'batch=1'], expect: 1 },
];
const rows = [];
for (const c of cases) {
  const args = c.set.flatMap((s) => ['--set', s]);
  const proc = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    const r = spawnSync(process.execPath, [join(root, 'bin/mdlc.js'), 'check', c.path, ...args], { cwd: root, encoding: 'utf8' });
    proc.push(performance.now() - t0);
    if (r.status !== c.expect) throw new Error(`mdlc check ${c.label} exited ${r.status}, expected ${c.expect}: ${r.stderr}`);
  }
  const text = readFileSync(c.path, 'utf8');
  const overrides = new Map(c.set.map((s) => s.split('=')).map(([k, v]) => [k, Number(v)]));
  const compile = () => compileSource({ path: c.path, text }, { overrides });
  const first = performance.now();
  compile();
  const cold = performance.now() - first;
  const warm = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    compile();
    warm.push(performance.now() - t0);
  }
  rows.push({ label: c.label, process: median(proc), cold, warm: median(warm) });
  console.log(`${c.label}: mdlc check process ${median(proc).toFixed(0)} ms (median of ${runs}); in-process first ${cold.toFixed(1)} ms, warm ${median(warm).toFixed(1)} ms`);
}
rmSync(tmp, { recursive: true, force: true });
load.push(loadavg()[0]);
writeSection(
  'check',
  `## \`mdlc check\` time

Measured by \`node bench/check.mjs\` on ${machine()}, ${new Date().toISOString().slice(0, 10)}; medians of ${runs} runs. The one-minute load average was ${load[0].toFixed(1)} before and ${load[1].toFixed(1)} after${load[0] > 1 || load[1] > 1 ? ' (other jobs shared the machine: the figures are slower than on an idle one)' : ''}.

| model | \`mdlc check\` process (Node start-up included) | in-process, first call | in-process, warm |
|---|---|---|---|
${rows.map((r) => `| ${r.label} | ${r.process.toFixed(0)} ms | ${r.cold.toFixed(1)} ms | ${r.warm.toFixed(1)} ms |`).join('\n')}

At \`--set seq=8192\` (with \`--set batch=1\`: at batch 12 the attention scores would be 3.2 billion elements, over the size limit E0211) the masks are reasoned about as offset ranges (\`key - seq ∈ [-inf, 0]\`), so checking them costs the same at any \`seq\`. For comparison, the checker before that (commit cf0cd3e) evaluated masks position by position: in-process, the sliding-window variant took 0.4 s at seq = 1024 and 6.9 s at seq = 4096 (measured once, on 2026-12-03 on this machine, under the same load).
`,
);
