// Training throughput of the cpu backend (the reference interpreter) on a small transformer:
// tokens per second over a few steps of models/transformer.mdl on Tiny Shakespeare.
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { benchData, machine, requireBuild, root, writeSection } from './lib.mjs';

requireBuild();
const data = benchData();
const imp = (p) => import(pathToFileURL(join(root, 'dist', p)).href);
const { openSession } = await imp('src/train/session.js');
const { CpuBackend } = await imp('src/train/cpu.js');
const { trainLoop } = await imp('runtime/loop.js');
const { readSourceFile } = await imp('src/parser/index.js');

const configs = [
  { name: 'small (1 layer, embed 32, seq 16, batch 8)', set: { layers: 1, embed: 32, heads: 2, seq: 16, batch: 8 }, steps: 20 },
  { name: 'nanoGPT CPU size (4 layers, embed 128, seq 64, batch 12)', set: { layers: 4, embed: 128, heads: 4, seq: 64, batch: 12 }, steps: 3 },
];
const rows = [];
for (const c of configs) {
  const { source } = readSourceFile(join(root, 'models', 'transformer.mdl'));
  const overrides = new Map(Object.entries({ ...c.set, eval_every: 1e9 }));
  const opened = await openSession(source, { dataPath: data, overrides });
  if (!opened.ok) throw new Error('model does not compile');
  const s = opened.session;
  // The one training loop on the interpreter; the loop's throughput leaves out the first step (JIT warm-up).
  const backend = new CpuBackend(s.model, s.step, s.spec.seed);
  const r = await trainLoop(backend, { ...s.spec, steps: c.steps + 1, evalBatches: 1 }, { ...s.split, decode: (t) => s.vocab.decode(t) }, { rates: s.rates, checkpointEvery: 0 });
  const finalLoss = r.losses.at(-1);
  rows.push({ ...c, tps: r.tokensPerSecond, loss: finalLoss });
  console.log(`${c.name}: ${r.tokensPerSecond.toFixed(0)} tokens/s (${c.steps} steps, final loss ${finalLoss.toFixed(3)})`);
}
writeSection(
  'train-cpu',
  `## cpu backend training throughput

Measured by \`node bench/train-cpu.mjs\` on ${machine()}, ${new Date().toISOString().slice(0, 10)}: \`models/transformer.mdl\` on Tiny Shakespeare, f32, single-threaded JavaScript interpreter.

| config | tokens/s |
|---|---|
${rows.map((r) => `| ${r.name} | ${r.tps.toFixed(0)} |`).join('\n')}
`,
);
