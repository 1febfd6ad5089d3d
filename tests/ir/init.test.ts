/** Parameter initializers, and `fan_in`: the terms that the contraction reading a parameter sums. */
import { describe, expect, it } from 'vitest';
import { compileSource } from '../../src/driver/index.js';
import { contractionsOf } from '../../src/ir/elaborate/init.js';
import type { ElaboratedModel } from '../../src/ir/elaborate/index.js';

/** A small model whose parameters and forward body the test writes. */
const source = (params: string, body: string) => `model m
dim vocab = data.vocab
dim batch = 2
dim seq = 4
dim embed = 16
dim heads = 2
dim head = 3
axis key = seq
param wte[vocab, embed] init normal(1 / sqrt(fan_in))
${params}
forward(tokens: index[batch, seq] of vocab) -> logits {
  x = wte[tokens]
${body}
  return x . wte over embed
}
loss = cross_entropy(logits, targets, over: vocab)
train {
  data    = text("tinyshakespeare", window: seq + 1)
  tokens  = data[0 .. seq]
  targets = data[1 .. seq + 1]
}
`;

function compile(params: string, body: string) {
  return compileSource({ path: 'm.mdl', text: source(params, body) }, { data: { vocab: 10 } });
}

function model(params: string, body: string): ElaboratedModel {
  const r = compile(params, body);
  expect(r.diagnostics.map((d) => `${d.code}@${d.span.line}: ${d.message}`)).toEqual([]);
  return r.model!;
}

const initOf = (m: ElaboratedModel, name: string) => m.graph.params.find((p) => p.name === name)!.init;
const stdOf = (m: ElaboratedModel, name: string) => {
  const init = initOf(m, name);
  if (init.kind !== 'normal') throw new Error(`${name} is ${init.kind}`);
  return init.std;
};

describe('fan_in', () => {
  it('is the size of the axis a linear map contracts, for a gathered and contracted table too', () => {
    const m = model('param w[embed, heads, head] init normal(1 / sqrt(fan_in))\nparam wo[heads, head, embed] init normal(0.5 / sqrt(fan_in))', '  x = (x . w over embed) . wo over (heads, head)');
    // wte is gathered (not a sum) and contracted over embed by the head.
    expect(stdOf(m, 'wte')).toBeCloseTo(1 / Math.sqrt(16), 12);
    expect(stdOf(m, 'w')).toBeCloseTo(1 / Math.sqrt(16), 12);
    // Two axes summed: heads × head = 6 terms.
    expect(stdOf(m, 'wo')).toBeCloseTo(0.5 / Math.sqrt(6), 12);
  });

  it('works in any initializer and in block parameters, per call', () => {
    const params = `block lin(x[batch, seq, embed]) {
  param w[embed, embed] init uniform(-1 / sqrt(fan_in), 1 / sqrt(fan_in))
  return (x . w over embed) as [embed -> embed]
}`;
    const m = compileSource(
      {
        path: 'm.mdl',
        text: source(params, '').replace('  x = wte[tokens]\n', '  x = wte[tokens]\n  repeat 2 as layers {\n    x = x + lin(x)\n  }\n'),
      },
      { data: { vocab: 10 } },
    );
    // `w` contracted over embed by a rename-free map: the block's output keeps embed.
    const names = m.model?.graph.params.map((p) => p.name) ?? [];
    expect(m.diagnostics.filter((d) => d.code === 'E0212')).toEqual([]);
    for (const n of names.filter((x) => x.endsWith('.w'))) expect(initOf(m.model!, n)).toEqual({ kind: 'uniform', low: -0.25, high: 0.25 });
  });

  it('follows renames of the parameter to the contraction', () => {
    const m = model('param pos[seq, embed] init normal(1 / sqrt(fan_in))\nparam u[key, embed] init zeros', '  x = x + (x . (pos as [seq -> key]) over embed) . u over key');
    expect(stdOf(m, 'pos')).toBeCloseTo(1 / Math.sqrt(16), 12);
  });

  it('leaves initializers without fan_in as written', () => {
    const m = model('param w[embed, embed2] init normal(0.02)\ndim embed2 = 5', '  x = (x . w over embed) . w over embed2');
    expect(initOf(m, 'w')).toEqual({ kind: 'normal', std: 0.02, mean: 0 });
  });

  it('is an error for a parameter that is read but never contracted (E0212), at the initializer', () => {
    const r = compile('param wpe[seq, embed] init normal(1 / sqrt(fan_in))', '  x = x + wpe');
    const d = r.diagnostics.filter((x) => x.code === 'E0212');
    expect(d).toHaveLength(1);
    expect(d[0].message).toContain('`wpe` is never contracted');
    expect(d[0].span.line).toBe(10);
    expect(r.ok).toBe(false);
  });

  it('is an error for a parameter contracted over different sizes (E0212), with a label at each sum', () => {
    const r = compile('param w[embed, seq] init normal(1 / sqrt(fan_in))', '  x = x + (x . w over embed) . w over seq');
    const d = r.diagnostics.filter((x) => x.code === 'E0212');
    expect(d).toHaveLength(1);
    expect(d[0].message).toContain('16 and 4');
    expect(d[0].labels?.map((l) => l.message)).toEqual(['sums 16 terms (over `embed`)', 'sums 4 terms (over `seq`)']);
  });

  it('is not reported on a graph that other errors left incomplete', () => {
    // The head fails, so nothing contracts wte: that is no fan-in error of its own.
    const r = compile('', '  x = x . wte over seq');
    expect(r.diagnostics.map((d) => d.code)).not.toContain('E0212');
    expect(r.ok).toBe(false);
  });

  it('is reported once for a block parameter called in every layer', () => {
    const params = `block bad(x[batch, seq, embed]) {
  param b[embed] init normal(1 / sqrt(fan_in))
  return x + b
}`;
    const text = source(params, '').replace('  x = wte[tokens]\n', '  x = wte[tokens]\n  repeat 3 as layers {\n    x = bad(x)\n  }\n');
    const r = compileSource({ path: 'm.mdl', text }, { data: { vocab: 10 } });
    expect(r.diagnostics.map((d) => d.code)).toEqual(['E0212']);
  });

  it('reports unknown names in the initializer at once, and fan_in elsewhere is an unknown name', () => {
    const a = compile('param w[embed, embed2] init normal(1 / sqrt(fan_in * width))\ndim embed2 = 5', '  x = (x . w over embed) . w over embed2');
    expect(a.diagnostics.map((d) => d.code)).toContain('E0201');
    const b = compile('', '  x = x * fan_in');
    expect(b.diagnostics.map((d) => d.code)).toContain('E0201');
  });

  it('validates the evaluated arguments like any initializer (E0210)', () => {
    const r = compile('param w[embed, embed2] init normal(1 - fan_in)\nparam u[embed2, embed] init zeros\ndim embed2 = 5', '  x = (x . w over embed) . u over embed2');
    expect(r.diagnostics.map((d) => d.code)).toEqual(['E0210']);
  });
});

describe('contractionsOf', () => {
  it('lists each contraction that reads a parameter, with the axes it sums', () => {
    const m = model('param w[embed, heads, head] init zeros\nparam wo[heads, head, embed] init zeros', '  x = (x . w over embed) . wo over (heads, head)');
    const node = (n: string) => m.graph.params.find((p) => p.name === n)!.node;
    expect(contractionsOf(m.graph, node('wo')).map((c) => [c.over.map((a) => a.name), c.fanIn])).toEqual([[['heads', 'head'], 6]]);
    expect(contractionsOf(m.graph, node('w')).map((c) => c.fanIn)).toEqual([16]);
    // wte: gathered (no contraction) and contracted by the head.
    expect(contractionsOf(m.graph, node('wte')).map((c) => c.over.map((a) => a.name))).toEqual([['embed']]);
  });
});
