// GEMM throughput on the WebGPU adapter: the generated 'register' kernels (src/codegen/wgsl/gemm.ts)
// at the transformer's shapes and memory layouts (nanoGPT's CPU config: batch 12, seq 64,
// embed 128, heads 4, hidden 512), next to hand-written best cases at the same sizes, measured
// in the same run: WEBGPU-NOTES' kernel (the issue's reference: 8×8 outputs per invocation as
// two vec4 accumulators per row, B and C as array<vec4f>, contiguous row-major operands,
// workgroup (16, 1)) and the same with 16 rows where 16 divides M ≥ 64 (faster there on the
// AMD EPYC of the first measurements; the generator blocks 8 rows since issue 16).
//
//   npm run build && node bench/gemm.mjs
// Options (environment): VARIANT=tiled times the tiled kernels; SHAPES=scores,p·v picks rows;
// TUNINGS='[null,{"swap":true}]' compares register tunings; SHADER_CACHE=1 keeps Mesa's disk
// cache (otherwise disabled so that "first dispatch" shows the compile); NOWRITE=1.
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { machine, median, root, writeSection } from './lib.mjs';

// "first dispatch" should show LLVM's compile, not a hit in Mesa's on-disk shader cache.
if (process.env.SHADER_CACHE !== '1') process.env.MESA_SHADER_CACHE_DISABLE = 'true';

const dist = (p) => import(pathToFileURL(join(root, 'dist', p)).href);
const { acquireDevice } = await dist('runtime/index.js').catch(() => {
  console.error('bench: run `npm run build` first');
  process.exit(2);
});
const { gemmWgsl } = await dist('src/codegen/wgsl/gemm.js');

const variant = process.env.VARIANT ?? 'register';
const secondsPerRun = Number(process.env.SECONDS ?? 0.4);
const repeats = Number(process.env.REPEATS ?? 9);

// ---- shapes ------------------------------------------------------------------------------
const B_ = 12, S = 64, E = 128, H = 4, D = 32, F = 512;
let nextId = 1;
const axis = (name, size) => ({ id: nextId++, name, size });
/** Row-major strides of `axes` (last fastest), as a Map by axis id. */
function rowMajor(axes) {
  const m = new Map();
  let s = 1;
  for (let i = axes.length - 1; i >= 0; i--) {
    m.set(axes[i].id, s);
    s *= axes[i].size;
  }
  return m;
}
const size = (axes) => axes.reduce((n, a) => n * a.size, 1);
const pick = (m, axes) => new Map(axes.map((a) => [a.id, m.get(a.id)]).filter(([, s]) => s !== undefined));

/**
 * Each case: the GEMM as the transformer lays it out (operands in their stored layouts), and
 * its batch/M/N/K for the best-case kernel (which reads contiguous row-major A[M,K], B[K,N]).
 */
function cases() {
  const out = [];
  // x[b, s, e] · W[e, o] for the projections (forward), W as stored: [in, out] row-major.
  const proj = (name, inSize, outSize) => {
    const b = axis('batch', B_), s = axis('seq', S), i = axis('in', inSize), o = axis('out', outSize);
    const x = rowMajor([b, s, i]);
    const w = rowMajor([i, o]);
    const y = rowMajor([b, s, o]);
    out.push({ name, note: 'x[b,s,in] · W[in,out]', batch: [], m: [b, s], n: [o], k: [i], a: x, b: w, out: y, sizes: [1, B_ * S, outSize, inSize] });
  };
  proj('proj 768×128·128×128', E, E);
  proj('mlp up 768×128·128×512', E, F);
  proj('mlp down 768×512·512×128', F, E);
  // attention scores: q[b, s, h, d] · k over d, batch (b, h). Both q and k are stored with d
  // innermost; the compiler has the QKV GEMM also store k as kᵀ[b, h, d, t] (copies.ts).
  // The backward's dp = dO · vᵀ has the same shapes and layouts (v read through vᵀ).
  const scores = (name, note, kLayout) => {
    const b = axis('batch', B_), h = axis('head', H), s = axis('q', S), t = axis('k', S), d = axis('hd', D);
    const q = rowMajor([b, s, h, d]);
    const kk = rowMajor(kLayout({ b, h, t, d }));
    out.push({ name, note, batch: [b, h], m: [s], n: [t], k: [d], a: q, b: kk, out: rowMajor([b, h, s, t]), sizes: [B_ * H, S, S, D] });
  };
  scores('scores 48×(64×64×32)', 'q[b,s,h,d] · kᵀ[b,h,d,t] (the copy), batch (b,h)', ({ b, h, t, d }) => [b, h, d, t]);
  scores('scores via k (no copy)', 'q[b,s,h,d] · k[b,t,h,d], along k', ({ b, h, t, d }) => [b, t, h, d]);

  {
    // p · v: p[b, h, s, t] · v[b, t, h, d] over t.
    const b = axis('batch', B_), h = axis('head', H), s = axis('q', S), t = axis('k', S), d = axis('hd', D);
    const p = rowMajor([b, h, s, t]);
    const v = new Map([[b.id, S * E], [t.id, E], [h.id, D], [d.id, 1]]);
    out.push({ name: 'p·v 48×(64×32×64)', note: 'p[b,h,s,t] · v[b,t,h,d], batch (b,h)', batch: [b, h], m: [s], n: [d], k: [t], a: p, b: v, out: rowMajor([b, s, h, d]), sizes: [B_ * H, S, D, S] });
  }
  // weight gradient dW[in, out] = Σ_{b,s} x[b,s,in] · dy[b,s,out]: k = (b, s) merged.
  const wgrad = (name, inSize, outSize) => {
    const b = axis('batch', B_), s = axis('seq', S), i = axis('in', inSize), o = axis('out', outSize);
    out.push({ name, note: 'x[b,s,in]ᵀ · dy[b,s,out], k = (b,s)', batch: [], m: [i], n: [o], k: [b, s], a: rowMajor([b, s, i]), b: rowMajor([b, s, o]), out: rowMajor([i, o]), sizes: [1, inSize, outSize, B_ * S] });
  };
  wgrad('weight grad 128×768·768×128', E, E);
  wgrad('weight grad mlp up 128×768·768×512', E, F);
  wgrad('weight grad mlp down 512×768·768×128', F, E);
  {
    // data gradient dx[b,s,in] = dy[b,s,out] · W[in,out] over out. The compiler reads the
    // weight's transposed copy Wᵀ[out,in] (kept by the optimizer's update), not W "along k".
    const b = axis('batch', B_), s = axis('seq', S), i = axis('in', F), o = axis('out', E);
    out.push({ name: 'data grad 768×128·128×512', note: 'dy[b,s,out] · Wᵀ[out,in] (the copy)', batch: [], m: [b, s], n: [i], k: [o], a: rowMajor([b, s, o]), b: rowMajor([o, i]), out: rowMajor([b, s, i]), sizes: [1, B_ * S, F, E] });
  }
  {
    // the same read through W itself, as without the copy: B read along k (n-major).
    const b = axis('batch', B_), s = axis('seq', S), i = axis('in', F), o = axis('out', E);
    out.push({ name: 'data grad via W (no copy)', note: 'dy[b,s,out] · W[in,out]ᵀ, along k', batch: [], m: [b, s], n: [i], k: [o], a: rowMajor([b, s, o]), b: rowMajor([i, o]), out: rowMajor([b, s, i]), sizes: [1, B_ * S, F, E] });
  }
  return out;
}

// ---- the best case ------------------------------------------------------------------------
// WEBGPU-NOTES' 8 rows per invocation, and 16 where M allows (measured 15–29 % faster on the
// transformer's large GEMMs, 10–15 % on the attention's 64-row ones).
const rows16 = (M) => M >= 64 && M % 16 === 0;
function bestWgsl(M, N, K, R) {
  const acc = [];
  for (let i = 0; i < R; i++) acc.push(`    let a${i} = A[a_base + ${i * K}u + k];\n    acc[${2 * i}] += a${i} * b0;\n    acc[${2 * i + 1}] += a${i} * b1;`);
  const stores = [];
  for (let i = 0; i < R; i++) stores.push(`  C[c_base + ${(i * N) / 4}u] = acc[${2 * i}];\n  C[c_base + ${(i * N) / 4 + 1}u] = acc[${2 * i + 1}];`);
  return `
@group(0) @binding(0) var<storage, read> A: array<f32>;
@group(0) @binding(1) var<storage, read> B: array<vec4f>;
@group(0) @binding(2) var<storage, read_write> C: array<vec4f>;
@compute @workgroup_size(16, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let col4 = gid.x * 2u;
  if (col4 * 4u >= ${N}u) { return; }
  let row0 = gid.y * ${R}u;
  let a_base = gid.z * ${M * K}u + row0 * ${K}u;
  let b_base = gid.z * ${(K * N) / 4}u + col4;
  let c_base = gid.z * ${(M * N) / 4}u + row0 * ${N / 4}u + col4;
  var acc: array<vec4f, ${2 * R}>;
  for (var k = 0u; k < ${K}u; k = k + 1u) {
    let b0 = B[b_base + k * ${N / 4}u];
    let b1 = B[b_base + k * ${N / 4}u + 1u];
${acc.join('\n')}
  }
${stores.join('\n')}
}
`;
}

const fmtRatio = (r) => `${r.median.toFixed(2)} (${r.low.toFixed(2)}–${r.high.toFixed(2)})`;

// ---- timing -------------------------------------------------------------------------------
const ctx = await acquireDevice();
const device = ctx.device;
console.log(`adapter: ${ctx.description}`);
const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST | GPUBufferUsage.COPY_SRC;

function randomFill(n, seed) {
  const a = new Float32Array(n);
  let s = seed;
  for (let i = 0; i < n; i++) {
    s = (s * 1664525 + 1013904223) >>> 0;
    a[i] = s / 2 ** 32 - 0.5;
  }
  return a;
}

async function compile(code, layout) {
  const module = device.createShaderModule({ code });
  const errors = (await module.getCompilationInfo()).messages.filter((m) => m.type === 'error');
  if (errors.length) throw new Error(errors.map((e) => `${e.lineNum}:${e.linePos} ${e.message}`).join('\n') + '\n' + code);
  return device.createComputePipeline({ layout, compute: { module, entryPoint: 'main' } });
}

/**
 * A timer for `groups` dispatches of `pipeline`: the first dispatch (LLVM's compile at first
 * use included), then `sample()` gives the time of one dispatch from a submit of many.
 */
async function timer(pipeline, bindGroup, groups) {
  const run = async (count) => {
    const encoder = device.createCommandEncoder();
    const pass = encoder.beginComputePass();
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, bindGroup);
    for (let i = 0; i < count; i++) pass.dispatchWorkgroups(...groups);
    pass.end();
    const t0 = performance.now();
    device.queue.submit([encoder.finish()]);
    await device.queue.onSubmittedWorkDone();
    return performance.now() - t0;
  };
  const first = await run(1);
  const once = Math.max(0.01, await run(1));
  const count = Math.max(2, Math.min(2000, Math.round((secondsPerRun * 1000) / once)));
  await run(count); // warm-up
  return { first, sample: async () => (await run(count)) / count };
}

/** Samples the timers in turns (so that a change of machine load hits all alike); each timer's samples in ms, by round. */
async function interleaved(timers) {
  const samples = timers.map(() => []);
  for (let r = 0; r < repeats; r++) for (const [i, t] of timers.entries()) samples[i].push(await t.sample());
  return samples;
}

/**
 * Generated / best speed: the median over rounds of the ratio within a round (samples taken
 * back to back, so a change of load between rounds cancels), with the rounds' lowest and highest.
 */
function ratioOf(gen, best) {
  const r = gen.map((g, i) => best[i] / g).sort((a, b) => a - b);
  return { median: median(r), low: r[0], high: r[r.length - 1] };
}

const layoutOf = (n) =>
  device.createPipelineLayout({
    bindGroupLayouts: [
      device.createBindGroupLayout({ entries: Array.from({ length: n }, (_, binding) => ({ binding, visibility: GPUShaderStage.COMPUTE, buffer: { type: n === 3 && binding < 2 ? 'read-only-storage' : 'storage' } })) }),
    ],
  });
const genLayout = layoutOf(2);
const bestLayout = layoutOf(3);
const iarena = device.createBuffer({ size: 16, usage });

const only = process.env.SHAPES?.split(',');
const loadBefore = loadavg()[0];
const rows = [];
for (const c of cases()) {
  if (only && !only.some((s) => c.name.includes(s))) continue;
  const [batches, M, N, K] = c.sizes;
  const flops = 2 * batches * M * N * K;

  // generated: operands at their transformer layouts in one arena
  const allA = [...c.batch, ...c.m, ...c.k];
  const allB = [...c.batch, ...c.n, ...c.k];
  const lenA = size(allA.filter((a) => c.a.has(a.id)));
  const lenB = size(allB.filter((a) => c.b.has(a.id)));
  // regions at multiples of 16 elements, as the buffer planner places them
  const align = (x) => Math.ceil(x / 16) * 16;
  const offA = 0, offB = align(lenA), offOut = align(offB + lenB);
  const arenaData = new Float32Array(align(offOut + batches * M * N));
  arenaData.set(randomFill(offOut, 7));
  const spec = {
    kind: 'gemm', name: c.name, nodes: [], lines: [], batch: c.batch, m: c.m, n: c.n, k: c.k,
    a: { arena: 'f32', value: 1, offset: offA, strides: pick(c.a, allA) },
    b: { arena: 'f32', value: 2, offset: offB, strides: pick(c.b, allB) },
    epilogue: { k: 'acc' },
    out: { arena: 'f32', value: 3, offset: offOut, strides: c.out },
  };
  const tunings = process.env.TUNINGS ? JSON.parse(process.env.TUNINGS) : [undefined];
  const arena = device.createBuffer({ size: arenaData.byteLength, usage });
  device.queue.writeBuffer(arena, 0, arenaData);
  const gens = [];
  for (const tuning of tunings) {
    const g = gemmWgsl(spec, variant, tuning ? { tuning } : {});
    const pipe = await compile(g.code, genLayout);
    const bind = device.createBindGroup({ layout: pipe.getBindGroupLayout(0), entries: [{ binding: 0, resource: { buffer: arena } }, { binding: 1, resource: { buffer: iarena } }] });
    gens.push({ g, tuning, t: await timer(pipe, bind, g.dispatch) });
  }

  // best case: contiguous row-major A[batch][M][K], B[batch][K][N] as vec4, C as vec4
  const bufA = device.createBuffer({ size: batches * M * K * 4, usage });
  const bufB = device.createBuffer({ size: batches * K * N * 4, usage });
  const bufC = device.createBuffer({ size: batches * M * N * 4, usage });
  device.queue.writeBuffer(bufA, 0, randomFill(batches * M * K, 3));
  device.queue.writeBuffer(bufB, 0, randomFill(batches * K * N, 5));
  const bestTimers = [];
  for (const R of rows16(M) ? [8, 16] : [8]) {
    const pipe = await compile(bestWgsl(M, N, K, R), bestLayout);
    const bind = device.createBindGroup({ layout: pipe.getBindGroupLayout(0), entries: [bufA, bufB, bufC].map((buffer, binding) => ({ binding, resource: { buffer } })) });
    bestTimers.push(await timer(pipe, bind, [Math.ceil(N / 8 / 16), Math.ceil(M / R), batches]));
  }
  const samples = await interleaved([...gens.map((x) => x.t), ...bestTimers]);
  const ms = samples.map(median);
  const result = (t, m) => ({ first: t.first, ms: m, gflops: flops / (m * 1e6) });
  const at = gens.length;
  // The issue's reference (8 rows), and the 16-row kernel where it exists.
  const best = result(bestTimers[0], ms[at]);
  const ratio = ratioOf(samples[0], samples[at]);
  const best16 = bestTimers[1] ? result(bestTimers[1], ms[at + 1]) : undefined;
  const ratio16 = best16 ? ratioOf(samples[0], samples[at + 1]) : undefined;
  for (const [i, x] of gens.entries()) {
    if (tunings.length > 1) console.log(`  tuning ${JSON.stringify(x.tuning)}: ${result(x.t, ms[i]).gflops.toFixed(2)} GFLOP/s, first ${x.t.first.toFixed(0)} ms`);
  }
  const gen = result(gens[0].t, ms[0]);
  const g = gens[0].g;

  // What the generator chose, from its comments: the per-lane operand's reads and the stores.
  const reads = /read as vec4s across them/.test(g.code) ? 'vec4 across columns' : /read as vec4s along k/.test(g.code) ? 'vec4 along k' : 'scalar';
  const plan = variant === 'register' ? `lanes along ${/lanes run along m|rows of A \(this lane's\)/.test(g.code) ? 'm' : 'n'}, ${reads} reads, ${/store_out4\(acc/.test(g.code) ? 'vec4' : 'scalar'} stores` : 'tiled';
  const row = { ...c, batches, M, N, K, gen, best, ratio, best16, ratio16, plan, workgroup: g.workgroupSize, dispatch: g.dispatch };
  rows.push(row);
  console.log(
    `${c.name.padEnd(30)} generated ${gen.gflops.toFixed(2).padStart(6)} GFLOP/s (${gen.ms.toFixed(3)} ms, first dispatch ${gen.first.toFixed(0)} ms)` +
      `  8×8 ${best.gflops.toFixed(2).padStart(6)} GFLOP/s  ratio ${fmtRatio(ratio)}` +
      (best16 ? `  16×8 ${best16.gflops.toFixed(2).padStart(6)} GFLOP/s  ratio ${fmtRatio(ratio16)}` : ''),
  );
  for (const b of [arena, bufA, bufB, bufC]) b.destroy();
}

const table = `## GEMM kernels (${variant} variant)

Measured by \`node bench/gemm.mjs\` on ${machine()}, adapter \`${ctx.description}\`, ${new Date().toISOString().slice(0, 10)}.
Generated: \`gemmWgsl(spec, '${variant}')\` with the operands at the transformer's own layouts (nanoGPT
CPU config: batch 12, seq 64, embed 128, heads 4, hidden 512), epilogue \`acc\`. Best cases, at the same sizes:
WEBGPU-NOTES' hand-written register-blocked kernel, the issue's reference (8×8 outputs per invocation in vec4
accumulators; B and C as \`array<vec4f>\`, contiguous row-major operands, workgroup (16, 1)), and the same with
16 rows per invocation where 16 divides M ≥ 64 (the generator blocks 8 rows since issue 16: a whole step as fast, half
the compile time). GFLOP/s: median of
${repeats} submits of many dispatches each, after warm-up; "first" is the first dispatch, LLVM's compile included
(Mesa's shader cache disabled). Generated and best were timed in alternation, ${repeats} rounds: generated / best is the
median of the rounds' ratios, with the lowest and highest in parentheses. Load average (1 min) before the run: ${loadBefore.toFixed(1)} on ${cpus().length} cores
(the run itself keeps every core busy)${loadBefore > 0.5 ? ': other work shared the machine, so absolute figures are low' : ''}.

| GEMM | layout (generated) | batch × (M×N×K) | generated kernel | generated GFLOP/s | 8×8 GFLOP/s | generated / 8×8 | 16×8 GFLOP/s | generated / 16×8 | first dispatch gen / 8×8 |
|---|---|---|---|---|---|---|---|---|---|
${rows
  .map(
    (r) =>
      `| ${r.name} | ${r.note} | ${r.batches}×(${r.M}×${r.N}×${r.K}) | ${r.plan} | ${r.gen.gflops.toFixed(2)} | ${r.best.gflops.toFixed(2)} | ${fmtRatio(r.ratio)} | ${r.best16 ? r.best16.gflops.toFixed(2) : '—'} | ${r.ratio16 ? fmtRatio(r.ratio16) : '—'} | ${r.gen.first.toFixed(0)} / ${r.best.first.toFixed(0)} ms |`,
  )
  .join('\n')}
`;
console.log(table);
if (!process.env.NOWRITE && !only) writeSection(`gemm${variant === 'register' ? '' : '-' + variant}`, table);
iarena.destroy();
ctx.destroy();
