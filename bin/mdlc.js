#!/usr/bin/env node
// The mdlc command: runs the compiled CLI (npm install / npm ci builds it into dist/).
import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { dirname, join } from 'node:path';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const entry = join(root, 'dist', 'src', 'cli', 'main.js');
if (!existsSync(entry)) {
  console.error('mdlc: not built yet; run `npm install` (or `npm run build`) in ' + root);
  process.exit(2);
}
const { main } = await import(pathToFileURL(entry).href);
// Exit explicitly: a WebGPU instance (dawn.node) keeps the event loop alive.
const code = await main(process.argv.slice(2));
process.stdout.write('', () => process.exit(code));
