/**
 * The compiler driver: source file → AST → IR → checked model, collecting every stage's
 * diagnostics. The CLI and tests go through here; stages never call each other directly.
 * (compile.ts is the part without files, which a browser page uses.)
 */
import { createHash } from 'node:crypto';
import { readSourceFile } from '../parser/index.js';
import { compileSource, modelHashInput, type CompileOptions, type CompileResult } from './compile.js';

export { compileSource, modelHashInput, type CompileOptions, type CompileResult } from './compile.js';

/**
 * SHA-256 identifying a model: its source text and the `--set` overrides (sorted by name).
 * Checkpoints and exported programs carry it, to tell which model (at which sizes) they are.
 */
export function modelHash(sourceText: string, overrides: ReadonlyMap<string, number>): string {
  return createHash('sha256').update(modelHashInput(sourceText, overrides)).digest('hex');
}

export function compileFile(path: string, options: CompileOptions = {}): CompileResult {
  const read = readSourceFile(path);
  if (!read.source) return { diagnostics: read.diagnostics, ok: false };
  return compileSource(read.source, options);
}
