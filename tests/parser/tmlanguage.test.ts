import { readFileSync, writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { tokenKeywords } from '../../src/parser/index.js';
import { builtinFunctions } from '../../src/ir/elaborate/builtins.js';
import { withBuiltins, type Grammar as WebGrammar } from '../../web/src/highlight.js';

interface Pattern {
  name?: string;
  match?: string;
  begin?: string;
  end?: string;
  include?: string;
  patterns?: Pattern[];
  captures?: Record<string, { name: string }>;
}
interface Grammar {
  scopeName: string;
  fileTypes: string[];
  patterns: Pattern[];
  repository: Record<string, Pattern>;
}

const PATH = 'grammar/mdl.tmLanguage.json';
const grammar = JSON.parse(readFileSync(PATH, 'utf8')) as Grammar;

function* allPatterns(p: Pattern): Generator<Pattern> {
  yield p;
  for (const c of p.patterns ?? []) yield* allPatterns(c);
}

/** The scope a line's first match gets, trying the grammar's top-level patterns in order (a tiny TextMate). */
function firstScope(text: string): string | undefined {
  let best: { index: number; scope: string } | undefined;
  const visit = (p: Pattern) => {
    if (p.include) return visit(grammar.repository[p.include.slice(1)]);
    for (const c of p.patterns ?? []) visit(c);
    const src = p.match ?? p.begin;
    if (!src) return;
    const m = new RegExp(src).exec(text);
    if (m && (!best || m.index < best.index)) best = { index: m.index, scope: p.name ?? Object.values(p.captures ?? {})[0]?.name ?? '' };
  };
  for (const p of grammar.patterns) visit(p);
  return best?.scope;
}

describe('grammar/mdl.tmLanguage.json', () => {
  it('is a TextMate grammar for .mdl files', () => {
    expect(grammar.scopeName).toBe('source.mdl');
    expect(grammar.fileTypes).toEqual(['mdl']);
    for (const p of grammar.patterns) {
      expect(p.include, 'top-level patterns include repository entries').toMatch(/^#/);
      expect(grammar.repository[p.include!.slice(1)]).toBeDefined();
    }
    for (const key of ['comments', 'strings', 'numbers', 'keywords', 'builtins', 'operators', 'declarations']) {
      expect(grammar.repository[key], key).toBeDefined();
    }
  });

  it('every regex compiles in JavaScript', () => {
    for (const entry of Object.values(grammar.repository)) {
      for (const p of allPatterns(entry)) {
        for (const src of [p.match, p.begin, p.end]) if (src !== undefined) expect(() => new RegExp(src), src).not.toThrow();
      }
    }
  });

  it('covers every keyword of the lexer', () => {
    const regexes = [...allPatterns(grammar.repository.keywords)].flatMap((p) => (p.match ? [new RegExp(`^(?:${p.match})$`)] : []));
    for (const kw of tokenKeywords) expect(regexes.some((r) => r.test(kw)), `keyword ${kw}`).toBe(true);
  });

  it('highlights the builtin functions of the compiler\'s tables (UPDATE_GRAMMAR=1 rewrites the list)', () => {
    const generated = `${JSON.stringify(withBuiltins(grammar as WebGrammar, builtinFunctions()), null, 2)}\n`;
    if (process.env.UPDATE_GRAMMAR === '1') writeFileSync(PATH, generated);
    expect(readFileSync(PATH, 'utf8'), `${PATH}'s builtins are stale: run UPDATE_GRAMMAR=1 npx vitest run tests/parser/tmlanguage.test.ts`).toBe(generated);
    const regexes = [...allPatterns(grammar.repository.builtins)].flatMap((p) => (p.match ? [new RegExp(`^(?:${p.match})$`)] : []));
    for (const b of [...builtinFunctions(), 'silu', 'prod', 'broadcast', 'warmup_cosine']) expect(regexes.some((r) => r.test(b)), `builtin ${b}`).toBe(true);
    expect(regexes.some((r) => r.test('sgd')), 'sgd is no function of the language').toBe(false);
  });

  it('scopes typical lines sensibly', () => {
    expect(firstScope('# a comment')).toMatch(/^comment\./);
    expect(firstScope('"tinyshakespeare"')).toMatch(/^string\./);
    expect(firstScope('1e-5')).toMatch(/^constant\.numeric/);
    expect(firstScope('dim embed = 4')).toMatch(/dim/);
    expect(firstScope('softmax(s)')).toMatch(/^support\.function/);
    expect(firstScope('->')).toMatch(/^keyword\.operator/);
    expect(firstScope('1 / sqrt(fan_in)')).toMatch(/^constant\.numeric/);
    expect(firstScope('fan_in)')).toMatch(/^variable\.language/);
  });
});
