/** Python source for IR values: numbers, names, einsum letters, broadcasting by axis name, precedence. */
import { describe, expect, it } from 'vitest';
import { align, atom, className, einsumLetters, opExpr, Prec, pyIdent, pyNumber, type Operand } from '../../src/export/python.js';
import { AxisTable, type Axis, type IRNode, type OpAttrs, type TensorType } from '../../src/ir/types.js';

const t = new AxisTable();
const [vocab, batch, seq, embed, heads, head, hidden, key] = ['vocab', 'batch', 'seq', 'embed', 'heads', 'head', 'hidden', 'key'].map((n) => t.create(n, 4));

describe('numbers and names', () => {
  it('writes numbers Python parses to the same double, floats with a decimal point', () => {
    expect(pyNumber(1).text).toBe('1.0');
    expect(pyNumber(5, 'i32').text).toBe('5');
    expect(pyNumber(1e-5).text).toBe('0.00001');
    expect(pyNumber(0.1 + 0.2).text).toBe('0.30000000000000004');
    expect(pyNumber(1e21).text).toBe('1e+21');
    expect(pyNumber(-Infinity)).toEqual({ text: '-math.inf', prec: Prec.Unary });
    expect(pyNumber(NaN).text).toBe('math.nan');
    expect(pyNumber(-2).prec).toBe(Prec.Unary);
  });

  it('keeps Python keywords and its own names out of variable names, and names classes in CamelCase', () => {
    expect(pyIdent('lambda')).toBe('lambda_');
    expect(pyIdent('torch')).toBe('torch_');
    expect(pyIdent('x')).toBe('x');
    expect(className('self_attention')).toBe('SelfAttention');
    expect(className('mlp')).toBe('Mlp');
  });

  it('gives each axis a letter of its name where one is free', () => {
    const letters = einsumLetters([vocab, batch, seq, embed, heads, head, hidden, key]);
    expect([...letters.values()].join('')).toBe('vbsehaik');
    const many = einsumLetters(Array.from({ length: 30 }, (_, i) => t.create('a', 2 + i)));
    expect(new Set(many.values()).size).toBe(30);
  });
});

describe('broadcasting by axis name', () => {
  const x = atom('x');
  it('adds None for missing axes after the first present one, and nothing for leading ones', () => {
    expect(align(x, [batch, seq], [batch, seq, embed]).text).toBe('x[:, :, None]');
    expect(align(x, [embed], [batch, seq, embed]).text).toBe('x');
    expect(align(x, [seq], [batch, seq, heads, key]).text).toBe('x[:, None, None]');
    expect(align(x, [], [batch]).text).toBe('x');
  });

  it('permutes into the target order first', () => {
    expect(align(x, [key, seq], [batch, seq, heads, key]).text).toBe('x.permute(1, 0)[:, None]');
    expect(align(x, [embed, batch, seq], [batch, seq, embed]).text).toBe('x.permute(1, 2, 0)');
  });

  it('parenthesises what it indexes', () => {
    expect(align({ text: 'a + b', prec: Prec.Add }, [batch, seq], [batch, seq, embed]).text).toBe('(a + b)[:, :, None]');
  });
});

function node(attrs: OpAttrs, axes: Axis[], inputs = 2): IRNode {
  return { id: 0, attrs, inputs: Array.from({ length: inputs }, (_, i) => i + 1), type: { dtype: 'f32', axes } };
}
const f32 = (...axes: Axis[]): TensorType => ({ dtype: 'f32', axes });
const operand = (text: string, type: TensorType, prec = Prec.Atom, literal = false): Operand => ({ expr: { text, prec }, type, literal });
const letters = einsumLetters([vocab, batch, seq, embed, heads, head, hidden, key]);

describe('op expressions', () => {
  it('keeps the .mdl grouping: a - (b - c), (a + b) * c, -(a + b), a ** 3', () => {
    const bc = operand('b - c', f32(embed), Prec.Add);
    expect(opExpr(node({ op: 'binary', fn: 'sub' }, [embed]), [operand('a', f32(embed)), bc], letters).text).toBe('a - (b - c)');
    expect(opExpr(node({ op: 'binary', fn: 'mul' }, [embed]), [operand('a + b', f32(embed), Prec.Add), operand('c', f32(embed))], letters).text).toBe('(a + b) * c');
    expect(opExpr(node({ op: 'unary', fn: 'neg' }, [embed], 1), [operand('a + b', f32(embed), Prec.Add)], letters).text).toBe('-(a + b)');
    expect(opExpr(node({ op: 'binary', fn: 'pow' }, [embed]), [operand('-a', f32(embed), Prec.Unary), operand('3.0', f32(), Prec.Atom, true)], letters).text).toBe('(-a) ** 3.0');
  });

  it('contracts with einsum subscripts in each operand\'s order and the result\'s', () => {
    const e = opExpr(node({ op: 'contract', over: [embed] }, [batch, seq, heads, head]), [operand('x', f32(batch, seq, embed)), operand('self.wq', f32(embed, heads, head))], letters);
    expect(e.text).toBe("torch.einsum('bse,eha->bsha', x, self.wq)");
  });

  it('reduces over the dims of the named axes, softmaxes along one, gathers along a table axis that is not first', () => {
    expect(opExpr(node({ op: 'reduce', fn: 'max', axes: [seq, embed] }, [batch], 1), [operand('x', f32(batch, seq, embed))], letters).text).toBe('x.amax(dim=(1, 2))');
    expect(opExpr(node({ op: 'softmax', axis: key }, [batch, seq, key], 1), [operand('s', f32(batch, seq, key))], letters).text).toBe('torch.softmax(s, dim=2)');
    const idx: TensorType = { dtype: 'i32', axes: [batch, seq], indexOf: vocab };
    expect(opExpr(node({ op: 'gather', axis: vocab }, [batch, seq, embed]), [operand('self.t', f32(embed, vocab)), operand('tokens', idx)], letters).text).toBe('self.t.movedim(1, 0)[tokens]');
  });

  it('clamps against a number and takes the elementwise maximum of two tensors', () => {
    expect(opExpr(node({ op: 'binary', fn: 'max' }, [embed]), [operand('x', f32(embed)), operand('0.5', f32(), Prec.Atom, true)], letters).text).toBe('torch.clamp(x, min=0.5)');
    expect(opExpr(node({ op: 'binary', fn: 'min' }, [embed]), [operand('x', f32(embed)), operand('y', f32(embed))], letters).text).toBe('torch.minimum(x, y)');
  });

  it('takes cross-entropy with the class axis moved last and the targets in the logits\' order', () => {
    const targets: TensorType = { dtype: 'i32', axes: [seq, batch], indexOf: vocab };
    const ce = node({ op: 'cross_entropy', axis: vocab }, []);
    expect(opExpr(ce, [operand('logits', f32(vocab, batch, seq)), operand('targets', targets)], letters).text).toBe('F.cross_entropy(logits.movedim(0, -1).flatten(0, -2), targets.permute(1, 0).flatten())');
  });
});
