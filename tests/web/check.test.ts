/**
 * Checking in the page: the editor's text goes through the same compiler and checker as
 * `mdlc check` (with the page's `--set` settings), and each diagnostic lands on the range and
 * line of the source its span names, with its help and labels.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { compileFile } from '../../src/driver/index.js';
import { checkText, describeDiagnostic, editorDiagnostics, parseOverrides, PAGE_FILE } from '../../web/src/check.js';
import { diagnostic } from '../../src/diagnostics/diagnostic.js';
import { spanFromOffsets } from '../../src/diagnostics/span.js';

const transformer = readFileSync('models/transformer.mdl', 'utf8');
/** The wrong-axis softmax: normalised over `seq`, contracted over `key`. */
const wrongAxis = transformer.replace('p = softmax(s, over: key)', 'p = softmax(s, over: seq)');

describe('parseOverrides', () => {
  it('reads NAME=VALUE settings separated by spaces or commas, as --set does', () => {
    expect(parseOverrides('')).toEqual(new Map());
    expect(parseOverrides(' steps=20, batch=4  lr=1e-3 ')).toEqual(new Map([['steps', 20], ['batch', 4], ['lr', 0.001]]));
    expect(() => parseOverrides('steps=many')).toThrow("--set steps: 'many' is not a number");
    expect(() => parseOverrides('steps')).toThrow("--set needs NAME=VALUE, got 'steps'");
  });
});

describe('checkText', () => {
  it('reports what mdlc check reports for the same text and settings, and the dataset the model names', () => {
    for (const file of ['models/transformer.mdl', 'models/autoencoder.mdl', 'tests/fixtures/check/E0501-softmax-over-seq-contracted-over-key.mdl']) {
      for (const sets of [new Map<string, number>(), new Map([['heads', 5]])]) {
        const cli = compileFile(file, { overrides: sets });
        const page = checkText(readFileSync(file, 'utf8'), sets);
        const strip = (ds: typeof cli.diagnostics) => ds.map((d) => ({ ...d, span: { ...d.span, file: '' }, labels: d.labels.map((l) => ({ ...l, span: { ...l.span, file: '' } })) }));
        expect(strip(page.diagnostics)).toEqual(strip(cli.diagnostics));
        expect(page.ok).toBe(cli.ok);
      }
    }
    expect(checkText(transformer, new Map()).dataset).toBe('tinyshakespeare');
    expect(checkText(transformer, new Map([['heads', 5]])).diagnostics.map((d) => d.code)).toEqual(['E0204']);
  });

  it('places the wrong-axis softmax at the contraction on line 38, labelled at the softmax on line 37, with its help', () => {
    const r = checkText(wrongAxis, new Map());
    expect(r.ok).toBe(false);
    const [d] = editorDiagnostics(r.diagnostics, wrongAxis.length);
    expect(d.code).toBe('E0501');
    expect(d.line).toBe(38);
    expect(wrongAxis.slice(d.from, d.to)).toBe('p . v over key');
    expect(wrongAxis.slice(0, d.from).split('\n').length).toBe(38);
    expect(d.labels).toEqual([expect.objectContaining({ line: 37, message: 'a distribution over `seq`' })]);
    expect(wrongAxis.slice(d.labels[0].from, d.labels[0].to)).toBe('softmax(s, over: seq)');
    expect(d.help).toMatch(/take the softmax over `key`/);
    expect(describeDiagnostic(d)).toBe('line 38: error E0501: `p` is a softmax over `seq`, but it is contracted over `key` while `seq` survives');
  });

  it('clamps spans to the text (a diagnostic about the whole file, or text edited since)', () => {
    const text = 'model m\n';
    const far = diagnostic('E0201', 'far', { ...spanFromOffsets(PAGE_FILE, text, 6, 7), start: 40, end: 50 });
    const [d] = editorDiagnostics([far], text.length);
    expect([d.from, d.to]).toEqual([text.length, text.length]);
    expect(d.labels).toEqual([]);
  });
});
