// Dumps every kernel and dispatch of both reference models (the transformer at nanoGPT's CPU
// configuration, the autoencoder at its own sizes), for both targets (CPU: register GEMMs;
// GPU: tiled GEMMs), into a folder that
// `diff -r` compares: so a refactor of the code generator can show that the kernels it emits
// are unchanged. Run it against two builds (each `npx tsc -p tsconfig.build.json`):
//
//   node scripts/dump-kernels.mjs /tmp/before --dist /path/to/old/checkout/dist
//   node scripts/dump-kernels.mjs /tmp/after
//   diff -r /tmp/before /tmp/after
//
// Per model and variant it writes one file per distinct kernel (`NNN-kind.wgsl`, without the
// header comment, which names IR nodes), `dispatches.txt` (per entry point: kernel, grid and
// arena offsets of every dispatch) and `layout.json` (arena sizes and every parameter's,
// input's and output's region). `--normalize` renames the variables a kernel declares
// (`let`/`var`) to v0, v1, … in order of first appearance, so that kernels that differ only in
// variable names compare equal.
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const args = process.argv.slice(2);
const flag = (name) => {
  const i = args.indexOf(name);
  if (i < 0) return undefined;
  const v = args[i + 1];
  args.splice(i, 2);
  return v;
};
const normalize = args.includes('--normalize');
if (normalize) args.splice(args.indexOf('--normalize'), 1);
const dist = resolve(flag('--dist') ?? 'dist');
const out = args[0];
if (!out) {
  console.error('usage: node scripts/dump-kernels.mjs OUTDIR [--dist DIR] [--normalize]');
  process.exit(2);
}
const root = resolve(dist, '..');
const imp = (p) => import(pathToFileURL(join(dist, p)).href);
const { compileFile } = await imp('src/driver/index.js');
const codegen = await imp('src/codegen/index.js');
// Builds from before targets existed take the GEMM variant.
const planFor = (model, variant) => (codegen.CPU_TARGET ? codegen.planProgram(model, { target: variant === 'register' ? codegen.CPU_TARGET : codegen.GPU_TARGET }) : codegen.planProgram(model, { gemmVariant: variant }));

const models = [
  { name: 'transformer', file: 'models/transformer.mdl', set: { layers: 4, heads: 4, embed: 128, seq: 64, batch: 12 } },
  { name: 'autoencoder', file: 'models/autoencoder.mdl', set: {} },
];

/** `code` with the variables it declares renamed v0, v1, … by first appearance. */
function renameDeclared(code) {
  const declared = new Set([...code.matchAll(/\b(?:let|var(?:<[^>]*>)?)\s+([A-Za-z_]\w*)/g)].map((m) => m[1]));
  const names = new Map();
  return code.replace(/\b[A-Za-z_]\w*\b/g, (id) => {
    if (!declared.has(id)) return id;
    if (!names.has(id)) names.set(id, `v${names.size}`);
    return names.get(id);
  });
}

rmSync(out, { recursive: true, force: true });
for (const m of models) {
  const r = compileFile(join(root, m.file), { overrides: new Map(Object.entries(m.set)), data: { vocab: 65 } });
  if (!r.ok) throw new Error(`${m.file} does not compile: ${r.diagnostics.map((d) => d.message).join('; ')}`);
  for (const variant of ['register', 'tiled']) {
    const plan = planFor(r.model, variant);
    const dir = join(out, `${m.name}-${variant}`);
    mkdirSync(dir, { recursive: true });
    const file = new Map();
    plan.kernels.forEach((k, i) => {
      // The header comment names IR nodes by id: not part of what runs.
      const body = k.code.split('\n').filter((l, j, all) => !(l.startsWith('//') && all.slice(0, j).every((x) => x.startsWith('//')))).join('\n');
      const name = `${String(i).padStart(3, '0')}-${k.kind}.wgsl`;
      file.set(k.name, name);
      writeFileSync(join(dir, name), normalize ? renameDeclared(body) : body);
    });
    const lines = [];
    for (const [entry, calls] of Object.entries(plan.entries)) {
      lines.push(`# ${entry}`);
      for (const c of calls) lines.push(`${file.get(c.kernel)} [${c.dispatch.join(', ')}] offsets ${c.offsets.join(',')}`);
    }
    writeFileSync(join(dir, 'dispatches.txt'), lines.join('\n') + '\n');
    const layout = { arenas: plan.arenas, params: plan.params, inputs: plan.inputs, outputs: plan.outputs, lrGroups: plan.lrGroups, peakBytes: plan.peakBytes };
    writeFileSync(join(dir, 'layout.json'), JSON.stringify(layout, null, 1) + '\n');
    console.log(`${m.name} (${variant}): ${plan.kernels.length} kernels, ${plan.entries.train.length} training dispatches`);
  }
}
