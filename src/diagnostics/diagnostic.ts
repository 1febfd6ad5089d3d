import type { Span } from './span.js';
import { CATALOG, type DiagnosticCode } from './catalog.js';

export type Severity = 'error' | 'warning';

/** A secondary label: another span that explains the primary one ("softmax taken over key here"). */
export interface Label {
  span: Span;
  message: string;
}

/** The one diagnostic type of every stage (parser, checker, codegen, runtime). */
export interface Diagnostic {
  code: DiagnosticCode;
  severity: Severity;
  message: string;
  span: Span;
  labels: Label[];
  help?: string;
}

/** Build a diagnostic; the severity comes from the catalog unless overridden. */
export function diagnostic(
  code: DiagnosticCode,
  message: string,
  span: Span,
  extra: { labels?: Label[]; help?: string; severity?: Severity } = {},
): Diagnostic {
  return {
    code,
    severity: extra.severity ?? CATALOG[code].severity,
    message,
    span,
    labels: extra.labels ?? [],
    help: extra.help,
  };
}

export function hasErrors(diags: readonly Diagnostic[]): boolean {
  return diags.some((d) => d.severity === 'error');
}

/** Diagnostics in source order (file, then position), stable for equal positions. */
export function sortDiagnostics(diags: readonly Diagnostic[]): Diagnostic[] {
  return diags
    .map((d, i) => ({ d, i }))
    .sort((a, b) =>
      a.d.span.file < b.d.span.file ? -1 : a.d.span.file > b.d.span.file ? 1 : a.d.span.start - b.d.span.start || a.i - b.i,
    )
    .map((x) => x.d);
}

/** Thrown by a stage that cannot continue; carries the diagnostics explaining why. */
export class CompileError extends Error {
  constructor(readonly diagnostics: Diagnostic[]) {
    super(diagnostics.map((d) => `${d.code}: ${d.message}`).join('\n'));
    this.name = 'CompileError';
  }
}
