// Cold-start breakdown for the transformer at nanoGPT's CPU configuration: how long lavapipe
// (LLVM) takes to compile each distinct kernel, with Mesa's shader cache disabled, so that the
// kernels worth simplifying are known. Each kernel's pipeline is created and dispatched once
// on its own; the time covers WGSL → SPIR-V → LLVM → machine code. LAYERS overrides the depth.
import { spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { buildTransformer, machine, nanoGptSettings, requireBuild, totalsByKind, writeSection } from './lib.mjs';

requireBuild();
if (process.env.MESA_SHADER_CACHE_DISABLE !== 'true') {
  // The cache must be off before Mesa loads: run again in a child with it disabled.
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
  rows.push({ name: k.name, kind: k.kind, dispatches: k.uses.length, s: (performance.now() - start) / 1000 });
}
const total = (performance.now() - t0) / 1000;
const kinds = totalsByKind(rows, 's');
const slowest = [...rows].sort((a, b) => b.s - a.s).slice(0, 8);
console.log(`adapter ${ctx.description} (${variant} GEMMs): ${rows.length} kernels compiled one after another in ${total.toFixed(1)} s`);
for (const [kind, e] of kinds) console.log(`  ${kind.padEnd(12)} ${String(e.n).padStart(3)} kernels ${e.total.toFixed(1).padStart(6)} s`);
for (const x of slowest) console.log(`  ${x.name.padEnd(16)} ${x.s.toFixed(2).padStart(6)} s`);
writeSection(
  'compile-webgpu',
  `## Kernel compile time (cold start)

Measured by \`node bench/compile-webgpu.mjs\` on ${machine()}, ${new Date().toISOString().slice(0, 10)}, adapter ${ctx.description}, Mesa's shader cache disabled: the transformer at nanoGPT's CPU configuration (${layers} layers), each distinct kernel compiled and dispatched once, one after another (\`Model.create\` compiles them concurrently, so its cold start is shorter than the sum).

| kernel kind | kernels | compile time |
|---|---|---|
${kinds.map(([kind, e]) => `| ${kind} | ${e.n} | ${e.total.toFixed(1)} s |`).join('\n')}
| **all** | ${rows.length} | ${total.toFixed(1)} s |

Slowest: ${slowest.map((x) => `${x.name} ${x.s.toFixed(1)} s`).join(', ')}.
`,
);
ctx.destroy();
process.exit(0);
