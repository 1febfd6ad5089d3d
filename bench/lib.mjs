// Shared helpers of the bench scripts: machine description and BENCHMARKS.md sections.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

export const root = join(dirname(fileURLToPath(import.meta.url)), '..');

export function machine() {
  const c = cpus();
  return `${c.length} × ${c[0]?.model.trim() ?? 'unknown CPU'}, Node ${process.version}`;
}

export function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Replace (or append) the block between <!-- bench:NAME --> markers in BENCHMARKS.md. */
export function writeSection(name, markdown) {
  const file = join(root, 'BENCHMARKS.md');
  const begin = `<!-- bench:${name} -->`;
  const end = `<!-- /bench:${name} -->`;
  let text = existsSync(file) ? readFileSync(file, 'utf8') : '# Benchmarks\n\nNumbers written by the scripts in `bench/` (run them to refresh). Each section names the machine it was measured on.\n';
  const block = `${begin}\n${markdown.trim()}\n${end}`;
  const i = text.indexOf(begin);
  const j = text.indexOf(end);
  text = i >= 0 && j > i ? text.slice(0, i) + block + text.slice(j + end.length) : `${text.trimEnd()}\n\n${block}\n`;
  writeFileSync(file, text);
  console.log(`updated BENCHMARKS.md section '${name}'`);
}

/** The text the training benches use: $DATA, or the shared Tiny Shakespeare; exits if missing. */
export function benchData() {
  const data = process.env.DATA ?? join(root, '..', 'shared', 'data', 'tinyshakespeare.txt');
  if (!existsSync(data)) {
    console.error(`bench: no data at ${data} (set DATA=path/to/text)`);
    process.exit(2);
  }
  return data;
}

export function requireBuild() {
  if (!existsSync(join(root, 'dist', 'src', 'cli', 'main.js'))) {
    console.error('bench: run `npm run build` first');
    process.exit(2);
  }
}

/** A module of the compiled project (dist/). */
export const importDist = (path) => import(pathToFileURL(join(root, 'dist', path)).href);

/** The transformer at nanoGPT's CPU configuration (LAYERS overrides the depth), no evaluation. */
export function nanoGptSettings() {
  return { layers: Number(process.env.LAYERS ?? 4), heads: 4, embed: 128, seq: 64, batch: 12, eval_every: 1e9 };
}

/**
 * models/transformer.mdl at `settings`, compiled against the bench data and built for the
 * adapter into build/<tag>-<pid>/: the device context, the GEMM variant (`variant` or the
 * adapter's), the opened session, the build result and its directory.
 */
export async function buildTransformer(settings, tag, variant) {
  const { openSession } = await importDist('src/train/session.js');
  const { readSourceFile } = await importDist('src/parser/index.js');
  const { build, targetFor } = await importDist('src/codegen/index.js');
  const { acquireDevice } = await importDist('runtime/device.js');
  const { source } = readSourceFile(join(root, 'models', 'transformer.mdl'));
  const opened = await openSession(source, { dataPath: benchData(), overrides: new Map(Object.entries(settings)) });
  if (!opened.ok) throw new Error('model does not compile');
  const ctx = await acquireDevice();
  const target = targetFor(ctx, variant);
  const out = join(root, 'build', `${tag}-${process.pid}`);
  const result = build(opened.session.model, 'models/transformer.mdl', { outDir: out, target });
  return { ctx, variant: target.gemm, opened, result, out };
}

/** Rows grouped by `kind`: [kind, { n, total of row[field] }], largest total first. */
export function totalsByKind(rows, field) {
  const byKind = new Map();
  for (const x of rows) {
    const e = byKind.get(x.kind) ?? { n: 0, total: 0 };
    e.n++;
    e.total += x[field];
    byKind.set(x.kind, e);
  }
  return [...byKind].sort((a, b) => b[1].total - a[1].total);
}
