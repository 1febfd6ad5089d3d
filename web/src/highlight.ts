/**
 * Highlighting from the project's own TextMate grammar (grammar/mdl.tmLanguage.json, the one
 * editors use): a small interpreter of the part of TextMate the grammar uses — `match`
 * patterns with captures, and `begin`/`end` patterns that end on their line — applied as
 * TextMate does: at each position the pattern whose match starts first wins, ties going to
 * the one listed first. No DOM: the editor (editor.ts) turns scopes into styles.
 */

export interface GrammarPattern {
  name?: string;
  match?: string;
  begin?: string;
  end?: string;
  include?: string;
  patterns?: GrammarPattern[];
  captures?: Record<string, { name: string }>;
}

export interface Grammar {
  patterns: GrammarPattern[];
  repository: Record<string, GrammarPattern>;
}

interface Rule {
  re: RegExp;
  end?: RegExp;
  /** Inside a begin/end pattern: what is skipped while looking for the end (an escaped quote). */
  inner?: RegExp[];
  name?: string;
  captures?: Record<string, { name: string }>;
}

/** A scoped stretch [from, to) of a line. */
export interface Segment {
  from: number;
  to: number;
  scope: string;
}

/** The scope of the language's builtin functions. */
export const BUILTIN_SCOPE = 'support.function.builtin.mdl';

/**
 * `grammar` with its builtin-function pattern matching exactly `names` as whole words. The
 * names come from the compiler's tables (builtinFunctions()), so that a function added there
 * is highlighted without editing the grammar.
 */
export function withBuiltins(grammar: Grammar, names: readonly string[]): Grammar {
  let found = false;
  const visit = (p: GrammarPattern): GrammarPattern => {
    if (p.name === BUILTIN_SCOPE && p.match !== undefined) {
      found = true;
      return { ...p, match: `\\b(?:${names.join('|')})\\b` };
    }
    return p.patterns ? { ...p, patterns: p.patterns.map(visit) } : p;
  };
  const repository = Object.fromEntries(Object.entries(grammar.repository).map(([k, p]) => [k, visit(p)]));
  if (!found) throw new Error(`grammar: no pattern of scope ${BUILTIN_SCOPE}`);
  return { ...grammar, repository };
}

/** The grammar's patterns in order, includes expanded. */
export function compileGrammar(grammar: Grammar): Rule[] {
  const rules: Rule[] = [];
  const visit = (p: GrammarPattern, seen: Set<string>) => {
    if (p.include) {
      const key = p.include.replace(/^#/, '');
      const target = grammar.repository[key];
      if (!target || seen.has(key)) throw new Error(`grammar: cannot include ${p.include}`);
      visit(target, new Set([...seen, key]));
      return;
    }
    if (p.match) rules.push({ re: new RegExp(p.match, 'gd'), name: p.name, captures: p.captures });
    else if (p.begin && p.end) rules.push({ re: new RegExp(p.begin, 'gd'), end: new RegExp(p.end, 'g'), inner: (p.patterns ?? []).filter((c) => c.match).map((c) => new RegExp(c.match!, 'g')), name: p.name });
    for (const c of p.patterns ?? []) if (!p.begin) visit(c, seen);
  };
  for (const p of grammar.patterns) visit(p, new Set());
  return rules;
}

/** The scoped segments of one line, in order; text outside them has no scope. */
export function tokenizeLine(rules: readonly Rule[], line: string): Segment[] {
  const out: Segment[] = [];
  let pos = 0;
  while (pos < line.length) {
    let best: { rule: Rule; m: RegExpExecArray } | undefined;
    for (const rule of rules) {
      rule.re.lastIndex = pos;
      const m = rule.re.exec(line);
      if (!m || m[0].length === 0) continue;
      if (!best || m.index < best.m.index) best = { rule, m };
    }
    if (!best) break;
    const { rule, m } = best;
    const from = m.index;
    let to = from + m[0].length;
    if (rule.end) {
      to = endOf(rule, line, to);
      out.push({ from, to, scope: rule.name ?? '' });
    } else if (rule.name) out.push({ from, to, scope: rule.name });
    else if (rule.captures && m.indices) {
      for (const [group, c] of Object.entries(rule.captures).sort(([a], [b]) => Number(a) - Number(b))) {
        const span = m.indices[Number(group)];
        if (span && span[1] > span[0]) out.push({ from: span[0], to: span[1], scope: c.name });
      }
    }
    pos = Math.max(to, pos + 1);
  }
  return out;
}

/** Where a begin/end pattern that began before `at` ends: past its end match, skipping what its inner patterns match. */
function endOf(rule: Rule, line: string, at: number): number {
  let q = at;
  for (;;) {
    rule.end!.lastIndex = q;
    const e = rule.end!.exec(line);
    if (!e) return line.length;
    let skip: RegExpExecArray | undefined;
    for (const re of rule.inner ?? []) {
      re.lastIndex = q;
      const m = re.exec(line);
      if (m && m[0].length > 0 && m.index < e.index && (!skip || m.index < skip.index)) skip = m;
    }
    if (!skip) return e.index + e[0].length;
    q = skip.index + skip[0].length;
  }
}

/** What a scope looks like in the editor: a name of CodeMirror's highlighting tags (see editor.ts). */
export type Style = 'comment' | 'string' | 'keyword' | 'operator' | 'definition' | 'constant' | 'function' | 'number' | 'atom' | 'punctuation' | 'variable' | 'special';

/** The style of a TextMate scope, by its leading components (the most specific listed first). */
export function styleOf(scope: string): Style | undefined {
  const table: [string, Style][] = [
    ['comment', 'comment'],
    ['punctuation.definition.comment', 'comment'],
    ['string', 'string'],
    ['constant.character.escape', 'string'],
    ['keyword.operator', 'operator'],
    ['keyword', 'keyword'],
    ['storage.type', 'keyword'],
    ['entity.name', 'definition'],
    ['variable.other.constant', 'constant'],
    ['variable.other.declaration', 'definition'],
    ['variable.parameter', 'variable'],
    ['variable.language', 'special'],
    ['support.function', 'function'],
    ['constant.numeric', 'number'],
    ['constant.language', 'atom'],
    ['punctuation', 'punctuation'],
  ];
  for (const [prefix, style] of table) if (scope === prefix || scope.startsWith(`${prefix}.`)) return style;
  return undefined;
}
