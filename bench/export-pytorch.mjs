// The PyTorch export against mdlc: per-step training losses of the exported train.py and of
// mdlc's reference interpreter from the same initial weights on the same batches (float32
// and float64), and of torchrun with 2 processes against 1 process; PyTorch's tokens/s.
// Needs `npm run build`, torch (scripts/install-torch.sh; $MDLC_PYTHON picks the Python) and
// the Tiny Shakespeare text ($DATA).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { benchData, importDist, machine, median, requireBuild, root, writeSection } from './lib.mjs';

requireBuild();
const data = benchData();
const python = process.env.MDLC_PYTHON ?? '/usr/bin/python3';
const probe = spawnSync(python, ['-c', 'import torch; print(torch.__version__)'], { encoding: 'utf8' });
if (probe.status !== 0) {
  console.error(`bench: ${python} cannot import torch (run scripts/install-torch.sh, or set MDLC_PYTHON)`);
  process.exit(2);
}
const torchVersion = probe.stdout.trim();
const { openSession, sliceFeeds, stepScalars } = await importDist('src/train/session.js');
const { readSourceFile } = await importDist('src/parser/index.js');
const { initParams, interpret, tensor } = await importDist('src/ir/interpret/index.js');
const { exportPytorch, writeExport } = await importDist('src/export/index.js');
const { WindowSampler } = await importDist('runtime/data.js');
const { encodeSafetensors } = await importDist('runtime/checkpoint.js');

const tmp = mkdtempSync(join(tmpdir(), 'mdlc-bench-export-'));
const load = loadavg()[0];

/** The losses of `steps` training steps on the interpreter, as the cpu backend trains (at `precision`). */
function interpreterLosses(session, params, steps, precision) {
  const { model, step, batch, window } = session;
  const g = step.graph;
  const sampler = new WindowSampler(session.split.train, window, model.train.seed);
  const type = (name) => g.inputs.find((i) => i.name === name).type;
  const zeros = new Map(g.params.map((p) => [p.name, tensor(p.type, new Float32Array(params.get(p.name).data.length))]));
  let [p, m, v] = [params, zeros, zeros];
  const outputs = [step.loss, ...step.params.flatMap((x) => [x.newParam, x.newM, x.newV])];
  const losses = [];
  for (let t = 0; t < steps; t++) {
    const inputs = new Map();
    for (const [name, d] of sliceFeeds(model, sampler.nextBatch(batch), batch, window)) inputs.set(name, tensor(type(name), d));
    for (const [name, value] of stepScalars(session, t)) inputs.set(name, tensor({ dtype: 'f32', axes: [] }, [value]));
    for (const q of g.params) inputs.set(`m:${q.name}`, m.get(q.name)).set(`v:${q.name}`, v.get(q.name));
    const out = interpret(g, { params: p, inputs }, { precision, outputs });
    losses.push(out.get(step.loss).data[0]);
    [p, m, v] = ['newParam', 'newM', 'newV'].map((k) => new Map(step.params.map((x) => [x.param.name, out.get(x[k])])));
  }
  return losses;
}

async function exported(file, sets, tag) {
  const source = readSourceFile(join(root, 'models', file)).source;
  const overrides = new Map(Object.entries(sets));
  const opened = await openSession(source, { dataPath: data, overrides });
  if (!opened.ok) throw new Error(`${file} does not compile`);
  const dir = join(tmp, tag);
  writeExport(dir, exportPytorch(opened.session.model, { source, vocab: opened.session.vocab.chars, overrides, version: 'bench' }));
  const params = initParams(opened.session.step.graph, opened.session.model.train.seed, 'f32');
  const weights = join(dir, 'init.safetensors');
  const stored = new Map([...params].map(([k, t]) => [k, { dtype: 'F32', shape: t.type.axes.map((a) => a.size), data: t.data }]));
  writeFileSync(weights, encodeSafetensors(stored, { format: 'mdlc/1' }));
  return { session: opened.session, dir, params, weights };
}

/** Run train.py (under torchrun with `procs` > 1): per-step losses and the median tokens/s after the first step. */
function trainPy(e, name, procs, args = []) {
  const runDir = join(e.dir, `run-${name}`);
  const script = [join(e.dir, 'train.py'), '--data', data, '--run-dir', runDir, '--quiet', ...args];
  const argv = procs > 1 ? ['-m', 'torch.distributed.run', '--standalone', '--nproc_per_node', String(procs), '--redirects', '1', '--tee', '1', ...script] : script;
  const env = { ...process.env, OMP_NUM_THREADS: '1' };
  const r = spawnSync(python, argv, { encoding: 'utf8', env });
  if (r.status !== 0) throw new Error(`train.py failed:\n${r.stdout.slice(-2000)}\n${r.stderr.slice(-2000)}`);
  const lines = readFileSync(join(runDir, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l)).filter((l) => 'loss' in l);
  return { losses: lines.map((l) => l.loss), tokensPerS: median(lines.slice(1).map((l) => l.tokens_per_s)) };
}

const maxRel = (a, b) => Math.max(...a.map((x, i) => Math.abs(x - b[i]) / Math.abs(b[i])));
const fmt = (x) => x.toExponential(1);

const TRAIN = { warmup: 10, lr: 0.005, eval_every: 1e9 };
const cases = [
  { label: 'transformer, tiny (2 layers, embed 16, seq 8, batch 4)', file: 'transformer.mdl', sets: { ...TRAIN, layers: 2, embed: 16, heads: 2, seq: 8, batch: 4, steps: 50 } },
  { label: 'autoencoder, tiny (1 layer, embed 16, seq 8, batch 4, 2 slots of 4)', file: 'autoencoder.mdl', sets: { ...TRAIN, layers: 1, embed: 16, heads: 2, seq: 8, batch: 4, latent: 2, code: 4, steps: 50 } },
  { label: "transformer, nanoGPT's CPU size (4 layers, embed 128, seq 64, batch 12)", file: 'transformer.mdl', sets: { ...TRAIN, warmup: 5, lr: 0.001, layers: 4, embed: 128, heads: 4, seq: 64, batch: 12, steps: 20 } },
];
const parity = [];
const ddp = [];
for (const [i, c] of cases.entries()) {
  const e = await exported(c.file, c.sets, `case${i}`);
  const steps = c.sets.steps;
  const cpu32 = interpreterLosses(e.session, e.params, steps, 'f32');
  const cpu64 = interpreterLosses(e.session, e.params, steps, 'f64');
  const py32 = trainPy(e, 'f32', 1, ['--init-from', e.weights]);
  const py64 = trainPy(e, 'f64', 1, ['--init-from', e.weights, '--dtype', 'float64']);
  const recipe = trainPy(e, 'recipe', 1);
  const row = { label: c.label, steps, first: cpu32[0], last: cpu32.at(-1), f32: maxRel(py32.losses, cpu32), f64: maxRel(py64.losses, cpu64), recipe: maxRel(recipe.losses, cpu32) };
  parity.push(row);
  console.log(`${c.label}: ${steps} steps, loss ${row.first.toFixed(3)} → ${row.last.toFixed(3)}; largest relative difference float32 ${fmt(row.f32)}, float64 ${fmt(row.f64)}, recipe alone ${fmt(row.recipe)}`);
  if (c.file === 'transformer.mdl') {
    const two = trainPy(e, 'two', 2);
    const one64 = trainPy(e, 'one64', 1, ['--dtype', 'float64']);
    const two64 = trainPy(e, 'two64', 2, ['--dtype', 'float64']);
    const d = { label: c.label, steps, diff: maxRel(two.losses, recipe.losses), diff64: maxRel(two64.losses, one64.losses), one: recipe.tokensPerS, two: two.tokensPerS };
    ddp.push(d);
    console.log(`  torchrun 2 processes vs 1: largest relative difference ${fmt(d.diff)} (float64 ${fmt(d.diff64)}); ${d.one.toFixed(0)} vs ${d.two.toFixed(0)} tokens/s`);
  }
}
rmSync(tmp, { recursive: true, force: true });

writeSection(
  'export-pytorch',
  `## PyTorch export: parity with mdlc, and torchrun

Measured by \`node bench/export-pytorch.mjs\` on ${machine()}, PyTorch ${torchVersion} (Debian's python3-torch, CPU), ${new Date().toISOString().slice(0, 10)}. Load average (1 min) ${load.toFixed(1)} on 2 cores before the run: other work shared the machine, so the tokens/s are low and noisy; the differences are not affected.
Each row exports \`models/<model>\` at the sizes given (\`mdlc export --target pytorch --set ...\`) on Tiny Shakespeare, writes mdlc's initial weights (seed 1337) as a \`model.safetensors\`, and trains \`train.py --init-from\` it; mdlc's reference interpreter trains the same steps from the same weights on the same windows. Largest relative difference of the per-step training losses over the run: in float32 (mdlc's precision), in float64 (\`--dtype float64\` against the interpreter at f64: the same arithmetic, rounding apart), and for \`train.py\` with no weights given (mdlc's initialisation and window sampler, ported to Python) against the interpreter in float32. lr ${TRAIN.lr} (0.001 at nanoGPT's size) with warmup_cosine.

| model and size | steps | loss (first → last) | float32 | float64 | recipe alone, float32 |
|---|---|---|---|---|---|
${parity.map((r) => `| ${r.label} | ${r.steps} | ${r.first.toFixed(3)} → ${r.last.toFixed(3)} | ${fmt(r.f32)} | ${fmt(r.f64)} | ${fmt(r.recipe)} |`).join('\n')}

\`torchrun --standalone --nproc_per_node 2\` (DistributedDataParallel over gloo; each process takes half the rows of every global batch) against one process: largest relative difference of the per-step losses in float32 and in float64, and float32 training throughput (median of the steps after the first; one thread per process, OpenBLAS).

| model and size | steps | 2 processes vs 1, float32 | float64 | tokens/s, 1 process | tokens/s, 2 processes |
|---|---|---|---|---|---|
${ddp.map((d) => `| ${d.label} | ${d.steps} | ${fmt(d.diff)} | ${fmt(d.diff64)} | ${d.one.toFixed(0)} | ${d.two.toFixed(0)} |`).join('\n')}
`,
);
