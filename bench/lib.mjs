// Shared helpers of the bench scripts: machine description and BENCHMARKS.md sections.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

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
