/**
 * The human renderer on hostile input: control characters, very long lines, and many
 * diagnostics; and the per-file cap.
 */
import { describe, expect, it } from 'vitest';
import { diagnostic, hiddenNote, limitPerFile, MAX_DIAGNOSTICS_PER_FILE, printable, renderAll, renderGithub, renderHuman, SNIPPET_WIDTH, spanFromOffsets } from '../../src/diagnostics/index.js';

const at = (file: string, text: string, start: number, end: number) => spanFromOffsets(file, text, start, end);

describe('printable', () => {
  it('turns control characters into one visible character each', () => {
    expect(printable('a\x1b[31mb\x07c\x7f')).toBe('a\u241b[31mb\u2407c\u2421');
    expect(printable('\x00\x1f')).toBe('\u2400\u241f');
    // C1 controls and bidirectional overrides ("Trojan Source") are replaced too.
    expect(printable('x\u009by\u202ez\u2066')).toBe('x\ufffdy\ufffdz\ufffd');
    expect(printable('plain text, é, 😀')).toBe('plain text, é, 😀');
  });
});

describe('renderHuman', () => {
  it('prints no raw control characters from the source, message or help, and keeps the caret aligned', () => {
    const text = 'model m\ndim x = \x1b[31mfoo\x07\n';
    const start = text.indexOf('\x07');
    const d = diagnostic('E0100', 'unexpected \x1b]0;title\x07', at('m.mdl', text, start, start + 1), { help: 'no \x1b[2J please' });
    const out = renderHuman(d, () => text);
    expect(out).not.toMatch(/[\x00-\x08\x0b-\x1f\x7f]/);
    const lines = out.split('\n');
    const src = lines.find((l) => l.startsWith('2 |'))!;
    const caret = lines[lines.indexOf(src) + 1];
    expect(src.indexOf('\u2407')).toBe(caret.indexOf('^'));
  });

  it('cuts a long line to a window around the span, with the caret under it', () => {
    const line = 'dim x = ' + '1 + '.repeat(5000) + '@ + ' + '1 + '.repeat(5000) + '1';
    const text = `model m\n${line}\n`;
    const start = text.indexOf('@');
    const d = diagnostic('E0100', "unexpected character '@'", at('m.mdl', text, start, start + 1));
    const out = renderHuman(d, () => text);
    expect(out.length).toBeLessThan(600);
    const lines = out.split('\n');
    const src = lines.find((l) => l.startsWith('2 |'))!;
    expect(src.length).toBeLessThanOrEqual('2 | '.length + SNIPPET_WIDTH + 2);
    expect(src).toMatch(/^2 \| ….*@.*…$/);
    const caret = lines[lines.indexOf(src) + 1];
    expect(caret.indexOf('^')).toBe(src.indexOf('@'));
    expect(caret.match(/\^/g)).toHaveLength(1);
  });

  it('clips the carets of a span longer than the window', () => {
    const expr = '1 + '.repeat(5000) + '1';
    const text = `model m\ndim x = ${expr}\n`;
    const start = text.indexOf(expr);
    const d = diagnostic('E0105', 'too deep', at('m.mdl', text, start, start + expr.length));
    const out = renderHuman(d, () => text);
    const carets = out.split('\n').find((l) => l.includes('^'))!;
    expect(carets.match(/\^/g)!.length).toBeLessThanOrEqual(SNIPPET_WIDTH);
    expect(out.length).toBeLessThan(800);
  });

  it('prints a short line whole, as before', () => {
    const text = 'model m\ndim x = y\n';
    const s = text.indexOf('y');
    const out = renderHuman(diagnostic('E0201', 'unknown dim `y`', at('m.mdl', text, s, s + 1)), () => text);
    expect(out).toContain('2 | dim x = y\n  |         ^');
  });
});

describe('renderAll', () => {
  it('splits each source once, however many diagnostics point into it (printing stays linear)', () => {
    const text = 'model m\n' + Array.from({ length: 500 }, (_, i) => `dim d${i} = ?`).join('\n') + '\n';
    const diags = Array.from({ length: 500 }, (_, i) => {
      const s = text.indexOf('?', text.indexOf(`dim d${i} `));
      return diagnostic('E0100', "unexpected character '?'", at('m.mdl', text, s, s + 1));
    });
    let lookups = 0;
    const out = renderAll(diags, 'human', () => (lookups++, text));
    expect(lookups).toBe(1);
    expect(out.match(/^error\[E0100\]/gm)).toHaveLength(500);
  });

  it('github annotations carry no raw control characters', () => {
    const d = diagnostic('E0703', 'unknown dataset `\x1b[31mx`', at('a\x07.mdl', 'model m\n', 0, 5));
    expect(renderGithub(d)).not.toMatch(/[\x00-\x1f\x7f]/);
  });
});

describe('limitPerFile', () => {
  it('keeps the first MAX_DIAGNOSTICS_PER_FILE of each file and counts the rest', () => {
    const mk = (file: string, n: number) => Array.from({ length: n }, (_, i) => diagnostic('E0100', `d${i}`, at(file, 'x'.repeat(1000), i, i + 1)));
    const diags = [...mk('a.mdl', 250), ...mk('b.mdl', 3)];
    const { shown, hidden } = limitPerFile(diags);
    expect(shown.filter((d) => d.span.file === 'a.mdl')).toHaveLength(MAX_DIAGNOSTICS_PER_FILE);
    expect(shown.filter((d) => d.span.file === 'a.mdl').map((d) => d.message).slice(0, 2)).toEqual(['d0', 'd1']);
    expect(shown.filter((d) => d.span.file === 'b.mdl')).toHaveLength(3);
    expect([...hidden]).toEqual([['a.mdl', 250 - MAX_DIAGNOSTICS_PER_FILE]]);
    expect(hiddenNote('a.mdl', 150)).toMatch(/^150 more diagnostics in a\.mdl not shown/);
  });
});
