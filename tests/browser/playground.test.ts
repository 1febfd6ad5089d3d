/**
 * The playground end to end in a real browser: Debian's Chromium, headless, driven by
 * playwright-core, with WebGPU on its CPU adapter. The page is served by `mdlc playground`'s
 * server; the test types a wrong-axis softmax into the editor and sees the checker's diagnostic
 * at the right line, fixes it, trains a tiny transformer in the page, checks that its losses are
 * those of `mdlc train --backend webgpu` at the same seed and sizes, samples text, downloads the
 * checkpoint and compares it with the CLI's, and takes the screenshot the README shows. A page
 * without WebGPU says so and still checks.
 *
 * Without Chromium the tests skip with a warning, unless MDLC_REQUIRE_BROWSER=1 (CI), which
 * makes a missing browser a failure; MDLC_REQUIRE_WEBGPU=1 does the same for a page without a
 * WebGPU adapter. MDLC_SCREENSHOT=FILE also writes the screenshot there (docs/playground.png).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { startPlayground, type Playground } from '../../src/cli/playground.js';
import { readCheckpoint } from '../../runtime/checkpoint.js';
import { webgpuRequired } from '../helpers/webgpu.js';
import chromiumFlags from '../../scripts/chromium-flags.json' with { type: 'json' };

const CHROMIUM = process.env.MDLC_CHROMIUM ?? chromiumFlags.executable;
/** WebGPU on, and Chromium's background traffic off. */
const CHROMIUM_ARGS = chromiumFlags.args;

const flagSet = (name: string) => {
  const v = process.env[name];
  return v !== undefined && v !== '' && v !== '0' && v.toLowerCase() !== 'false';
};
const haveBrowser = existsSync(CHROMIUM);
if (!haveBrowser) {
  if (flagSet('MDLC_REQUIRE_BROWSER')) throw new Error(`Chromium is not installed at ${CHROMIUM}: run \`sudo bash scripts/install-chromium.sh\``);
  console.warn(`[browser] skipping the playground's browser tests: no Chromium at ${CHROMIUM} (bash scripts/install-chromium.sh; MDLC_REQUIRE_BROWSER=1 fails instead)`);
}

const root = resolve('.');
const tmp = mkdtempSync(join(tmpdir(), 'mdlc-browser-'));
const data = join(tmp, 'shakespeare.txt');
writeFileSync(
  data,
  [
    'First Citizen:\nBefore we proceed any further, hear me speak.\n\nAll:\nSpeak, speak.\n\n',
    'First Citizen:\nYou are all resolved rather to die than to famish?\n\nAll:\nResolved. resolved.\n\n',
    'ROMEO:\nBut, soft! what light through yonder window breaks?\nIt is the east, and Juliet is the sun.\n\n',
  ]
    .join('')
    .repeat(40),
);
/** The tiny run both the page and the CLI train: the file's seed, these sizes and settings. */
const SETTINGS = { steps: 40, batch: 4, seq: 16, embed: 32, heads: 2, layers: 1, eval_every: 20, eval_batches: 2, lr: 0.01, warmup: 5 };
const SOFTMAX = 'p = softmax(s, over: key)';

let playground: Playground;
let browser: Browser;
beforeAll(async () => {
  if (!haveBrowser) return;
  const web = join(root, 'dist', 'web');
  if (!existsSync(join(web, 'index.html'))) throw new Error('the playground is not built: run `npm run build` (npm ci does it) before the tests');
  playground = await startPlayground({ port: 0, host: '127.0.0.1', web, data });
  browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, env: { ...process.env, XDG_RUNTIME_DIR: process.env.XDG_RUNTIME_DIR ?? '/tmp' } });
}, 120_000);
afterAll(async () => {
  await browser?.close();
  await playground?.close();
  rmSync(tmp, { recursive: true, force: true });
});

interface PageState {
  phase: string;
  webgpu: string;
  adapter?: string;
  diagnostics: { line: number; code: string; message: string; help?: string }[];
  losses: number[];
  valLosses: { step: number; loss: number }[];
  samples: { kind: string }[];
  tokensPerSecond: number;
  sample: string;
  error?: string;
}

const stateOf = (page: Page) => page.evaluate(() => (globalThis as unknown as { mdlcPlayground: unknown }).mdlcPlayground) as Promise<PageState>;

async function openPage(options: { hideWebGpu?: boolean } = {}): Promise<{ page: Page; errors: string[] }> {
  const context = await browser.newContext({ viewport: { width: 1440, height: 1000 }, acceptDownloads: true });
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
  if (options.hideWebGpu) await page.addInitScript(() => Object.defineProperty((globalThis as unknown as { Navigator: { prototype: object } }).Navigator.prototype, 'gpu', { get: () => undefined }));
  await page.goto(playground.url);
  await page.waitForFunction(() => (globalThis as unknown as { mdlcPlayground?: { webgpu: string } }).mdlcPlayground?.webgpu !== 'pending', null, { timeout: 60_000 });
  return { page, errors };
}

/** The editor line that holds `text`, scrolled into view (CodeMirror renders only the lines in view). */
async function lineWith(page: Page, text: string) {
  const line = page.locator('.cm-line', { hasText: text });
  for (let i = 0; i < 40 && (await line.count()) === 0; i++) {
    await page.locator('.cm-scroller').evaluate((el) => void ((el as unknown as { scrollTop: number }).scrollTop += 200));
    await page.waitForTimeout(50);
  }
  return line;
}

/** Click at the end of the editor line that holds `text`. */
async function clickLineEnd(page: Page, text: string) {
  await (await lineWith(page, text)).click();
  await page.keyboard.press('End');
}

/** Type the wrong-axis softmax, see E0501 at line 38 (labelled at 37), and type the fix. */
async function introduceAndFixWrongAxis(page: Page) {
  await clickLineEnd(page, SOFTMAX);
  for (let i = 0; i < 'key)'.length; i++) await page.keyboard.press('Backspace');
  await page.keyboard.type('seq)');
  const problem = page.locator('#problems li[data-code="E0501"]');
  await problem.waitFor({ timeout: 30_000 });
  expect(await problem.getAttribute('data-line')).toBe('38');
  expect(await problem.textContent()).toMatch(/line 38: error E0501: `p` is a softmax over `seq`, but it is contracted over `key` while `seq` survives.*help: .*take the softmax over `key`/);
  // Inline: the contraction on line 38 is underlined as an error, the softmax on 37 marked as its label.
  const underlined = page.locator('.cm-lintRange-error');
  await underlined.first().waitFor({ timeout: 10_000 });
  expect(await underlined.allTextContents()).toEqual(['p . v over key']);
  expect(await page.locator('.cm-line', { has: underlined }).textContent()).toBe('  return (p . v over key) . wo over (heads, head)');
  expect(await page.locator('.cm-lintRange-info').allTextContents()).toEqual(['softmax(s, over: seq)']);
  expect((await stateOf(page)).diagnostics.map((d) => [d.code, d.line])).toEqual([['E0501', 38]]);

  for (let i = 0; i < 'seq)'.length; i++) await page.keyboard.press('Backspace');
  await page.keyboard.type('key)');
  await page.waitForFunction(() => (globalThis as unknown as { mdlcPlayground: PageState }).mdlcPlayground.diagnostics.length === 0, null, { timeout: 30_000 });
  expect(await page.locator('#problems li').count()).toBe(0);
  expect(await page.locator('#check-status').textContent()).toBe('ok');
}

/** `mdlc train --backend webgpu` on the same text at the same settings: its losses and final checkpoint. */
function trainWithCli() {
  const runDir = join(tmp, 'cli-run');
  const sets = Object.entries(SETTINGS).flatMap(([k, v]) => ['--set', `${k}=${v}`]);
  const r = spawnSync(process.execPath, [join(root, 'bin/mdlc.js'), 'train', join(root, 'models/transformer.mdl'), '--backend', 'webgpu', '--data', data, '--run-dir', runDir, '--samples', '0', ...sets], {
    encoding: 'utf8',
    env: { ...process.env, XDG_RUNTIME_DIR: process.env.XDG_RUNTIME_DIR ?? '/tmp' },
    maxBuffer: 1 << 26,
  });
  if (r.status !== 0) throw new Error(`mdlc train failed (${r.status}): ${r.stderr}${r.stdout}`);
  const metrics = readFileSync(join(runDir, 'metrics.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { step: number; loss?: number; val_loss?: number });
  return {
    losses: metrics.filter((m) => m.loss !== undefined).map((m) => m.loss!),
    valLosses: metrics.filter((m) => m.val_loss !== undefined).map((m) => ({ step: m.step, loss: m.val_loss! })),
    checkpoint: readCheckpoint(join(runDir, 'checkpoints', `step-${String(SETTINGS.steps).padStart(8, '0')}`)),
  };
}

describe.runIf(haveBrowser)('the playground in Chromium', () => {
  it('checks as you type, trains in the page with the losses of mdlc train, samples, and saves the CLI checkpoint', async () => {
    const { page, errors } = await openPage();
    const initial = await stateOf(page);
    if (initial.webgpu !== 'available') {
      const why = await page.locator('#gpu-status').textContent();
      if (webgpuRequired()) throw new Error(`Chromium offers the page no WebGPU adapter: ${why}`);
      console.warn(`[browser] Chromium has no WebGPU adapter here (${why}); the training part is left out (MDLC_REQUIRE_WEBGPU=1 fails instead)`);
    }
    expect(await page.locator('.cm-content').textContent()).toContain('model transformer');
    expect(initial.diagnostics).toEqual([]);
    // Highlighting comes from the grammar: `softmax` is styled as a builtin function, unlike `p`.
    const softmaxLine = await lineWith(page, SOFTMAX);
    type Styles = { getComputedStyle(e: unknown): { color: string } };
    const plain = await softmaxLine.evaluate((line) => (globalThis as unknown as Styles).getComputedStyle(line).color);
    const styled = Object.fromEntries(await softmaxLine.locator('span').evaluateAll((spans) => spans.map((s) => [s.textContent, (globalThis as unknown as Styles).getComputedStyle(s).color])));
    expect(styled.softmax).toBeDefined();
    expect(styled.softmax).not.toBe(plain);
    expect(styled.over).not.toBe(styled.softmax);

    await introduceAndFixWrongAxis(page);
    if (initial.webgpu !== 'available') return;
    expect(initial.adapter).toBeTruthy();

    await page.fill('#sets', Object.entries(SETTINGS).map(([k, v]) => `${k}=${v}`).join(' '));
    await page.waitForFunction(() => (globalThis as unknown as { mdlcPlayground: PageState }).mdlcPlayground.diagnostics.length === 0);
    expect(await page.locator('#data-label').textContent()).toMatch(/^tinyshakespeare \(the dataset the model names, from the server\)/);
    await page.click('#train');
    await page.waitForFunction(() => ['done', 'stopped', 'error'].includes((globalThis as unknown as { mdlcPlayground: PageState }).mdlcPlayground.phase), null, { timeout: 900_000, polling: 500 });
    const trained = await stateOf(page);
    expect(trained.error).toBeUndefined();
    expect(trained.phase).toBe('done');
    expect(trained.losses).toHaveLength(SETTINGS.steps);
    expect(trained.valLosses.map((v) => v.step)).toEqual([20, 40]);
    expect(trained.tokensPerSecond).toBeGreaterThan(0);
    expect(await page.locator('#progress').textContent()).toMatch(new RegExp(`^step ${SETTINGS.steps}/${SETTINGS.steps} · loss \\d\\.\\d{4} · validation ${trained.valLosses[1].loss.toFixed(4).replace('.', '\\.')} · [\\d,]+ tokens/s$`));
    expect(await page.locator('#samples h3').textContent()).toBe('step 40: validation completions');
    expect(await page.locator('#samples .sample').count()).toBe(3);
    expect(trained.samples).toHaveLength(3);

    // The same losses as the CLI's, step for step (the same loop, seed, data order and WGSL).
    const cli = trainWithCli();
    expect(cli.losses).toHaveLength(SETTINGS.steps);
    trained.losses.forEach((loss, i) => expect(Math.abs(loss - cli.losses[i]), `step ${i + 1}: page ${loss}, CLI ${cli.losses[i]}`).toBeLessThan(1e-3));
    trained.valLosses.forEach((v, i) => {
      expect(v.step).toBe(cli.valLosses[i].step);
      expect(Math.abs(v.loss - cli.valLosses[i].loss)).toBeLessThan(1e-3);
    });
    expect(trained.losses.at(-1)!).toBeLessThan(trained.losses[0] - 0.5);

    // Sampling: the prompt, then the model's characters as they come.
    await page.fill('#prompt', 'ROMEO:');
    await page.fill('#tokens', '60');
    await page.click('#sample');
    await page.waitForFunction(() => (globalThis as unknown as { mdlcPlayground: PageState }).mdlcPlayground.sample.length === 60, null, { timeout: 120_000 });
    const sampled = (await stateOf(page)).sample;
    expect(await page.locator('#sample-out').textContent()).toBe(`ROMEO:${sampled}`);
    expect([...sampled].every((ch) => cli.checkpoint.meta.vocab.includes(ch))).toBe(true);

    // The checkpoint's weights file: the CLI's layout and metadata, the CLI's weights.
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#download-model')]);
    expect(download.suggestedFilename()).toBe('model.safetensors');
    const file = join(tmp, 'page', 'model.safetensors');
    mkdirSync(dirname(file), { recursive: true });
    await download.saveAs(file);
    const saved = readCheckpoint(file);
    expect(saved.meta).toEqual(cli.checkpoint.meta);
    expect([...saved.params.keys()].sort()).toEqual([...cli.checkpoint.params.keys()].sort());
    for (const [name, t] of cli.checkpoint.params) {
      const p = saved.params.get(name)!;
      expect(p.shape).toEqual(t.shape);
      const worst = Array.from(p.data).reduce((m, x, i) => Math.max(m, Math.abs(x - t.data[i])), 0);
      expect(worst, name).toBeLessThan(1e-4);
    }

    // The editor scrolled right while typing at the end of a line: back to its left edge.
    await page.locator('.cm-scroller').evaluate((el) => void ((el as unknown as { scrollLeft: number }).scrollLeft = 0));
    await page.evaluate(() => (globalThis as unknown as { scrollTo(x: number, y: number): void }).scrollTo(0, 0));
    const shot = join(tmp, 'playground.png');
    await page.screenshot({ path: shot });
    expect(readFileSync(shot).subarray(1, 4).toString()).toBe('PNG');
    if (process.env.MDLC_SCREENSHOT) {
      mkdirSync(dirname(resolve(process.env.MDLC_SCREENSHOT)), { recursive: true });
      copyFileSync(shot, process.env.MDLC_SCREENSHOT);
    }
    expect(errors).toEqual([]);
    await page.context().close();
  }, 1_500_000);

  it('without WebGPU, says so, offers no training, and still checks as you type', async () => {
    const { page, errors } = await openPage({ hideWebGpu: true });
    expect((await stateOf(page)).webgpu).toBe('unavailable');
    expect(await page.locator('#gpu-status').textContent()).toMatch(/^No WebGPU: this browser has no WebGPU \(navigator\.gpu is missing\)\. Models are still checked as you type/);
    expect(await page.locator('#train').isDisabled()).toBe(true);
    await introduceAndFixWrongAxis(page);
    // A dropped text file is read into tokens in the page, as mdlc train reads --data.
    await page.setInputFiles('#data-file', data);
    const text = readFileSync(data, 'utf8');
    await page.locator('#data-label', { hasText: 'your file' }).waitFor({ timeout: 10_000 });
    expect(await page.locator('#data-label').textContent()).toBe(`shakespeare.txt (your file: ${text.length.toLocaleString('en-US')} characters, ${new Set(text).size} distinct)`);
    // Dropped onto the editor, a file is training text too, not text pasted into the model.
    const dropped = await page.evaluateHandle(() => {
      const g = globalThis as unknown as { DataTransfer: new () => { items: { add(f: unknown): void } }; File: new (parts: string[], name: string, o: object) => unknown };
      const dt = new g.DataTransfer();
      dt.items.add(new g.File(['abcabcabc\n'], 'notes.txt', { type: 'text/plain' }));
      return dt;
    });
    const before = await page.locator('.cm-content').textContent();
    await page.dispatchEvent('.cm-content', 'drop', { dataTransfer: dropped });
    await page.locator('#data-label', { hasText: 'notes.txt' }).waitFor({ timeout: 10_000 });
    expect(await page.locator('#data-label').textContent()).toBe('notes.txt (your file: 10 characters, 4 distinct)');
    expect(await page.locator('.cm-content').textContent()).toBe(before);
    expect(errors).toEqual([]);
    await page.context().close();
  }, 300_000);
});
