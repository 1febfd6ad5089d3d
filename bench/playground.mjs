// Training in the playground page, in headless Chromium (Debian's, as the browser test drives
// it): the transformer at nanoGPT's CPU configuration (4 layers, 4 heads, 128 wide, window 64,
// batch 12) on Tiny Shakespeare, through the page's Train button. Prints and records the
// adapter Chromium gives the page, the time to compile the pipelines, the time to the first
// step, and training tokens/s (the loop's figure: steps after the first). STEPS (default 30),
// LAYERS (default 4).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { benchData, importDist, machine, nanoGptSettings, requireBuild, root, writeSection } from './lib.mjs';

requireBuild();
const data = benchData();
const steps = Number(process.env.STEPS ?? 30);
const settings = { ...nanoGptSettings(), steps };
const flags = JSON.parse(readFileSync(join(root, 'scripts', 'chromium-flags.json'), 'utf8'));
const { startPlayground, webDir } = await importDist('src/cli/playground.js');
const web = webDir();
if (!web) {
  console.error('bench: the playground is not built: run `npm run build`');
  process.exit(2);
}

const playground = await startPlayground({ port: 0, host: '127.0.0.1', web, data });
const browser = await chromium.launch({ executablePath: process.env.MDLC_CHROMIUM ?? flags.executable, args: flags.args });
const version = browser.version();
let state;
try {
  const page = await browser.newPage();
  await page.goto(playground.url);
  await page.waitForFunction(() => globalThis.mdlcPlayground?.webgpu !== 'pending', null, { timeout: 60_000 });
  if ((await page.evaluate(() => globalThis.mdlcPlayground.webgpu)) !== 'available') throw new Error(`no WebGPU in the page: ${await page.locator('#gpu-status').textContent()}`);
  await page.fill('#sets', Object.entries(settings).map(([k, v]) => `${k}=${v}`).join(' '));
  await page.click('#train');
  await page.waitForFunction(() => ['done', 'stopped', 'error'].includes(globalThis.mdlcPlayground.phase), null, { timeout: 3_600_000, polling: 1000 });
  state = await page.evaluate(() => globalThis.mdlcPlayground);
  if (state.phase !== 'done') throw new Error(`training in the page failed: ${state.error}`);
} finally {
  await browser.close();
  await playground.close();
}

const line = (x) => x.toLocaleString('en-US', { maximumFractionDigits: 1 });
const result = {
  adapter: state.adapter,
  pipelineSeconds: state.pipelineSeconds,
  firstStepSeconds: state.firstStepSeconds,
  tokensPerSecond: state.tokensPerSecond,
  finalLoss: state.losses.at(-1),
};
console.log(JSON.stringify(result));
writeSection(
  'playground',
  `## Training in the playground page (transformer, nanoGPT CPU config, headless Chromium)

Measured by \`node bench/playground.mjs\` on ${machine()}, Chromium ${version}${process.env.UNDER_LOAD ? ' (measured under load: other jobs shared the cores)' : ''}: ${settings.layers} layers, ${settings.heads} heads, ${settings.embed} wide, window ${settings.seq}, batch ${settings.batch}, ${steps} steps through the page's Train button.

| what | figure |
|---|---|
| adapter Chromium gives the page | ${result.adapter} |
| compiling the pipelines | ${line(result.pipelineSeconds)} s |
| loop start to the first step's loss | ${line(result.firstStepSeconds)} s |
| training tokens/s (steps after the first) | ${line(result.tokensPerSecond)} |
| loss after ${steps} steps | ${result.finalLoss.toFixed(4)} |
`,
);
