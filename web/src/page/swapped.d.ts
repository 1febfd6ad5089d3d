// The page is type-checked without Node's types, so that a Node.js API reached from it is a
// type error. One module on its path imports Node on purpose: src/parser/chevrotain.ts, which
// the web build swaps for chevrotain.browser.ts. Its imports are declared here, and only those.
declare module 'node:fs' {
  export function existsSync(path: string): boolean;
}
declare module 'node:module' {
  export function createRequire(url: string): { resolve(id: string): string };
}
declare module 'node:path' {
  export function dirname(path: string): string;
  export function join(...parts: string[]): string;
}
declare module 'node:url' {
  export function pathToFileURL(path: string): URL;
}
