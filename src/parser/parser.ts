/**
 * The .mdl grammar as a Chevrotain CST parser with error recovery.
 *
 * The grammar below is the single source of truth for the syntax: `grammar/mdl.ebnf` is
 * generated from it (see `ebnf.ts`). Recovery is Chevrotain's (single-token insertion and
 * deletion, re-synchronisation on follow sets, in-repetition recovery), tuned so that one
 * mistake gives one diagnostic:
 *  - a stray token is deleted rather than a missing one inserted (`f(a b)` drops `b` instead
 *    of inventing `)` and starting a statement at `b`), unless the token begins a line or a
 *    declaration, which suggests the previous line is unfinished (`dim x` newline `dim y`);
 *  - an identifier only counts as a re-synchronisation point when it is the first token on
 *    its line (statements and train entries start lines; names inside expressions do not);
 *  - while skipping, a `{ ... }` group is skipped whole (a broken `block` header does not
 *    re-synchronise on the `param` inside its body);
 *  - `NAME =` never continues an expression (a GATE in `primary`), so `x = a +` followed by
 *    `y = b` reports the unfinished line instead of a confusing error at `=`;
 *  - the error a token insertion repairs is marked, so it is reported as E0102 "missing".
 */
import type { CstNode, IParserErrorMessageProvider, IToken, TokenType } from 'chevrotain';
import { chevrotain } from './chevrotain.js';
import * as T from './lexer.js';
import { LineMap } from './lines.js';

const { CstParser, EOF, tokenMatcher } = chevrotain;

/** Marks the recognition error that a token insertion repaired (reported as E0102). */
export const INSERTED = Symbol('inserted');
/** Marks an error found while skipping junk between repetitions: it is about the token itself. */
export const UNEXPECTED = Symbol('unexpected');

// ---------------------------------------------------------------- messages

/** What a failed alternative was looking for, per rule (clearer than a list of tokens). */
const RULE_EXPECTS: Record<string, string> = {
  topItem: 'a declaration (`dim`, `axis`, `param`, `block`, `forward`, `loss` or `train`)',
  statement: 'a statement (`param`, `NAME = ...`, `repeat` or `return`)',
  trainEntry: 'a train setting (`NAME = ...`)',
  primary: 'an expression',
  unary: 'an expression',
  dimAtom: 'a dim expression (an integer, a dim name or `data.NAME`)',
  tensorType: 'a tensor type (`index[...] of AXIS` or `f32[...]`)',
  overAxes: 'an axis name or a parenthesised list of axes',
  paramPattern: 'a parameter name pattern',
  argument: 'an argument',
};

/** Rules whose closing bracket ends a comma-separated list. */
const LIST_RULES = new Set([
  'axisList', 'shapePattern', 'renameSuffix', 'callArgs', 'parenthesized', 'initializer', 'blockDecl', 'forwardDecl', 'overAxes',
]);

/** What may come next after a repetition, by the rule that holds it. */
const REPETITION_EXPECTS: Record<string, string> = {
  modelFile: 'a declaration (`dim`, `axis`, `param`, `block`, `forward`, `loss` or `train`)',
  body: "a statement or '}'",
  trainSection: "a train setting or '}'",
};

function describeAlternatives(paths: TokenType[][]): string {
  const firsts: string[] = [];
  for (const p of paths) {
    const t = p[0];
    if (t === undefined) continue;
    const d = T.describeTokenType(t);
    if (!firsts.includes(d)) firsts.push(d);
  }
  if (firsts.length === 0) return 'something else';
  if (firsts.length === 1) return firsts[0];
  return `${firsts.slice(0, -1).join(', ')} or ${firsts[firsts.length - 1]}`;
}

const messages: IParserErrorMessageProvider = {
  buildMismatchTokenMessage({ expected, actual, previous, ruleName }) {
    // After an element of a comma-separated list, a comma would have done as well.
    const inList = LIST_RULES.has(ruleName) && (expected === T.RBracket || expected === T.RParen);
    const afterElement = previous && previous.tokenType !== T.Comma && previous.tokenType !== T.LBracket && previous.tokenType !== T.LParen;
    const what = inList && afterElement ? `',' or ${T.describeTokenType(expected)}` : T.describeTokenType(expected);
    return `expected ${what}, found ${T.describeToken(actual)}`;
  },
  buildNotAllInputParsedMessage({ firstRedundant }) {
    return `expected a declaration, found ${T.describeToken(firstRedundant)}`;
  },
  buildNoViableAltMessage({ expectedPathsPerAlt, actual, customUserDescription, ruleName }) {
    const expected = customUserDescription ?? RULE_EXPECTS[ruleName] ?? describeAlternatives(expectedPathsPerAlt.flat());
    return `expected ${expected}, found ${T.describeToken(actual[0])}`;
  },
  buildEarlyExitMessage({ expectedIterationPaths, actual, customUserDescription, ruleName }) {
    const expected = customUserDescription ?? RULE_EXPECTS[ruleName] ?? describeAlternatives(expectedIterationPaths);
    return `expected ${expected}, found ${T.describeToken(actual[0])}`;
  },
};

// ---------------------------------------------------------------- the grammar

export class MdlParser extends CstParser {
  constructor() {
    super(T.ALL_TOKENS, {
      recoveryEnabled: true,
      maxLookahead: 3,
      errorMessageProvider: messages,
      // The grammar is validated by the tests; skipping validation keeps start-up fast.
      skipValidations: !T.validateGrammar(),
    });
    this.performSelfAnalysis();
  }

  // file := ('model' NAME)? topItem*
  public modelFile = this.RULE('modelFile', () => {
    this.OPTION(() => this.SUBRULE(this.modelHeader));
    this.MANY(() => this.SUBRULE(this.topItem));
  });

  public modelHeader = this.RULE('modelHeader', () => {
    this.CONSUME(T.Model);
    this.CONSUME(T.Identifier, { LABEL: 'name' });
  });

  public topItem = this.RULE('topItem', () => {
    this.OR([
      { ALT: () => this.SUBRULE(this.dimDecl) },
      { ALT: () => this.SUBRULE(this.axisDecl) },
      { ALT: () => this.SUBRULE(this.paramDecl) },
      { ALT: () => this.SUBRULE(this.blockDecl) },
      { ALT: () => this.SUBRULE(this.forwardDecl) },
      { ALT: () => this.SUBRULE(this.lossDecl) },
      { ALT: () => this.SUBRULE(this.trainSection) },
    ]);
  });

  public dimDecl = this.RULE('dimDecl', () => {
    this.CONSUME(T.Dim);
    this.CONSUME(T.Identifier, { LABEL: 'name' });
    this.CONSUME(T.Equals);
    this.SUBRULE(this.dimExpr, { LABEL: 'value' });
  });

  public axisDecl = this.RULE('axisDecl', () => {
    this.CONSUME(T.Axis);
    this.CONSUME(T.Identifier, { LABEL: 'name' });
    this.CONSUME(T.Equals);
    this.CONSUME2(T.Identifier, { LABEL: 'sizeOf' });
  });

  public paramDecl = this.RULE('paramDecl', () => {
    this.CONSUME(T.Param);
    this.CONSUME(T.Identifier, { LABEL: 'name' });
    this.SUBRULE(this.axisList, { LABEL: 'shape' });
    this.CONSUME(T.Init);
    this.SUBRULE(this.initializer, { LABEL: 'init' });
  });

  /** `[a, b, c]` (possibly empty: a scalar). */
  public axisList = this.RULE('axisList', () => {
    this.CONSUME(T.LBracket);
    this.MANY_SEP({ SEP: T.Comma, DEF: () => this.CONSUME(T.Identifier, { LABEL: 'axis' }) });
    this.CONSUME(T.RBracket);
  });

  /** `zeros`, `ones`, `normal(0.02 / sqrt(2 * layers))` */
  public initializer = this.RULE('initializer', () => {
    this.CONSUME(T.Identifier, { LABEL: 'name' });
    this.OPTION(() => {
      this.CONSUME(T.LParen);
      this.MANY_SEP({ SEP: T.Comma, DEF: () => this.SUBRULE(this.expression, { LABEL: 'arg' }) });
      this.CONSUME(T.RParen);
    });
  });

  public blockDecl = this.RULE('blockDecl', () => {
    this.CONSUME(T.Block);
    this.CONSUME(T.Identifier, { LABEL: 'name' });
    this.CONSUME(T.LParen);
    this.MANY_SEP({ SEP: T.Comma, DEF: () => this.SUBRULE(this.blockInput, { LABEL: 'input' }) });
    this.CONSUME(T.RParen);
    this.SUBRULE(this.body);
  });

  /** `x` or `x[.., embed]` */
  public blockInput = this.RULE('blockInput', () => {
    this.CONSUME(T.Identifier, { LABEL: 'name' });
    this.OPTION(() => this.SUBRULE(this.shapePattern));
  });

  /** `[batch, seq, embed]`, `[.., embed]`, `[..]` */
  public shapePattern = this.RULE('shapePattern', () => {
    this.CONSUME(T.LBracket);
    this.OPTION(() => {
      this.OR([
        {
          ALT: () => {
            this.CONSUME(T.DotDot, { LABEL: 'rest' });
            this.MANY(() => {
              this.CONSUME(T.Comma);
              this.CONSUME(T.Identifier, { LABEL: 'axis' });
            });
          },
        },
        {
          ALT: () => {
            this.CONSUME2(T.Identifier, { LABEL: 'axis' });
            this.MANY2(() => {
              this.CONSUME2(T.Comma);
              this.CONSUME3(T.Identifier, { LABEL: 'axis' });
            });
          },
        },
      ]);
    });
    this.CONSUME(T.RBracket);
  });

  public forwardDecl = this.RULE('forwardDecl', () => {
    this.CONSUME(T.Forward);
    this.CONSUME(T.LParen);
    this.MANY_SEP({ SEP: T.Comma, DEF: () => this.SUBRULE(this.forwardInput, { LABEL: 'input' }) });
    this.CONSUME(T.RParen);
    this.CONSUME(T.Arrow);
    this.CONSUME(T.Identifier, { LABEL: 'output' });
    this.SUBRULE(this.body);
  });

  /** `tokens: index[batch, seq] of vocab` */
  public forwardInput = this.RULE('forwardInput', () => {
    this.CONSUME(T.Identifier, { LABEL: 'name' });
    this.CONSUME(T.Colon);
    this.SUBRULE(this.tensorType, { LABEL: 'type' });
  });

  /** `index[batch, seq] of vocab` or `f32[batch, embed]` */
  public tensorType = this.RULE('tensorType', () => {
    this.OR([
      {
        ALT: () => {
          this.CONSUME(T.IndexKw, { LABEL: 'dtype' });
          this.SUBRULE(this.axisList, { LABEL: 'axes' });
          this.CONSUME(T.Of);
          this.CONSUME(T.Identifier, { LABEL: 'of' });
        },
      },
      {
        ALT: () => {
          this.CONSUME(T.F32, { LABEL: 'dtype' });
          this.SUBRULE2(this.axisList, { LABEL: 'axes' });
        },
      },
    ]);
  });

  public lossDecl = this.RULE('lossDecl', () => {
    this.CONSUME(T.Loss);
    this.CONSUME(T.Equals);
    this.SUBRULE(this.expression, { LABEL: 'value' });
  });

  public trainSection = this.RULE('trainSection', () => {
    this.CONSUME(T.Train);
    this.CONSUME(T.LBrace);
    this.MANY(() => this.SUBRULE(this.trainEntry, { LABEL: 'entry' }));
    this.CONSUME(T.RBrace);
  });

  /** `steps = 2000`, `targets: index[batch, seq] of vocab = data[1 .. seq + 1]`, `lr wte = 0.5 * lr` */
  public trainEntry = this.RULE('trainEntry', () => {
    this.CONSUME(T.Identifier, { LABEL: 'name' });
    this.OPTION(() => {
      this.OR([
        {
          ALT: () => {
            this.CONSUME(T.Colon);
            this.SUBRULE(this.tensorType, { LABEL: 'type' });
          },
        },
        { ALT: () => this.SUBRULE(this.paramPattern, { LABEL: 'pattern' }) },
      ]);
    });
    this.CONSUME(T.Equals);
    this.SUBRULE(this.expression, { LABEL: 'value' });
  });

  /** `wte`, `blocks.*.attention.wq`, `*.g`: a run of names, `*`, numbers and dots. */
  public paramPattern = this.RULE('paramPattern', () => {
    this.AT_LEAST_ONE(() => {
      this.OR([
        { ALT: () => this.CONSUME(T.Identifier, { LABEL: 'part' }) },
        { ALT: () => this.CONSUME(T.Star, { LABEL: 'part' }) },
        { ALT: () => this.CONSUME(T.NumberTok, { LABEL: 'part' }) },
        { ALT: () => this.CONSUME(T.Dot, { LABEL: 'part' }) },
      ]);
    });
  });

  // ------------------------------------------------------------ statements

  public body = this.RULE('body', () => {
    this.CONSUME(T.LBrace);
    this.MANY(() => this.SUBRULE(this.statement, { LABEL: 'stmt' }));
    this.CONSUME(T.RBrace);
  });

  public statement = this.RULE('statement', () => {
    this.OR([
      { ALT: () => this.SUBRULE(this.paramDecl) },
      { ALT: () => this.SUBRULE(this.assignStmt) },
      { ALT: () => this.SUBRULE(this.repeatStmt) },
      { ALT: () => this.SUBRULE(this.returnStmt) },
    ]);
  });

  public assignStmt = this.RULE('assignStmt', () => {
    this.CONSUME(T.Identifier, { LABEL: 'name' });
    this.CONSUME(T.Equals);
    this.SUBRULE(this.expression, { LABEL: 'value' });
  });

  public repeatStmt = this.RULE('repeatStmt', () => {
    this.CONSUME(T.Repeat);
    this.SUBRULE(this.dimExpr, { LABEL: 'count' });
    this.OPTION(() => {
      this.CONSUME(T.As);
      this.CONSUME(T.Identifier, { LABEL: 'name' });
    });
    this.SUBRULE(this.body);
  });

  public returnStmt = this.RULE('returnStmt', () => {
    this.CONSUME(T.Return);
    this.SUBRULE(this.expression, { LABEL: 'value' });
  });

  // ------------------------------------------------------------ dim expressions

  public dimExpr = this.RULE('dimExpr', () => {
    this.SUBRULE(this.dimTerm, { LABEL: 'operand' });
    this.MANY(() => {
      this.OR([
        { ALT: () => this.CONSUME(T.Plus, { LABEL: 'op' }) },
        { ALT: () => this.CONSUME(T.Minus, { LABEL: 'op' }) },
      ]);
      this.SUBRULE2(this.dimTerm, { LABEL: 'operand' });
    });
  });

  public dimTerm = this.RULE('dimTerm', () => {
    this.SUBRULE(this.dimAtom, { LABEL: 'operand' });
    this.MANY(() => {
      this.OR([
        { ALT: () => this.CONSUME(T.Star, { LABEL: 'op' }) },
        { ALT: () => this.CONSUME(T.Slash, { LABEL: 'op' }) },
      ]);
      this.SUBRULE2(this.dimAtom, { LABEL: 'operand' });
    });
  });

  /** `64`, `embed`, `data.vocab`, `(embed / heads)` */
  public dimAtom = this.RULE('dimAtom', () => {
    this.OR([
      { ALT: () => this.CONSUME(T.Integer, { LABEL: 'number' }) },
      {
        ALT: () => {
          this.CONSUME(T.Identifier, { LABEL: 'name' });
          this.OPTION(() => {
            this.CONSUME(T.Dot);
            this.CONSUME2(T.Identifier, { LABEL: 'field' });
          });
        },
      },
      {
        ALT: () => {
          this.CONSUME(T.LParen);
          this.SUBRULE(this.dimExpr, { LABEL: 'inner' });
          this.CONSUME(T.RParen);
        },
      },
    ]);
  });

  // ------------------------------------------------------------ tensor expressions

  /** Comparisons do not chain: `a < b < c` is parsed, then reported. */
  public expression = this.RULE('expression', () => {
    this.SUBRULE(this.additive, { LABEL: 'operand' });
    this.MANY(() => {
      this.OR([
        { ALT: () => this.CONSUME(T.Less, { LABEL: 'op' }) },
        { ALT: () => this.CONSUME(T.LessEq, { LABEL: 'op' }) },
        { ALT: () => this.CONSUME(T.Greater, { LABEL: 'op' }) },
        { ALT: () => this.CONSUME(T.GreaterEq, { LABEL: 'op' }) },
        { ALT: () => this.CONSUME(T.EqEq, { LABEL: 'op' }) },
        { ALT: () => this.CONSUME(T.NotEq, { LABEL: 'op' }) },
      ]);
      this.SUBRULE2(this.additive, { LABEL: 'operand' });
    });
  });

  public additive = this.RULE('additive', () => {
    this.SUBRULE(this.multiplicative, { LABEL: 'operand' });
    this.MANY(() => {
      this.OR([
        { ALT: () => this.CONSUME(T.Plus, { LABEL: 'op' }) },
        { ALT: () => this.CONSUME(T.Minus, { LABEL: 'op' }) },
      ]);
      this.SUBRULE2(this.multiplicative, { LABEL: 'operand' });
    });
  });

  /** `a * b`, `a / b`, and contractions `a . b over embed`, all left-associative. */
  public multiplicative = this.RULE('multiplicative', () => {
    this.SUBRULE(this.unary, { LABEL: 'operand' });
    this.MANY(() => {
      this.OR([
        {
          ALT: () => {
            this.CONSUME(T.Star, { LABEL: 'op' });
            this.SUBRULE2(this.unary, { LABEL: 'operand' });
          },
        },
        {
          ALT: () => {
            this.CONSUME(T.Slash, { LABEL: 'op' });
            this.SUBRULE3(this.unary, { LABEL: 'operand' });
          },
        },
        {
          ALT: () => {
            this.CONSUME(T.Dot, { LABEL: 'op' });
            this.SUBRULE4(this.unary, { LABEL: 'operand' });
            this.CONSUME(T.Over);
            this.SUBRULE(this.overAxes, { LABEL: 'over' });
          },
        },
      ]);
    });
  });

  /** `embed` or `(heads, head)` */
  public overAxes = this.RULE('overAxes', () => {
    this.OR([
      { ALT: () => this.CONSUME(T.Identifier, { LABEL: 'axis' }) },
      {
        ALT: () => {
          this.CONSUME(T.LParen);
          this.CONSUME2(T.Identifier, { LABEL: 'axis' });
          this.MANY(() => {
            this.CONSUME(T.Comma);
            this.CONSUME3(T.Identifier, { LABEL: 'axis' });
          });
          this.CONSUME(T.RParen);
        },
      },
    ]);
  });

  public unary = this.RULE('unary', () => {
    this.OR([
      {
        ALT: () => {
          this.CONSUME(T.Minus, { LABEL: 'op' });
          this.SUBRULE(this.unary, { LABEL: 'operand' });
        },
      },
      { ALT: () => this.SUBRULE(this.power, { LABEL: 'operand' }) },
    ]);
  });

  /** `x ^ 2`, `x ^ -1`, right-associative: `a ^ b ^ c` is `a ^ (b ^ c)`. */
  public power = this.RULE('power', () => {
    this.SUBRULE(this.postfix, { LABEL: 'base' });
    this.OPTION(() => {
      this.CONSUME(T.Caret);
      this.SUBRULE(this.unary, { LABEL: 'exponent' });
    });
  });

  /** Indexing `e[i]`, slicing `e[a .. b]` and renaming `e as [a -> b]`. */
  public postfix = this.RULE('postfix', () => {
    this.SUBRULE(this.primary, { LABEL: 'target' });
    this.MANY(() => {
      this.OR([
        { ALT: () => this.SUBRULE(this.indexSuffix, { LABEL: 'suffix' }) },
        { ALT: () => this.SUBRULE(this.renameSuffix, { LABEL: 'suffix' }) },
      ]);
    });
  });

  public indexSuffix = this.RULE('indexSuffix', () => {
    this.CONSUME(T.LBracket);
    this.SUBRULE(this.expression, { LABEL: 'index' });
    this.OPTION(() => {
      this.CONSUME(T.DotDot);
      this.SUBRULE2(this.expression, { LABEL: 'end' });
    });
    this.CONSUME(T.RBracket);
  });

  public renameSuffix = this.RULE('renameSuffix', () => {
    this.CONSUME(T.As);
    this.CONSUME(T.LBracket);
    this.SUBRULE(this.renamePair, { LABEL: 'pair' });
    this.MANY(() => {
      this.CONSUME(T.Comma);
      this.SUBRULE2(this.renamePair, { LABEL: 'pair' });
    });
    this.CONSUME(T.RBracket);
  });

  public renamePair = this.RULE('renamePair', () => {
    this.CONSUME(T.Identifier, { LABEL: 'from' });
    this.CONSUME(T.Arrow);
    this.CONSUME2(T.Identifier, { LABEL: 'to' });
  });

  public primary = this.RULE('primary', () => {
    this.OR([
      { ALT: () => this.CONSUME(T.NumberTok, { LABEL: 'number' }) },
      { ALT: () => this.CONSUME(T.StringLiteral, { LABEL: 'string' }) },
      { ALT: () => this.CONSUME(T.Inf, { LABEL: 'inf' }) },
      { ALT: () => this.CONSUME(T.True, { LABEL: 'bool' }) },
      { ALT: () => this.CONSUME(T.False, { LABEL: 'bool' }) },
      {
        // `NAME =` always begins a statement, so it never continues an expression: this
        // reports `x = a +` (then `y = b` on the next line) as an unfinished expression.
        GATE: () => this.LA(2).tokenType !== T.Equals,
        ALT: () => {
          this.CONSUME(T.Identifier, { LABEL: 'name' });
          this.OPTION(() => this.SUBRULE(this.callArgs, { LABEL: 'call' }));
        },
      },
      { ALT: () => this.SUBRULE(this.parenthesized, { LABEL: 'paren' }) },
    ]);
  });

  /** `(a, over: b)` */
  public callArgs = this.RULE('callArgs', () => {
    this.CONSUME(T.LParen);
    this.MANY_SEP({ SEP: T.Comma, DEF: () => this.SUBRULE(this.argument, { LABEL: 'arg' }) });
    this.CONSUME(T.RParen);
  });

  /** A positional argument, or a named one `name: value` (`over` is a valid name). */
  public argument = this.RULE('argument', () => {
    this.OPTION(() => {
      this.OR([
        { ALT: () => this.CONSUME(T.Identifier, { LABEL: 'name' }) },
        { ALT: () => this.CONSUME(T.Over, { LABEL: 'name' }) },
      ]);
      this.CONSUME(T.Colon);
    });
    this.SUBRULE(this.expression, { LABEL: 'value' });
  });

  /** `(e)` is a parenthesised expression, `(a, b)` and `()` are tuples. */
  public parenthesized = this.RULE('parenthesized', () => {
    this.CONSUME(T.LParen);
    this.MANY_SEP({ SEP: T.Comma, DEF: () => this.SUBRULE(this.expression, { LABEL: 'item' }) });
    this.CONSUME(T.RParen);
  });

  // ------------------------------------------------------------ recovery tweaks
  // These replace methods of Chevrotain's Recoverable trait (public at runtime, absent from
  // the typings). Each keeps the original's contract.

  /** Lines of the text being parsed: recovery asks whether a token starts a line. */
  lines = new LineMap('');

  /** Number of tokens `reSyncTo` skips; set by `findReSyncTokenType`. */
  private pendingSkip = -1;

  /** Whether `tok` is the first token on its line (`prev` is the token before it). */
  private startsLine(tok: IToken, prev: IToken): boolean {
    if (tok.tokenType === EOF || prev.tokenType === EOF || Number.isNaN(prev.startOffset)) return true;
    return this.lines.lineOf(tok.startOffset) > this.lines.lineOf(prev.startOffset + prev.image.length);
  }

  /**
   * Single-token deletion, except when the token it would then match is a name that begins
   * the next line (that name starts the next statement; it cannot finish this one).
   */
  canRecoverWithSingleTokenDeletion(expectedTokType: TokenType): boolean {
    const self = this as unknown as RecoveryInternals;
    const after = self.LA(2);
    if (!tokenMatcher(after, expectedTokType)) return false;
    return !(after.tokenType === T.Identifier && this.startsLine(after, self.LA(1)));
  }

  /** Prefer deleting one unexpected token over inserting a missing one. */
  tryInRuleRecovery(expectedTokType: TokenType, follows: TokenType[]): IToken {
    const self = this as unknown as RecoveryInternals;
    // A token that starts a line or a declaration probably begins the next statement: then
    // the previous one is missing a token. Otherwise the token itself is probably stray.
    const next = self.LA(1);
    const preferInsert = STARTERS.has(next.tokenType) || this.startsLine(next, self.LA(0));
    if (!preferInsert && this.canRecoverWithSingleTokenDeletion(expectedTokType)) {
      const nextTok = self.SKIP_TOKEN();
      self.consumeToken();
      return nextTok;
    }
    if (self.canRecoverWithSingleTokenInsertion(expectedTokType, follows)) {
      const last = self._errors[self._errors.length - 1] as { [INSERTED]?: TokenType } | undefined;
      if (last) last[INSERTED] = expectedTokType;
      return this.getTokenToInsert(expectedTokType);
    }
    if (preferInsert && this.canRecoverWithSingleTokenDeletion(expectedTokType)) {
      const nextTok = self.SKIP_TOKEN();
      self.consumeToken();
      return nextTok;
    }
    const e = new Error('no single-token repair');
    e.name = 'InRuleRecoveryException';
    throw e;
  }

  /** The first token some enclosing rule can continue with; identifiers count only at line starts. */
  findReSyncTokenType(): TokenType {
    const self = this as unknown as RecoveryInternals;
    const follows = self.flattenFollowSet();
    // Braces opened while skipping are skipped whole: a broken `block` header must not
    // re-synchronise on the `param` inside its body.
    let depth = 0;
    for (let k = 1; ; k++) {
      const tok = self.LA(k);
      if (tok.tokenType === EOF) {
        this.pendingSkip = k - 1;
        return EOF;
      }
      const candidate = depth === 0 && (tok.tokenType !== T.Identifier || this.startsLine(tok, self.LA(k - 1)));
      if (candidate) {
        for (const t of follows) {
          if (tokenMatcher(tok, t)) {
            this.pendingSkip = k - 1;
            return t;
          }
        }
      }
      if (tok.tokenType === T.LBrace) depth++;
      else if (tok.tokenType === T.RBrace && depth > 0) depth--;
    }
  }

  /** Skip to the token `findReSyncTokenType` chose. */
  reSyncTo(tokType: TokenType): IToken[] {
    const self = this as unknown as RecoveryInternals;
    const skip = this.pendingSkip;
    this.pendingSkip = -1;
    if (skip >= 0 && tokenMatcher(self.LA(skip + 1), tokType)) {
      const skipped: IToken[] = [];
      for (let i = 0; i < skip; i++) {
        skipped.push(self.LA(1));
        self.consumeToken();
      }
      return skipped;
    }
    return base.reSyncTo.call(this, tokType);
  }

  /** Repetitions being re-entered after recovery (see `tryInRepetitionRecovery`). */
  private repetitions: { rule: unknown; args: unknown[]; again: boolean }[] = [];

  /**
   * In a repetition (`stmt*` before `}`), skip a bad run of tokens up to the closing token or
   * the next token that starts another iteration (identifiers only at line starts); if a
   * re-synchronisation point of an enclosing rule comes first, leave the error to that rule.
   * Unlike Chevrotain's version this scans lazily (no scan to the end of the file per error)
   * and re-enters the repetition iteratively, so thousands of junk tokens neither take
   * quadratic time nor exhaust the stack.
   */
  tryInRepetitionRecovery(
    grammarRule: (...args: unknown[]) => unknown,
    grammarRuleArgs: unknown[],
    lookAheadFunc: () => boolean,
    expectedTokType: TokenType,
  ): void {
    const self = this as unknown as RecoveryInternals;
    const follows = self.flattenFollowSet();
    const saved = self.exportLexerState();
    const first = self.LA(1);
    const previous = self.LA(0);
    const report = () => {
      const rule = self.getCurrRuleFullName();
      const expected = REPETITION_EXPECTS[rule] ?? T.describeTokenType(expectedTokType);
      const err = new MismatchedTokenError(`expected ${expected}, found ${T.describeToken(first)}`, first, previous);
      err[UNEXPECTED] = true;
      self.SAVE_ERROR(err);
    };
    let depth = 0;
    for (let k = 0; ; k++) {
      const tok = self.LA(1);
      if (tok.tokenType === EOF) break;
      const lineStartOk = tok.tokenType !== T.Identifier || this.startsLine(tok, self.LA(0));
      if (depth === 0) {
        if (tokenMatcher(tok, expectedTokType)) {
          report();
          return;
        }
        if (k > 0 && lineStartOk && lookAheadFunc.call(this)) {
          report();
          this.reenter(grammarRule, grammarRuleArgs);
          return;
        }
        // An enclosing rule can continue here: let it handle the error.
        if (lineStartOk && follows.some((t) => tokenMatcher(tok, t))) break;
      }
      if (tok.tokenType === T.LBrace) depth++;
      else if (tok.tokenType === T.RBrace && depth > 0) depth--;
      self.consumeToken();
    }
    self.importLexerState(saved);
  }

  /** Continue a repetition after recovery: a trampoline instead of Chevrotain's recursion. */
  private reenter(rule: (...args: unknown[]) => unknown, args: unknown[]): void {
    const top = this.repetitions[this.repetitions.length - 1];
    if (top && top.rule === rule && top.args.length === args.length && top.args.every((a, i) => a === args[i])) {
      top.again = true; // the enclosing call below re-enters once this one returns
      return;
    }
    const frame = { rule, args, again: false };
    this.repetitions.push(frame);
    try {
      do {
        frame.again = false;
        rule.apply(this, args);
      } while (frame.again);
    } finally {
      this.repetitions.pop();
    }
  }
}

/** A recognition error of our own, shaped like Chevrotain's MismatchedTokenException. */
class MismatchedTokenError extends Error {
  [UNEXPECTED]?: boolean;
  context = { ruleStack: [] as string[], ruleOccurrenceStack: [] as number[] };
  resyncedTokens: IToken[] = [];
  constructor(
    message: string,
    readonly token: IToken,
    readonly previousToken: IToken,
  ) {
    super(message);
    this.name = 'MismatchedTokenException';
  }
}

/** Chevrotain internals the recovery tweaks use (public at runtime, not in the typings). */
interface RecoveryInternals {
  _errors: unknown[];
  LA(k: number): IToken;
  SKIP_TOKEN(): IToken;
  consumeToken(): void;
  exportLexerState(): number;
  importLexerState(state: number): void;
  flattenFollowSet(): TokenType[];
  canRecoverWithSingleTokenInsertion(t: TokenType, follows: TokenType[]): boolean;
  getTokenToInsert(t: TokenType): IToken;
  SAVE_ERROR(e: Error): Error;
  reSyncTo(t: TokenType): IToken[];
  getCurrRuleFullName(): string;
}

/** Tokens that begin a declaration or statement. */
export const STARTERS: ReadonlySet<TokenType> = new Set([
  T.Model, T.Dim, T.Axis, T.Param, T.Block, T.Forward, T.Loss, T.Train, T.Repeat, T.Return, T.RBrace,
]);

const base = CstParser.prototype as unknown as RecoveryInternals;

let instance: MdlParser | undefined;

/** The parser, built once on first use (grammar analysis takes a few milliseconds). */
export function getParser(): MdlParser {
  instance ??= new MdlParser();
  return instance;
}

export type { CstNode };
