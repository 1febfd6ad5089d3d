// The wasm backend against its peers at nanoGPT's CPU configuration (4 layers, 4 heads, 128
// wide, window 64, batch 12, Tiny Shakespeare), measured back to back in one run:
//   - training tokens/s of mdlc on wasm (1 and 2 threads), on the reference interpreter and on
//     WebGPU (the adapter there is: lavapipe here), all through the one training loop;
//   - jax-js 0.1.25's WebAssembly backend training the same architecture with its jit
//     (bench/jaxjs-transformer.mjs; `@jax-js/jax` is installed by this script into a cache
//     folder, not a dependency of mdlc);
//   - PyTorch (Debian's python3-torch, OpenBLAS) on 1 and 2 threads, running the train.py that
//     `mdlc export --target pytorch` writes for the same model;
//   - GEMM GFLOP/s of mdlc's wasm micro-kernel, one thread, at every GEMM shape of the
//     training step, against OpenBLAS's single-thread sgemm (numpy) on the same sizes;
//   - time to the first training step: `mdlc train --backend wasm --steps 1` as a user runs it
//     (wall clock of the whole command), and the WebGPU path with an empty Mesa shader cache.
//
//   npm run build && node bench/wasm.mjs
// Environment: STEPS (wasm and jax-js, default 20), SKIP=jaxjs,torch,webgpu,interpreter,cold,
// gemm leaves parts out; BENCH_CACHE (default ~/.cache/mdlc-bench) holds jax-js; NOWRITE=1.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import { homedir, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { benchData, importDist, machine, median, nanoGptSettings, requireBuild, root, writeSection } from './lib.mjs';

requireBuild();
const data = benchData();
const steps = Number(process.env.STEPS ?? 20);
const skip = new Set((process.env.SKIP ?? '').split(',').filter(Boolean));
const python = process.env.MDLC_PYTHON ?? '/usr/bin/python3';
const JAXJS_VERSION = '0.1.25';
const loadBefore = loadavg();
const uptime = () => execFileSync('uptime', { encoding: 'utf8' }).trim();
const uptimeBefore = uptime();
const tmp = mkdtempSync(join(tmpdir(), 'mdlc-bench-wasm-'));

const { openSession } = await importDist('src/train/session.js');
const { readSourceFile } = await importDist('src/parser/index.js');
const { openBackend, findAdapter } = await importDist('src/train/backends.js');
const { trainLoop } = await importDist('runtime/loop.js');
const settings = nanoGptSettings();
const { source } = readSourceFile(join(root, 'models', 'transformer.mdl'));
const opened = await openSession(source, { dataPath: data, overrides: new Map(Object.entries(settings)) });
if (!opened.ok) throw new Error('model does not compile');
const s = opened.session;
const tokensPerStep = s.spec.batch * s.spec.window;

/** Training tokens/s of `backend` over `n` steps after a first one (the loop leaves the first out). */
async function loopSpeed(backend, n) {
  try {
    const r = await trainLoop(backend, { ...s.spec, steps: n + 1, evalBatches: 1 }, { ...s.split, decode: (t) => s.vocab.decode(t) }, { rates: s.rates, checkpointEvery: 0 });
    return { tokensPerSecond: r.tokensPerSecond, firstStepSeconds: r.firstStepSeconds, loss: r.losses.at(-1) };
  } finally {
    backend.destroy();
  }
}

const rows = [];
const note = (name, r, extra = '') => {
  rows.push({ name, ...r, extra });
  console.log(`${name}: ${r.tokensPerSecond.toFixed(0)} tokens/s${extra ? ` (${extra})` : ''}`);
};

// ---- mdlc ----------------------------------------------------------------------------------
for (const threads of [1, 2]) {
  const t0 = performance.now();
  const { backend } = await openBackend('wasm', s.model, s.step, { seed: s.spec.seed, threads });
  const openSeconds = (performance.now() - t0) / 1000;
  const r = await loopSpeed(backend, steps);
  note(`mdlc wasm, ${threads} thread${threads > 1 ? 's' : ''}`, r, `plan, compile and start ${openSeconds.toFixed(2)} s; first step ${r.firstStepSeconds.toFixed(2)} s`);
}
if (!skip.has('interpreter')) note('mdlc interpreter (reference, 1 thread)', await loopSpeed((await openBackend('interpreter', s.model, s.step, { seed: s.spec.seed })).backend, 3), '3 steps');
let adapterName;
if (!skip.has('webgpu')) {
  const adapter = await findAdapter();
  if (adapter) {
    adapterName = adapter.ctx.description;
    const { backend } = await openBackend('webgpu', s.model, s.step, { seed: s.spec.seed, adapter, buildDir: join(tmp, 'webgpu') });
    note(`mdlc WebGPU (${adapter.ctx.isSoftware ? 'software adapter' : 'GPU'})`, await loopSpeed(backend, steps), adapterName);
  } else console.log('WebGPU: no adapter; left out');
}

// ---- jax-js --------------------------------------------------------------------------------
if (!skip.has('jaxjs')) {
  const cache = join(process.env.BENCH_CACHE ?? join(homedir(), '.cache', 'mdlc-bench'), `jaxjs-${JAXJS_VERSION}`);
  const entry = join(cache, 'node_modules', '@jax-js', 'jax', 'dist', 'index.js');
  if (!existsSync(entry)) {
    mkdirSync(cache, { recursive: true });
    writeFileSync(join(cache, 'package.json'), '{ "private": true }\n');
    console.log(`installing @jax-js/jax@${JAXJS_VERSION} into ${cache}`);
    execFileSync('npm', ['install', '--no-audit', '--no-fund', '--prefix', cache, `@jax-js/jax@${JAXJS_VERSION}`], { stdio: 'inherit' });
  }
  const r = spawnSync(process.execPath, [join(root, 'bench', 'jaxjs-transformer.mjs'), data, String(steps + 1)], { encoding: 'utf8', env: { ...process.env, JAXJS: entry, LAYERS: String(settings.layers) }, maxBuffer: 1 << 26 });
  if (r.status !== 0) throw new Error(`jax-js failed: ${r.stderr.slice(-2000)}`);
  const j = JSON.parse(r.stdout.trim().split('\n').at(-1));
  note(`jax-js ${JAXJS_VERSION}, wasm backend (1 thread)`, j, `first step (jit) ${j.firstStepSeconds.toFixed(1)} s; loss ${j.losses[0].toFixed(2)} → ${j.losses.at(-1).toFixed(2)}`);
}

// ---- PyTorch -------------------------------------------------------------------------------
let torchVersion;
if (!skip.has('torch')) {
  const probe = spawnSync(python, ['-c', 'import torch; print(torch.__version__)'], { encoding: 'utf8' });
  if (probe.status !== 0) console.log(`PyTorch: not importable by ${python} (scripts/install-torch.sh installs it); left out`);
  else {
    torchVersion = probe.stdout.trim();
    const { exportPytorch, writeExport } = await importDist('src/export/index.js');
    const dir = join(tmp, 'torch');
    const overrides = new Map(Object.entries(settings));
    writeExport(dir, exportPytorch(s.model, { source, vocab: s.vocab.chars, overrides, version: 'bench' }));
    for (const threads of [1, 2]) {
      // Passive waiting: OpenMP's threads otherwise spin between parallel regions, and on a
      // machine busy with other work two spinning threads on two cores slow torch ten-fold.
      const env = { ...process.env, OMP_NUM_THREADS: String(threads), OPENBLAS_NUM_THREADS: String(threads), OMP_WAIT_POLICY: 'passive' };
      const run = join(dir, `run-${threads}`);
      const r = spawnSync(python, [join(dir, 'train.py'), '--data', data, '--run-dir', run, '--quiet', '--steps', String(steps + 1), '--device', 'cpu'], { encoding: 'utf8', env });
      if (r.status !== 0) throw new Error(`train.py failed:\n${r.stderr.slice(-2000)}`);
      const lines = readFileSync(join(run, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l)).filter((l) => 'loss' in l);
      note(`PyTorch ${torchVersion}, OpenBLAS, ${threads} thread${threads > 1 ? 's' : ''}`, { tokensPerSecond: median(lines.slice(1).map((l) => l.tokens_per_s)) }, 'train.py of `mdlc export --target pytorch`; median over the steps; OMP_WAIT_POLICY=passive');
    }
  }
}

// ---- GEMM micro-kernel ---------------------------------------------------------------------
const gemms = [];
if (!skip.has('gemm')) {
  const { planWasmProgram } = await importDist('src/codegen/wasm/program.js');
  const { initParameters } = await importDist('runtime/init.js');
  const plan = planWasmProgram(s.model, { step: s.step });
  // The shapes: the GEMM kernels of the same schedule, in call order.
  const { scheduleProgram } = await importDist('src/codegen/program.js');
  const { WASM_TARGET } = await importDist('src/codegen/target.js');
  const sched = scheduleProgram(s.model, { target: WASM_TARGET, step: s.step }).program.entries.find((e) => e.name === 'train').schedule.kernels;
  const p = plan.program;
  const pages = Math.ceil((p.staticBytes + p.scratchPerThread) / 65536);
  const memory = new WebAssembly.Memory({ initial: pages, maximum: pages, shared: true });
  new Uint32Array(memory.buffer).set(p.tables.words, p.tables.at / 4);
  const f32 = new Float32Array(memory.buffer);
  const init = initParameters(p.params, 1);
  for (const q of p.params) f32.set(init.get(q.name), p.bases.f32 / 4 + q.offset);
  // Activations: small values so that nothing overflows (the timing does not depend on them).
  for (let i = 0; i < p.arenas.f32; i++) if (f32[i] === 0) f32[i] = ((i * 7919) % 1000) / 1e5;
  const inst = new WebAssembly.Instance(new WebAssembly.Module(p.module), { env: { memory }, math: { pow: Math.pow } });
  const size = (axes) => axes.reduce((n, a) => n * a.size, 1);
  const byShape = new Map();
  p.entries.train.forEach((c, i) => {
    const k = sched[i];
    if (k.kind !== 'gemm') return;
    const shape = [size(k.batch), size(k.m), size(k.n), size(k.k)];
    const key = shape.join('×');
    const fn = inst.exports[p.kernels[c.kernel]];
    const i32 = new Int32Array(memory.buffer);
    const once = () => {
      i32[p.staticBytes / 4] = -1;
      fn(c.table, 0, c.items, p.staticBytes);
    };
    once();
    let reps = 0;
    const t0 = performance.now();
    while (performance.now() - t0 < 150) {
      once();
      reps++;
    }
    const ms = (performance.now() - t0) / reps;
    const gflops = (2 * shape[0] * shape[1] * shape[2] * shape[3]) / ms / 1e6;
    const e = byShape.get(key) ?? { shape, calls: 0, best: 0 };
    e.calls++;
    e.best = Math.max(e.best, gflops);
    byShape.set(key, e);
  });
  const shapes = [...byShape.values()].sort((a, b) => b.shape.reduce((x, y) => x * y) - a.shape.reduce((x, y) => x * y));
  const py = `
import json, sys, time, numpy as np
out = []
for b, m, n, k in json.loads(sys.argv[1]):
    a = np.random.rand(b, m, k).astype(np.float32); c = np.random.rand(b, k, n).astype(np.float32)
    np.matmul(a, c); reps = 0; t0 = time.perf_counter()
    while time.perf_counter() - t0 < 0.15:
        np.matmul(a, c); reps += 1
    out.append(2 * b * m * n * k / ((time.perf_counter() - t0) / reps) / 1e9)
print(json.dumps(out))`;
  const r = spawnSync(python, ['-c', py, JSON.stringify(shapes.map((e) => e.shape))], { encoding: 'utf8', env: { ...process.env, OPENBLAS_NUM_THREADS: '1', OMP_NUM_THREADS: '1' } });
  const blas = r.status === 0 ? JSON.parse(r.stdout.trim()) : shapes.map(() => NaN);
  shapes.forEach((e, i) => gemms.push({ ...e, blas: blas[i] }));
  for (const g of gemms) console.log(`GEMM ${g.shape.join('×')} (batch×M×N×K, ${g.calls} calls): wasm ${g.best.toFixed(1)} GFLOP/s, OpenBLAS ${g.blas.toFixed(1)} GFLOP/s`);
}

// ---- time to the first step ----------------------------------------------------------------
const firstStep = {};
if (!skip.has('cold')) {
  const cli = (backend, env) => {
    const sets = Object.entries({ ...settings, eval_batches: 1 }).flatMap(([k, v]) => ['--set', `${k}=${v}`]);
    const t0 = performance.now();
    const r = spawnSync(process.execPath, [join(root, 'bin', 'mdlc.js'), 'train', join(root, 'models', 'transformer.mdl'), '--backend', backend, '--steps', '1', '--samples', '0', '--data', data, '--run-dir', join(tmp, `first-${backend}`), ...sets], { encoding: 'utf8', env: { ...process.env, ...env } });
    if (r.status !== 0) throw new Error(`mdlc train --backend ${backend} failed: ${r.stderr.slice(-2000)}`);
    return (performance.now() - t0) / 1000;
  };
  firstStep.wasm = cli('wasm', {});
  console.log(`time to the first step, wasm (mdlc train --steps 1, whole command): ${firstStep.wasm.toFixed(2)} s`);
  if (adapterName) {
    const cache = mkdtempSync(join(tmpdir(), 'mesa-cache-'));
    firstStep.webgpu = cli('webgpu', { MESA_SHADER_CACHE_DIR: cache });
    rmSync(cache, { recursive: true, force: true });
    console.log(`time to the first step, WebGPU with an empty shader cache: ${firstStep.webgpu.toFixed(1)} s`);
  }
}
rmSync(tmp, { recursive: true, force: true });
const uptimeAfter = uptime();
console.log(`load: before ${uptimeBefore}; after ${uptimeAfter}`);

if (process.env.NOWRITE !== '1') {
  const loaded = loadBefore[0] > 1;
  const speed = (name) => rows.find((r) => r.name.startsWith(name))?.tokensPerSecond;
  const jax = speed('jax-js');
  const torch = speed('PyTorch') && rows.find((r) => r.name.startsWith('PyTorch') && r.name.endsWith('2 threads'))?.tokensPerSecond;
  const best = Math.max(speed('mdlc wasm, 1') ?? 0, speed('mdlc wasm, 2') ?? 0);
  writeSection(
    'wasm',
    `## The wasm backend against its peers (transformer, nanoGPT CPU config)

Measured by \`node bench/wasm.mjs\` on ${machine()}, ${new Date().toISOString().slice(0, 10)}, back to back in one run: 4 layers, 4 heads, embed 128, window 64, batch 12, vocab 65 (Tiny Shakespeare); tokens/s over ${steps} steps after the first (the interpreter: 3). ${loaded ? '**Under load**: the machine was shared with other work' : 'The machine was otherwise idle'} (\`uptime\` before: ${uptimeBefore.replace(/^.*load average/, 'load average')}; after: ${uptimeAfter.replace(/^.*load average/, 'load average')}; 2 cores), so absolute figures are low and noisy; the ratios of neighbouring rows are the better guide.

| trainer | tokens/s | notes |
|---|---|---|
${rows.map((r) => `| ${r.name} | ${r.tokensPerSecond.toFixed(0)} | ${r.extra} |`).join('\n')}

${jax && best ? `mdlc's wasm backend at its best here is ${(best / jax).toFixed(1)}× jax-js's WebAssembly backend` : ''}${torch && best ? ` and ${((100 * best) / torch).toFixed(0)} % of PyTorch on 2 threads` : ''}${jax || torch ? '.' : ''}

${
  gemms.length
    ? `GEMMs of the training step, one thread: mdlc's wasm micro-kernel (as the step runs it, on the operands' stored layouts, causal halves skipped where they are zero; the FLOP count is the dense one) against OpenBLAS's sgemm (numpy's matmul, \`OPENBLAS_NUM_THREADS=1\`, contiguous row-major operands) on the same sizes.

| batch × M × N × K | calls per step | wasm GFLOP/s | OpenBLAS GFLOP/s |
|---|---|---|---|
${gemms.map((g) => `| ${g.shape.join(' × ')} | ${g.calls} | ${g.best.toFixed(1)} | ${g.blas.toFixed(1)} |`).join('\n')}
`
    : ''
}
${
  firstStep.wasm
    ? `Time to the first training step: \`mdlc train models/transformer.mdl --backend wasm --steps 1\` took ${firstStep.wasm.toFixed(2)} s as a whole command (Node's start, compiling the .mdl, loading the text, planning and compiling the module, starting the threads, one step, a final evaluation of one batch, the checkpoint).${firstStep.webgpu ? ` The same on WebGPU (${adapterName}) with an empty Mesa shader cache: ${firstStep.webgpu.toFixed(1)} s.` : ''}`
    : ''
}
`,
  );
}
