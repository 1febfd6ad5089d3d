/**
 * `mdlc playground [--port N] [--host H] [--data FILE]`: serves the playground page (built into
 * dist/web/ by `npm run build`) and the text it trains on. The page compiles, checks and trains
 * in the browser; the server only hands out files: the page's own, and at `data/NAME` the
 * dataset a model names (from mdlc's cache, downloaded once as `mdlc train` does) or the file
 * given with --data.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DataError, dataReadError, DATASETS, datasetFile, MAX_TEXT_BYTES, refuseDevice, type DatasetOptions } from '../../runtime/data.js';
import { readBounded } from '../../runtime/files.js';
import { flag, intFlag, UsageError, type FlagSpec, type ParsedArgs } from './args.js';
import type { Io } from './common.js';

export const PLAYGROUND_FLAGS: Record<string, FlagSpec> = {
  port: { value: true },
  host: { value: true },
  data: { value: true },
};

export const DEFAULT_PORT = 8017;

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
};

/** dist/web of this installation: found upward from this file (in the sources or in dist/). */
export function webDir(): string | undefined {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++, dir = dirname(dir)) {
    if (!existsSync(join(dir, 'package.json'))) continue;
    const web = join(dir, 'dist', 'web');
    return existsSync(join(web, 'index.html')) ? web : undefined;
  }
  return undefined;
}

export interface PlaygroundOptions {
  port: number;
  host: string;
  /** A text file served as whatever dataset a model names. */
  data?: string;
  /** The built page (default: dist/web). */
  web: string;
  /** Where named datasets come from (tests: a cache directory and a fetch of their own). */
  datasets?: DatasetOptions;
}

export interface Playground {
  server: Server;
  url: string;
  close(): Promise<void>;
}

function send(res: ServerResponse, status: number, body: string | Uint8Array, type = 'text/plain; charset=utf-8'): void {
  res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body), 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' });
  res.end(body);
}

/** The bytes of the text served for dataset `name`, or why there is none (an HTTP status and one line). */
async function dataFor(name: string, data: string | undefined, datasets: DatasetOptions): Promise<{ bytes: Uint8Array } | { status: number; message: string }> {
  const file = data ?? (Object.hasOwn(DATASETS, name) ? undefined : null);
  if (file === null) return { status: 404, message: `'${name}' is not a dataset mdlc knows (${Object.keys(DATASETS).join(', ')}); drop the text file onto the page` };
  try {
    const path = file ?? (await datasetFile(name, datasets));
    refuseDevice(path);
    try {
      return { bytes: readBounded(path, MAX_TEXT_BYTES) };
    } catch (e) {
      throw dataReadError(path, e);
    }
  } catch (e) {
    if (e instanceof DataError) return { status: 502, message: e.message };
    throw e;
  }
}

/** Start serving; resolves once listening (port 0: any free port). */
export function startPlayground(options: PlaygroundOptions): Promise<Playground> {
  // Only the files the build wrote, by name: nothing else on the disk is reachable.
  const files = new Set(readdirSync(options.web).filter((f) => statSync(join(options.web, f)).isFile()));
  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, 'only GET\n');
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    if (path.startsWith('/data/')) {
      const r = await dataFor(path.slice('/data/'.length), options.data, options.datasets ?? {});
      if ('bytes' in r) return send(res, 200, r.bytes, TYPES['.txt']);
      return send(res, r.status, `${r.message}\n`);
    }
    const name = path === '/' ? 'index.html' : path.slice(1);
    if (!files.has(name)) return send(res, 404, `not found: ${path}\n`);
    send(res, 200, readFileSync(join(options.web, name)), TYPES[name.slice(name.lastIndexOf('.'))] ?? 'application/octet-stream');
  };
  const server = createServer((req, res) => {
    handle(req, res).catch((e: unknown) => {
      if (!res.headersSent) send(res, 500, `mdlc playground: ${(e as Error)?.message ?? String(e)}\n`);
      else res.destroy();
    });
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : options.port;
      const host = options.host.includes(':') ? `[${options.host}]` : options.host;
      resolve({ server, url: `http://${host}:${port}/`, close: () =>
          new Promise<void>((done) => {
            server.close(() => done());
            server.closeAllConnections();
          }),
      });
    });
  });
}

/** Serve until interrupted (Ctrl-C): exit code 0. */
export async function runPlayground(args: ParsedArgs, io: Io): Promise<number> {
  if (args.flags.has('help')) {
    io.out('usage: mdlc playground [--port N] [--host H] [--data FILE]\nServes the playground page (default http://127.0.0.1:8017/); --data FILE: the text to train on instead of the dataset a model names.');
    return 0;
  }
  if (args.positional.length) throw new UsageError(`mdlc playground takes no files (got '${args.positional[0]}'): the page has the models`);
  const port = intFlag(args, 'port', 0) ?? DEFAULT_PORT;
  if (port > 65535) throw new UsageError(`--port must be at most 65535, got ${port}`);
  const host = flag(args, 'host') ?? '127.0.0.1';
  const data = flag(args, 'data');
  if (data !== undefined && !existsSync(data)) {
    io.err(`mdlc: data file ${data} does not exist`);
    return 1;
  }
  const web = webDir();
  if (!web) {
    io.err('mdlc: the playground page is not built (no dist/web/index.html): run `npm run build`');
    return 1;
  }
  let playground: Playground;
  try {
    playground = await startPlayground({ port, host, data, web });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    io.err(`mdlc: cannot serve on ${host}:${port} (${code === 'EADDRINUSE' ? 'the port is in use: choose another with --port N' : code ?? (e as Error).message})`);
    return 1;
  }
  io.out(`mdlc playground: ${playground.url}  (data: ${data ?? 'the dataset each model names'}; Ctrl-C to stop)`);
  await new Promise<void>((resolve) => process.once('SIGINT', () => resolve()));
  await playground.close();
  return 0;
}
