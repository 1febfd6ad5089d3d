/**
 * The .mdl lexer: Chevrotain token definitions and `lex()`, which turns source text into the
 * token vector the parser reads plus lexical diagnostics (E0100 unexpected character,
 * E0103 unterminated string, E0104 invalid number).
 *
 * Lexical rules: `#` starts a comment to the end of the line; newlines are plain whitespace;
 * identifiers are ASCII `[A-Za-z_][A-Za-z0-9_]*`; keywords are reserved identifiers.
 */
import type { IToken, Lexer as LexerType, TokenType } from 'chevrotain';
import { chevrotain } from './chevrotain.js';
import { diagnostic, type Diagnostic } from '../diagnostics/diagnostic.js';
import { LineMap } from './lines.js';

const { createToken, createTokenInstance, Lexer } = chevrotain;

/**
 * Whether Chevrotain validates the grammar when the lexer and parser are built: in the tests
 * (MDL_VALIDATE_GRAMMAR=1), not at run time (it slows `mdlc check`'s start-up). There is no
 * `process` in a browser page.
 */
export function validateGrammar(): boolean {
  return (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env?.MDL_VALIDATE_GRAMMAR === '1';
}

// ---------------------------------------------------------------- token types

export const WhiteSpace = createToken({
  name: 'WhiteSpace',
  // Any ASCII whitespace, plus a stray byte-order mark (it is invisible, so it is not an error).
  pattern: /[ \t\r\n\f\v\ufeff]+/,
  group: Lexer.SKIPPED,
  line_breaks: true,
});
export const Comment = createToken({ name: 'Comment', pattern: /#[^\n]*/, group: Lexer.SKIPPED });

export const Identifier = createToken({ name: 'Identifier', pattern: /[A-Za-z_][A-Za-z0-9_]*/ });

function keyword(word: string): TokenType {
  const name = word[0].toUpperCase() + word.slice(1);
  return createToken({ name, pattern: new RegExp(word), longer_alt: Identifier });
}

export const Model = keyword('model');
export const Dim = keyword('dim');
export const Axis = keyword('axis');
export const Param = keyword('param');
export const Init = keyword('init');
export const Block = keyword('block');
export const Forward = keyword('forward');
export const Return = keyword('return');
export const Repeat = keyword('repeat');
export const As = keyword('as');
export const Over = keyword('over');
export const Loss = keyword('loss');
export const Train = keyword('train');
export const IndexKw = createToken({ name: 'Index', pattern: /index/, longer_alt: Identifier });
export const Of = keyword('of');
export const F32 = keyword('f32');
export const Inf = keyword('inf');
export const True = keyword('true');
export const False = keyword('false');

/** Every keyword of the language, in the order of the reference grammar. */
export const KEYWORD_TOKENS: readonly TokenType[] = [
  Model, Dim, Axis, Param, Init, Block, Forward, Return, Repeat, As, Over, Loss, Train, IndexKw, Of, F32, Inf, True, False,
];

/** The reserved words of .mdl (used by editor grammars and tests). */
export const tokenKeywords: readonly string[] = KEYWORD_TOKENS.map((t) => String((t.PATTERN as RegExp).source));

/** Abstract category of the two numeric literal kinds. */
export const NumberTok = createToken({ name: 'Number', pattern: Lexer.NA });
/** `0.02`, `1e-5`, `1.5e+3`: has a fraction or an exponent. */
export const Float = createToken({
  name: 'Float',
  pattern: /\d+\.\d+(?:[eE][+-]?\d+)?(?![A-Za-z0-9_])|\d+[eE][+-]?\d+(?![A-Za-z0-9_])/,
  categories: [NumberTok],
  start_chars_hint: ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'],
});
/** `64`: digits only. `0..seq` lexes as `0`, `..`, `seq`. */
export const Integer = createToken({
  name: 'Integer',
  pattern: /\d+(?![A-Za-z0-9_])/,
  categories: [NumberTok],
  start_chars_hint: ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'],
});
/** Digits run into letters (`1e`, `2x`, `1.5f`): reported as E0104 and read as a number. */
export const BadNumber = createToken({
  name: 'BadNumber',
  pattern: /\d+(?:\.\d+)?(?:[eE][+-]?\d*)?[A-Za-z0-9_]*/,
  start_chars_hint: ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'],
});

export const StringLiteral = createToken({ name: 'String', pattern: /"(?:[^"\\\n\r]|\\[^\n\r])*"/ });
/** A string with no closing quote on its line: reported as E0103 and read as a string. */
export const UnterminatedString = createToken({ name: 'UnterminatedString', pattern: /"(?:[^"\\\n\r]|\\[^\n\r])*\\?/ });

export const Arrow = createToken({ name: 'Arrow', pattern: /->/ });
export const DotDot = createToken({ name: 'DotDot', pattern: /\.\./ });
export const Dot = createToken({ name: 'Dot', pattern: /\./ });
export const LessEq = createToken({ name: 'LessEq', pattern: /<=/ });
export const GreaterEq = createToken({ name: 'GreaterEq', pattern: />=/ });
export const EqEq = createToken({ name: 'EqEq', pattern: /==/ });
export const NotEq = createToken({ name: 'NotEq', pattern: /!=/ });
export const Less = createToken({ name: 'Less', pattern: /</ });
export const Greater = createToken({ name: 'Greater', pattern: />/ });
export const Equals = createToken({ name: 'Equals', pattern: /=/ });
export const Plus = createToken({ name: 'Plus', pattern: /\+/ });
export const Minus = createToken({ name: 'Minus', pattern: /-/ });
export const Star = createToken({ name: 'Star', pattern: /\*/ });
export const Slash = createToken({ name: 'Slash', pattern: /\// });
export const Caret = createToken({ name: 'Caret', pattern: /\^/ });
export const LParen = createToken({ name: 'LParen', pattern: /\(/ });
export const RParen = createToken({ name: 'RParen', pattern: /\)/ });
export const LBracket = createToken({ name: 'LBracket', pattern: /\[/ });
export const RBracket = createToken({ name: 'RBracket', pattern: /]/ });
export const LBrace = createToken({ name: 'LBrace', pattern: /{/ });
export const RBrace = createToken({ name: 'RBrace', pattern: /}/ });
export const Comma = createToken({ name: 'Comma', pattern: /,/ });
export const Colon = createToken({ name: 'Colon', pattern: /:/ });

/**
 * Characters no token starts with. The lexer never produces it; `lex()` inserts one per run of
 * unexpected characters so the parser re-synchronises around them instead of gluing the
 * neighbouring tokens together. No grammar rule accepts it.
 */
export const Unknown = createToken({ name: 'Unknown', pattern: Lexer.NA });

/** Token types in matching order (first match wins; keywords give way to longer identifiers). */
export const ALL_TOKENS: TokenType[] = [
  WhiteSpace,
  Comment,
  ...KEYWORD_TOKENS,
  Identifier,
  Float,
  Integer,
  BadNumber,
  NumberTok,
  StringLiteral,
  UnterminatedString,
  Arrow,
  DotDot,
  Dot,
  LessEq,
  GreaterEq,
  EqEq,
  NotEq,
  Less,
  Greater,
  Equals,
  Plus,
  Minus,
  Star,
  Slash,
  Caret,
  LParen,
  RParen,
  LBracket,
  RBracket,
  LBrace,
  RBrace,
  Comma,
  Colon,
  Unknown,
];

/** Tokens with a fixed spelling, as users see them in messages (`'='`, `'dim'`). */
const FIXED: ReadonlyMap<TokenType, string> = new Map<TokenType, string>([
  ...KEYWORD_TOKENS.map((t): [TokenType, string] => [t, String((t.PATTERN as RegExp).source)]),
  [Arrow, '->'],
  [DotDot, '..'],
  [Dot, '.'],
  [LessEq, '<='],
  [GreaterEq, '>='],
  [EqEq, '=='],
  [NotEq, '!='],
  [Less, '<'],
  [Greater, '>'],
  [Equals, '='],
  [Plus, '+'],
  [Minus, '-'],
  [Star, '*'],
  [Slash, '/'],
  [Caret, '^'],
  [LParen, '('],
  [RParen, ')'],
  [LBracket, '['],
  [RBracket, ']'],
  [LBrace, '{'],
  [RBrace, '}'],
  [Comma, ','],
  [Colon, ':'],
]);

/** The spelling of a fixed token (`'='` → `=`), or undefined for identifiers, numbers, strings. */
export function fixedSpelling(t: TokenType): string | undefined {
  return FIXED.get(t);
}

const KEYWORD_SET = new Set(KEYWORD_TOKENS);
export function isKeyword(t: TokenType): boolean {
  return KEYWORD_SET.has(t);
}

/** How an expected token type is named in a message: `'='`, `identifier`, `number`, `end of file`. */
export function describeTokenType(t: TokenType): string {
  const fixed = FIXED.get(t);
  if (fixed !== undefined) return `'${fixed}'`;
  switch (t.name) {
    case 'Identifier':
      return 'identifier';
    case 'Integer':
      return 'integer';
    case 'Float':
    case 'Number':
      return 'number';
    case 'String':
      return 'string';
    case 'EOF':
      return 'end of file';
    default:
      return t.name;
  }
}

/** How an actual token is named in a message: `'init'`, `identifier 'foo'`, `end of file`. */
export function describeToken(tok: IToken): string {
  const t = tok.tokenType;
  if (t === undefined || t.name === 'EOF') return 'end of file';
  if (FIXED.has(t)) return `'${FIXED.get(t)}'`;
  switch (t.name) {
    case 'Identifier':
      return `identifier '${tok.image}'`;
    case 'Integer':
    case 'Float':
    case 'BadNumber':
      return `number '${tok.image}'`;
    case 'String':
      return 'string';
    case 'Unknown':
      return showChars(tok.image);
    default:
      return `'${tok.image}'`;
  }
}

// ---------------------------------------------------------------- lexing

let lexerInstance: LexerType | undefined;

/** The Chevrotain lexer, built on first use. */
export function getLexer(): LexerType {
  lexerInstance ??= new Lexer(ALL_TOKENS, {
    positionTracking: 'onlyOffset',
    ensureOptimizations: true,
    recoveryEnabled: true,
    // The token set is validated by the tests (MDL_VALIDATE_GRAMMAR=1); skipping it at run
    // time keeps \`mdlc check\` start-up fast.
    skipValidations: !validateGrammar(),
  });
  return lexerInstance;
}

export interface LexResult {
  /** Tokens for the parser (comments and whitespace removed; bad input turned into recoverable tokens). */
  tokens: IToken[];
  diagnostics: Diagnostic[];
}

/** Lex `text`; never throws. Offsets in the tokens are 0-based into `text`. */
export function lex(file: string, text: string, lines: LineMap = new LineMap(text)): LexResult {
  const diagnostics: Diagnostic[] = [];
  const result = getLexer().tokenize(text);
  const tokens: IToken[] = [];

  // Unexpected characters: Chevrotain groups a run of them into one error.
  const unknown: IToken[] = result.errors.map((e) => {
    const image = text.slice(e.offset, e.offset + e.length);
    const span = lines.span(file, e.offset, e.offset + e.length);
    const plural = [...image].length > 1;
    diagnostics.push(
      diagnostic('E0100', `unexpected character${plural ? 's' : ''} ${showChars(image)}`, span, {
        help: unexpectedHelp(image),
      }),
    );
    return createTokenInstance(Unknown, image, e.offset, e.offset + e.length - 1, NaN, NaN, NaN, NaN);
  });

  // Merge the error tokens into the token stream, in offset order.
  let u = 0;
  for (const tok of result.tokens) {
    while (u < unknown.length && unknown[u].startOffset < tok.startOffset) tokens.push(unknown[u++]);
    if (tok.tokenType === UnterminatedString) {
      diagnostics.push(
        diagnostic('E0103', 'unterminated string', lines.span(file, tok.startOffset, tok.startOffset + tok.image.length), {
          help: 'close the string with `"` on the same line',
        }),
      );
      tokens.push(retype(tok, StringLiteral));
    } else if (tok.tokenType === BadNumber) {
      diagnostics.push(
        diagnostic('E0104', `invalid number '${tok.image}'`, lines.span(file, tok.startOffset, tok.startOffset + tok.image.length), {
          help: 'numbers look like `64`, `0.02`, `1e-5` or `1.5e+3`',
        }),
      );
      tokens.push(retype(tok, /[.eE]/.test(tok.image) ? Float : Integer));
    } else {
      tokens.push(tok);
    }
  }
  while (u < unknown.length) tokens.push(unknown[u++]);
  return { tokens, diagnostics };
}

function retype(tok: IToken, type: TokenType): IToken {
  return { ...tok, tokenType: type, tokenTypeIdx: type.tokenTypeIdx! };
}

export function showChars(image: string): string {
  const shown = [...image]
    .map((ch) => {
      const cp = ch.codePointAt(0)!;
      // Invisible, control, separator and replacement characters are shown by code point.
      if (/[\p{C}\p{Z}\ufffd]/u.test(ch)) return `U+${cp.toString(16).toUpperCase().padStart(4, '0')}`;
      return ch;
    })
    .join('');
  return shown.length > 40 ? `'${[...shown].slice(0, 40).join('')}…'` : `'${shown}'`;
}

function unexpectedHelp(image: string): string | undefined {
  const ch = image[0];
  if (ch === "'") return 'strings use double quotes: "..."';
  if (ch === '!') return 'use `!=` to compare, or `-` to negate';
  if (ch === ';') return 'statements need no separator: remove the `;`';
  if (/[^\x00-\x7f]/.test(image)) return 'names and operators use ASCII characters only';
  return undefined;
}
