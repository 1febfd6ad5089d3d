/**
 * `mdlc playground`: the server hands out the built page (only its files) and the text a model
 * trains on; the page's bundle is browser code (no Node.js imports); the command's flags and
 * failures are one-line errors.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { spawn, spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { startPlayground, webDir, type Playground } from '../../src/cli/playground.js';
import { main } from '../../src/cli/main.js';

const root = resolve('.');
const web = join(root, 'dist', 'web');
if (!existsSync(join(web, 'index.html'))) throw new Error('the playground is not built: run `npm run build` (npm ci does it) before the tests');
const tmp = mkdtempSync(join(tmpdir(), 'mdlc-playground-'));
const data = join(tmp, 'text.txt');
writeFileSync(data, 'To be, or not to be: that is the question.\n');

let withData: Playground;
let withoutData: Playground;
const fetched: string[] = [];
beforeAll(async () => {
  withData = await startPlayground({ port: 0, host: '127.0.0.1', web, data });
  withoutData = await startPlayground({
    port: 0,
    host: '127.0.0.1',
    web,
    datasets: {
      cache: join(tmp, 'cache'),
      fetchImpl: (async (url: string) => {
        fetched.push(url);
        throw new Error('offline');
      }) as unknown as typeof fetch,
    },
  });
});
afterAll(async () => {
  await withData?.close();
  await withoutData?.close();
  rmSync(tmp, { recursive: true, force: true });
});

function io() {
  const out: string[] = [];
  const err: string[] = [];
  return { out, err, io: { out: (s: string) => void out.push(s), err: (s: string) => void err.push(s), color: false } };
}

describe('the playground server', () => {
  it('serves the page, its script and its style sheet', async () => {
    expect(withData.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
    const page = await fetch(withData.url);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
    const html = await page.text();
    expect(html).toContain('<title>mdlc playground</title>');
    expect(html).toContain('<script type="module" src="app.js"></script>');
    const js = await fetch(`${withData.url}app.js`);
    expect(js.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect((await js.text()).length).toBeGreaterThan(100_000);
    expect((await fetch(`${withData.url}app.css`)).headers.get('content-type')).toBe('text/css; charset=utf-8');
  });

  it('serves nothing but the files of the build', async () => {
    for (const path of ['nope.html', '%2e%2e/package.json', '..%2fpackage.json', 'models/transformer.mdl', '%2fetc%2fpasswd']) {
      const r = await fetch(`${withData.url}${path}`);
      expect(r.status, path).toBe(404);
    }
    expect((await fetch(withData.url, { method: 'POST', body: 'x' })).status).toBe(405);
  });

  it('serves the --data file as the dataset a model names', async () => {
    const r = await fetch(`${withData.url}data/tinyshakespeare`);
    expect(r.status).toBe(200);
    expect(await r.text()).toBe('To be, or not to be: that is the question.\n');
  });

  it('fetches a named dataset into the cache as mdlc train does, and says why when it cannot', async () => {
    const r = await fetch(`${withoutData.url}data/tinyshakespeare`);
    expect(r.status).toBe(502);
    expect(await r.text()).toMatch(/^cannot download dataset 'tinyshakespeare' from https:\/\/\S+ \(offline\); pass a local copy with --data FILE\n$/);
    expect(fetched).toHaveLength(1);
    const unknown = await fetch(`${withoutData.url}data/my-notes`);
    expect(unknown.status).toBe(404);
    expect(await unknown.text()).toBe("'my-notes' is not a dataset mdlc knows (tinyshakespeare); drop the text file onto the page\n");
  });
});

describe('the page bundle', () => {
  it('is browser code: no Node.js module is imported, and Dawn is never bundled', () => {
    const js = readFileSync(join(web, 'app.js'), 'utf8');
    expect(js).not.toMatch(/from\s*["']node:|import\(\s*["']node:|require\(\s*["']node:/);
    // The runtime imports Dawn lazily for Node.js; in the page it stays an import never taken.
    expect(js.match(/import\(\s*["'][^"']+["']\s*\)/g)).toEqual(['import("webgpu")']);
    expect(js).not.toContain('createRequire');
  });

  it("has the runtime's browser entry as the package entry mdlc/runtime/browser, without Node.js modules", () => {
    const script = "const m = await import('mdlc/runtime/browser'); console.log(['trainLoop', 'PlanModel', 'planModule', 'WebGpuBackend', 'encodeModelFile', 'encodeCorpus', 'generate'].map((k) => typeof m[k]).join(' '))";
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { cwd: root, encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.stdout.trim()).toBe('function function function function function function function');
    // Every module the entry reaches, followed through its relative imports.
    const seen = new Set<string>();
    const stack = [join(root, 'dist', 'runtime', 'browser.js')];
    while (stack.length) {
      const file = stack.pop()!;
      if (seen.has(file)) continue;
      seen.add(file);
      const text = readFileSync(file, 'utf8');
      expect(text, file).not.toMatch(/from ['"]node:|import\(['"]node:/);
      for (const m of text.matchAll(/from ['"](\.[^'"]+)['"]/g)) stack.push(resolve(dirname(file), m[1]));
    }
    expect([...seen].map((f) => f.slice(join(root, 'dist', 'runtime').length + 1)).sort()).toContain('plan.js');
    expect(seen.size).toBeGreaterThan(12);
  });

  it('is found from the sources as from dist/', () => {
    expect(webDir()).toBe(web);
  });
});

describe('mdlc playground', () => {
  it('prints its usage with --help, and refuses files, bad ports, missing data and a port in use', async () => {
    let r = io();
    expect(await main(['playground', '--help'], r.io)).toBe(0);
    expect(r.out.join('\n')).toMatch(/^usage: mdlc playground \[--port N\] \[--host H\] \[--data FILE\]/);
    r = io();
    expect(await main(['playground', 'models/transformer.mdl'], r.io)).toBe(2);
    expect(r.err.join('\n')).toMatch(/mdlc playground takes no files/);
    r = io();
    expect(await main(['playground', '--port', 'x'], r.io)).toBe(2);
    r = io();
    expect(await main(['playground', '--port', '70000'], r.io)).toBe(2);
    expect(r.err.join('\n')).toMatch(/--port must be at most 65535/);
    r = io();
    expect(await main(['playground', '--data', join(tmp, 'missing.txt')], r.io)).toBe(1);
    expect(r.err).toEqual([`mdlc: data file ${join(tmp, 'missing.txt')} does not exist`]);
    const busy = createServer();
    await new Promise<void>((done) => busy.listen(0, '127.0.0.1', () => done()));
    const port = (busy.address() as { port: number }).port;
    try {
      r = io();
      expect(await main(['playground', '--port', String(port)], r.io)).toBe(1);
      expect(r.err).toEqual([`mdlc: cannot serve on 127.0.0.1:${port} (the port is in use: choose another with --port N)`]);
    } finally {
      busy.close();
    }
  });

  it('serves the page from the built CLI until Ctrl-C, then exits 0', async () => {
    if (!existsSync(join(root, 'dist/src/cli/main.js'))) throw new Error('run `npm run build` (npm ci does it) before the tests');
    const child = spawn(process.execPath, [join(root, 'bin/mdlc.js'), 'playground', '--port', '0', '--data', data], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.setEncoding('utf8');
    const url = await new Promise<string>((done, fail) => {
      child.stdout.on('data', (chunk: string) => {
        out += chunk;
        const m = /mdlc playground: (http:\/\/127\.0\.0\.1:\d+\/)/.exec(out);
        if (m) done(m[1]);
      });
      child.once('exit', (code) => fail(new Error(`mdlc playground exited with ${code}: ${out}`)));
    });
    expect(out).toContain(`(data: ${data}; Ctrl-C to stop)`);
    expect(await (await fetch(url)).text()).toContain('<title>mdlc playground</title>');
    expect(await (await fetch(`${url}data/tinyshakespeare`)).text()).toBe('To be, or not to be: that is the question.\n');
    const exit = new Promise<number | null>((done) => child.once('exit', (code) => done(code)));
    child.kill('SIGINT');
    expect(await exit).toBe(0);
  }, 60_000);
});
