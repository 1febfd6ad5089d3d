/**
 * CST → AST. The CST may be partial where the parser recovered from errors (those errors are
 * already reported). A node is only built when all its required parts are present, so the
 * AST never holds placeholders: an incomplete statement or declaration is left out, while
 * the block, forward or train section around it is kept.
 */
import type { CstElement, CstNode, IToken } from 'chevrotain';
import { diagnostic, type Diagnostic } from '../diagnostics/diagnostic.js';
import type { Span } from '../diagnostics/span.js';
import type * as A from './ast.js';
import type { LineMap } from './lines.js';

type Children = Record<string, CstElement[] | undefined>;

export class AstBuilder {
  readonly diagnostics: Diagnostic[] = [];

  constructor(
    private readonly file: string,
    private readonly text: string,
    private readonly lines: LineMap,
  ) {}

  // ------------------------------------------------------------ helpers

  private tokSpan(t: IToken): Span {
    return this.lines.span(this.file, t.startOffset, t.startOffset + t.image.length);
  }

  private join(a: Span, b: Span): Span {
    return this.lines.span(this.file, Math.min(a.start, b.start), Math.max(a.end, b.end));
  }

  /**
   * The span of a closing token: its own when present, `before` when the parser inserted it
   * to recover (the error is reported), undefined when it is missing altogether.
   */
  private closer(n: CstNode, key: string, before: Span): Span | undefined {
    const t = tok(n, key);
    if (t) return this.tokSpan(t);
    return has(n, key) ? before : undefined;
  }

  private ident(t: IToken | undefined): A.Ident | undefined {
    return t && { kind: 'Ident', name: t.image, span: this.tokSpan(t) };
  }

  // ------------------------------------------------------------ file

  modelFile(cst: CstNode | undefined): A.ModelFile {
    const items: A.TopItem[] = [];
    let name: A.Ident | undefined;
    if (cst) {
      const header = node(cst, 'modelHeader');
      if (header) name = this.ident(tok(header, 'name'));
      for (const n of nodes(cst, 'topItem')) {
        const item = this.topItem(n);
        if (item) items.push(item);
      }
    }
    return { kind: 'ModelFile', name, items, span: this.lines.span(this.file, 0, this.text.length) };
  }

  private topItem(n: CstNode): A.TopItem | undefined {
    const c = n.children as Children;
    const inner = firstNode(c);
    if (!inner) return undefined;
    switch (inner.name) {
      case 'dimDecl':
        return this.dimDecl(inner);
      case 'axisDecl':
        return this.axisDecl(inner);
      case 'paramDecl':
        return this.paramDecl(inner);
      case 'blockDecl':
        return this.blockDecl(inner);
      case 'forwardDecl':
        return this.forwardDecl(inner);
      case 'lossDecl':
        return this.lossDecl(inner);
      case 'trainSection':
        return this.trainSection(inner);
      default:
        return undefined;
    }
  }

  private dimDecl(n: CstNode): A.DimDecl | undefined {
    const kw = tok(n, 'Dim');
    const name = this.ident(tok(n, 'name'));
    const valueNode = node(n, 'value');
    const value = valueNode && has(n, 'Equals') ? this.dimExpr(valueNode) : undefined;
    if (!kw || !name || !value) return undefined;
    return { kind: 'DimDecl', name, value, span: this.join(this.tokSpan(kw), value.span) };
  }

  private axisDecl(n: CstNode): A.AxisDecl | undefined {
    const kw = tok(n, 'Axis');
    const name = this.ident(tok(n, 'name'));
    const sizeOf = this.ident(tok(n, 'sizeOf'));
    if (!kw || !name || !sizeOf || !has(n, 'Equals')) return undefined;
    return { kind: 'AxisDecl', name, sizeOf, span: this.join(this.tokSpan(kw), sizeOf.span) };
  }

  private paramDecl(n: CstNode): A.ParamDecl | undefined {
    const kw = tok(n, 'Param');
    const name = this.ident(tok(n, 'name'));
    const shapeNode = node(n, 'shape');
    const shape = shapeNode && this.axisList(shapeNode);
    const initNode = node(n, 'init');
    const init = initNode && has(n, 'Init') ? this.initializer(initNode) : undefined;
    if (!kw || !name || !shape || !init) return undefined;
    return { kind: 'ParamDecl', name, shape: shape.axes, init, span: this.join(this.tokSpan(kw), init.span) };
  }

  private axisList(n: CstNode): { axes: A.Ident[]; span: Span } | undefined {
    const open = tok(n, 'LBracket');
    if (!open || n.recoveredNode) return undefined;
    const axes = toks(n, 'axis').map((t) => this.ident(t)!);
    if (axes.length !== toks(n, 'Comma').length + 1 && !(axes.length === 0 && toks(n, 'Comma').length === 0)) return undefined;
    const close = this.closer(n, 'RBracket', axes.length ? axes[axes.length - 1].span : this.tokSpan(open));
    if (!close) return undefined;
    return { axes, span: this.join(this.tokSpan(open), close) };
  }

  private initializer(n: CstNode): A.Initializer | undefined {
    const name = this.ident(tok(n, 'name'));
    if (!name) return undefined;
    if (!has(n, 'LParen')) {
      if (has(n, 'RParen')) return undefined;
      return { kind: 'Initializer', name, args: [], span: name.span };
    }
    const args = this.list(nodes(n, 'arg'), (a) => this.expression(a));
    if (!args || args.length !== separated(n)) return undefined;
    const close = this.closer(n, 'RParen', args.length ? args[args.length - 1].span : name.span);
    if (!close) return undefined;
    return { kind: 'Initializer', name, args, span: this.join(name.span, close) };
  }

  private blockDecl(n: CstNode): A.BlockDecl | undefined {
    const kw = tok(n, 'Block');
    const name = this.ident(tok(n, 'name'));
    const inputs = this.list(nodes(n, 'input'), (i) => this.blockInput(i));
    const bodyNode = node(n, 'body');
    if (!kw || !name || !has(n, 'LParen') || !has(n, 'RParen') || !inputs || inputs.length !== separated(n) || !bodyNode) return undefined;
    const body = this.body(bodyNode);
    if (!body) return undefined;
    return { kind: 'BlockDecl', name, inputs, body: body.stmts, span: this.join(this.tokSpan(kw), body.span) };
  }

  private blockInput(n: CstNode): A.BlockInput | undefined {
    const name = this.ident(tok(n, 'name'));
    if (!name) return undefined;
    const patNode = node(n, 'shapePattern');
    if (!patNode) return { kind: 'BlockInput', name, span: name.span };
    const shape = this.shapePattern(patNode);
    if (!shape) return undefined;
    return { kind: 'BlockInput', name, shape, span: this.join(name.span, shape.span) };
  }

  private shapePattern(n: CstNode): A.ShapePattern | undefined {
    const open = tok(n, 'LBracket');
    if (!open || n.recoveredNode) return undefined;
    const restTok = tok(n, 'rest');
    const rest = restTok !== undefined;
    const axes = toks(n, 'axis').map((t) => this.ident(t)!);
    const commas = toks(n, 'Comma').length;
    if (commas !== (rest ? axes.length : Math.max(0, axes.length - 1))) return undefined;
    const last = axes.length ? axes[axes.length - 1].span : restTok ? this.tokSpan(restTok) : this.tokSpan(open);
    const close = this.closer(n, 'RBracket', last);
    if (!close) return undefined;
    return { kind: 'ShapePattern', axes, rest, span: this.join(this.tokSpan(open), close) };
  }

  private forwardDecl(n: CstNode): A.ForwardDecl | undefined {
    const kw = tok(n, 'Forward');
    const inputs = this.list(nodes(n, 'input'), (i) => this.forwardInput(i));
    const output = this.ident(tok(n, 'output'));
    const bodyNode = node(n, 'body');
    if (!kw || !has(n, 'LParen') || !has(n, 'RParen') || !inputs || inputs.length !== separated(n)) return undefined;
    if (!has(n, 'Arrow') || !output || !bodyNode) return undefined;
    const body = this.body(bodyNode);
    if (!body) return undefined;
    return { kind: 'ForwardDecl', inputs, output, body: body.stmts, span: this.join(this.tokSpan(kw), body.span) };
  }

  private forwardInput(n: CstNode): A.ForwardInput | undefined {
    const name = this.ident(tok(n, 'name'));
    const typeNode = node(n, 'type');
    const type = typeNode && has(n, 'Colon') ? this.tensorType(typeNode) : undefined;
    if (!name || !type) return undefined;
    return { kind: 'ForwardInput', name, type, span: this.join(name.span, type.span) };
  }

  private tensorType(n: CstNode): A.TensorTypeExpr | undefined {
    const dtype = tok(n, 'dtype');
    const axesNode = node(n, 'axes');
    const axes = axesNode && this.axisList(axesNode);
    if (!dtype || !axes) return undefined;
    if (dtype.image === 'index') {
      const of = this.ident(tok(n, 'of'));
      if (!of || !has(n, 'Of')) return undefined;
      return { kind: 'TensorTypeExpr', dtype: 'index', axes: axes.axes, of, span: this.join(this.tokSpan(dtype), of.span) };
    }
    return { kind: 'TensorTypeExpr', dtype: 'f32', axes: axes.axes, span: this.join(this.tokSpan(dtype), axes.span) };
  }

  private lossDecl(n: CstNode): A.LossDecl | undefined {
    const kw = tok(n, 'Loss');
    const valueNode = node(n, 'value');
    const value = valueNode && has(n, 'Equals') ? this.expression(valueNode) : undefined;
    if (!kw || !value) return undefined;
    return { kind: 'LossDecl', value, span: this.join(this.tokSpan(kw), value.span) };
  }

  private trainSection(n: CstNode): A.TrainSection | undefined {
    const kw = tok(n, 'Train');
    const open = tok(n, 'LBrace');
    if (!kw || !open) return undefined;
    const entries: A.TrainEntry[] = [];
    let end = this.tokSpan(open);
    for (const e of nodes(n, 'entry')) {
      const entry = this.trainEntry(e);
      if (entry) {
        entries.push(entry);
        end = entry.span;
      }
    }
    const close = tok(n, 'RBrace');
    if (close) end = this.tokSpan(close);
    return { kind: 'TrainSection', entries, span: this.join(this.tokSpan(kw), end) };
  }

  private trainEntry(n: CstNode): A.TrainEntry | undefined {
    const name = this.ident(tok(n, 'name'));
    const valueNode = node(n, 'value');
    const value = valueNode && has(n, 'Equals') ? this.expression(valueNode) : undefined;
    if (!name || !value) return undefined;
    const span = this.join(name.span, value.span);
    const patternNode = node(n, 'pattern');
    if (patternNode) {
      const parts = toks(patternNode, 'part');
      if (parts.length === 0 || patternNode.recoveredNode) return undefined;
      const first = parts[0];
      const last = parts[parts.length - 1];
      const pSpan = this.join(this.tokSpan(first), this.tokSpan(last));
      const pattern: A.ParamPattern = { kind: 'ParamPattern', text: this.text.slice(pSpan.start, pSpan.end), span: pSpan };
      return { kind: 'TrainGroupSetting', setting: name, pattern, value, span };
    }
    const typeNode = node(n, 'type');
    if (typeNode || has(n, 'Colon')) {
      const type = typeNode && this.tensorType(typeNode);
      if (!type) return undefined;
      return { kind: 'TrainSetting', name, type, value, span };
    }
    return { kind: 'TrainSetting', name, value, span };
  }

  // ------------------------------------------------------------ statements

  /** A `{ stmt* }` body: kept even when its closing brace is missing (that is reported). */
  private body(n: CstNode): { stmts: A.Stmt[]; span: Span } | undefined {
    const open = tok(n, 'LBrace');
    if (!open) return undefined;
    const stmts: A.Stmt[] = [];
    let end = this.tokSpan(open);
    for (const s of nodes(n, 'stmt')) {
      const stmt = this.statement(s);
      if (stmt) {
        stmts.push(stmt);
        end = stmt.span;
      }
    }
    const close = tok(n, 'RBrace');
    if (close) end = this.tokSpan(close);
    return { stmts, span: this.join(this.tokSpan(open), end) };
  }

  private statement(n: CstNode): A.Stmt | undefined {
    const inner = firstNode(n.children as Children);
    if (!inner) return undefined;
    switch (inner.name) {
      case 'paramDecl':
        return this.paramDecl(inner);
      case 'assignStmt': {
        const name = this.ident(tok(inner, 'name'));
        const valueNode = node(inner, 'value');
        const value = valueNode && has(inner, 'Equals') ? this.expression(valueNode) : undefined;
        if (!name || !value) return undefined;
        return { kind: 'AssignStmt', name, value, span: this.join(name.span, value.span) };
      }
      case 'repeatStmt': {
        const kw = tok(inner, 'Repeat');
        const countNode = node(inner, 'count');
        const count = countNode && this.dimExpr(countNode);
        const bodyNode = node(inner, 'body');
        if (!kw || !count || !bodyNode) return undefined;
        let name: A.Ident | undefined;
        if (has(inner, 'As')) {
          name = this.ident(tok(inner, 'name'));
          if (!name || !has(inner, 'As')) return undefined;
        }
        const body = this.body(bodyNode);
        if (!body) return undefined;
        const stmt: A.RepeatStmt = { kind: 'RepeatStmt', count, body: body.stmts, span: this.join(this.tokSpan(kw), body.span) };
        if (name) stmt.name = name;
        return stmt;
      }
      case 'returnStmt': {
        const kw = tok(inner, 'Return');
        const valueNode = node(inner, 'value');
        const value = valueNode && this.expression(valueNode);
        if (!kw || !value) return undefined;
        return { kind: 'ReturnStmt', value, span: this.join(this.tokSpan(kw), value.span) };
      }
      default:
        return undefined;
    }
  }

  // ------------------------------------------------------------ dim expressions

  private dimExpr(n: CstNode): A.DimExpr | undefined {
    return this.dimChain(n, (o) => this.dimTerm(o));
  }

  private dimTerm(n: CstNode): A.DimExpr | undefined {
    return this.dimChain(n, (o) => this.dimAtom(o));
  }

  private dimChain(n: CstNode, operand: (o: CstNode) => A.DimExpr | undefined): A.DimExpr | undefined {
    const operands = nodes(n, 'operand');
    const ops = toks(n, 'op');
    if (operands.length === 0 || operands.length !== ops.length + 1) return undefined;
    let left = operand(operands[0]);
    for (let i = 0; i < ops.length && left; i++) {
      const right = operand(operands[i + 1]);
      if (!right) return undefined;
      left = { kind: 'DimBinary', op: ops[i].image as A.DimBinary['op'], left, right, span: this.join(left.span, right.span) };
    }
    return left;
  }

  private dimAtom(n: CstNode): A.DimExpr | undefined {
    const num = tok(n, 'number');
    if (num) return { kind: 'DimNumber', value: Number(num.image), span: this.tokSpan(num) };
    const name = this.ident(tok(n, 'name'));
    if (name) {
      if (!has(n, 'Dot')) return { kind: 'DimRef', name, span: name.span };
      const field = this.ident(tok(n, 'field'));
      if (!field || !has(n, 'Dot')) return undefined;
      const span = this.join(name.span, field.span);
      if (name.name !== 'data') {
        this.diagnostics.push(
          diagnostic('E0101', `expected 'data' before '.${field.name}', found identifier '${name.name}'`, name.span, {
            help: 'a dim expression can only read dataset fields, as in `data.vocab`',
          }),
        );
        return undefined;
      }
      return { kind: 'DataRef', field, span };
    }
    const open = tok(n, 'LParen');
    const innerNode = node(n, 'inner');
    const inner = innerNode && this.dimExpr(innerNode);
    if (!open || !inner) return undefined;
    const close = this.closer(n, 'RParen', inner.span);
    if (!close) return undefined;
    return { kind: 'DimParen', inner, span: this.join(this.tokSpan(open), close) };
  }

  // ------------------------------------------------------------ tensor expressions

  expression(n: CstNode): A.Expr | undefined {
    const operands = nodes(n, 'operand');
    const ops = toks(n, 'op');
    if (operands.length === 0 || operands.length !== ops.length + 1) return undefined;
    let left = this.additive(operands[0]);
    for (let i = 0; i < ops.length && left; i++) {
      const right = this.additive(operands[i + 1]);
      if (!right) return undefined;
      if (i === 1) {
        this.diagnostics.push(
          diagnostic('E0101', `expected an operator other than '${ops[i].image}': comparisons do not chain`, this.tokSpan(ops[i]), {
            help: 'use parentheses to say which comparison comes first',
          }),
        );
      }
      left = { kind: 'Compare', op: ops[i].image as A.Compare['op'], left, right, span: this.join(left.span, right.span) };
    }
    return left;
  }

  private additive(n: CstNode): A.Expr | undefined {
    const operands = nodes(n, 'operand');
    const ops = toks(n, 'op');
    if (operands.length === 0 || operands.length !== ops.length + 1) return undefined;
    let left = this.multiplicative(operands[0]);
    for (let i = 0; i < ops.length && left; i++) {
      const right = this.multiplicative(operands[i + 1]);
      if (!right) return undefined;
      left = { kind: 'Binary', op: ops[i].image as '+' | '-', left, right, span: this.join(left.span, right.span) };
    }
    return left;
  }

  private multiplicative(n: CstNode): A.Expr | undefined {
    const operands = nodes(n, 'operand');
    const ops = toks(n, 'op');
    const overs = nodes(n, 'over');
    if (operands.length === 0 || operands.length !== ops.length + 1) return undefined;
    let left = this.unary(operands[0]);
    let overIdx = 0;
    for (let i = 0; i < ops.length && left; i++) {
      const right = this.unary(operands[i + 1]);
      if (!right) return undefined;
      if (ops[i].image === '.') {
        const overNode = overs[overIdx++];
        const over = overNode && this.overAxes(overNode);
        if (!over) return undefined;
        left = { kind: 'Contract', left, right, over: over.axes, span: this.join(left.span, over.span) };
      } else {
        left = { kind: 'Binary', op: ops[i].image as '*' | '/', left, right, span: this.join(left.span, right.span) };
      }
    }
    if (overIdx !== overs.length || overs.length !== toks(n, 'Over').length) return undefined;
    return left;
  }

  private overAxes(n: CstNode): { axes: A.Ident[]; span: Span } | undefined {
    const axes = toks(n, 'axis').map((t) => this.ident(t)!);
    if (axes.length === 0 || n.recoveredNode) return undefined;
    const open = tok(n, 'LParen');
    if (!open) return has(n, 'LParen') ? undefined : { axes, span: axes[0].span };
    const close = this.closer(n, 'RParen', axes[axes.length - 1].span);
    if (!close || toks(n, 'Comma').length !== axes.length - 1) return undefined;
    return { axes, span: this.join(this.tokSpan(open), close) };
  }

  private unary(n: CstNode): A.Expr | undefined {
    const operandNode = node(n, 'operand');
    if (!operandNode) return undefined;
    const op = tok(n, 'op');
    if (op) {
      const operand = this.unary(operandNode);
      if (!operand) return undefined;
      return { kind: 'Unary', op: '-', operand, span: this.join(this.tokSpan(op), operand.span) };
    }
    if (has(n, 'op')) return undefined;
    return this.power(operandNode);
  }

  private power(n: CstNode): A.Expr | undefined {
    const baseNode = node(n, 'base');
    const base = baseNode && this.postfix(baseNode);
    if (!base) return undefined;
    if (!has(n, 'Caret')) return base;
    const expNode = node(n, 'exponent');
    const exponent = expNode && has(n, 'Caret') ? this.unary(expNode) : undefined;
    if (!exponent) return undefined;
    return { kind: 'Binary', op: '^', left: base, right: exponent, span: this.join(base.span, exponent.span) };
  }

  private postfix(n: CstNode): A.Expr | undefined {
    const targetNode = node(n, 'target');
    let target = targetNode && this.primary(targetNode);
    for (const s of nodes(n, 'suffix')) {
      if (!target) return undefined;
      if (!has(s, 'LBracket') || s.recoveredNode) return undefined;
      if (s.name === 'indexSuffix') {
        const startNode = node(s, 'index');
        const start = startNode && this.expression(startNode);
        if (!start) return undefined;
        let index: A.Expr = start;
        if (has(s, 'DotDot')) {
          const endNode = node(s, 'end');
          const stop = endNode && has(s, 'DotDot') ? this.expression(endNode) : undefined;
          if (!stop) return undefined;
          index = { kind: 'Range', start, end: stop, span: this.join(start.span, stop.span) };
        }
        const end = this.closer(s, 'RBracket', index.span);
        if (!end) return undefined;
        target = { kind: 'Index', target, index, span: this.join(target.span, end) };
      } else {
        const pairs: A.Rename['pairs'] = [];
        for (const p of nodes(s, 'pair')) {
          const from = this.ident(tok(p, 'from'));
          const to = this.ident(tok(p, 'to'));
          if (!from || !to || !has(p, 'Arrow')) return undefined;
          pairs.push({ from, to, span: this.join(from.span, to.span) });
        }
        if (pairs.length === 0 || pairs.length !== toks(s, 'Comma').length + 1 || !has(s, 'As')) return undefined;
        const end = this.closer(s, 'RBracket', pairs[pairs.length - 1].span);
        if (!end) return undefined;
        target = { kind: 'Rename', target, pairs, span: this.join(target.span, end) };
      }
    }
    return target;
  }

  private primary(n: CstNode): A.Expr | undefined {
    const num = tok(n, 'number');
    if (num) {
      let value = Number(num.image);
      if (Number.isNaN(value)) value = parseFloat(num.image);
      if (Number.isNaN(value)) value = 0;
      return { kind: 'NumberLit', value, text: num.image, span: this.tokSpan(num) };
    }
    const str = tok(n, 'string');
    if (str) return { kind: 'StringLit', value: unquote(str.image), span: this.tokSpan(str) };
    const inf = tok(n, 'inf');
    if (inf) return { kind: 'InfLit', span: this.tokSpan(inf) };
    const bool = tok(n, 'bool');
    if (bool) return { kind: 'BoolLit', value: bool.image === 'true', span: this.tokSpan(bool) };
    const name = this.ident(tok(n, 'name'));
    if (name) {
      const callNode = node(n, 'call');
      if (!callNode) return { kind: 'NameRef', name, span: name.span };
      return this.call(name, callNode);
    }
    const paren = node(n, 'paren');
    if (paren) {
      const open = tok(paren, 'LParen');
      const items = this.list(nodes(paren, 'item'), (i) => this.expression(i));
      if (!open || !items || items.length !== separated(paren)) return undefined;
      const close = this.closer(paren, 'RParen', items.length ? items[items.length - 1].span : this.tokSpan(open));
      if (!close) return undefined;
      const span = this.join(this.tokSpan(open), close);
      if (items.length === 1) return { kind: 'Paren', inner: items[0], span };
      return { kind: 'Tuple', items, span };
    }
    return undefined;
  }

  private call(callee: A.Ident, n: CstNode): A.Call | undefined {
    if (!has(n, 'LParen')) return undefined;
    const args: A.Expr[] = [];
    const named: A.NamedArg[] = [];
    const argNodes = nodes(n, 'arg');
    if (argNodes.length !== separated(n)) return undefined;
    for (const a of argNodes) {
      const valueNode = node(a, 'value');
      const value = valueNode && this.expression(valueNode);
      if (!value) return undefined;
      if (has(a, 'name')) {
        const name = this.ident(tok(a, 'name'));
        if (!name || !has(a, 'Colon')) return undefined;
        named.push({ kind: 'NamedArg', name, value, span: this.join(name.span, value.span) });
      } else {
        args.push(value);
      }
    }
    const last = [...args, ...named].reduce((m: Span, a) => (a.span.end > m.end ? a.span : m), callee.span);
    const close = this.closer(n, 'RParen', last);
    if (!close) return undefined;
    return { kind: 'Call', callee, args, named, span: this.join(callee.span, close) };
  }

  /** Converts every element; undefined if any of them fails. */
  private list<T>(ns: CstNode[], f: (n: CstNode) => T | undefined): T[] | undefined {
    const out: T[] = [];
    for (const n of ns) {
      const v = f(n);
      if (v === undefined) return undefined;
      out.push(v);
    }
    return out;
  }
}

// ---------------------------------------------------------------- CST access

function isToken(e: CstElement): e is IToken {
  return (e as IToken).tokenType !== undefined;
}

/** A real (not recovery-inserted) token. */
function isReal(t: IToken): boolean {
  return !t.isInsertedInRecovery && !Number.isNaN(t.startOffset);
}

function tok(n: CstNode, key: string): IToken | undefined {
  const e = (n.children as Children)[key]?.[0];
  return e && isToken(e) && isReal(e) ? e : undefined;
}

function toks(n: CstNode, key: string): IToken[] {
  return ((n.children as Children)[key] ?? []).filter((e): e is IToken => isToken(e) && isReal(e));
}

function has(n: CstNode, key: string): boolean {
  return ((n.children as Children)[key]?.length ?? 0) > 0;
}

function node(n: CstNode, key: string): CstNode | undefined {
  const e = (n.children as Children)[key]?.[0];
  return e && !isToken(e) ? e : undefined;
}

function nodes(n: CstNode, key: string): CstNode[] {
  return ((n.children as Children)[key] ?? []).filter((e): e is CstNode => !isToken(e));
}

function firstNode(c: Children): CstNode | undefined {
  for (const k of Object.keys(c)) {
    const e = c[k]?.[0];
    if (e && !isToken(e)) return e;
  }
  return undefined;
}

/** Elements a comma-separated list should hold: commas + 1, or 0 for `()`. */
function separated(n: CstNode): number {
  const commas = toks(n, 'Comma').length;
  return commas > 0 ? commas + 1 : has(n, 'arg') || has(n, 'item') || has(n, 'input') ? 1 : 0;
}

function unquote(image: string): string {
  const body = image.endsWith('"') && image.length >= 2 ? image.slice(1, -1) : image.slice(1);
  return body.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c === 't' ? '\t' : c === 'r' ? '\r' : c === '0' ? '\0' : c));
}
