/**
 * Generates the reference grammar `grammar/mdl.ebnf` (W3C-style EBNF) from the Chevrotain
 * grammar itself, so the document cannot drift from the parser. A test compares the file
 * with `generateEbnf()`; `UPDATE_GRAMMAR=1 npx vitest run tests/parser` rewrites it.
 */
import type { IProduction, TokenType } from 'chevrotain';
import { chevrotain } from './chevrotain.js';
import * as T from './lexer.js';
import { getParser } from './parser.js';

const {
  Alternation,
  Alternative,
  Lexer,
  NonTerminal,
  Option,
  Repetition,
  RepetitionMandatory,
  RepetitionMandatoryWithSeparator,
  RepetitionWithSeparator,
  Terminal,
} = chevrotain;
type Rule = InstanceType<typeof chevrotain.Rule>;
type Alternative = InstanceType<typeof Alternative>;

const HEADER = `(* The .mdl language: reference grammar.
   GENERATED from src/parser/parser.ts by src/parser/ebnf.ts - do not edit by hand;
   regenerate with: UPDATE_GRAMMAR=1 npx vitest run tests/parser/ebnf.test.ts

   Notation (W3C EBNF): 'x' is a literal token, UPPERCASE names are tokens defined in the
   lexical grammar at the end, a? is optional, a* repeats zero or more times, a+ one or
   more times, a | b is a choice. Newlines are whitespace: statements need no separators.

   Operator precedence, lowest first (encoded by the expression rules below):
     comparison  < <= > >= == !=      non-associative (a < b < c is an error)
     additive    + -                  left-associative
     multiplicative  * /  and contraction  a . b over AXES   left-associative
     unary       -                    (-x^2 is -(x^2))
     power       ^                    right-associative; x ^ -1 is allowed
     postfix     f(args)  e[i]  e[a .. b]  e as [a -> b]
   A dotted name in a dim expression must be data.NAME; (e) is a Paren, (a, b) and () are
   Tuples; a .. b (a Range) is only valid inside [ ]. An IDENTIFIER followed by '=' always
   starts a statement or setting, never an operand: in "x = a +" followed by "y = b" on the
   next line, the first expression is unfinished. *)
`;

export function generateEbnf(): string {
  const rules = getParser().getGAstProductions();
  const names = Object.keys(rules);
  const width = Math.max(...names.map((n) => n.length));
  const out: string[] = [HEADER];
  for (const name of names) out.push(formatRule(rules[name], width));
  out.push(lexicalGrammar());
  return out.join('\n');
}

function formatRule(rule: Rule, width: number): string {
  const lhs = rule.name.padEnd(width);
  const only = rule.definition.length === 1 ? rule.definition[0] : undefined;
  const alts = only instanceof Alternation ? only.definition : undefined;
  if (alts && alts.length > 1) {
    const parts = alts.map((a) => seq((a as Alternative).definition));
    const oneLine = `${lhs} ::= ${parts.join(' | ')}`;
    if (oneLine.length <= 100) return oneLine + '\n';
    const pad = ' '.repeat(width + 3);
    return `${lhs} ::= ${parts[0]}\n${parts.slice(1).map((p) => `${pad}| ${p}`).join('\n')}\n`;
  }
  return `${lhs} ::= ${seq(rule.definition)}\n`;
}

function seq(prods: IProduction[]): string {
  return prods.map(prod).join(' ');
}

/** A sequence as one operand of a postfix operator: parenthesised unless it is one atom. */
function group(prods: IProduction[]): string {
  if (prods.length === 1) {
    const p = prods[0];
    if (p instanceof Terminal || p instanceof NonTerminal || p instanceof Alternation) return prod(p);
  }
  return `( ${seq(prods)} )`;
}

function prod(p: IProduction): string {
  if (p instanceof Terminal) return terminal(p.terminalType);
  if (p instanceof NonTerminal) return p.nonTerminalName;
  if (p instanceof Option) return `${group(p.definition)}?`;
  if (p instanceof Repetition) return `${group(p.definition)}*`;
  if (p instanceof RepetitionMandatory) return `${group(p.definition)}+`;
  if (p instanceof RepetitionWithSeparator) {
    const item = seq(p.definition);
    return `( ${item} ( ${terminal(p.separator)} ${item} )* )?`;
  }
  if (p instanceof RepetitionMandatoryWithSeparator) {
    const item = seq(p.definition);
    return `${item} ( ${terminal(p.separator)} ${item} )*`;
  }
  if (p instanceof Alternation) return `( ${p.definition.map((a) => seq((a as Alternative).definition)).join(' | ')} )`;
  if (p instanceof Alternative) return seq(p.definition);
  throw new Error(`unknown grammar production ${p.constructor.name}`);
}

function terminal(t: TokenType): string {
  const fixed = T.fixedSpelling(t);
  if (fixed !== undefined) return `'${fixed}'`;
  return tokenName(t);
}

function tokenName(t: TokenType): string {
  return t.name.toUpperCase();
}

/** The token definitions, as regular expressions (JavaScript syntax). */
function lexicalGrammar(): string {
  const lines: string[] = [
    '(* ---------------------------------------------------------------- lexical grammar',
    '   Tokens are matched first to last at each position; a keyword followed by more',
    '   identifier characters is an IDENTIFIER. Patterns are JavaScript regular expressions. *)',
    '',
  ];
  const rows: [string, string][] = [];
  const errorTokens = new Set([T.BadNumber, T.UnterminatedString, T.Unknown]);
  for (const t of T.ALL_TOKENS) {
    if (errorTokens.has(t) || T.fixedSpelling(t) !== undefined) continue;
    if (t === T.NumberTok) {
      rows.push(['NUMBER', 'INTEGER | FLOAT']);
      continue;
    }
    const pattern = t.PATTERN as RegExp;
    const skipped = t.GROUP === Lexer.SKIPPED ? '   (* skipped *)' : '';
    rows.push([tokenName(t), `/${pattern.source}/${skipped}`]);
  }
  const width = Math.max(...rows.map(([n]) => n.length));
  for (const [n, r] of rows) lines.push(`${n.padEnd(width)} ::= ${r}`);
  lines.push('');
  lines.push(`(* Keywords: ${T.tokenKeywords.join(' ')} *)`);
  return lines.join('\n') + '\n';
}
