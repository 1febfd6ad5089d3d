import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseModel } from '../../src/parser/index.js';
import type * as A from '../../src/parser/ast.js';

function parse(text: string, path = 'test.mdl') {
  return parseModel({ path, text });
}

/** Parse and require zero diagnostics. */
function ok(text: string): A.ModelFile {
  const r = parse(text);
  expect(r.diagnostics.map((d) => `${d.code} ${d.span.line}:${d.span.column} ${d.message}`)).toEqual([]);
  expect(r.ast).toBeDefined();
  return r.ast!;
}

/** The expression of `x = EXPR` inside a forward, as an S-expression. */
function expr(src: string): string {
  const ast = ok(`model m\nforward(t: f32[a]) -> x {\n  x = ${src}\n}`);
  const fwd = ast.items[0] as A.ForwardDecl;
  return sexpr((fwd.body[0] as A.AssignStmt).value);
}

function sexpr(e: A.Expr): string {
  switch (e.kind) {
    case 'NumberLit':
      return e.text;
    case 'StringLit':
      return JSON.stringify(e.value);
    case 'BoolLit':
      return String(e.value);
    case 'InfLit':
      return 'inf';
    case 'NameRef':
      return e.name.name;
    case 'Unary':
      return `(neg ${sexpr(e.operand)})`;
    case 'Binary':
    case 'Compare':
      return `(${e.op} ${sexpr(e.left)} ${sexpr(e.right)})`;
    case 'Contract':
      return `(. ${sexpr(e.left)} ${sexpr(e.right)} over ${e.over.map((a) => a.name).join(',')})`;
    case 'Call':
      return `(call ${e.callee.name}${e.args.map((a) => ' ' + sexpr(a)).join('')}${e.named.map((n) => ` ${n.name.name}:${sexpr(n.value)}`).join('')})`;
    case 'Index':
      return `(index ${sexpr(e.target)} ${sexpr(e.index)})`;
    case 'Range':
      return `(range ${sexpr(e.start)} ${sexpr(e.end)})`;
    case 'Rename':
      return `(rename ${sexpr(e.target)}${e.pairs.map((p) => ` ${p.from.name}->${p.to.name}`).join('')})`;
    case 'Tuple':
      return `(tuple${e.items.map((i) => ' ' + sexpr(i)).join('')})`;
    case 'Paren':
      return `(paren ${sexpr(e.inner)})`;
  }
}

function dimSexpr(e: A.DimExpr): string {
  switch (e.kind) {
    case 'DimNumber':
      return String(e.value);
    case 'DimRef':
      return e.name.name;
    case 'DataRef':
      return `data.${e.field.name}`;
    case 'DimBinary':
      return `(${e.op} ${dimSexpr(e.left)} ${dimSexpr(e.right)})`;
    case 'DimParen':
      return `(paren ${dimSexpr(e.inner)})`;
  }
}

/** Line:column-endLine:endColumn of a span. */
function pos(s: { line: number; column: number; endLine: number; endColumn: number }): string {
  return `${s.line}:${s.column}-${s.endLine}:${s.endColumn}`;
}

describe('reference models', () => {
  for (const name of ['transformer', 'autoencoder']) {
    it(`models/${name}.mdl parses with zero diagnostics`, () => {
      const path = `models/${name}.mdl`;
      const r = parseModel({ path, text: readFileSync(path, 'utf8') });
      expect(r.diagnostics).toEqual([]);
      expect(r.ast?.name?.name).toBe(name);
      const kinds = r.ast!.items.map((i) => i.kind);
      expect(kinds).toContain('ForwardDecl');
      expect(kinds).toContain('LossDecl');
      expect(kinds).toContain('TrainSection');
    });
  }

  it('CRLF line endings and a BOM are fine', () => {
    const text = '\ufeff' + readFileSync('models/autoencoder.mdl', 'utf8').replace(/\n/g, '\r\n');
    const r = parseModel({ path: 'crlf.mdl', text });
    expect(r.diagnostics).toEqual([]);
    expect(r.ast!.items).toHaveLength(parseModel({ path: 'a.mdl', text: readFileSync('models/autoencoder.mdl', 'utf8') }).ast!.items.length);
  });

  it('transformer: structure of the attention block and forward', () => {
    const ast = parseModel({ path: 'models/transformer.mdl', text: readFileSync('models/transformer.mdl', 'utf8') }).ast!;
    const attention = ast.items.find((i): i is A.BlockDecl => i.kind === 'BlockDecl' && i.name.name === 'attention')!;
    expect(attention.inputs[0].shape?.axes.map((a) => a.name)).toEqual(['batch', 'seq', 'embed']);
    expect(attention.body.map((s) => s.kind)).toEqual([
      'ParamDecl', 'ParamDecl', 'ParamDecl', 'ParamDecl', 'AssignStmt', 'AssignStmt', 'AssignStmt', 'AssignStmt', 'AssignStmt', 'AssignStmt', 'ReturnStmt',
    ]);
    const ret = attention.body[10] as A.ReturnStmt;
    expect(sexpr(ret.value)).toBe('(. (paren (. p v over key)) wo over heads,head)');
    const fwd = ast.items.find((i): i is A.ForwardDecl => i.kind === 'ForwardDecl')!;
    const rep = fwd.body[1] as A.RepeatStmt;
    expect(rep.kind).toBe('RepeatStmt');
    expect(rep.name?.name).toBe('blocks');
    expect(dimSexpr(rep.count)).toBe('layers');
    expect(rep.body).toHaveLength(2);
  });
});

describe('declarations', () => {
  it('model header and dims', () => {
    const ast = ok('model gpt\ndim vocab = data.vocab\ndim head = embed / heads\ndim h = 4 * (embed + 1) - 2\n');
    expect(ast.name?.name).toBe('gpt');
    expect(pos(ast.name!.span)).toBe('1:7-1:9');
    const [vocab, head, h] = ast.items as A.DimDecl[];
    expect(vocab.kind).toBe('DimDecl');
    expect(vocab.value).toMatchObject({ kind: 'DataRef', field: { name: 'vocab' } });
    expect(pos(vocab.value.span)).toBe('2:13-2:22');
    expect(pos(vocab.span)).toBe('2:1-2:22');
    expect(vocab.span.start).toBe(10);
    expect(vocab.span.end).toBe(32);
    expect(dimSexpr(head.value)).toBe('(/ embed heads)');
    expect(dimSexpr(h.value)).toBe('(- (* 4 (paren (+ embed 1))) 2)');
  });

  it('axis', () => {
    const [ax] = ok('model m\naxis key = seq').items as A.AxisDecl[];
    expect(ax).toMatchObject({ kind: 'AxisDecl', name: { name: 'key' }, sizeOf: { name: 'seq' } });
    expect(pos(ax.span)).toBe('2:1-2:14');
  });

  it('params with each initializer form', () => {
    const items = ok(
      'model m\nparam wte[vocab, embed] init normal(0.02)\nparam g[embed] init ones\nparam s[] init zeros\nparam wo[heads, head, embed] init normal(0.02 / sqrt(2 * layers))\nparam u[a] init uniform(-0.1, 0.1)\nparam w[embed, hidden] init normal(1 / sqrt(fan_in))',
    ).items as A.ParamDecl[];
    expect(items.map((p) => p.name.name)).toEqual(['wte', 'g', 's', 'wo', 'u', 'w']);
    expect(items[0].shape.map((a) => a.name)).toEqual(['vocab', 'embed']);
    expect(items[0].init).toMatchObject({ kind: 'Initializer', name: { name: 'normal' } });
    expect(items[0].init.args.map(sexpr)).toEqual(['0.02']);
    expect(pos(items[0].init.span)).toBe('2:30-2:41');
    expect(items[1].init.args).toEqual([]);
    expect(pos(items[1].init.span)).toBe('3:21-3:24');
    expect(items[2].shape).toEqual([]);
    expect(items[3].init.args.map(sexpr)).toEqual(['(/ 0.02 (call sqrt (* 2 layers)))']);
    expect(items[4].init.args.map(sexpr)).toEqual(['(neg 0.1)', '0.1']);
    expect(items[5].init.args.map(sexpr)).toEqual(['(/ 1 (call sqrt fan_in))']);
  });

  it('blocks with shape patterns', () => {
    const [b] = ok('model m\nblock f(x[.., embed], y[batch, seq], z, w[..]) {\n  return x\n}').items as A.BlockDecl[];
    expect(b.name.name).toBe('f');
    const [x, y, z, w] = b.inputs;
    expect(x.shape).toMatchObject({ kind: 'ShapePattern', rest: true });
    expect(x.shape!.axes.map((a) => a.name)).toEqual(['embed']);
    expect(pos(x.shape!.span)).toBe('2:10-2:20');
    expect(pos(x.span)).toBe('2:9-2:20');
    expect(y.shape).toMatchObject({ rest: false });
    expect(y.shape!.axes.map((a) => a.name)).toEqual(['batch', 'seq']);
    expect(z.shape).toBeUndefined();
    expect(w.shape).toMatchObject({ rest: true, axes: [] });
    expect(b.body).toHaveLength(1);
    expect(pos(b.span)).toBe('2:1-4:1');
  });

  it('forward with index and f32 inputs', () => {
    const [f] = ok('model m\nforward(tokens: index[batch, seq] of vocab, x: f32[batch, embed]) -> logits {\n  return x\n}')
      .items as A.ForwardDecl[];
    expect(f.kind).toBe('ForwardDecl');
    expect(f.output.name).toBe('logits');
    const [tokens, x] = f.inputs;
    expect(tokens.name.name).toBe('tokens');
    expect(tokens.type).toMatchObject({ kind: 'TensorTypeExpr', dtype: 'index', of: { name: 'vocab' } });
    expect(tokens.type.axes.map((a) => a.name)).toEqual(['batch', 'seq']);
    expect(pos(tokens.type.span)).toBe('2:17-2:42');
    expect(x.type.dtype).toBe('f32');
    expect(x.type.of).toBeUndefined();
    expect(pos(x.type.span)).toBe('2:48-2:64');
  });

  it('statements: param, assign, repeat with and without a name, return', () => {
    const [f] = ok(
      'model m\nforward(t: f32[a]) -> y {\n  param p[a] init zeros\n  x = t\n  repeat layers as blocks {\n    x = x + 1\n  }\n  repeat 2 * n {\n    x = x\n  }\n  return x\n}',
    ).items as A.ForwardDecl[];
    expect(f.body.map((s) => s.kind)).toEqual(['ParamDecl', 'AssignStmt', 'RepeatStmt', 'RepeatStmt', 'ReturnStmt']);
    const r1 = f.body[2] as A.RepeatStmt;
    const r2 = f.body[3] as A.RepeatStmt;
    expect(r1.name?.name).toBe('blocks');
    expect(pos(r1.span)).toBe('5:3-7:3');
    expect(r2.name).toBeUndefined();
    expect(dimSexpr(r2.count)).toBe('(* 2 n)');
  });

  it('loss', () => {
    const [l] = ok('model m\nloss = cross_entropy(logits, targets, over: vocab)').items as A.LossDecl[];
    expect(l.kind).toBe('LossDecl');
    expect(sexpr(l.value)).toBe('(call cross_entropy logits targets over:vocab)');
    expect(pos(l.span)).toBe('2:1-2:50');
  });

  it('train: settings, typed bindings and group settings', () => {
    const [t] = ok(`model m
train {
  data      = text("tinyshakespeare", window: seq + 1)
  targets: index[batch, seq] of vocab = data[1 .. seq + 1]
  optimizer = adamw(lr: 1e-3, betas: (0.9, 0.99), weight_decay: 0.1)
  lr wte    = 0.5 * lr
  weight_decay blocks.*.attention.wq = 0
  lr *.g = 1
  lr blocks.0.wq = 2
}`).items as A.TrainSection[];
    expect(t.kind).toBe('TrainSection');
    const [data, targets, opt, lr, wd, g, idx] = t.entries;
    expect(data).toMatchObject({ kind: 'TrainSetting', name: { name: 'data' } });
    expect(sexpr((data as A.TrainSetting).value)).toBe('(call text "tinyshakespeare" window:(+ seq 1))');
    expect(targets.kind).toBe('TrainSetting');
    const tt = targets as A.TrainSetting;
    expect(tt.type).toMatchObject({ dtype: 'index', of: { name: 'vocab' } });
    expect(sexpr(tt.value)).toBe('(index data (range 1 (+ seq 1)))');
    expect(sexpr((opt as A.TrainSetting).value)).toBe('(call adamw lr:1e-3 betas:(tuple 0.9 0.99) weight_decay:0.1)');
    expect(lr).toMatchObject({ kind: 'TrainGroupSetting', setting: { name: 'lr' }, pattern: { kind: 'ParamPattern', text: 'wte' } });
    expect(sexpr((lr as A.TrainGroupSetting).value)).toBe('(* 0.5 lr)');
    expect(wd).toMatchObject({ setting: { name: 'weight_decay' }, pattern: { text: 'blocks.*.attention.wq' } });
    expect(pos((wd as A.TrainGroupSetting).pattern.span)).toBe('7:16-7:36');
    expect((g as A.TrainGroupSetting).pattern.text).toBe('*.g');
    expect((idx as A.TrainGroupSetting).pattern.text).toBe('blocks.0.wq');
    expect(pos(t.span)).toBe('2:1-10:1');
  });

  it('items in any order, comments anywhere, no separators', () => {
    const ast = ok('# header\nmodel m # trailing\n\ntrain { steps = 1 } loss = x dim a = 1 # c\naxis k = a param p[a] init ones');
    expect(ast.items.map((i) => i.kind)).toEqual(['TrainSection', 'LossDecl', 'DimDecl', 'AxisDecl', 'ParamDecl']);
  });
});

describe('expressions', () => {
  it('literals', () => {
    expect(expr('64')).toBe('64');
    expect(expr('0.02')).toBe('0.02');
    expect(expr('1e-5')).toBe('1e-5');
    expect(expr('1.5e+3')).toBe('1.5e+3');
    expect(expr('"a\\"b"')).toBe('"a\\"b"');
    expect(expr('inf')).toBe('inf');
    expect(expr('true')).toBe('true');
    expect(expr('false')).toBe('false');
  });

  it('number values', () => {
    const ast = ok('model m\nloss = 1.5e+3');
    expect((ast.items[0] as A.LossDecl).value).toMatchObject({ kind: 'NumberLit', value: 1500, text: '1.5e+3' });
  });

  it('precedence: comparison < additive < multiplicative < unary < power < postfix', () => {
    expect(expr('a + b * c')).toBe('(+ a (* b c))');
    expect(expr('a - b - c')).toBe('(- (- a b) c)');
    expect(expr('a / b * c')).toBe('(* (/ a b) c)');
    expect(expr('-x^2')).toBe('(neg (^ x 2))');
    expect(expr('x ^ -1')).toBe('(^ x (neg 1))');
    expect(expr('a ^ b ^ c')).toBe('(^ a (^ b c))');
    expect(expr('x + y . w over e')).toBe('(+ x (. y w over e))');
    expect(expr('a . b over e . c over f')).toBe('(. (. a b over e) c over f)');
    expect(expr('a * b . c over e')).toBe('(. (* a b) c over e)');
    expect(expr('key > seq')).toBe('(> key seq)');
    expect(expr('a + 1 <= b * 2')).toBe('(<= (+ a 1) (* b 2))');
    expect(expr('- - x')).toBe('(neg (neg x))');
    expect(expr('-a[i]^2')).toBe('(neg (^ (index a i) 2))');
  });

  it('contraction over a list of axes', () => {
    expect(expr('(p . v over key) . wo over (heads, head)')).toBe('(. (paren (. p v over key)) wo over heads,head)');
  });

  it('calls with positional and named arguments, `over` as a name', () => {
    expect(expr('softmax(s, over: key)')).toBe('(call softmax s over:key)');
    expect(expr('f()')).toBe('(call f)');
    expect(expr('where(key > seq, -inf, s)')).toBe('(call where (> key seq) (neg inf) s)');
    expect(expr('mean((x - mu)^2, over: embed)')).toBe('(call mean (^ (paren (- x mu)) 2) over:embed)');
  });

  it('index, slice and rename', () => {
    expect(expr('wte[tokens] + wpe')).toBe('(+ (index wte tokens) wpe)');
    expect(expr('data[0 .. seq]')).toBe('(index data (range 0 seq))');
    expect(expr('data[0..seq]')).toBe('(index data (range 0 seq))');
    expect(expr('(x . wk over embed) as [seq -> key]')).toBe('(rename (paren (. x wk over embed)) seq->key)');
    expect(expr('x as [a -> b, c -> d]')).toBe('(rename x a->b c->d)');
    expect(expr('x[i][j]')).toBe('(index (index x i) j)');
  });

  it('parentheses and tuples', () => {
    expect(expr('(a)')).toBe('(paren a)');
    expect(expr('(a, b)')).toBe('(tuple a b)');
    expect(expr('()')).toBe('(tuple)');
    expect(expr('(0.9, 0.99, (1, 2))')).toBe('(tuple 0.9 0.99 (tuple 1 2))');
  });

  it('exact spans of expression nodes', () => {
    const ast = ok('model m\nloss = -x^2 + f(a, over: e)[0 .. n] as [s -> k]');
    const v = (ast.items[0] as A.LossDecl).value as A.Binary;
    expect(pos(v.span)).toBe('2:8-2:47');
    expect(pos(v.left.span)).toBe('2:8-2:11');
    const rename = v.right as A.Rename;
    expect(rename.kind).toBe('Rename');
    expect(pos(rename.span)).toBe('2:15-2:47');
    expect(pos(rename.pairs[0].span)).toBe('2:41-2:46');
    const index = rename.target as A.Index;
    expect(pos(index.span)).toBe('2:15-2:35');
    expect(pos(index.index.span)).toBe('2:29-2:34');
    const call = index.target as A.Call;
    expect(pos(call.span)).toBe('2:15-2:27');
    expect(pos(call.named[0].span)).toBe('2:20-2:26');
    expect(call.span.start).toBe(22);
    expect(call.span.end).toBe(35);
  });

  it('contraction span ends at its axes', () => {
    const ast = ok('model m\nloss = a . b over (h, d)');
    const c = (ast.items[0] as A.LossDecl).value as A.Contract;
    expect(pos(c.span)).toBe('2:8-2:24');
    expect(c.over.map((a) => a.name)).toEqual(['h', 'd']);
  });
});
