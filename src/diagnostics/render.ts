import type { Diagnostic } from './diagnostic.js';
import type { SourceFile, Span } from './span.js';

export type OutputFormat = 'human' | 'json' | 'github';

/** Looks up source text by path so the renderer can show the offending line. */
export type SourceLookup = (path: string) => string | undefined;

export function lookupFrom(files: readonly SourceFile[]): SourceLookup {
  const map = new Map(files.map((f) => [f.path, f.text]));
  return (p) => map.get(p);
}

/** rustc/Elm style: header, location, source line, caret under the span, labels, help. */
export function renderHuman(d: Diagnostic, source: SourceLookup, color = false): string {
  const c = colors(color);
  const sev = d.severity === 'error' ? c.red(`error[${d.code}]`) : c.yellow(`warning[${d.code}]`);
  const out: string[] = [`${sev}: ${c.bold(d.message)}`];
  const text = source(d.span.file);
  const gutter = String(Math.max(d.span.line, ...d.labels.map((l) => l.span.line))).length;
  const pad = ' '.repeat(gutter);
  out.push(`${pad}${c.blue('-->')} ${d.span.file}:${d.span.line}:${d.span.column}`);
  if (text !== undefined) {
    const lines = text.split('\n');
    out.push(`${pad} ${c.blue('|')}`);
    const shown = [{ span: d.span, message: '', primary: true }, ...d.labels.filter((l) => l.span.file === d.span.file).map((l) => ({ ...l, primary: false }))];
    shown.sort((a, b) => a.span.line - b.span.line || a.span.column - b.span.column);
    let lastLine = -1;
    for (const s of shown) {
      const lineText = (lines[s.span.line - 1] ?? '').replace(/\r$/, '').replace(/\t/g, ' ');
      if (s.span.line !== lastLine) {
        if (lastLine !== -1 && s.span.line > lastLine + 1) out.push(`${c.blue('...')}`);
        out.push(`${c.blue(String(s.span.line).padStart(gutter) + ' |')} ${lineText}`);
        lastLine = s.span.line;
      }
      const start = Math.max(1, s.span.column);
      const endCol = s.span.endLine === s.span.line ? s.span.endColumn : lineText.length;
      const width = Math.max(1, endCol - start + 1);
      const mark = (s.primary ? '^' : '-').repeat(width);
      const paint = s.primary ? (d.severity === 'error' ? c.red : c.yellow) : c.blue;
      out.push(`${pad} ${c.blue('|')} ${' '.repeat(start - 1)}${paint(mark + (s.message ? ' ' + s.message : ''))}`);
    }
    out.push(`${pad} ${c.blue('|')}`);
  }
  for (const l of d.labels.filter((l) => l.span.file !== d.span.file)) {
    out.push(`${pad} ${c.blue('=')} note: ${l.message} (${l.span.file}:${l.span.line}:${l.span.column})`);
  }
  if (d.help) out.push(`${pad} ${c.blue('=')} ${c.bold('help')}: ${d.help}`);
  return out.join('\n');
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
  return `::${kind} ${props}::${escapeData(`${d.code}: ${msg}`)}`;
}

// GitHub's escaping rules for workflow command data and properties.
function escapeData(s: string): string {
  return s.replace(/%/g, '%25').replace(/\r/g, '%0D').replace(/\n/g, '%0A');
}
function escapeProperty(s: string): string {
  return escapeData(s).replace(/:/g, '%3A').replace(/,/g, '%2C');
}

export function renderAll(diags: readonly Diagnostic[], format: OutputFormat, source: SourceLookup, color = false): string {
  switch (format) {
    case 'json':
      return renderJson(diags);
    case 'github':
      return diags.map(renderGithub).join('\n');
    case 'human':
      return diags.map((d) => renderHuman(d, source, color)).join('\n\n');
  }
}

function colors(on: boolean) {
  const wrap = (code: string) => (s: string) => (on ? `\x1b[${code}m${s}\x1b[0m` : s);
  return { red: wrap('31;1'), yellow: wrap('33;1'), blue: wrap('34;1'), bold: wrap('1') };
}
