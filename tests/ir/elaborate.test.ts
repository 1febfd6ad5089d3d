/** Elaboration: AST → typed IR (dims, axes, parameters, forward, loss, train section). */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseModel } from '../../src/parser/index.js';
import { elaborate, matchPattern, PLACEHOLDER_DATA_SIZE, type ElaborateOptions, type ElaboratedModel } from '../../src/ir/elaborate/index.js';
import { numElements, type IRNode } from '../../src/ir/types.js';

const MODELS = join(import.meta.dirname, '..', '..', 'models');
const transformer = readFileSync(join(MODELS, 'transformer.mdl'), 'utf8');
const autoencoder = readFileSync(join(MODELS, 'autoencoder.mdl'), 'utf8');

function elab(text: string, options: ElaborateOptions = {}) {
  const parsed = parseModel({ path: 'test.mdl', text });
  expect(parsed.diagnostics.map((d) => `${d.code}@${d.span.line}: ${d.message}`)).toEqual([]);
  return elaborate(parsed.ast!, options);
}

/** Elaborate a model that must have no diagnostics at all. */
function model(text: string, options: ElaborateOptions = {}): ElaboratedModel {
  const r = elab(text, options);
  expect(r.diagnostics.map((d) => `${d.code}@${d.span.line}: ${d.message}`)).toEqual([]);
  expect(r.model).toBeDefined();
  return r.model!;
}

const dimValues = (m: ElaboratedModel) => Object.fromEntries([...m.dims].map(([k, v]) => [k, v.value]));
const axisNames = (n: IRNode) => n.type.axes.map((a) => a.name);

/** A minimal model around a few dims: a bigram embedding and its loss. */
const minimal = (dims: string) => `model m
${dims}
dim vocab = data.vocab
dim batch = 2
dim seq = 4
param wte[vocab, embed] init normal(0.02)
forward(tokens: index[batch, seq] of vocab) -> logits {
  return wte[tokens] . wte over embed
}
loss = cross_entropy(logits, targets, over: vocab)
train {
  data    = text("tinyshakespeare", window: seq + 1)
  tokens  = data[0 .. seq]
  targets = data[1 .. seq + 1]
}
`;

describe('dims', () => {
  it('are evaluated in dependency order, not declaration order', () => {
    const m = model(minimal('dim head = embed / heads\ndim hidden = 4 * head + embed\ndim embed = 24\ndim heads = 3'));
    expect(dimValues(m)).toMatchObject({ embed: 24, heads: 3, head: 8, hidden: 56, batch: 2, seq: 4 });
  });

  it('evaluates the reference transformer', () => {
    const m = model(transformer);
    expect(dimValues(m)).toEqual({ vocab: PLACEHOLDER_DATA_SIZE, batch: 12, seq: 64, embed: 128, heads: 4, head: 32, hidden: 512, layers: 4 });
  });

  it('applies overrides before computing dependants', () => {
    const m = model(transformer, { overrides: new Map([['embed', 32], ['heads', 2]]) });
    expect(dimValues(m)).toMatchObject({ embed: 32, heads: 2, head: 16, hidden: 128 });
  });

  it('binds data.vocab from the dataset, else uses a placeholder', () => {
    const bound = model(transformer, { data: { vocab: 65 } });
    expect(bound.dims.get('vocab')).toMatchObject({ value: 65, fromData: false });
    expect(bound.graph.params.find((p) => p.name === 'wte')!.type.axes.map((a) => [a.name, a.size])).toEqual([
      ['vocab', 65],
      ['embed', 128],
    ]);
    expect(bound.dataAxis?.name).toBe('vocab');
    const unbound = model(transformer);
    expect(unbound.dims.get('vocab')).toMatchObject({ value: PLACEHOLDER_DATA_SIZE, fromData: true });
  });

  it('does not fail a division by a placeholder data size, but does once the data is bound', () => {
    const text = minimal('dim embed = 8\ndim third = vocab / 3');
    expect(elab(text).diagnostics).toEqual([]);
    expect(elab(text, { data: { vocab: 64 } }).diagnostics.map((d) => d.code)).toEqual(['E0204']);
    expect(elab(text, { data: { vocab: 66 } }).diagnostics).toEqual([]);
  });
});

describe('axes', () => {
  it('`axis key = seq` is a distinct axis of the same size', () => {
    const m = model(transformer);
    const seq = m.axes.get('seq')!;
    const key = m.axes.get('key')!;
    expect(key.size).toBe(seq.size);
    expect(key.id).not.toBe(seq.id);
    expect(key.name).toBe('key');
    // The attention keys carry `key`, not `seq`; the scores carry both.
    const k = m.graph.nodes.find((n) => n.name === 'k')!;
    expect(axisNames(k).sort()).toEqual(['batch', 'heads', 'head', 'key'].sort());
    const p = m.graph.nodes.find((n) => n.attrs.op === 'softmax')!;
    expect(axisNames(p).sort()).toEqual(['batch', 'heads', 'key', 'seq'].sort());
  });

  it('each dim is one axis, shared by every use', () => {
    const m = model(transformer);
    const embedIds = new Set(m.graph.params.flatMap((p) => p.type.axes.filter((a) => a.name === 'embed').map((a) => a.id)));
    expect(embedIds.size).toBe(1);
  });
});

describe('parameters', () => {
  it('have hierarchical names from repeats and block calls', () => {
    const m = model(transformer);
    const names = m.graph.params.map((p) => p.name);
    for (const n of [
      'wte',
      'wpe',
      'blocks.0.layernorm.g',
      'blocks.0.layernorm.b',
      'blocks.0.attention.wq',
      'blocks.0.attention.wk',
      'blocks.0.attention.wv',
      'blocks.0.attention.wo',
      'blocks.0.layernorm_2.g',
      'blocks.0.layernorm_2.b',
      'blocks.0.mlp.w1',
      'blocks.3.mlp.w2',
      'blocks.3.layernorm_2.g',
      'layernorm.g',
      'layernorm.b',
    ])
      expect(names).toContain(n);
    expect(names).not.toContain('blocks.4.mlp.w2');
    expect(new Set(names).size).toBe(names.length);
    // 2 top-level + 4 layers × (2 + 4 + 2 + 4) + the final layernorm's 2.
    expect(names.length).toBe(2 + 4 * 12 + 2);
    expect(names.slice(0, 14)).toEqual([
      'wte',
      'wpe',
      'blocks.0.layernorm.g',
      'blocks.0.layernorm.b',
      'blocks.0.attention.wq',
      'blocks.0.attention.wk',
      'blocks.0.attention.wv',
      'blocks.0.attention.wo',
      'blocks.0.layernorm_2.g',
      'blocks.0.layernorm_2.b',
      'blocks.0.mlp.w1',
      'blocks.0.mlp.b1',
      'blocks.0.mlp.w2',
      'blocks.0.mlp.b2',
    ]);
  });

  it('have the declared shapes and initializers', () => {
    const m = model(transformer);
    const p = (n: string) => m.graph.params.find((x) => x.name === n)!;
    expect(p('blocks.2.attention.wq').type.axes.map((a) => a.name)).toEqual(['embed', 'heads', 'head']);
    expect(p('blocks.2.attention.wq').init).toEqual({ kind: 'normal', std: 0.02, mean: 0 });
    expect(p('blocks.2.attention.wo').init).toMatchObject({ kind: 'normal' });
    expect((p('blocks.2.attention.wo').init as { std: number }).std).toBeCloseTo(0.02 / Math.sqrt(2 * 4), 12);
    expect(p('blocks.1.layernorm.g').init).toEqual({ kind: 'ones' });
    expect(p('layernorm.b').init).toEqual({ kind: 'zeros' });
  });

  it('count as computed by hand for a small --set configuration', () => {
    const m = model(transformer, { data: { vocab: 65 }, overrides: new Map([['embed', 32], ['heads', 2], ['layers', 3], ['seq', 16]]) });
    const embed = 32;
    const hidden = 4 * embed;
    const layernorm = 2 * embed; // g, b
    const attention = 4 * embed * embed; // wq, wk, wv: embed × heads × head; wo: heads × head × embed; heads × head = embed
    const mlp = embed * hidden + hidden + hidden * embed + embed;
    const expected = 65 * embed + 16 * embed + 3 * (layernorm + attention + layernorm + mlp) + layernorm;
    expect(expected).toBe(40384);
    expect(m.graph.params.reduce((n, p) => n + numElements(p.type), 0)).toBe(expected);
    expect(m.graph.params.length).toBe(2 + 3 * 12 + 2);
  });

  it('of the autoencoder are named per encoder and decoder layer and per block', () => {
    const m = model(autoencoder);
    const names = m.graph.params.map((p) => p.name);
    for (const n of ['encoder.0.self_attention.wq', 'encoder.1.mlp.w2', 'decoder.1.layernorm_2.b', 'decoder.1.cross_attention.wq', 'layernorm.g', 'wdown', 'wup', 'wslot']) expect(names).toContain(n);
  });
});

describe('forward and loss', () => {
  it('the forward output is [batch, seq, vocab] of floats', () => {
    const m = model(transformer);
    const out = m.graph.nodes[m.logits];
    expect(out.type.dtype).toBe('f32');
    // The order of axes is the compiler's layout choice; the type is the set of axes.
    expect(axisNames(out).sort()).toEqual(['batch', 'seq', 'vocab']);
    expect(out.type.axes.map((a) => a.size).reduce((x, y) => x * y)).toBe(12 * 64 * PLACEHOLDER_DATA_SIZE);
    expect(m.outputName).toBe('logits');
    expect(m.graph.outputs.get('logits')).toBe(m.logits);
    const ae = model(autoencoder);
    expect(axisNames(ae.graph.nodes[ae.logits]).sort()).toEqual(['batch', 'seq', 'vocab']);
  });

  it('the loss is a float scalar and the inputs are index tensors of vocab', () => {
    const m = model(transformer);
    expect(m.loss).toBeDefined();
    expect(m.graph.nodes[m.loss!].type).toEqual({ dtype: 'f32', axes: [] });
    expect(m.graph.outputs.get('loss')).toBe(m.loss);
    const inputs = Object.fromEntries(m.graph.inputs.map((i) => [i.name, i.type]));
    for (const name of ['tokens', 'targets']) {
      expect(inputs[name].dtype).toBe('i32');
      expect(inputs[name].indexOf?.name).toBe('vocab');
      expect(inputs[name].axes.map((a) => a.name)).toEqual(['batch', 'seq']);
    }
  });

  it('folds constant expressions such as sqrt(head)', () => {
    const m = model(transformer);
    const ops = m.graph.nodes.filter((n) => n.attrs.op === 'unary' && (n.attrs.fn === 'sqrt' || n.attrs.fn === 'neg') && n.type.axes.length === 0);
    expect(ops).toEqual([]);
    const scale = m.graph.nodes.find((n) => n.attrs.op === 'const' && n.attrs.value === Math.sqrt(32));
    expect(scale).toBeDefined();
    const divs = m.graph.nodes.filter((n) => n.attrs.op === 'binary' && n.attrs.fn === 'div');
    expect(divs.length).toBe(4); // one per layer
    for (const d of divs) expect(d.inputs[1]).toBe(scale!.id);
    // -inf is a constant too, shared by every layer's mask.
    const negInf = m.graph.nodes.filter((n) => n.attrs.op === 'const' && n.attrs.value === -Infinity);
    expect(negInf.length).toBe(1);
  });

  it('axis names in a comparison are positions; elsewhere a dim name is its size', () => {
    const m = model(transformer);
    const iotas = m.graph.nodes.filter((n) => n.attrs.op === 'iota').map((n) => n.type.axes[0].name);
    expect(new Set(iotas)).toEqual(new Set(['key', 'seq']));
    const mask = m.graph.nodes.find((n) => n.attrs.op === 'compare')!;
    expect(mask.type.dtype).toBe('bool');
    expect(axisNames(mask).sort()).toEqual(['key', 'seq']);
  });

  it('blocks are inlined once per call, repeats unrolled', () => {
    const m = model(transformer);
    expect(m.graph.nodes.filter((n) => n.attrs.op === 'softmax').length).toBe(4);
    expect(m.graph.nodes.filter((n) => n.attrs.op === 'gather').length).toBe(1);
    expect(m.graph.nodes.filter((n) => n.attrs.op === 'cross_entropy').length).toBe(1);
  });
});

describe('train section', () => {
  it('calls a bare name near a dataset of the registry it is handed a typo (E0703), and nothing else', () => {
    const text = minimal('dim embed = 8').replace('text("tinyshakespeare"', 'text("tinyshakespear"');
    const codes = (datasets?: readonly string[]) => elab(text, { datasets }).diagnostics.map((d) => `${d.code}@${d.span.line}`);
    expect(codes(['tinyshakespeare'])).toEqual(['E0703@12']);
    expect(elab(text, { datasets: ['tinyshakespeare'] }).diagnostics[0].help).toContain('did you mean `tinyshakespeare`');
    // Another registry, or none: the name is a file name like any other.
    expect(codes(['wikitext'])).toEqual([]);
    expect(codes()).toEqual([]);
    expect(model(text, { datasets: ['wikitext'] }).train.data).toMatchObject({ name: 'tinyshakespear' });
  });

  it('reads every setting of the transformer', () => {
    const t = model(transformer).train;
    expect(t.data).toMatchObject({ kind: 'text', name: 'tinyshakespeare', window: 65 });
    expect(t.slices.map(({ name, start, end }) => ({ name, start, end }))).toEqual([
      { name: 'tokens', start: 0, end: 64 },
      { name: 'targets', start: 1, end: 65 },
    ]);
    expect(t.optimizer).toEqual({ kind: 'adamw', lr: 1e-3, beta1: 0.9, beta2: 0.99, eps: 1e-8, weightDecay: 0.1 });
    expect(t.schedule).toEqual({ kind: 'warmup_cosine', warmup: 100, minLr: 1e-4 });
    expect(t.clip).toBe(1);
    expect(t.steps).toBe(2000);
    expect(t.evalEvery).toBe(250);
    expect(t.evalBatches).toBe(20);
    expect(t.seed).toBe(1337);
    expect(t.groups).toEqual([]);
  });

  it('window slices follow --set seq', () => {
    const t = model(transformer, { overrides: new Map([['seq', 16]]) }).train;
    expect(t.data!.window).toBe(17);
    expect(t.slices.map((s) => [s.start, s.end])).toEqual([
      [0, 16],
      [1, 17],
    ]);
  });

  it('per-group settings evaluate as functions of the base value', () => {
    const text = transformer.replace('  clip      = 1.0', '  clip      = 1.0\n  lr wte    = 0.5 * lr\n  lr blocks.*.attention.* = lr / sqrt(head)\n  weight_decay *.b = 0');
    const m = model(text);
    const [wte, attn, wd] = m.train.groups;
    expect(wte).toMatchObject({ setting: 'lr', pattern: 'wte' });
    expect(wte.value(1e-3)).toBeCloseTo(5e-4, 15);
    expect(wte.value(2)).toBe(1);
    expect(new Function('base', `return ${wte.js}`)(2)).toBe(1);
    expect(attn).toMatchObject({ setting: 'lr', pattern: 'blocks.*.attention.*' });
    expect(attn.value(1)).toBeCloseTo(1 / Math.sqrt(32), 12);
    expect(new Function('base', `return ${attn.js}`)(1)).toBeCloseTo(1 / Math.sqrt(32), 12);
    expect(wd).toMatchObject({ setting: 'weight_decay', pattern: '*.b' });
    expect(wd.value(0.1)).toBe(0);
  });

  it('scalar train overrides replace the file values', () => {
    const t = model(transformer, { overrides: new Map([['steps', 7], ['lr', 0.01], ['warmup', 3], ['clip', 0], ['seed', 5]]) }).train;
    expect(t.steps).toBe(7);
    expect(t.optimizer.lr).toBe(0.01);
    expect(t.schedule).toEqual({ kind: 'warmup_cosine', warmup: 3, minLr: 1e-4 });
    expect(t.clip).toBe(0);
    expect(t.seed).toBe(5);
  });

  it('settings left out take the defaults', () => {
    const t = model(minimal('dim embed = 8')).train;
    expect(t.optimizer).toEqual({ kind: 'adamw', lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0 });
    expect(t.schedule).toEqual({ kind: 'constant' });
    expect(t.clip).toBe(0);
  });
});

describe('matchPattern', () => {
  it('matches exact names', () => {
    expect(matchPattern('wte', 'wte')).toBe(true);
    expect(matchPattern('wte', 'wpe')).toBe(false);
    expect(matchPattern('wte', 'blocks.0.wte')).toBe(false);
  });

  it('`*` matches within one dotted segment', () => {
    expect(matchPattern('blocks.*.attention.wq', 'blocks.0.attention.wq')).toBe(true);
    expect(matchPattern('blocks.*.attention.wq', 'blocks.12.attention.wq')).toBe(true);
    expect(matchPattern('blocks.*.attention.wq', 'blocks.0.attention.wk')).toBe(false);
    expect(matchPattern('blocks.*.attention.wq', 'blocks.0.x.attention.wq')).toBe(false);
    expect(matchPattern('*.g', 'layernorm.g')).toBe(true);
    expect(matchPattern('*.g', 'blocks.0.layernorm.g')).toBe(false);
    expect(matchPattern('blocks.*.layernorm*.g', 'blocks.1.layernorm_2.g')).toBe(true);
    expect(matchPattern('w*', 'wte')).toBe(true);
    expect(matchPattern('w*', 'blocks.0.mlp.w1')).toBe(false);
  });

  it('`**` matches any number of segments', () => {
    expect(matchPattern('**', 'wte')).toBe(true);
    expect(matchPattern('**', 'blocks.0.attention.wq')).toBe(true);
    expect(matchPattern('**.g', 'blocks.0.layernorm_2.g')).toBe(true);
    expect(matchPattern('**.g', 'layernorm.g')).toBe(true);
    expect(matchPattern('blocks.**.w2', 'blocks.3.mlp.w2')).toBe(true);
    expect(matchPattern('blocks.**.w2', 'wte')).toBe(false);
  });

  it('treats other characters literally', () => {
    expect(matchPattern('blocks.0.mlp.w1', 'blocks.0.mlpxw1')).toBe(false);
    expect(matchPattern('a+b', 'a+b')).toBe(true);
    expect(matchPattern('a+b', 'aab')).toBe(false);
  });

  it('selects the intended parameters of the transformer', () => {
    const names = model(transformer).graph.params.map((p) => p.name);
    expect(names.filter((n) => matchPattern('blocks.*.attention.wq', n))).toEqual([0, 1, 2, 3].map((i) => `blocks.${i}.attention.wq`));
    expect(names.filter((n) => matchPattern('*.g', n))).toEqual(['layernorm.g']);
    expect(names.filter((n) => matchPattern('**.g', n)).length).toBe(4 * 2 + 1);
    expect(names.filter((n) => matchPattern('**', n)).length).toBe(names.length);
  });
});
