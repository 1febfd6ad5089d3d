import type { Diagnostic } from './diagnostic.js';
import type { SourceFile, Span } from './span.js';

export type OutputFormat = 'human' | 'json' | 'github';

/** Looks up source text by path so the renderer can show the offending line. */
export type SourceLookup = (path: string) => string | undefined;

export function lookupFrom(files: readonly SourceFile[]): SourceLookup {
  const map = new Map(files.map((f) => [f.path, f.text]));
  return (p) => map.get(p);
}

/** At most this many diagnostics of one file are printed (human and github formats). */
export const MAX_DIAGNOSTICS_PER_FILE = 100;

/** Source lines longer than this many columns are shown as a window around the span. */
export const SNIPPET_WIDTH = 120;

/**
 * The first `max` diagnostics of each file (in the order given), and how many of each file's
 * were left out. A file with 60,000 syntax errors prints its first hundred and a count.
 */
export function limitPerFile(diags: readonly Diagnostic[], max = MAX_DIAGNOSTICS_PER_FILE): { shown: Diagnostic[]; hidden: Map<string, number> } {
  const seen = new Map<string, number>();
  const hidden = new Map<string, number>();
  const shown: Diagnostic[] = [];
  for (const d of diags) {
    const n = seen.get(d.span.file) ?? 0;
    seen.set(d.span.file, n + 1);
    if (n < max) shown.push(d);
    else hidden.set(d.span.file, (hidden.get(d.span.file) ?? 0) + 1);
  }
  return { shown, hidden };
}

/** What to print for each file whose diagnostics `limitPerFile` cut. */
export function hiddenNote(file: string, count: number): string {
  return `${count.toLocaleString('en-US')} more diagnostic${count === 1 ? '' : 's'} in ${printable(file)} not shown (mdlc prints the first ${MAX_DIAGNOSTICS_PER_FILE} of each file; --format json lists them all)`;
}

/**
 * Text safe to print on a terminal: control characters become their visible Unicode pictures
 * (ESC becomes ␛), and C1 controls and bidirectional overrides become U+FFFD. Each replaced
 * character stays one UTF-16 unit, so columns (and carets) still line up.
 */
export function printable(s: string): string {
  return s.replace(UNPRINTABLE, (c) => {
    const code = c.charCodeAt(0);
    if (code < 0x20) return String.fromCharCode(0x2400 + code);
    if (code === 0x7f) return '\u2421';
    return '\ufffd';
  });
}
// eslint-disable-next-line no-control-regex
const UNPRINTABLE = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

/** Lines of each source text, split once however many diagnostics point into it. */
function lineCache(source: SourceLookup): (file: string) => readonly string[] | undefined {
  const cache = new Map<string, readonly string[] | undefined>();
  return (file) => {
    if (!cache.has(file)) cache.set(file, source(file)?.split('\n'));
    return cache.get(file);
  };
}

/** rustc/Elm style: header, location, source line, caret under the span, labels, help. */
export function renderHuman(d: Diagnostic, source: SourceLookup, color = false): string {
  return renderOne(d, lineCache(source), color);
}

function renderOne(d: Diagnostic, linesOf: (file: string) => readonly string[] | undefined, color: boolean): string {
  const c = colors(color);
  const sev = d.severity === 'error' ? c.red(`error[${d.code}]`) : c.yellow(`warning[${d.code}]`);
  const out: string[] = [`${sev}: ${c.bold(printable(d.message))}`];
  const lines = linesOf(d.span.file);
  const gutter = String(Math.max(d.span.line, ...d.labels.map((l) => l.span.line))).length;
  const pad = ' '.repeat(gutter);
  out.push(`${pad}${c.blue('-->')} ${printable(d.span.file)}:${d.span.line}:${d.span.column}`);
  if (lines !== undefined) {
    out.push(`${pad} ${c.blue('|')}`);
    const shown = [{ span: d.span, message: '', primary: true }, ...d.labels.filter((l) => l.span.file === d.span.file).map((l) => ({ ...l, primary: false }))];
    shown.sort((a, b) => a.span.line - b.span.line || a.span.column - b.span.column);
    let lastLine = -1;
    let view: SnippetView = { text: '', from: 0, width: 0, lead: 0 };
    for (const s of shown) {
      if (s.span.line !== lastLine) {
        const lineText = (lines[s.span.line - 1] ?? '').replace(/\r$/, '').replace(/\t/g, ' ');
        view = snippetView(lineText, shown.filter((x) => x.span.line === s.span.line), s.primary ? s.span : (shown.find((x) => x.primary && x.span.line === s.span.line)?.span ?? s.span));
        if (lastLine !== -1 && s.span.line > lastLine + 1) out.push(`${c.blue('...')}`);
        out.push(`${c.blue(String(s.span.line).padStart(gutter) + ' |')} ${view.text}`);
        lastLine = s.span.line;
      }
      // Columns are 1-based in the source line; the view shows [from, from + width).
      const lineLength = (lines[s.span.line - 1] ?? '').replace(/\r$/, '').length;
      const endCol = s.span.endLine === s.span.line ? s.span.endColumn : lineLength;
      // A span outside the window points at the `…` on its side.
      const first = Math.min(Math.max(s.span.column - 1, view.from), view.from + view.width);
      const last = Math.min(Math.max(endCol, s.span.column) - 1, view.from + view.width - 1);
      const start = first - view.from + view.lead;
      const width = Math.max(1, last - first + 1);
      const mark = (s.primary ? '^' : '-').repeat(width);
      const paint = s.primary ? (d.severity === 'error' ? c.red : c.yellow) : c.blue;
      out.push(`${pad} ${c.blue('|')} ${' '.repeat(Math.max(0, start))}${paint(mark + (s.message ? ' ' + printable(s.message) : ''))}`);
    }
    out.push(`${pad} ${c.blue('|')}`);
  }
  for (const l of d.labels.filter((l) => l.span.file !== d.span.file)) {
    out.push(`${pad} ${c.blue('=')} note: ${printable(l.message)} (${printable(l.span.file)}:${l.span.line}:${l.span.column})`);
  }
  if (d.help) out.push(`${pad} ${c.blue('=')} ${c.bold('help')}: ${printable(d.help)}`);
  return out.join('\n');
}

interface SnippetView {
  /** What to print for the line: a printable window of it, with `…` where it was cut. */
  text: string;
  /** 0-based column of the line where the window starts, and how many columns it shows. */
  from: number;
  width: number;
  /** Columns printed before the window's first character (1 for a leading `…`). */
  lead: number;
}

/**
 * A line as printed: whole when it is at most SNIPPET_WIDTH columns; otherwise a window of
 * that width holding the spans on it (or, when they do not fit, the start of `focus`).
 */
function snippetView(line: string, spans: readonly { span: Span }[], focus: Span): SnippetView {
  if (line.length <= SNIPPET_WIDTH) return { text: printable(line), from: 0, width: line.length + 1, lead: 0 };
  const starts = spans.map((s) => s.span.column - 1);
  const ends = spans.map((s) => (s.span.endLine === s.span.line ? s.span.endColumn : line.length));
  const lo = Math.min(...starts);
  const hi = Math.max(...ends);
  const margin = 16;
  let from = hi - lo + 2 * margin <= SNIPPET_WIDTH ? Math.floor((lo + hi - SNIPPET_WIDTH) / 2) : focus.column - 1 - margin;
  from = Math.max(0, Math.min(from, line.length - SNIPPET_WIDTH));
  const to = Math.min(line.length, from + SNIPPET_WIDTH);
  const head = from > 0 ? '…' : '';
  const tail = to < line.length ? '…' : '';
  return { text: head + printable(line.slice(from, to)) + tail, from, width: to - from, lead: head.length };
}

/** One JSON document listing every diagnostic (stable field names for tools). */
export function renderJson(diags: readonly Diagnostic[]): string {
  return JSON.stringify(
    {
      diagnostics: diags.map((d) => ({
        code: d.code,
        severity: d.severity,
        message: d.message,
        file: d.span.file,
        line: d.span.line,
        column: d.span.column,
        endLine: d.span.endLine,
        endColumn: d.span.endColumn,
        labels: d.labels.map((l) => ({ message: l.message, ...pos(l.span) })),
        help: d.help ?? null,
      })),
    },
    null,
    2,
  );
}

function pos(s: Span) {
  return { file: s.file, line: s.line, column: s.column, endLine: s.endLine, endColumn: s.endColumn };
}

/** GitHub Actions workflow commands, so `mdlc check` annotates pull requests. */
export function renderGithub(d: Diagnostic): string {
  const kind = d.severity === 'error' ? 'error' : 'warning';
  const props = [
    `file=${escapeProperty(d.span.file)}`,
    `line=${d.span.line}`,
    `col=${d.span.column}`,
    `endLine=${d.span.endLine}`,
    `endColumn=${d.span.endColumn}`,
    `title=${escapeProperty(d.code)}`,
  ].join(',');
  const msg = d.help ? `${d.message} (help: ${d.help})` : d.message;
  return `::${kind} ${props}::${printable(escapeData(`${d.code}: ${msg}`))}`;
}

// GitHub's escaping rules for workflow command data and properties.
function escapeData(s: string): string {
  return s.replace(/%/g, '%25').replace(/\r/g, '%0D').replace(/\n/g, '%0A');
}
function escapeProperty(s: string): string {
  return printable(escapeData(s).replace(/:/g, '%3A').replace(/,/g, '%2C'));
}

export function renderAll(diags: readonly Diagnostic[], format: OutputFormat, source: SourceLookup, color = false): string {
  switch (format) {
    case 'json':
      return renderJson(diags);
    case 'github':
      return diags.map(renderGithub).join('\n');
    case 'human': {
      const linesOf = lineCache(source);
      return diags.map((d) => renderOne(d, linesOf, color)).join('\n\n');
    }
  }
}

function colors(on: boolean) {
  const wrap = (code: string) => (s: string) => (on ? `\x1b[${code}m${s}\x1b[0m` : s);
  return { red: wrap('31;1'), yellow: wrap('33;1'), blue: wrap('34;1'), bold: wrap('1') };
}
