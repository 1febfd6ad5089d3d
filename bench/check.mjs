// How long `mdlc check` takes on the reference models: as a whole process (what a user or CI
// waits for, Node start-up included) and in-process once warm (the compiler's own work).
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { machine, median, requireBuild, root, writeSection } from './lib.mjs';

requireBuild();
const runs = Number(process.env.RUNS ?? 10);
const { compileFile } = await import(pathToFileURL(join(root, 'dist/src/driver/index.js')).href);
const rows = [];
for (const model of ['models/transformer.mdl', 'models/autoencoder.mdl']) {
  const proc = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    const r = spawnSync(process.execPath, [join(root, 'bin/mdlc.js'), 'check', model], { cwd: root, encoding: 'utf8' });
    proc.push(performance.now() - t0);
    if (r.status !== 0) throw new Error(`mdlc check ${model} exited ${r.status}: ${r.stderr}`);
  }
  const first = performance.now();
  compileFile(join(root, model));
  const cold = performance.now() - first;
  const warm = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    compileFile(join(root, model));
    warm.push(performance.now() - t0);
  }
  rows.push({ model, process: median(proc), cold, warm: median(warm) });
  console.log(`${model}: mdlc check process ${median(proc).toFixed(0)} ms (median of ${runs}); in-process first ${cold.toFixed(1)} ms, warm ${median(warm).toFixed(1)} ms`);
}
writeSection(
  'check',
  `## \`mdlc check\` time

Measured by \`node bench/check.mjs\` on ${machine()}, ${new Date().toISOString().slice(0, 10)}; medians of ${runs} runs.

| model | \`mdlc check\` process (Node start-up included) | in-process, first call | in-process, warm |
|---|---|---|---|
${rows.map((r) => `| ${r.model} | ${r.process.toFixed(0)} ms | ${r.cold.toFixed(1)} ms | ${r.warm.toFixed(1)} ms |`).join('\n')}
`,
);
