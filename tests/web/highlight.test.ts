/**
 * The page's highlighter: the project's TextMate grammar applied to lines as TextMate does
 * (earliest match wins, ties to the first pattern listed), and the style each scope gets.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { builtinFunctions } from '../../src/browser.js';
import { BUILTIN_SCOPE, compileGrammar, styleOf, tokenizeLine, withBuiltins, type Grammar } from '../../web/src/highlight.js';

const grammar = JSON.parse(readFileSync('grammar/mdl.tmLanguage.json', 'utf8')) as Grammar;
// As the page's editor builds its rules: the builtin functions from the compiler's tables.
const rules = compileGrammar(withBuiltins(grammar, builtinFunctions()));

/** The line's scoped pieces as `text=scope`. */
const pieces = (line: string) => tokenizeLine(rules, line).map((s) => `${line.slice(s.from, s.to)}=${s.scope.replace(/\.mdl$/, '')}`);

describe('tokenizeLine with the project grammar', () => {
  it('scopes a softmax line: builtin, keyword argument, operators, punctuation, comment', () => {
    expect(pieces('  p = softmax(s, over: key)   # a distribution')).toEqual([
      '==keyword.operator.assignment',
      'softmax=support.function.builtin',
      '(=punctuation.section.parens',
      ',=punctuation.separator.comma',
      'over=keyword.other',
      ':=punctuation.separator.colon',
      ')=punctuation.section.parens',
      '# a distribution=comment.line.number-sign',
    ]);
  });

  it('scopes declarations by their captures, and the dataset string as one string', () => {
    expect(pieces('dim vocab  = data.vocab')).toEqual(['dim=storage.type.dim', 'vocab=variable.other.constant.dim', '==keyword.operator.assignment', 'data=variable.language.data', '.=keyword.operator.contraction']);
    expect(pieces('  data = text("tiny\\"shakespeare", window: seq + 1)')).toContain('"tiny\\"shakespeare"=string.quoted.double');
    const repeat = tokenizeLine(rules, 'repeat layers as blocks {');
    expect(repeat.map((s) => s.scope)).toEqual(['keyword.control.repeat.mdl', 'keyword.other.as.mdl', 'entity.name.namespace.mdl', 'punctuation.section.braces.mdl']);
  });

  it('tells floats from integers, and a string left open runs to the end of its line', () => {
    expect(pieces('lr = 1e-3 * 0.5 + 12')).toEqual(['==keyword.operator.assignment', '1e-3=constant.numeric.float', '*=keyword.operator.arithmetic', '0.5=constant.numeric.float', '+=keyword.operator.arithmetic', '12=constant.numeric.integer']);
    expect(pieces('x = "open')).toEqual(['==keyword.operator.assignment', '"open=string.quoted.double']);
  });

  it('gives every line of both reference models ordered, disjoint segments within the line', () => {
    for (const file of ['models/transformer.mdl', 'models/autoencoder.mdl']) {
      for (const line of readFileSync(file, 'utf8').split('\n')) {
        let end = 0;
        for (const s of tokenizeLine(rules, line)) {
          expect(s.from).toBeGreaterThanOrEqual(end);
          expect(s.to).toBeGreaterThan(s.from);
          expect(s.to).toBeLessThanOrEqual(line.length);
          end = s.to;
        }
      }
    }
  });

  it('scopes silu and prod, and every function of the compiler\'s tables, as builtins', () => {
    expect(pieces('  g = prod(silu(h), over: group)')).toEqual([
      '==keyword.operator.assignment',
      'prod=support.function.builtin',
      '(=punctuation.section.parens',
      'silu=support.function.builtin',
      '(=punctuation.section.parens',
      ')=punctuation.section.parens',
      ',=punctuation.separator.comma',
      'over=keyword.other',
      ':=punctuation.separator.colon',
      ')=punctuation.section.parens',
    ]);
    for (const f of builtinFunctions()) expect(tokenizeLine(rules, `${f}(x)`)[0], f).toEqual({ from: 0, to: f.length, scope: BUILTIN_SCOPE });
  });

  it('takes its builtins from the list it is given, not from the grammar file', () => {
    const only = compileGrammar(withBuiltins(grammar, ['prod']));
    expect(tokenizeLine(only, 'prod(x)')[0].scope).toBe(BUILTIN_SCOPE);
    expect(tokenizeLine(only, 'softmax(x)').map((s) => s.scope)).not.toContain(BUILTIN_SCOPE);
    expect(() => withBuiltins({ patterns: [], repository: { builtins: { patterns: [{ name: 'other.mdl', match: 'x' }] } } }, ['prod'])).toThrow(`grammar: no pattern of scope ${BUILTIN_SCOPE}`);
  });

  it('refuses a grammar that includes a pattern it does not have', () => {
    expect(() => compileGrammar({ patterns: [{ include: '#nope' }], repository: {} })).toThrow('grammar: cannot include #nope');
  });
});

describe('styleOf', () => {
  it('maps scopes to editor styles by their most specific listed prefix', () => {
    expect(styleOf('comment.line.number-sign.mdl')).toBe('comment');
    expect(styleOf('keyword.operator.contraction.mdl')).toBe('operator');
    expect(styleOf('keyword.other.mdl')).toBe('keyword');
    expect(styleOf('storage.type.dim.mdl')).toBe('keyword');
    expect(styleOf('support.function.builtin.mdl')).toBe('function');
    expect(styleOf('constant.numeric.float.mdl')).toBe('number');
    expect(styleOf('variable.other.constant.axis.mdl')).toBe('constant');
    expect(styleOf('entity.name.function.block.mdl')).toBe('definition');
    expect(styleOf('keywordish')).toBeUndefined();
    expect(styleOf('')).toBeUndefined();
  });
});
