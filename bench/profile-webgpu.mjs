// Per-dispatch profile of the transformer's WebGPU training step at nanoGPT's CPU
// configuration: each dispatch of the step is replayed on its own (repeated, one submit)
// and timed, then the times are summed by kernel kind and listed for the slowest
// dispatches with their GFLOP/s. Prints only (no BENCHMARKS.md section): it is a tool for
// finding where a step's time goes. LAYERS, REPEAT and TOP override the defaults.
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { buildTransformer, importDist, median, nanoGptSettings, requireBuild, totalsByKind } from './lib.mjs';

requireBuild();
const repeat = Number(process.env.REPEAT ?? 5);
const top = Number(process.env.TOP ?? 25);
const set = nanoGptSettings();
const layers = set.layers;

const { OFFSETS_BLOCK } = await importDist('src/codegen/offsets.js');
const { ctx, variant, opened, result: r, out } = await buildTransformer(set, 'profile', process.env.GEMM);
const plan = r.plan;
const generated = await import(pathToFileURL(join(out, 'model.js')).href);
const { Model } = generated;
// OVERRIDE=dir: replace kernels by dir/<name>.wgsl where present (for trying kernel edits).
if (process.env.OVERRIDE) {
  const { readdirSync, readFileSync } = await import('node:fs');
  for (const f of readdirSync(process.env.OVERRIDE)) {
    const name = f.replace(/\.wgsl$/, '');
    if (name in generated.KERNELS) generated.KERNELS[name] = readFileSync(join(process.env.OVERRIDE, f), 'utf8');
  }
}
const model = await Model.create(ctx.device);
rmSync(out, { recursive: true, force: true });

// Realistic values: small random parameters and real token windows, then one real step.
const { initParameters } = await importDist('runtime/init.js');
model.setParams(initParameters(plan.params, 1));
const vocab = opened.session.vocab.size;
const tokens = () => Int32Array.from({ length: set.batch * set.seq }, (_, i) => (i * 7919) % vocab);
const windows = new Map([['tokens', tokens()], ['targets', tokens()]]);
await model.trainStep(windows, { lr: [1e-3], bc1: 0.1, bc2: 0.01 });

const byName = new Map(plan.kernels.map((k) => [k.name, k]));
const device = ctx.device;
async function time(calls, reps) {
  const enc = device.createCommandEncoder();
  const pass = enc.beginComputePass();
  pass.setBindGroup(0, model.bindGroup);
  for (let r = 0; r < reps; r++)
    for (const i of calls) {
      const c = plan.entries.train[i];
      pass.setBindGroup(1, model.offsets, [i * OFFSETS_BLOCK]);
      pass.setPipeline(model.pipeline(c.kernel));
      pass.dispatchWorkgroups(...c.dispatch);
    }
  pass.end();
  const t0 = performance.now();
  device.queue.submit([enc.finish()]);
  await device.queue.onSubmittedWorkDone();
  return (performance.now() - t0) / reps;
}

// The generated trainStep itself (inputs written, one submit, the loss read back).
const stepTimes = [];
for (let i = 0; i < 5; i++) {
  const t0 = performance.now();
  await model.trainStep(windows, { lr: [1e-3], bc1: 0.1, bc2: 0.01 });
  stepTimes.push(performance.now() - t0);
}
const all = plan.entries.train.map((_, i) => i);
const only = process.env.ONLY ? process.env.ONLY.split(',').map(Number) : all;
await time(all, 1);
const wholeStep = median([await time(all, 1), await time(all, 1), await time(all, 1)]);
const rows = [];
for (const i of only) {
  const c = plan.entries.train[i];
  const k = byName.get(c.kernel);
  const ms = median([await time([i], repeat), await time([i], repeat), await time([i], repeat)]);
  rows.push({ i, kernel: c.kernel, kind: k.kind, what: c.what, ms, gflops: k.flops / ms / 1e6, gbs: k.bytes / ms / 1e6 });
}
const sum = rows.reduce((s, x) => s + x.ms, 0);
console.log(`adapter ${ctx.description} (${variant} GEMMs), ${layers} layers: ${rows.length} dispatches`);
console.log(`model.trainStep: ${median(stepTimes).toFixed(1)} ms; whole step replayed: ${wholeStep.toFixed(1)} ms; dispatches one by one: ${sum.toFixed(1)} ms`);
for (const [kind, e] of totalsByKind(rows, 'ms')) console.log(`  ${kind.padEnd(12)} ${String(e.n).padStart(4)} dispatches ${e.total.toFixed(1).padStart(8)} ms`);
if (process.env.ALL) for (const x of rows) console.log(`  #${String(x.i).padStart(3)} ${x.kernel.padEnd(16)} ${x.ms.toFixed(2).padStart(7)} ms ${x.gflops.toFixed(1).padStart(6)} GFLOP/s ${x.gbs.toFixed(2).padStart(6)} GB/s  ${x.what}`);
console.log(`slowest ${top}:`);
for (const x of [...rows].sort((a, b) => b.ms - a.ms).slice(0, top))
  console.log(`  #${String(x.i).padStart(3)} ${x.kernel.padEnd(16)} ${x.ms.toFixed(2).padStart(7)} ms ${x.gflops.toFixed(1).padStart(6)} GFLOP/s ${x.gbs.toFixed(2).padStart(6)} GB/s  ${x.what}`);
ctx.destroy();
process.exit(0);
