#!/usr/bin/env node
// The mdlc command: runs the compiled CLI (npm install / npm ci builds it into dist/).
import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { dirname, join } from 'node:path';

// A reader that goes away (`mdlc check ... | head`) is not an error of mdlc: stop writing to
// that stream instead of dying with an unhandled EPIPE.
for (const stream of [process.stdout, process.stderr]) stream.on('error', () => {});

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const entry = join(root, 'dist', 'src', 'cli', 'main.js');
if (!existsSync(entry)) {
  console.error('mdlc: not built yet; run `npm install` (or `npm run build`) in ' + root);
  process.exit(2);
}
const { main } = await import(pathToFileURL(entry).href);
const code = await main(process.argv.slice(2));
// Exit explicitly (a WebGPU instance, dawn.node, keeps the event loop alive), but only once
// both streams have written everything queued: writes to a pipe are asynchronous, and
// process.exit drops what is still queued.
await Promise.all([process.stdout, process.stderr].map(flushed));
process.exit(code);

/** Resolves once every write queued on `stream` so far has been handed to the OS (or failed). */
function flushed(stream) {
  return new Promise((resolve) => {
    if (stream.destroyed || stream.writableEnded) return resolve();
    stream.write('', () => resolve());
  });
}
