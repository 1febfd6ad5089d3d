/**
 * The page's highlighter: the project's TextMate grammar applied to lines as TextMate does
 * (earliest match wins, ties to the first pattern listed), and the style each scope gets.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { compileGrammar, styleOf, tokenizeLine, type Grammar } from '../../web/src/highlight.js';

const grammar = JSON.parse(readFileSync('grammar/mdl.tmLanguage.json', 'utf8')) as Grammar;
const rules = compileGrammar(grammar);

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
