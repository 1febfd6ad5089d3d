/**
 * Compiling source text: AST → IR → checked model, collecting every stage's diagnostics. No
 * files and no Node.js (a browser page compiles with it); index.ts adds reading files.
 */
import { diagnostic, fileSpan, hasErrors, sortDiagnostics, type Diagnostic, type SourceFile } from '../diagnostics/index.js';
import { parseModel } from '../parser/parse.js';
import { elaborate, type DataBindings, type ElaboratedModel } from '../ir/elaborate/index.js';
import { checkModel, checkPartialGraph } from '../ir/check/index.js';
import { DATASETS } from '../../runtime/text.js';

export interface CompileOptions {
  data?: DataBindings;
  overrides?: ReadonlyMap<string, number>;
}

/** The datasets a model can name, from the runtime's registry (the elaborator does not import the runtime). */
const DATASET_NAMES: readonly string[] = Object.keys(DATASETS);

export interface CompileResult {
  source?: SourceFile;
  model?: ElaboratedModel;
  diagnostics: Diagnostic[];
  /** True when there is a model and no errors. */
  ok: boolean;
}

/** Parse, elaborate and check source text. Never throws on bad input. */
export function compileSource(source: SourceFile, options: CompileOptions = {}): CompileResult {
  const parsed = parseModel(source);
  if (!parsed.ast || hasErrors(parsed.diagnostics)) {
    return { source, diagnostics: sortDiagnostics(parsed.diagnostics), ok: false };
  }
  try {
    const elab = elaborate(parsed.ast, { ...options, datasets: DATASET_NAMES });
    const diagnostics = [...parsed.diagnostics, ...elab.diagnostics];
    // Every node in the graph is well-typed (failed ones are left out), so the semantic rules
    // run even after errors; on a partial graph the rules that need the whole model (dead
    // parameters, leaks) would mislead, and only parameters never referenced are unused.
    // Appended one by one: spreading tens of thousands of arguments overflows the stack.
    const checked = elab.model && !hasErrors(diagnostics) ? checkModel(elab.model) : elab.graph ? checkPartialGraph(elab.graph, elab.referencedParams ?? new Set()) : [];
    for (const d of checked) diagnostics.push(d);
    const ok = !!elab.model && !hasErrors(diagnostics);
    return { source, model: elab.model, diagnostics: sortDiagnostics(diagnostics), ok };
  } catch (e) {
    // Each limit (expression depth, block depth) is far from the stack's end, but deep
    // expressions inside deeply nested blocks multiply: still a diagnostic, not a crash.
    if (!(e instanceof RangeError && /call stack/i.test(e.message))) throw e;
    const d = diagnostic('E0211', 'the model nests expressions and blocks too deeply to compile', fileSpan(source.path), {
      help: 'split long expressions into named steps, and call fewer blocks inside one another',
    });
    return { source, diagnostics: sortDiagnostics([...parsed.diagnostics, d]), ok: false };
  }
}

/**
 * What the SHA-256 identifying a model is taken of: its source text and the `--set` overrides
 * (sorted by name), as UTF-8. Checkpoints and exported programs carry the hash, to tell which
 * model (at which sizes) they are; `modelHash` computes it in Node.js, a page with WebCrypto.
 */
export function modelHashInput(sourceText: string, overrides: ReadonlyMap<string, number>): Uint8Array {
  const sets = [...overrides].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return new TextEncoder().encode(`${sourceText}\0${JSON.stringify(sets)}`);
}
