// Builds the playground page into dist/web/ (index.html, app.js, app.css) with esbuild: the
// page's code, the compiler and the runtime in one browser bundle. `npm run build` runs it
// after tsc. Two things differ from the Node build: src/parser/chevrotain.ts (which locates
// Chevrotain's single-file build through Node's resolver) is swapped for chevrotain.browser.ts,
// and the `webgpu` package (Dawn for Node.js) stays out: a page passes navigator.gpu.
import * as esbuild from 'esbuild';
import { copyFileSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const out = join(root, 'dist', 'web');

/** chevrotain.js imported from the parser → chevrotain.browser.ts beside it. */
const browserChevrotain = {
  name: 'browser-chevrotain',
  setup(build) {
    build.onResolve({ filter: /^\.\/chevrotain\.js$/ }, (args) => (args.resolveDir === join(root, 'src', 'parser') ? { path: join(args.resolveDir, 'chevrotain.browser.ts') } : undefined));
  },
};

const t0 = performance.now();
mkdirSync(out, { recursive: true });
const result = await esbuild.build({
  absWorkingDir: root,
  entryPoints: { app: 'web/src/page/main.ts' },
  outdir: out,
  bundle: true,
  format: 'esm',
  platform: 'browser',
  target: 'es2022',
  minify: true,
  sourcemap: true,
  legalComments: 'linked',
  loader: { '.mdl': 'text' },
  external: ['webgpu'],
  plugins: [browserChevrotain],
  metafile: true,
  logLevel: 'warning',
});
copyFileSync(join(root, 'web', 'index.html'), join(out, 'index.html'));
const sizes = Object.entries(result.metafile.outputs)
  .filter(([f]) => !f.endsWith('.map'))
  .map(([f, o]) => `${f.split('/').pop()} ${(o.bytes / 1024).toFixed(0)} KiB`);
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
console.log(`web: built the playground (mdlc ${pkg.version}) into dist/web/ in ${((performance.now() - t0) / 1000).toFixed(1)} s: ${sizes.join(', ')}`);
