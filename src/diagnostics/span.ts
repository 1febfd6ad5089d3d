/** A region of a source file. Lines and columns are 1-based; `end*` is inclusive of the last character. */
export interface Span {
  file: string;
  line: number;
  column: number;
  endLine: number;
  endColumn: number;
  /** 0-based character offsets [start, end) into the source text. */
  start: number;
  end: number;
}

/** A source file as the diagnostics renderer sees it. */
export interface SourceFile {
  path: string;
  text: string;
}

/** Span of the whole of `a` through `b`. */
export function joinSpans(a: Span, b: Span): Span {
  const first = a.start <= b.start ? a : b;
  const last = a.end >= b.end ? a : b;
  return {
    file: a.file,
    line: first.line,
    column: first.column,
    endLine: last.endLine,
    endColumn: last.endColumn,
    start: first.start,
    end: last.end,
  };
}

/** Span covering characters [start, end) of `text`, computing line/column. */
export function spanFromOffsets(file: string, text: string, start: number, end: number): Span {
  const s = lineCol(text, start);
  const e = lineCol(text, Math.max(start, end - 1));
  return { file, line: s.line, column: s.column, endLine: e.line, endColumn: e.column, start, end: Math.max(start, end) };
}

function lineCol(text: string, offset: number): { line: number; column: number } {
  let line = 1;
  let lineStart = 0;
  const limit = Math.min(offset, text.length);
  for (let i = 0; i < limit; i++) {
    if (text.charCodeAt(i) === 10) {
      line++;
      lineStart = i + 1;
    }
  }
  return { line, column: offset - lineStart + 1 };
}

/** A span for diagnostics that are about a whole file (empty file, bad encoding). */
export function fileSpan(file: string): Span {
  return { file, line: 1, column: 1, endLine: 1, endColumn: 1, start: 0, end: 0 };
}
