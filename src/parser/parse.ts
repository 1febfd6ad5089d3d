/**
 * Parsing: `.mdl` text → AST with source spans, plus every syntax diagnostic. No files (those
 * are read.ts's), so it also runs in a browser.
 *
 *   parseModel(source)   → ModelFile + diagnostics (E0100–E0104); never throws
 */
import type { IRecognitionException, IToken, TokenType } from 'chevrotain';
import { chevrotain } from './chevrotain.js';
import { diagnostic, sortDiagnostics, type Diagnostic, type Label } from '../diagnostics/diagnostic.js';
import { fileSpan, type SourceFile, type Span } from '../diagnostics/span.js';
import type { ModelFile, Node } from './ast.js';
import { AstBuilder } from './build-ast.js';
import * as T from './lexer.js';
import { lex } from './lexer.js';
import { LineMap } from './lines.js';
import { getParser, INSERTED, STARTERS, UNEXPECTED } from './parser.js';

const { EOF } = chevrotain;

export type * from './ast.js';
export { tokenKeywords } from './lexer.js';

export interface ParseResult {
  /** The recovered AST; undefined only when nothing could be parsed. */
  ast: ModelFile | undefined;
  /** Every lexical and syntax diagnostic, in source order. */
  diagnostics: Diagnostic[];
}

/** Deeper bracket nesting than this is rejected before parsing (it would exhaust the stack). */
export const MAX_NESTING = 64;

/**
 * Expressions deeper than this are rejected after parsing: every later stage walks them
 * recursively. Each operator is a level, so `1 + 1 + ... + 1` with 300 terms is 300 deep.
 */
export const MAX_EXPRESSION_DEPTH = 256;

const EMPTY_LINES = new LineMap('');
export const EMPTY_MESSAGE = 'file is empty: a model needs at least `model NAME` and a forward';

/** Parse a `.mdl` source. Never throws: every problem is a diagnostic. */
export function parseModel(source: SourceFile): ParseResult {
  try {
    return parseUnguarded(source);
  } catch (e) {
    // A bug in the parser must still not show the user a stack trace.
    const why = e instanceof RangeError ? 'the model is nested too deeply to parse' : 'the parser failed on this input';
    return {
      ast: undefined,
      diagnostics: [diagnostic('E0101', why, fileSpan(source.path), { help: 'simplify the expression around the error' })],
    };
  }
}

function parseUnguarded(source: SourceFile): ParseResult {
  const { path, text } = source;
  const lines = new LineMap(text);
  const lexed = lex(path, text, lines);
  const tokens = lexed.tokens;

  if (tokens.length === 0 && lexed.diagnostics.length === 0) {
    return { ast: undefined, diagnostics: [diagnostic('E0003', EMPTY_MESSAGE, fileSpan(path))] };
  }

  const tooDeep = findExcessiveNesting(tokens);
  if (tooDeep) {
    const d = diagnostic('E0105', `expressions are nested more than ${MAX_NESTING} levels deep`, tokenSpan(path, lines, tooDeep), {
      help: 'split the expression into named steps',
    });
    return { ast: undefined, diagnostics: finish([...lexed.diagnostics, d], lines) };
  }

  const parser = getParser();
  parser.lines = lines;
  parser.input = tokens;
  const cst = parser.modelFile();
  const errors = parser.errors;
  parser.input = []; // do not keep the file's tokens alive
  parser.lines = EMPTY_LINES;

  const builder = new AstBuilder(path, text, lines);
  const ast = builder.modelFile(cst);

  const diags: Diagnostic[] = [...lexed.diagnostics];
  if (!ast.name && !(cst?.children.modelHeader)) {
    const first = tokens[0];
    diags.push(
      diagnostic('E0102', `expected 'model' and the model's name, found ${T.describeToken(first)}`, tokenSpan(path, lines, first), {
        help: 'start the file with `model NAME`',
      }),
    );
  }
  for (const e of errors) diags.push(syntaxDiagnostic(e, path, text, lines, tokens));
  for (const d of builder.diagnostics) diags.push(d);
  const deep = deepExpressions(ast);
  for (const { root, depth } of deep) {
    const dim = root.kind.startsWith('Dim');
    diags.push(
      diagnostic('E0105', `this expression is ${depth.toLocaleString('en-US')} levels deep; mdlc compiles expressions up to ${MAX_EXPRESSION_DEPTH} levels deep (each operator or bracket is a level)`, root.span, {
        help: dim ? 'split it over several dims (`dim a = ...`, then `dim b = a + ...`)' : 'split it into named steps (`a = ...`, then `b = a + ...`)',
      }),
    );
  }
  return { ast: deep.length ? undefined : ast, diagnostics: finish(diags, lines) };
}

/** Expression nodes that hold others: each is a level of depth. Leaves (numbers, names) are not. */
const EXPRESSION_KINDS = new Set(['Unary', 'Binary', 'Compare', 'Contract', 'Call', 'Index', 'Rename', 'Range', 'Tuple', 'Paren', 'DimBinary', 'DimParen']);

/**
 * Expressions deeper than MAX_EXPRESSION_DEPTH, with their depth, outermost node first.
 * Iterative, so that an expression of any depth is measured without recursion.
 */
function deepExpressions(ast: ModelFile): { root: Node & { kind: string }; depth: number }[] {
  type Item = { node: Node & { kind: string }; depth: number; root?: { node: Node & { kind: string }; max: number } };
  const roots: { node: Node & { kind: string }; max: number }[] = [];
  const stack: Item[] = [{ node: ast, depth: 0 }];
  while (stack.length) {
    const { node, depth, root: outer } = stack.pop()!;
    let root = outer;
    let d = depth;
    if (EXPRESSION_KINDS.has(node.kind)) {
      if (!root) roots.push((root = { node, max: 0 }));
      d = depth + 1;
      if (d > root.max) root.max = d;
    } else root = undefined;
    for (const value of Object.values(node)) {
      for (const child of Array.isArray(value) ? value : [value]) {
        if (child && typeof child === 'object' && typeof (child as { kind?: unknown }).kind === 'string') stack.push({ node: child as Item['node'], depth: root ? d : 0, root });
      }
    }
  }
  return roots.filter((r) => r.max > MAX_EXPRESSION_DEPTH).map((r) => ({ root: r.node, depth: r.max }));
}

/**
 * Source order; one diagnostic per position; and at most one syntax error per line, since a
 * second error on a line is nearly always a consequence of the first. Lexical errors are
 * always kept (each is about its own characters).
 */
function finish(diags: Diagnostic[], lines: LineMap): Diagnostic[] {
  const sorted = sortDiagnostics(diags);
  const lexical = new Set(['E0100', 'E0103', 'E0104']);
  // Characters a lexical diagnostic is about: a syntax error there is its consequence.
  const covered = new Uint8Array(lines.text.length + 1);
  for (const d of sorted) {
    if (lexical.has(d.code)) covered.fill(1, d.span.start, Math.max(d.span.end, d.span.start + 1));
  }
  const out: Diagnostic[] = [];
  const starts = new Set<number>();
  const linesWithError = new Set<number>();
  for (const d of sorted) {
    if (lexical.has(d.code)) {
      out.push(d);
      starts.add(d.span.start);
      linesWithError.add(d.span.line);
    } else if (!starts.has(d.span.start) && !covered[d.span.start] && !linesWithError.has(d.span.line)) {
      out.push(d);
      starts.add(d.span.start);
      linesWithError.add(d.span.line);
    }
  }
  return sortDiagnostics(out);
}

// ---------------------------------------------------------------- syntax errors → diagnostics

function tokenSpan(file: string, lines: LineMap, t: IToken): Span {
  return lines.span(file, t.startOffset, t.startOffset + t.image.length);
}

function isEof(t: IToken | undefined): boolean {
  return t === undefined || t.tokenType === EOF || Number.isNaN(t.startOffset);
}

function syntaxDiagnostic(e: IRecognitionException, file: string, text: string, lines: LineMap, tokens: IToken[]): Diagnostic {
  const found = e.token;
  const marks = e as unknown as { [INSERTED]?: TokenType; [UNEXPECTED]?: boolean; previousToken?: IToken };
  const inserted = marks[INSERTED];
  let previous = marks.previousToken;
  if (isEof(previous)) previous = undefined;
  const atEof = isEof(found);
  const lastToken = tokens[tokens.length - 1];

  // Where to point: at the unexpected token, unless the construct before it is what is
  // unfinished (the token begins the next line's statement, or the file ended): then just
  // after the last token of that construct.
  let span: Span;
  const before = previous ?? (atEof ? lastToken : undefined);
  const afterPrevious =
    before !== undefined &&
    !marks[UNEXPECTED] &&
    (atEof || (startsLine(text, before, found) && (found.tokenType === T.Identifier || STARTERS.has(found.tokenType))));
  if (atEof && before === undefined) {
    span = lines.span(file, text.trimEnd().length, text.trimEnd().length);
  } else if (afterPrevious) {
    const at = before!.startOffset + before!.image.length;
    span = lines.span(file, at, at);
  } else {
    span = tokenSpan(file, lines, found);
  }

  // Clean message: Chevrotain's own messages are replaced by our provider's.
  let message = e.message.split('\n')[0];
  let code: 'E0101' | 'E0102' = atEof ? 'E0102' : 'E0101';
  if (inserted) {
    code = 'E0102';
    message = `missing ${T.describeTokenType(inserted)}${previous ? ` after ${T.describeToken(previous)}` : ''}`;
  }

  const labels: Label[] = [];
  const expectedCloser = inserted ?? (atEof ? closerIn(message) : undefined);
  if (expectedCloser) {
    const opener = unmatchedOpener(tokens, atEof ? tokens.length : indexOf(tokens, found), expectedCloser);
    if (opener) labels.push({ span: tokenSpan(file, lines, opener), message: `this '${opener.image}' is not closed` });
  }
  return diagnostic(code, message, span, { labels });
}

function startsLine(text: string, prev: IToken, tok: IToken): boolean {
  if (isEof(tok)) return true;
  const i = text.indexOf('\n', prev.startOffset + prev.image.length);
  return i !== -1 && i < tok.startOffset;
}

const CLOSERS = new Map<TokenType, TokenType>([
  [T.RBrace, T.LBrace],
  [T.RParen, T.LParen],
  [T.RBracket, T.LBracket],
]);

function closerIn(message: string): TokenType | undefined {
  if (message.startsWith("expected '}'")) return T.RBrace;
  if (message.startsWith("expected ')'")) return T.RParen;
  if (message.startsWith("expected ']'")) return T.RBracket;
  return undefined;
}

/** The nearest opener of `closer`'s kind before token `index` that is not closed before it. */
function unmatchedOpener(tokens: IToken[], index: number, closer: TokenType): IToken | undefined {
  const opener = CLOSERS.get(closer);
  if (!opener) return undefined;
  let depth = 0;
  for (let i = Math.min(index, tokens.length) - 1; i >= 0; i--) {
    const t = tokens[i].tokenType;
    if (t === closer) depth++;
    else if (t === opener) {
      if (depth === 0) return tokens[i];
      depth--;
    }
  }
  return undefined;
}

function indexOf(tokens: IToken[], tok: IToken): number {
  let lo = 0;
  let hi = tokens.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (tokens[mid].startOffset < tok.startOffset) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * The first token past MAX_NESTING levels of recursion in the grammar: brackets, and chains
 * of the right-recursive `^` and prefix `-` (`- - x`, `a ^ b ^ c`, `x ^ -y`). Binary operators
 * that the grammar loops over (`+ * / . < ...`) end a chain.
 */
function findExcessiveNesting(tokens: IToken[]): IToken | undefined {
  const openers = new Set([T.LParen, T.LBracket, T.LBrace]);
  const closers = new Set([T.RParen, T.RBracket, T.RBrace]);
  const operandEnds = new Set([T.Identifier, T.Integer, T.Float, T.StringLiteral, T.Inf, T.True, T.False, T.RParen, T.RBracket]);
  const saved: number[] = [];
  let savedTotal = 0;
  let chain = 0;
  let prev: IToken | undefined;
  for (const t of tokens) {
    const type = t.tokenType;
    if (openers.has(type)) {
      saved.push(chain);
      savedTotal += chain;
      chain = 0;
    } else if (closers.has(type)) {
      // `( ... )` is an operand: the chain outside it goes on.
      if (saved.length > 0) {
        chain = saved.pop()!;
        savedTotal -= chain;
      }
    } else if (type === T.Caret) {
      chain++;
    } else if (type === T.Minus) {
      if (prev !== undefined && operandEnds.has(prev.tokenType)) chain = 0; // binary minus
      else chain++; // prefix minus
    } else if (!operandEnds.has(type)) {
      chain = 0;
    }
    if (saved.length + savedTotal + chain > MAX_NESTING) return t;
    prev = t;
  }
  return undefined;
}
