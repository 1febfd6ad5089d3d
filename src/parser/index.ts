/**
 * The parser stage: `.mdl` text → AST with source spans, plus every syntax diagnostic.
 *
 *   readSourceFile(path) → SourceFile        (E0001 unreadable, E0002 not UTF-8, E0003 empty)
 *   parseModel(source)   → ModelFile + diagnostics (E0100–E0104); never throws
 *
 * parse.ts needs no files (a browser page parses with it); read.ts reads them.
 */
export * from './parse.js';
export * from './read.js';
