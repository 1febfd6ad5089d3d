/**
 * The text of model.py and train.py's recipe: classes per block, ModuleList for repeats,
 * parameters under their .mdl names and axis order, einsums with axis names, every statement
 * under the .mdl line it computes; AdamW groups with mdlc's learning rates and weight decay;
 * models PyTorch cannot hold as written are one-line errors.
 */
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { compileFile, compileSource } from '../../src/driver/index.js';
import { buildTrainStep } from '../../src/ir/optimizer/index.js';
import { emitModelPy, emitTrainPy, ExportError, exportPytorch, modelHash, pyLiteral, pyRate, rowsIndependent } from '../../src/export/index.js';

const SOURCE = readFileSync('models/transformer.mdl', 'utf8');
const tiny = compileFile('models/transformer.mdl', { overrides: new Map(Object.entries({ layers: 2, embed: 16, heads: 2, seq: 8, batch: 3 })), data: { vocab: 13 } }).model!;
const py = emitModelPy(tiny, { sourceText: SOURCE, sourcePath: 'models/transformer.mdl', version: '0.1.0' });
const lines = py.text.split('\n');

describe('model.py', () => {
  it('has one class per block, a ModuleList for the repeat, and the model class with forward and loss', () => {
    expect(lines.filter((l) => l.startsWith('class ')).map((l) => l.match(/^class (\w+)/)![1])).toEqual(['Layernorm', 'Attention', 'Mlp', 'BlocksLayer', 'Transformer']);
    expect(py.text).toContain('        self.blocks = nn.ModuleList(BlocksLayer() for _ in range(2))');
    expect(py.text).toContain('        for layer in self.blocks:\n            x = layer(x)');
    expect(py.text).toContain('    def forward(self, tokens):');
    expect(py.text).toContain('    def loss(self, logits, targets):');
    expect(py).toMatchObject({ className: 'Transformer', forwardInputs: ['tokens'], lossInputs: ['targets'] });
  });

  it('declares parameters under their .mdl names with their declared axes and initializers', () => {
    expect(py.text).toContain('        self.wq = nn.Parameter(torch.empty(EMBED, HEADS, HEAD).normal_(mean=0.0, std=0.02))  # [embed, heads, head]');
    expect(py.text).toContain('        self.wo = nn.Parameter(torch.empty(HEADS, HEAD, EMBED).normal_(mean=0.0, std=0.01))  # [heads, head, embed]');
    expect(py.text).toContain('        self.g = nn.Parameter(torch.ones(EMBED))  # [embed]');
    expect(py.text).toContain('EMBED = 16  # 9: dim embed  = 128');
    expect(py.text).toContain('KEY = 8  # 14: axis key   = seq');
    // PARAM_AXES lists every parameter by its mdlc name, in the graph's order.
    const axes = py.text.slice(py.text.indexOf('PARAM_AXES = {'), py.text.indexOf('}', py.text.indexOf('PARAM_AXES = {')));
    const names = [...axes.matchAll(/^ {4}"([^"]+)": \(/gm)].map((m) => m[1]);
    expect(names).toEqual(tiny.graph.params.map((p) => p.name));
    expect(axes).toContain('"blocks.1.attention.wq": ("embed", "heads", "head"),');
  });

  it('writes contractions as einsum with the axis names beside them', () => {
    expect(py.text).toContain("        q = torch.einsum('bse,eha->bsha', x, self.wq)  # [batch, seq, heads, head]: einsum over embed");
    expect(py.text).toContain("torch.einsum('bse,ve->bsv', self.layernorm(x), self.wte)  # [batch, seq, vocab]: einsum over embed");
    expect(py.text).toContain('einsum letters: v = vocab, b = batch, s = seq, e = embed, h = heads, a = head, i = hidden, l = layers, k = key.');
    expect(py.text).toContain('torch.where((self.key_positions[:, None] > self.seq_positions).permute(1, 0)[:, None], -math.inf, s)');
  });

  it('puts every statement of every forward under a comment quoting the .mdl line it computes', () => {
    const src = SOURCE.split('\n');
    let quoted = 0;
    let inForward = false;
    let lastQuote: number | undefined;
    for (const l of lines) {
      if (/^ {4}def (forward|loss)\(/.test(l)) {
        inForward = true;
        lastQuote = undefined;
        continue;
      }
      if (/^ {4}\S/.test(l) || /^\S/.test(l)) inForward = false;
      const q = l.match(/^ +# (\d+): (.*)$/);
      if (q) {
        const n = Number(q[1]);
        expect(src[n - 1].replace(/\s+#.*$/, '').trim(), `line ${n}`).toBe(q[2]);
        lastQuote = n;
        quoted++;
        continue;
      }
      if (inForward && /^ {8}\S/.test(l) && !l.trim().startsWith('#') && !l.trim().startsWith('"""') && !l.trim().startsWith('for ')) {
        expect(lastQuote, l).toBeDefined();
      }
    }
    expect(quoted).toBeGreaterThan(20);
    expect(py.text).toContain('        # 36: s = where(key > seq, -inf, s)\n        s = torch.where(');
  });

  it('shares a class between calls with the same code, and makes another where the axes differ', () => {
    const ae = compileFile('models/autoencoder.mdl', { overrides: new Map(Object.entries({ layers: 1, embed: 16, heads: 2, seq: 8, batch: 3, latent: 2, code: 4 })), data: { vocab: 13 } }).model!;
    const text = emitModelPy(ae, { sourceText: readFileSync('models/autoencoder.mdl', 'utf8'), sourcePath: 'models/autoencoder.mdl', version: '0' }).text;
    // Self-attention is laid out alike in the encoder and the decoder: one class for both.
    expect(text).toContain('class SelfAttention(nn.Module):');
    expect(text).not.toContain('class SelfAttention2(nn.Module):');
    expect(text).toContain("        q = torch.einsum('bse,eha->bsha', x, self.wq)");
    // Layernorm over the window [batch, seq, embed] and over the slots [batch, latent, embed]: two classes.
    expect(text).toContain('class Layernorm(nn.Module):');
    expect(text).toContain('class Layernorm2(nn.Module):');
    expect(text).toContain('        self.encoder = nn.ModuleList(EncoderLayer() for _ in range(1))');
    expect(text).toContain('        self.decoder = nn.ModuleList(DecoderLayer() for _ in range(1))');
    expect(text).toContain('F.cross_entropy(logits.flatten(0, -2), targets.flatten())');
  });
});

function compileText(text: string) {
  const r = compileSource({ path: 'bad.mdl', text }, { data: { vocab: 5 } });
  if (!r.model) throw new Error(r.diagnostics.map((d) => d.message).join('; '));
  return r.model;
}

const TINY_MODEL = (params: string, forward: string) => `model m
dim vocab = data.vocab
dim batch = 2
dim seq = 3
dim embed = 4
${params}
block lin(x[batch, seq, embed]) {
  param w[embed] init ones
  return x * w
}
block outer(x[batch, seq, embed]) {
  param lin[embed] init ones
  return lin(x) * lin
}
forward(tokens: index[batch, seq] of vocab) -> logits {
${forward}
}
loss = cross_entropy(logits, targets, over: vocab)
train {
  data = text("d.txt", window: seq + 1)
  tokens = data[0 .. seq]
  targets = data[1 .. seq + 1]
}
`;

describe('models PyTorch cannot hold as written', () => {
  it('a parameter that would shadow an nn.Module attribute', () => {
    const m = compileText(TINY_MODEL('param parameters[vocab, embed] init normal(0.1)', '  return lin(parameters[tokens]) . parameters over embed'));
    expect(() => emitModelPy(m, { sourceText: '', sourcePath: 'bad.mdl', version: '0' })).toThrow(new ExportError('parameter `parameters` is named `parameters`, which a PyTorch module cannot have as an attribute; rename it in the .mdl'));
  });

  it('a parameter and a block call with the same name in one block', () => {
    const m = compileText(TINY_MODEL('param wte[vocab, embed] init normal(0.1)', '  return outer(wte[tokens]) . wte over embed'));
    expect(() => emitModelPy(m, { sourceText: '', sourcePath: 'bad.mdl', version: '0' })).toThrow(new ExportError('block call `lin` and parameter `outer.lin` would both be the attribute `lin` of one PyTorch module; rename one in the .mdl'));
  });

  it('a model without data to train on', () => {
    const m = compileText(TINY_MODEL('param wte[vocab, embed] init normal(0.1)', '  return lin(wte[tokens]) . wte over embed').replace(/  data = text.*\n/, ''));
    expect(() => exportPytorch(m, { source: { path: 'bad.mdl', text: '' }, vocab: ['a'], overrides: new Map(), version: '0' })).toThrow(new ExportError('the train section names no data'));
  });
});

describe("train.py's recipe", () => {
  const ops = compileFile('tests/fixtures/export/ops.mdl', { data: { vocab: 11 } }).model!;
  const template = readFileSync('src/export/pytorch/train.py', 'utf8');
  const text = emitTrainPy(template, ops, buildTrainStep(ops), { vocab: [...'abcdefghijk'], overrides: new Map([['steps', 10]]), modelHash: 'h', forwardInputs: ['tokens'], lossInputs: ['targets'], sourceLines: readFileSync('tests/fixtures/export/ops.mdl', 'utf8').split('\n') });

  it("groups parameters by mdlc's learning rate and weight decay, with the .mdl lines that set them", () => {
    const groups = text.slice(text.indexOf('PARAM_GROUPS = ['), text.indexOf('# ---- end of recipe'));
    expect(groups).toContain('    # lr table  = 0.5 * lr; no weight decay: gains, biases, embeddings\n    {"lr": lambda base: (0.5 * base), "weight_decay": 0.0, "params": ["table"]},');
    expect(groups).toContain('{"lr": lambda base: base, "weight_decay": 0.0, "params": ["scale"]}');
    expect(groups).toContain('{"lr": lambda base: base, "weight_decay": 0.1, "params": ["w"]}');
    expect(groups).toContain('    # the base learning rate; weight_decay r.*.mix.v = 0.01\n    {"lr": lambda base: base, "weight_decay": 0.01, "params": ["r.0.mix.v", "r.1.mix.v"]},');
  });

  it('carries the data contract, the optimizer and the schedule, and says whether processes may split the batch', () => {
    expect(text).toContain('    "slices": {"tokens": (0, 5), "targets": (1, 6)},');
    expect(text).toContain('    "vocab": "abcdefghijk",');
    expect(text).toContain('    "data": {"name": "data.txt", "named": False},');
    expect(text).toContain('    "betas": (0.9, 0.999),');
    expect(text).toContain('    "schedule": {"kind": "constant"},');
    expect(text).toContain('    "rows_independent": False,'); // ops.mdl sums over the batch
    expect(text).not.toContain('RECIPE = {}');
    expect(rowsIndependent(tiny)).toBe(true);
    expect(rowsIndependent(ops)).toBe(false);
  });

  it('writes Python literals and learning-rate rules', () => {
    expect(pyLiteral({ a: [1, 0.5, 'x\n"'], b: { tuple: [true] } })).toBe('{"a": [1, 0.5, "x\\n\\""], "b": (True,)}');
    expect(pyRate('(Math.sqrt(base) * Infinity)')).toBe('(math.sqrt(base) * math.inf)');
  });

  it('identifies a model by its source and overrides, in any order', () => {
    const a = modelHash('src', new Map([['a', 1], ['b', 2]]));
    expect(a).toBe(modelHash('src', new Map([['b', 2], ['a', 1]])));
    expect(a).not.toBe(modelHash('src', new Map([['a', 1]])));
    expect(a).not.toBe(modelHash('src ', new Map([['a', 1], ['b', 2]])));
  });
});
