/**
 * Chevrotain, loaded fast. The package's entry point (`lib/src/api.js`) pulls in hundreds of
 * lodash-es modules and takes ~0.4 s to import, which would dominate `mdlc check`; the same
 * release ships a single-file ESM bundle (`lib/chevrotain.mjs`, same code and version) that
 * imports in ~25 ms. The package's `exports` map hides that file, so it is located next to
 * the resolved entry point; if it is ever missing, the regular entry point is used.
 *
 * Every runtime value from Chevrotain must come from here (one copy of the library: token
 * types, `instanceof` on grammar nodes). Types may be imported from 'chevrotain' directly.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';

export type Chevrotain = typeof import('chevrotain');

async function load(): Promise<Chevrotain> {
  try {
    const entry = createRequire(import.meta.url).resolve('chevrotain');
    const bundle = join(dirname(entry), '..', 'chevrotain.mjs');
    if (existsSync(bundle)) {
      const mod = (await import(pathToFileURL(bundle).href)) as Chevrotain;
      if (typeof mod.CstParser === 'function' && typeof mod.createToken === 'function') return mod;
    }
  } catch {
    // fall through to the regular entry point
  }
  return import('chevrotain');
}

export const chevrotain: Chevrotain = await load();
