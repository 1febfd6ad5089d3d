// WebGPU training of the transformer at nanoGPT's CPU configuration (4 layers, 4 heads,
// 128 wide, window 64, batch 12) on Tiny Shakespeare: kernels and dispatches per step
// (per layer), submits per step, training tokens/s, and the time to the first step with
// Mesa's shader cache cold and warm. Each timing runs in a fresh process; RUNS (default 3) warm runs give the throughput.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { benchData, machine, median, requireBuild, root, writeSection } from './lib.mjs';

requireBuild();
const data = benchData();
const steps = Number(process.env.STEPS ?? 30);
const layers = Number(process.env.LAYERS ?? 4);
const runs = Number(process.env.RUNS ?? 3);
const set = { layers, heads: 4, embed: 128, seq: 64, batch: 12, eval_every: 1e9 };

if (process.argv[2] === '--child') {
  // One measured run: build, then train `steps` steps through the generated program.
  const imp = (p) => import(pathToFileURL(join(root, 'dist', p)).href);
  const { openSession } = await imp('src/train/session.js');
  const { readSourceFile } = await imp('src/parser/index.js');
  const { build, targetFor } = await imp('src/codegen/index.js');
  const { acquireDevice } = await imp('runtime/device.js');
  const out = process.argv[3];
  const t0 = performance.now();
  const { source } = readSourceFile(join(root, 'models', 'transformer.mdl'));
  const opened = await openSession(source, { dataPath: data, overrides: new Map(Object.entries(set)) });
  if (!opened.ok) throw new Error('model does not compile');
  const ctx = await acquireDevice();
  const target = targetFor(ctx);
  const variant = target.gemm;
  const adapter = ctx.description;
  ctx.destroy();
  const r = build(opened.session.model, 'models/transformer.mdl', { outDir: out, target });
  const buildSeconds = (performance.now() - t0) / 1000;
  const program = await import(pathToFileURL(join(out, 'train.js')).href);
  const res = await program.train({ data, steps, log: () => {} });
  // Throughput over the steps after the first (the first includes pipeline compilation).
  const laterSteps = res.losses.length - 1;
  console.log(JSON.stringify({ report: r.report, buildSeconds, firstStepSeconds: res.firstStepSeconds, tokensPerSecond: res.tokensPerSecond, steps: res.losses.length, finalLoss: res.losses.at(-1), adapter, variant, laterSteps }));
  process.exit(0);
}

function run(env) {
  // The generated train.js imports `mdlc/runtime`: build inside this package so that the name resolves.
  const buildDir = join(root, 'build', `bench-${process.pid}-${Date.now()}`);
  const r = spawnSync(process.execPath, [new URL(import.meta.url).pathname, '--child', buildDir], { env: { ...process.env, ...env }, encoding: 'utf8', maxBuffer: 1 << 26 });
  rmSync(buildDir, { recursive: true, force: true });
  if (r.status !== 0) throw new Error(`bench child failed: ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').at(-1));
}

const cacheDir = mkdtempSync(join(tmpdir(), 'mesa-cache-'));
const cold = run({ MESA_SHADER_CACHE_DIR: cacheDir });
// Throughput varies run to run on a shared machine: RUNS warm runs, their median and range.
const warms = Array.from({ length: runs }, () => run({ MESA_SHADER_CACHE_DIR: cacheDir }));
rmSync(cacheDir, { recursive: true, force: true });
const warm = warms[0];
const speeds = warms.map((w) => w.tokensPerSecond).sort((a, b) => a - b);
const throughput = `${median(speeds).toFixed(0)} tokens/s${runs > 1 ? ` (median of ${runs} runs: ${speeds.map((x) => x.toFixed(0)).join(', ')})` : ''}`;
const rep = warm.report;
// Dispatches per layer and the fixed part (embeddings, head, loss, optimizer): from the plans at 1 and 2 layers.
const { compileFile } = await import(pathToFileURL(join(root, 'dist', 'src', 'driver', 'index.js')).href);
const { planProgram, targetFor } = await import(pathToFileURL(join(root, 'dist', 'src', 'codegen', 'index.js')).href);
const dispatchesAt = (l) => planProgram(compileFile(join(root, 'models', 'transformer.mdl'), { overrides: new Map(Object.entries({ ...set, layers: l })), data: { vocab: 65 } }).model, { target: targetFor({ isSoftware: warm.variant === 'register' }) }).entries.train.length;
const perLayer = dispatchesAt(2) - dispatchesAt(1);
const fixed = dispatchesAt(1) - perLayer;
const lines = [
  `adapter: ${warm.adapter} (${warm.variant} GEMMs)`,
  `kernels: ${rep.kernels}; per training step: ${rep.perStep.dispatches} dispatches (${perLayer} per layer + ${fixed}), ${rep.perStep.submits} submit, ${(rep.perStep.flops / 1e9).toFixed(2)} GFLOP, peak buffers ${(rep.perStep.peakBufferBytes / 2 ** 20).toFixed(1)} MiB`,
  `dispatch kinds: ${Object.entries(rep.kernelKinds).map(([k, v]) => `${k} ${v}`).join(', ')}`,
  `training: ${throughput} over steps 2..${warm.steps} (evaluation excluded), final loss ${warm.finalLoss.toFixed(3)}`,
  `time to first step: cold shader cache ${(cold.buildSeconds + cold.firstStepSeconds).toFixed(1)} s (build ${cold.buildSeconds.toFixed(1)} s + first step ${cold.firstStepSeconds.toFixed(1)} s), warm ${(warm.buildSeconds + warm.firstStepSeconds).toFixed(1)} s`,
];
for (const l of lines) console.log(l);
writeSection(
  'train-webgpu',
  `## WebGPU training step (transformer, nanoGPT CPU config)

Measured by \`node bench/train-webgpu.mjs\` on ${machine()}, ${new Date().toISOString().slice(0, 10)}, adapter ${warm.adapter}: ${layers} layers, 4 heads, embed 128, window 64, batch 12, vocab 65 (Tiny Shakespeare), ${steps} steps.

| measure | value |
|---|---|
| kernels compiled | ${rep.kernels} |
| dispatches per training step | ${rep.perStep.dispatches}: ${perLayer} per layer + ${fixed} (embeddings, head, loss, optimizer) |
| submits per training step | ${rep.perStep.submits} |
| dispatch kinds per step | ${Object.entries(rep.kernelKinds).map(([k, v]) => `${k} ${v}`).join(', ')} |
| FLOP per step | ${(rep.perStep.flops / 1e9).toFixed(2)} G |
| peak buffer memory | ${(rep.perStep.peakBufferBytes / 2 ** 20).toFixed(1)} MiB |
| training throughput | ${throughput} |
| time to first step, Mesa shader cache cold | ${(cold.buildSeconds + cold.firstStepSeconds).toFixed(1)} s |
| time to first step, shader cache warm | ${(warm.buildSeconds + warm.firstStepSeconds).toFixed(1)} s |
`,
);
