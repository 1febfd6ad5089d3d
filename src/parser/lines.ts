import type { Span } from '../diagnostics/span.js';

/**
 * Line starts of a text, for turning offsets into spans quickly (binary search).
 * Agrees exactly with `spanFromOffsets` in `diagnostics/span.ts`: lines are split at `\n` only,
 * columns count UTF-16 code units from 1, and the end column is that of the last character.
 */
export class LineMap {
  private readonly starts: number[] = [0];

  constructor(readonly text: string) {
    for (let i = text.indexOf('\n'); i !== -1; i = text.indexOf('\n', i + 1)) this.starts.push(i + 1);
  }

  /** 1-based line of a 0-based offset. */
  lineOf(offset: number): number {
    return this.position(offset).line;
  }

  /** 1-based line and column of a 0-based offset (clamped to the text). */
  position(offset: number): { line: number; column: number } {
    const off = Math.max(0, Math.min(offset, this.text.length));
    let lo = 0;
    let hi = this.starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.starts[mid] <= off) lo = mid;
      else hi = mid - 1;
    }
    return { line: lo + 1, column: off - this.starts[lo] + 1 };
  }

  /** Span of characters [start, end); an empty range is a one-column caret position. */
  span(file: string, start: number, end: number): Span {
    const s = Math.max(0, Math.min(start, this.text.length));
    const e = Math.max(s, Math.min(end, this.text.length));
    const a = this.position(s);
    const b = this.position(Math.max(s, e - 1));
    return { file, line: a.line, column: a.column, endLine: b.line, endColumn: b.column, start: s, end: e };
  }
}
