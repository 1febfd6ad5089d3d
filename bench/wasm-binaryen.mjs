// Does an optimiser improve the wasm backend's module? The transformer at nanoGPT's CPU
// configuration, planned as the wasm backend plans it, then run as mdlc emits it and after
// binaryen's optimiser (`wasm-opt -O3` as a library, every feature on): module size, time to
// optimise and to compile, and a training step on one thread, the two modules alternating
// round by round on the same batches. Both must give the same loss. `binaryen` is installed
// by this script into BENCH_CACHE (default ~/.cache/mdlc-bench); it is not a dependency of mdlc.
//   ROUNDS=N (default 8)  NOWRITE=1
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { homedir, loadavg } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { benchData, importDist, machine, nanoGptSettings, requireBuild, root, writeSection } from './lib.mjs';

const BINARYEN_VERSION = '132.0.0';
requireBuild();
const cache = join(process.env.BENCH_CACHE ?? join(homedir(), '.cache', 'mdlc-bench'), `binaryen-${BINARYEN_VERSION}`);
const entry = join(cache, 'node_modules', 'binaryen', 'index.js');
if (!existsSync(entry)) {
  console.log(`installing binaryen@${BINARYEN_VERSION} into ${cache}`);
  execFileSync('npm', ['install', '--no-audit', '--no-fund', '--prefix', cache, `binaryen@${BINARYEN_VERSION}`], { stdio: 'inherit' });
}
const binaryen = (await import(pathToFileURL(entry).href)).default;

const { openSession } = await importDist('src/train/session.js');
const { readSourceFile } = await importDist('src/parser/index.js');
const { planWasmProgram } = await importDist('src/codegen/wasm/program.js');
const { initParameters } = await importDist('runtime/init.js');
const { feedsOf, stepScalars } = await importDist('runtime/loop.js');
const { WindowSampler } = await importDist('runtime/data.js');

const load = [loadavg()[0]];
const { source } = readSourceFile(join(root, 'models', 'transformer.mdl'));
const opened = await openSession(source, { dataPath: benchData(), overrides: new Map(Object.entries(nanoGptSettings())) });
if (!opened.ok) throw new Error('model does not compile');
const s = opened.session;
const { program: p } = planWasmProgram(s.model, { step: s.step });

// binaryen's -O3 over mdlc's module.
let t0 = performance.now();
const mod = binaryen.readBinary(p.module);
mod.setFeatures(binaryen.Features.All);
if (!mod.validate()) throw new Error("binaryen does not accept mdlc's module");
binaryen.setOptimizeLevel(3);
binaryen.setShrinkLevel(0);
mod.optimize();
const optimised = mod.emitBinary();
mod.dispose();
const optimiseMs = performance.now() - t0;

const compileMs = async (bytes) => {
  const t = performance.now();
  await WebAssembly.compile(bytes);
  return performance.now() - t;
};
const modules = [
  { name: 'mdlc (as emitted)', bytes: p.module, optimiseMs: 0 },
  { name: `binaryen ${BINARYEN_VERSION} -O3`, bytes: optimised, optimiseMs },
];
// Each module compiled once (V8 caches a module by its bytes, so a second compile is free),
// after an empty module has started V8's compiler.
await WebAssembly.compile(Uint8Array.of(0, 0x61, 0x73, 0x6d, 1, 0, 0, 0));
for (const m of modules) {
  m.compileMs = await compileMs(m.bytes);
  // A fresh memory per module with the same parameters, so the two train the same run.
  const pages = Math.ceil((p.staticBytes + p.scratchPerThread) / 65536);
  m.memory = new WebAssembly.Memory({ initial: pages, maximum: pages, shared: true });
  new Uint32Array(m.memory.buffer).set(p.tables.words, p.tables.at / 4);
  const f32 = new Float32Array(m.memory.buffer);
  const init = initParameters(p.params, s.spec.seed);
  for (const q of p.params) f32.set(init.get(q.name), p.bases.f32 / 4 + q.offset);
  m.instance = new WebAssembly.Instance(new WebAssembly.Module(m.bytes), { env: { memory: m.memory }, math: { pow: Math.pow } });
  m.stepMs = [];
  m.losses = [];
}

/** One training step of module m on one thread: every call of the step in order. */
function step(m, batch, r) {
  const f32 = new Float32Array(m.memory.buffer);
  const i32 = new Int32Array(m.memory.buffer);
  const write = (name, data) => {
    const slot = p.inputs[name];
    (slot.arena === 'f32' ? f32 : i32).set(data, p.bases[slot.arena] / 4 + slot.offset);
  };
  for (const [name, data] of feedsOf(s.spec, batch)) write(name, data);
  const sc = stepScalars(s.spec, s.rates, r);
  sc.lr.forEach((lr, i) => write(`lr.${i}`, new Float32Array([lr])));
  write('bc1', new Float32Array([sc.bc1]));
  write('bc2', new Float32Array([sc.bc2]));
  const t = performance.now();
  for (const c of p.entries.train) m.instance.exports[p.kernels[c.kernel]](c.table, 0, c.items, p.staticBytes);
  m.stepMs.push(performance.now() - t);
  const loss = p.outputs.loss;
  m.losses.push(f32[p.bases[loss.arena] / 4 + loss.offset]);
}

const rounds = Number(process.env.ROUNDS ?? 8);
const sampler = new WindowSampler(s.split.train, s.spec.window, s.spec.seed);
for (let r = 0; r < rounds; r++) {
  const batch = sampler.nextBatch(s.spec.batch);
  // Alternate which module goes first, so neither always runs on a warmer cache.
  for (const m of r % 2 ? [...modules].reverse() : modules) step(m, batch, r);
}
load.push(loadavg()[0]);
const same = modules[0].losses.every((l, i) => l === modules[1].losses[i]);
const close = modules[0].losses.every((l, i) => Math.abs(l - modules[1].losses[i]) <= 1e-5 * Math.abs(l));
if (!close) throw new Error(`the optimised module trains differently: ${modules[0].losses} vs ${modules[1].losses}`);

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const rows = modules.map((m) => {
  const ms = median(m.stepMs.slice(1));
  return { ...m, ms, tokensPerSecond: (s.spec.batch * s.spec.window * 1000) / ms };
});
const lines = [
  `| module | size | optimise | compile | training step, one thread (median of ${rounds - 1}) | tokens/s |`,
  '|---|---:|---:|---:|---:|---:|',
  ...rows.map(
    (r) =>
      `| ${r.name} | ${(r.bytes.length / 1024).toFixed(0)} KiB | ${r.optimiseMs ? `${(r.optimiseMs / 1000).toFixed(2)} s` : '—'} | ${r.compileMs.toFixed(0)} ms | ${r.ms.toFixed(1)} ms | ${r.tokensPerSecond.toFixed(0)} |`,
  ),
];
const ratio = rows[0].ms / rows[1].ms;
const verdict = `Losses of the ${rounds} steps: ${same ? 'bit for bit the same' : 'within 1e-5'}. binaryen's step is ${ratio >= 1 ? `${((ratio - 1) * 100).toFixed(1)} % faster` : `${((1 / ratio - 1) * 100).toFixed(1)} % slower`} than mdlc's, for ${(optimiseMs / 1000).toFixed(1)} s of optimising before the first step and a ${(execFileSync('du', ['-sm', join(cache, 'node_modules', 'binaryen')], { encoding: 'utf8' }).split('\t')[0])} MB dependency.`;
console.log(`${machine()}; load ${load.map((x) => x.toFixed(1)).join(' → ')}`);
for (const l of lines) console.log(l);
console.log(verdict);
if (!process.env.NOWRITE)
  writeSection(
    'wasm-binaryen',
    `## The wasm backend's module: mdlc's encoder against binaryen's optimiser

Measured by \`node bench/wasm-binaryen.mjs\` on ${machine()}; load average (1 min) ${load.map((x) => x.toFixed(1)).join(' → ')} on 2 cores (other work shared the machine; the two modules alternate round by round, so the comparison holds). The transformer at nanoGPT's CPU configuration, planned as \`--backend wasm\` plans it; the module as mdlc emits it, and after binaryen's \`-O3\` (as a library, every feature on).

${lines.join('\n')}

${verdict}`,
  );
