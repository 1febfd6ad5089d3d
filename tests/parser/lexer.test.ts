import { describe, expect, it } from 'vitest';
import { lex, tokenKeywords } from '../../src/parser/lexer.js';
import { tokenKeywords as exported } from '../../src/parser/index.js';

function kinds(text: string): string[] {
  return lex('t.mdl', text).tokens.map((t) => `${t.tokenType.name}:${t.image}`);
}

describe('lexer', () => {
  it('numbers, including the `0 .. seq` and `0..seq` cases', () => {
    expect(kinds('64 0.02 1e-5 1.5e+3 2E3')).toEqual(['Integer:64', 'Float:0.02', 'Float:1e-5', 'Float:1.5e+3', 'Float:2E3']);
    expect(kinds('0 .. seq')).toEqual(['Integer:0', 'DotDot:..', 'Identifier:seq']);
    expect(kinds('0..seq')).toEqual(['Integer:0', 'DotDot:..', 'Identifier:seq']);
    expect(kinds('1..2')).toEqual(['Integer:1', 'DotDot:..', 'Integer:2']);
    expect(kinds('blocks.0.wq')).toEqual(['Identifier:blocks', 'Dot:.', 'Integer:0', 'Dot:.', 'Identifier:wq']);
  });

  it('keywords and identifiers', () => {
    expect(kinds('index indexes over over_x f32 f32x inf info data lr mean')).toEqual([
      'Index:index',
      'Identifier:indexes',
      'Over:over',
      'Identifier:over_x',
      'F32:f32',
      'Identifier:f32x',
      'Inf:inf',
      'Identifier:info',
      'Identifier:data',
      'Identifier:lr',
      'Identifier:mean',
    ]);
  });

  it('operators take the longest spelling', () => {
    expect(kinds('-> .. . <= >= == != < > = + - * / ^ ( ) [ ] { } , :').map((k) => k.split(':')[0])).toEqual([
      'Arrow', 'DotDot', 'Dot', 'LessEq', 'GreaterEq', 'EqEq', 'NotEq', 'Less', 'Greater', 'Equals', 'Plus', 'Minus',
      'Star', 'Slash', 'Caret', 'LParen', 'RParen', 'LBracket', 'RBracket', 'LBrace', 'RBrace', 'Comma', 'Colon',
    ]);
    expect(kinds('x^-1')).toEqual(['Identifier:x', 'Caret:^', 'Minus:-', 'Integer:1']);
  });

  it('comments and whitespace are skipped; newlines are plain whitespace', () => {
    expect(kinds('a # comment = 1\r\n\tb\f# end')).toEqual(['Identifier:a', 'Identifier:b']);
  });

  it('strings, with escapes', () => {
    expect(kinds('"tiny" "a\\"b"')).toEqual(['String:"tiny"', 'String:"a\\"b"']);
  });

  it('token offsets are 0-based into the text', () => {
    const [a, b] = lex('t.mdl', '  ab\n cd').tokens;
    expect([a.startOffset, a.image, b.startOffset, b.image]).toEqual([2, 'ab', 6, 'cd']);
  });

  it('lexical diagnostics', () => {
    const r = lex('t.mdl', 'a @ "open\n1x ok');
    expect(r.diagnostics.map((d) => `${d.code} ${d.span.line}:${d.span.column}-${d.span.endColumn}`)).toEqual([
      'E0100 1:3-3',
      'E0103 1:5-9',
      'E0104 2:1-2',
    ]);
    // Bad input still becomes tokens the parser can recover around.
    expect(r.tokens.map((t) => t.tokenType.name)).toEqual(['Identifier', 'Unknown', 'String', 'Integer', 'Identifier']);
  });

  it('keyword list', () => {
    expect([...tokenKeywords].sort()).toEqual(
      ['model', 'dim', 'axis', 'param', 'init', 'block', 'forward', 'return', 'repeat', 'as', 'over', 'loss', 'train', 'index', 'of', 'f32', 'inf', 'true', 'false'].sort(),
    );
    expect(exported).toBe(tokenKeywords);
  });
});

describe('token and grammar definitions', () => {
  it('pass Chevrotain validation (skipped at run time for speed)', async () => {
    const { chevrotain } = await import('../../src/parser/chevrotain.js');
    const { ALL_TOKENS } = await import('../../src/parser/lexer.js');
    const { MdlParser } = await import('../../src/parser/parser.js');
    const saved = process.env.MDL_VALIDATE_GRAMMAR;
    process.env.MDL_VALIDATE_GRAMMAR = '1';
    try {
      const lexer = new chevrotain.Lexer(ALL_TOKENS, { ensureOptimizations: true, positionTracking: 'onlyOffset' });
      expect(lexer.lexerDefinitionErrors).toEqual([]);
      expect(() => new MdlParser()).not.toThrow();
    } finally {
      if (saved === undefined) delete process.env.MDL_VALIDATE_GRAMMAR;
      else process.env.MDL_VALIDATE_GRAMMAR = saved;
    }
  });

  it('the fast-loading Chevrotain bundle is the installed version', async () => {
    const { chevrotain } = await import('../../src/parser/chevrotain.js');
    expect(chevrotain.VERSION).toBe('11.2.0');
  });
});
