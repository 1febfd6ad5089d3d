/**
 * Checking as the user types: the text in the editor compiled by the same driver and checker
 * as `mdlc check` (with the page's `--set` overrides), and its diagnostics as the editor
 * shows them: a range of the text, the message with its code, the help, and the labels.
 * No DOM.
 */
import { compileSource, type Diagnostic } from '../../src/browser.js';
import { overrides as parseSets } from '../../src/cli/args.js';

/** The path diagnostics name: the model file as the page calls it. */
export const PAGE_FILE = 'model.mdl';

export interface EditorDiagnostic {
  /** Character offsets [from, to) in the text (to may equal from: a point). */
  from: number;
  to: number;
  /** 1-based line and column of `from`. */
  line: number;
  column: number;
  severity: 'error' | 'warning';
  code: string;
  message: string;
  help?: string;
  labels: { from: number; to: number; line: number; message: string }[];
}

/** `steps=200 batch=8` (spaces or commas between) as `--set` overrides; throws a one-line error as `--set` does. */
export function parseOverrides(text: string): Map<string, number> {
  const sets = text.split(/[\s,]+/).filter((s) => s !== '');
  return parseSets({ positional: [], flags: new Map([['set', sets]]) });
}

/** The diagnostics of `text` under `overrides`, as `mdlc check --set ...` reports them, and the dataset it names. */
export function checkText(text: string, overrides: ReadonlyMap<string, number>): { diagnostics: Diagnostic[]; ok: boolean; dataset?: string } {
  const r = compileSource({ path: PAGE_FILE, text }, { overrides });
  const dataset = r.model?.train.data?.name;
  return { diagnostics: r.diagnostics, ok: r.ok, ...(dataset ? { dataset } : {}) };
}

/** Diagnostics placed in a text of `length` characters (spans clamped to it). */
export function editorDiagnostics(diagnostics: readonly Diagnostic[], length: number): EditorDiagnostic[] {
  const clamp = (n: number) => Math.max(0, Math.min(length, n));
  return diagnostics.map((d) => ({
    from: clamp(d.span.start),
    to: clamp(Math.max(d.span.start, d.span.end)),
    line: d.span.line,
    column: d.span.column,
    severity: d.severity,
    code: d.code,
    message: d.message,
    ...(d.help ? { help: d.help } : {}),
    labels: d.labels.map((l) => ({ from: clamp(l.span.start), to: clamp(Math.max(l.span.start, l.span.end)), line: l.span.line, message: l.message })),
  }));
}

/** One diagnostic as a line of text: `line 37: error E0501: message`. */
export function describeDiagnostic(d: EditorDiagnostic): string {
  return `line ${d.line}: ${d.severity} ${d.code}: ${d.message}`;
}
