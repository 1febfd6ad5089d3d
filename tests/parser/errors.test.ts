import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { MAX_EXPRESSION_DEPTH, parseModel } from '../../src/parser/index.js';
import type * as A from '../../src/parser/ast.js';

function parse(text: string, path = 'test.mdl') {
  return parseModel({ path, text });
}
function fixture(name: string) {
  const path = `tests/fixtures/syntax/${name}`;
  return parseModel({ path, text: readFileSync(path, 'utf8') });
}
/** `CODE line:column message` per diagnostic. */
function summary(r: ReturnType<typeof parse>): string[] {
  return r.diagnostics.map((d) => `${d.code} ${d.span.line}:${d.span.column} ${d.message}`);
}

describe('syntax errors and recovery', () => {
  it('three independent errors (dim, param, forward statement) give exactly three diagnostics', () => {
    const r = fixture('three-errors.mdl');
    expect(r.diagnostics).toHaveLength(3);
    expect(r.diagnostics.map((d) => d.span.line)).toEqual([4, 6, 11]);
    expect(r.diagnostics.every((d) => d.code === 'E0101')).toBe(true);
    expect(summary(r)).toEqual([
      'E0101 4:16 expected a dim expression (an integer, a dim name or `data.NAME`), found \'dim\'',
      "E0101 6:17 expected ',' or ']', found identifier 'embed'",
      "E0101 11:12 expected an expression, found ')'",
    ]);
    // Everything else was recovered.
    const ast = r.ast!;
    expect(ast.name?.name).toBe('broken');
    expect(ast.items.map((i) => i.kind)).toEqual(['DimDecl', 'ParamDecl', 'ParamDecl', 'ForwardDecl', 'LossDecl']);
    expect((ast.items[0] as A.DimDecl).name.name).toBe('heads');
    const fwd = ast.items[3] as A.ForwardDecl;
    expect(fwd.body.map((s) => s.kind)).toEqual(['AssignStmt', 'ReturnStmt']);
  });

  it('the same three errors in one inline source', () => {
    const r = parse('model m\ndim a = 3 +\nparam w[a b] init zeros\nforward(t: index[a] of a) -> y {\n  x = (t + ) * 2\n  y = x\n}\n');
    expect(r.diagnostics.map((d) => [d.code, d.span.line])).toEqual([
      ['E0101', 2],
      ['E0101', 3],
      ['E0101', 5],
    ]);
  });

  it('messages use names users know, never Chevrotain internals or stack traces', () => {
    const r = parse('model m\ndim = 3\nforward(t: f32[a]) -> y {\n  y = f(a b)\n}\nloss = 1 +\n');
    for (const d of r.diagnostics) {
      expect(d.message).toMatch(/^(expected|missing)/);
      expect(d.message).not.toMatch(/Identifier|LBracket|RParen|Expecting|-->|\n|\bat\b.*:\d+/);
    }
    expect(summary(r)).toEqual([
      "E0102 2:5 missing identifier after 'dim'",
      "E0101 4:11 expected ',' or ')', found identifier 'b'",
      'E0102 6:11 expected an expression, found end of file',
    ]);
  });

  it('a missing token is E0102 and the node is kept', () => {
    const r = fixture('missing-tokens.mdl');
    expect(summary(r)).toEqual([
      "E0102 2:9 missing '=' after identifier 'seq'",
      "E0102 3:24 missing ']' after identifier 'embed'",
      "E0102 5:17 missing ']' after identifier 'tokens'",
    ]);
    expect(r.diagnostics[1].labels).toHaveLength(1);
    expect(r.diagnostics[1].labels[0].span).toMatchObject({ line: 3, column: 10 });
    const items = r.ast!.items;
    expect(items.map((i) => i.kind)).toEqual(['DimDecl', 'ParamDecl', 'ForwardDecl']);
    expect((items[1] as A.ParamDecl).shape.map((a) => a.name)).toEqual(['vocab', 'embed']);
  });

  it('an unclosed block points at the end of the file and at its opening brace', () => {
    const r = fixture('unclosed-block.mdl');
    expect(r.diagnostics).toHaveLength(1);
    const [d] = r.diagnostics;
    expect(d.code).toBe('E0102');
    expect(d.message).toBe("expected '}', found end of file");
    expect(d.span).toMatchObject({ line: 5, column: 27 });
    expect(d.labels[0]).toMatchObject({ message: "this '{' is not closed", span: { line: 3, column: 33 } });
    const block = r.ast!.items[0] as A.BlockDecl;
    expect(block.body.map((s) => s.kind)).toEqual(['ParamDecl', 'ReturnStmt']);
  });

  it('a broken block header skips the whole block, not just to the `param` inside it', () => {
    const r = fixture('broken-header.mdl');
    expect(summary(r)).toEqual(["E0101 5:7 expected identifier, found '('"]);
    expect(r.ast!.items.map((i) => i.kind)).toEqual(['DimDecl', 'BlockDecl', 'ForwardDecl']);
  });

  it('an unfinished line is reported at its end, not at the next line', () => {
    const r = parse('model m\nforward(t: f32[a]) -> y {\n  x = t +\n  y = x\n}\n');
    expect(summary(r)).toEqual(["E0101 3:10 expected an expression, found identifier 'y'"]);
    expect(r.diagnostics[0].span.start).toBe(r.diagnostics[0].span.end);
  });

  it('junk between declarations is one error', () => {
    const r = parse('model m\ndim a = 1\n) ] + 7 foo bar\ndim b = 2\n');
    expect(r.diagnostics).toHaveLength(1);
    expect(r.diagnostics[0].span.line).toBe(3);
    expect(r.ast!.items.map((i) => (i as A.DimDecl).name.name)).toEqual(['a', 'b']);
  });

  it('a stray token inside a body does not end the body', () => {
    const r = parse('model m\nforward(t: f32[a]) -> y {\n  x = t ) \n  y = x\n}\nloss = y\n');
    expect(r.diagnostics).toHaveLength(1);
    expect(r.diagnostics[0].span.line).toBe(3);
    expect(r.ast!.items.map((i) => i.kind)).toEqual(['ForwardDecl', 'LossDecl']);
    expect((r.ast!.items[0] as A.ForwardDecl).body).toHaveLength(2);
  });

  it('missing `model NAME` header', () => {
    const r = parse('dim a = 1\n');
    expect(summary(r)).toEqual(["E0102 1:1 expected 'model' and the model's name, found 'dim'"]);
    expect(r.ast!.name).toBeUndefined();
    expect(r.ast!.items).toHaveLength(1);
    const r2 = parse('model\ndim a = 1\n');
    expect(summary(r2)).toEqual(["E0102 1:6 missing identifier after 'model'"]);
    expect(r2.ast!.items).toHaveLength(1);
  });

  it('chained comparisons are rejected', () => {
    const r = parse('model m\nloss = a < b < c\n');
    expect(summary(r)).toEqual(["E0101 2:14 expected an operator other than '<': comparisons do not chain"]);
  });

  it('a dotted dim name must start with `data`', () => {
    const r = parse('model m\ndim v = dataset.vocab\n');
    expect(summary(r)).toEqual(["E0101 2:9 expected 'data' before '.vocab', found identifier 'dataset'"]);
  });

  it('dim expressions take integers only', () => {
    const r = parse('model m\ndim v = 0.5\n');
    expect(summary(r)).toEqual(["E0101 2:9 expected a dim expression (an integer, a dim name or `data.NAME`), found number '0.5'"]);
  });

  it('`..` only begins a shape pattern', () => {
    const r = parse('model m\nblock f(x[a, ..]) { return x }\n');
    expect(summary(r)).toEqual(["E0101 2:14 expected identifier, found '..'"]);
  });

  it('deep nesting is an error, not a stack overflow', () => {
    const r = parse(`model m\nloss = ${'('.repeat(5000)}x${')'.repeat(5000)}\n`);
    expect(r.diagnostics).toHaveLength(1);
    expect(r.diagnostics[0].code).toBe('E0105');
    expect(r.diagnostics[0].message).toMatch(/nested/);
    const r2 = parse(`model m\nloss = ${'-'.repeat(20000)}x\n`);
    expect(r2.diagnostics[0].message).toMatch(/nested/);
    const r3 = parse(`model m\nloss = ${'x ^ '.repeat(5000)}x\n`);
    expect(r3.diagnostics[0].message).toMatch(/nested/);
  });

  it('a chain of 10,000 operators is E0105 at the expression, for tensor and dim expressions alike', () => {
    const r = parse(`model m\nforward(x: f32[a]) -> y {\n  return ${'x + '.repeat(10000)}x\n}\n`);
    expect(summary(r)).toEqual([`E0105 3:10 this expression is 10,000 levels deep; mdlc compiles expressions up to ${MAX_EXPRESSION_DEPTH} levels deep (each operator or bracket is a level)`]);
    expect(r.diagnostics[0].span.end - r.diagnostics[0].span.start).toBe('x + '.length * 10000 + 1);
    expect(r.diagnostics[0].help).toMatch(/named steps/);
    expect(r.ast).toBeUndefined();
    const d = parse(`model m\ndim a = ${'1 * '.repeat(10000)}1\n`);
    expect(d.diagnostics.map((x) => x.code)).toEqual(['E0105']);
    expect(d.diagnostics[0].help).toMatch(/several dims/);
  });

  it('counts brackets and operators together, and accepts an expression at the limit', () => {
    const at = (n: number) => parse(`model m\ndim a = ${'1 + '.repeat(n)}1\n`);
    expect(at(MAX_EXPRESSION_DEPTH).diagnostics).toEqual([]);
    expect(at(MAX_EXPRESSION_DEPTH + 1).diagnostics.map((x) => x.code)).toEqual(['E0105']);
    // 60 brackets, each the left operand of a chain of 4 operators: 60 * (1 + 4) levels.
    let e = 'x';
    for (let i = 0; i < 60; i++) e = `(${e} + x + x + x + x)`;
    const nested = parse(`model m\nloss = ${e}\n`);
    expect(nested.diagnostics.map((x) => x.message)).toEqual([expect.stringMatching(/^this expression is 300 levels deep/)]);
  });

  it('moderate nesting still parses', () => {
    const r = parse(`model m\nloss = ${'('.repeat(40)}x${')'.repeat(40)}\n`);
    expect(r.diagnostics).toEqual([]);
  });

  it('thousands of junk tokens between items: linear time, no stack overflow, every item kept', () => {
    const t0 = performance.now();
    const r = parse('model m\n' + ') dim a = 1\n'.repeat(5000));
    expect(performance.now() - t0).toBeLessThan(5000);
    expect(r.diagnostics).toHaveLength(5000);
    expect(r.ast!.items).toHaveLength(5000);
  });

  it('the parser instance is built once and reused', async () => {
    const { getParser } = await import('../../src/parser/parser.js');
    parse('model m\n');
    const p = getParser();
    parse('model m\ndim = 1\n');
    expect(getParser()).toBe(p);
    // An error in one parse leaves nothing behind for the next.
    expect(parse('model m\ndim a = 1\n').diagnostics).toEqual([]);
  });

  it('every diagnostic is in the file that was parsed', () => {
    const r = parse('model m\ndim = \n', 'dir/x.mdl');
    expect(r.diagnostics.length).toBeGreaterThan(0);
    for (const d of r.diagnostics) expect(d.span.file).toBe('dir/x.mdl');
  });
});

describe('lexical errors', () => {
  it('E0100, E0103 and E0104 without cascades', () => {
    const r = fixture('lexical.mdl');
    expect(summary(r)).toEqual([
      "E0100 2:11 unexpected character '@'",
      'E0103 5:15 unterminated string',
      "E0104 6:8 invalid number '1e'",
    ]);
    expect(r.diagnostics[1].span).toMatchObject({ line: 5, column: 15, endLine: 5, endColumn: 42 });
    expect(r.ast!.items.map((i) => i.kind)).toEqual(['DimDecl', 'ParamDecl', 'TrainSection']);
    expect((r.ast!.items[2] as A.TrainSection).entries).toHaveLength(3);
  });

  it('the span of an unexpected character is on it', () => {
    const r = parse('model m\nloss = a $ b\n');
    expect(r.diagnostics).toHaveLength(1);
    expect(r.diagnostics[0]).toMatchObject({ code: 'E0100', span: { line: 2, column: 10, endColumn: 10, start: 17, end: 18 } });
  });

  it('a run of unexpected characters is one diagnostic; non-ASCII characters are whole', () => {
    const r = parse('model m\nloss = a @@@ b\ndim x = 1 😀\n');
    expect(summary(r)).toEqual(["E0100 2:10 unexpected characters '@@@'", "E0100 3:11 unexpected character '😀'"]);
    expect(r.diagnostics[1].span.end - r.diagnostics[1].span.start).toBe(2);
    expect(r.diagnostics[1].help).toMatch(/ASCII/);
  });

  it('control characters are named by code point', () => {
    const r = parse('model m\x00\n');
    expect(r.diagnostics[0].message).toBe("unexpected character 'U+0000'");
  });

  it('single quotes get a hint', () => {
    const r = parse("model m\ntrain { data = text('x') }\n");
    expect(r.diagnostics[0].code).toBe('E0100');
    expect(r.diagnostics[0].help).toMatch(/double quotes/);
  });
});
