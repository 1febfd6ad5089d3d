// Where a wasm training step's time goes: the transformer at nanoGPT's CPU configuration,
// every call of the training step timed alone on this thread (as one worker runs it), summed
// by kernel kind, and the slowest calls. Prints only.
import { join } from 'node:path';
import { benchData, importDist, machine, nanoGptSettings, requireBuild, root, totalsByKind } from './lib.mjs';

requireBuild();
const { openSession } = await importDist('src/train/session.js');
const { readSourceFile } = await importDist('src/parser/index.js');
const { planWasmProgram } = await importDist('src/codegen/wasm/program.js');
const { initParameters } = await importDist('runtime/init.js');
const { feedsOf, stepScalars } = await importDist('runtime/loop.js');
const { WindowSampler } = await importDist('runtime/data.js');
const { source } = readSourceFile(join(root, 'models', 'transformer.mdl'));
const opened = await openSession(source, { dataPath: benchData(), overrides: new Map(Object.entries(nanoGptSettings())) });
if (!opened.ok) throw new Error('model does not compile');
const tuning = process.env.TUNING ? JSON.parse(process.env.TUNING) : undefined;
const { program: p, what, kernels } = planWasmProgram(opened.session.model, { step: opened.session.step, tuning });
const pages = Math.ceil((p.staticBytes + p.scratchPerThread) / 65536);
const memory = new WebAssembly.Memory({ initial: pages, maximum: pages, shared: true });
new Uint32Array(memory.buffer).set(p.tables.words, p.tables.at / 4);
const f32 = new Float32Array(memory.buffer);
const i32 = new Int32Array(memory.buffer);
const s = opened.session;
const init = initParameters(p.params, s.spec.seed);
for (const q of p.params) f32.set(init.get(q.name), p.bases.f32 / 4 + q.offset);
const inst = new WebAssembly.Instance(new WebAssembly.Module(p.module), { env: { memory }, math: { pow: Math.pow } });
const rounds = Number(process.env.ROUNDS ?? 6);
const times = p.entries.train.map(() => []);
const sampler = new WindowSampler(s.split.train, s.spec.window, s.spec.seed);
// Real steps: batches, learning rates and the optimizer's state as training has them.
for (let r = 0; r < rounds; r++) {
  const write = (name, data) => {
    const slot = p.inputs[name];
    (slot.arena === 'f32' ? f32 : i32).set(data, p.bases[slot.arena] / 4 + slot.offset);
  };
  for (const [name, data] of feedsOf(s.spec, sampler.nextBatch(s.spec.batch))) write(name, data);
  const sc = stepScalars(s.spec, s.rates, r);
  sc.lr.forEach((lr, i) => write(`lr.${i}`, new Float32Array([lr])));
  write('bc1', new Float32Array([sc.bc1]));
  write('bc2', new Float32Array([sc.bc2]));
  p.entries.train.forEach((c, i) => {
    const t0 = performance.now();
    inst.exports[p.kernels[c.kernel]](c.table, 0, c.items, p.staticBytes);
    times[i].push(performance.now() - t0);
  });
}
const rows = p.entries.train.map((c, i) => ({ kind: kernels[c.kernel].kind, ms: Math.min(...times[i].slice(1)), what: what.train[i], flops: kernels[c.kernel].flops }));
const total = rows.reduce((s, r) => s + r.ms, 0);
console.log(`${machine()}; one thread; training step ${total.toFixed(1)} ms over ${rows.length} calls (${((768 / total) * 1000).toFixed(0)} tokens/s)`);
for (const [kind, e] of totalsByKind(rows, 'ms')) console.log(`  ${kind.padEnd(12)} ${String(e.n).padStart(3)} calls ${e.total.toFixed(1).padStart(7)} ms ${((100 * e.total) / total).toFixed(1).padStart(5)} %`);
console.log('slowest calls:');
for (const r of [...rows].sort((a, b) => b.ms - a.ms).slice(0, Number(process.env.TOP ?? 15))) console.log(`  ${r.ms.toFixed(2).padStart(6)} ms ${r.kind.padEnd(10)} ${r.kind === 'gemm' ? `${(r.flops / r.ms / 1e6).toFixed(1)} GFLOP/s ` : ''}${r.what}`);
