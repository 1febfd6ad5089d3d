// Cold-start breakdown for the transformer at nanoGPT's CPU configuration: how long lavapipe
// (LLVM) takes to compile each distinct kernel, with Mesa's shader cache disabled, so that the
// kernels worth simplifying are known. Each kernel's pipeline is created and dispatched once
// on its own; the time covers WGSL → SPIR-V → LLVM → machine code. LAYERS overrides the depth.
// lavapipe compiles a pipeline when it is first dispatched, on its one queue thread, so
// `Model.create`'s concurrent createComputePipelineAsync calls do not overlap compiles: the
// first training step pays the sum. Besides wall time the process's CPU time (all its
// threads) is recorded: about the wall time under heavy load, about twice it when a core is
// free (another thread of the driver runs alongside the compiles).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cpus, loadavg } from 'node:os';
import { buildTransformer, importDist, machine, nanoGptSettings, requireBuild, totalsByKind, writeSection } from './lib.mjs';

requireBuild();
if (process.argv[2] === '--concurrent') {
  // A child with an empty shader cache of its own: the kernels compiled as `mdlc train` does
  // (helper devices at once, runtime/shader-cache.ts), then on the model's device from the cache.
  const { ctx, result: r, out } = await buildTransformer(nanoGptSettings(), 'compile');
  rmSync(out, { recursive: true, force: true });
  const { warmShaderCache } = await importDist('runtime/shader-cache.js');
  const { PlanModel } = await importDist('runtime/plan.js');
  const { awaitGpu } = await importDist('runtime/gpu-wait.js');
  const warm = await warmShaderCache(ctx, r.plan.kernels.map((k) => k.code));
  const t = performance.now();
  const { runnablePlan } = await importDist('src/browser.js');
  const model = await awaitGpu(PlanModel.create(ctx.device, runnablePlan(r.plan)));
  const mainSeconds = (performance.now() - t) / 1000;
  model.destroy();
  ctx.destroy();
  console.log(JSON.stringify({ ...warm, mainSeconds }));
  process.exit(0);
}
if (process.env.MESA_SHADER_CACHE_DISABLE !== 'true') {
  // The cache must be off before Mesa loads: run again in a child with it disabled, then the
  // concurrent compile in a child with an empty cache directory.
  const r = spawnSync(process.execPath, [new URL(import.meta.url).pathname], { env: { ...process.env, MESA_SHADER_CACHE_DISABLE: 'true' }, stdio: 'inherit' });
  process.exit(r.status ?? 1);
}
const set = nanoGptSettings();
const layers = set.layers;
const { ctx, variant, result: r, out } = await buildTransformer(set, 'compile');
const device = ctx.device;
rmSync(out, { recursive: true, force: true });
const plan = r.plan;

const layout = device.createBindGroupLayout({ entries: [0, 1].map((binding) => ({ binding, visibility: GPUShaderStage.COMPUTE, buffer: { type: 'storage' } })) });
const offsetsLayout = device.createBindGroupLayout({ entries: [{ binding: 0, visibility: GPUShaderStage.COMPUTE, buffer: { type: 'uniform' } }] });
const pipelineLayout = device.createPipelineLayout({ bindGroupLayouts: [layout, offsetsLayout] });
const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST;
const arena = device.createBuffer({ size: 1 << 16, usage });
const iarena = device.createBuffer({ size: 1 << 16, usage });
const offsets = device.createBuffer({ size: 4096, usage: GPUBufferUsage.UNIFORM });
const groups = [
  device.createBindGroup({ layout, entries: [arena, iarena].map((buffer, binding) => ({ binding, resource: { buffer } })) }),
  device.createBindGroup({ layout: offsetsLayout, entries: [{ binding: 0, resource: { buffer: offsets } }] }),
];

const rows = [];
const t0 = performance.now();
for (const k of plan.kernels) {
  const start = performance.now();
  const cpu0 = process.cpuUsage();
  const pipeline = device.createComputePipeline({ layout: pipelineLayout, compute: { module: device.createShaderModule({ code: k.code }), entryPoint: 'main' } });
  // One workgroup over zeroed offsets: every access stays inside the small buffers (robust access clamps the rest).
  const enc = device.createCommandEncoder();
  const pass = enc.beginComputePass();
  pass.setPipeline(pipeline);
  groups.forEach((g, i) => pass.setBindGroup(i, g));
  pass.dispatchWorkgroups(1);
  pass.end();
  device.queue.submit([enc.finish()]);
  await device.queue.onSubmittedWorkDone();
  const cpu = process.cpuUsage(cpu0);
  rows.push({ name: k.name, kind: k.kind, dispatches: k.uses.length, s: (performance.now() - start) / 1000, cpu: (cpu.user + cpu.system) / 1e6 });
}
const total = (performance.now() - t0) / 1000;
ctx.destroy();

// What `mdlc train` pays: the same kernels compiled concurrently on helper devices into an empty
// cache of the child's own, then on the model's device (cache hits).
const cacheDir = mkdtempSync(join(tmpdir(), 'mesa-cache-'));
const { MESA_SHADER_CACHE_DISABLE: _, ...cacheOn } = process.env;
const child = spawnSync(process.execPath, [new URL(import.meta.url).pathname, '--concurrent'], { env: { ...cacheOn, MESA_SHADER_CACHE_DIR: cacheDir }, encoding: 'utf8' });
rmSync(cacheDir, { recursive: true, force: true });
if (child.status !== 0) throw new Error(`concurrent compile child failed: ${child.stderr}`);
const concurrent = JSON.parse(child.stdout.trim().split('\n').at(-1));
const kinds = totalsByKind(rows, 's');
const cpuByKind = new Map(totalsByKind(rows, 'cpu'));
const cpuTotal = rows.reduce((a, x) => a + x.cpu, 0);
const load = loadavg()[0];
const slowest = [...rows].sort((a, b) => b.s - a.s).slice(0, 8);
console.log(`adapter ${ctx.description} (${variant} GEMMs): ${rows.length} kernels compiled one after another in ${total.toFixed(1)} s (CPU ${cpuTotal.toFixed(1)} s), load average ${load.toFixed(1)}`);
for (const [kind, e] of kinds) console.log(`  ${kind.padEnd(12)} ${String(e.n).padStart(3)} kernels ${e.total.toFixed(1).padStart(6)} s (CPU ${cpuByKind.get(kind).total.toFixed(1)} s)`);
for (const x of slowest) console.log(`  ${x.name.padEnd(16)} ${x.s.toFixed(2).padStart(6)} s (CPU ${x.cpu.toFixed(2)} s)`);
console.log(`concurrently, as mdlc train does: ${concurrent.kernels} kernels on ${concurrent.devices} helper devices in ${concurrent.seconds.toFixed(1)} s, then the model's device ${concurrent.mainSeconds.toFixed(2)} s (cache hits)`);
writeSection(
  'compile-webgpu',
  `## Kernel compile time (cold start)

Measured by \`node bench/compile-webgpu.mjs\` on ${machine()}, ${new Date().toISOString().slice(0, 10)}, adapter ${ctx.description}, Mesa's shader cache disabled, load average (1 min) ${load.toFixed(1)} on ${cpus().length} cores: the transformer at nanoGPT's CPU configuration (${layers} layers), each distinct kernel compiled and dispatched once, one after another. lavapipe compiles a pipeline at its first dispatch on its one queue thread, so \`Model.create\`'s concurrent \`createComputePipelineAsync\` calls do not overlap compiles and the first training step pays the sum. CPU time is the process's, all its threads: about the wall time under heavy load, about twice it when a core is free (another thread of the driver runs alongside the compiles).

| kernel kind | kernels | compile time | CPU time |
|---|---|---|---|
${kinds.map(([kind, e]) => `| ${kind} | ${e.n} | ${e.total.toFixed(1)} s | ${cpuByKind.get(kind).total.toFixed(1)} s |`).join('\n')}
| **all** | ${rows.length} | ${total.toFixed(1)} s | ${cpuTotal.toFixed(1)} s |

Slowest: ${slowest.map((x) => `${x.name} ${x.s.toFixed(1)} s (CPU ${x.cpu.toFixed(1)} s)`).join(', ')}.

What \`mdlc train\` pays instead (runtime/shader-cache.ts), measured in a child process with an empty shader cache directory of its own: the same ${concurrent.kernels} kernels compiled on ${concurrent.devices} helper devices at once in ${concurrent.seconds.toFixed(1)} s, then all of them on the model's device in ${concurrent.mainSeconds.toFixed(2)} s (Mesa's shader cache hits).
`,
);
process.exit(0);
