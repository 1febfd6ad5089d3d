/**
 * Whole-model gradient checks: the reference models at tiny sizes, the gradient of the loss
 * from `gradients` against finite differences (f64), for a sample of elements across the
 * embeddings, layernorm gains and biases, attention and MLP weights. See gradcheck.ts for the
 * stencil and the error measure (relative error < 1e-6 with an absolute floor of 1e-10).
 *
 * Parameters are not taken from the models' initializers: normal(0.02) weights make most
 * gradients ~1e-5 and the attention nearly uniform, which would leave softmax, gelu and the
 * layernorm close to linear and the check weak. They are drawn at O(1) scale instead (weights
 * in ±0.6, gains in 1 ± 0.3, biases in ±0.3), so every nonlinearity is exercised.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { compileSource } from '../../../src/driver/index.js';
import { GraphBuilder } from '../../../src/ir/graph.js';
import { tensor, type Tensor } from '../../../src/ir/interpret/index.js';
import type { ElaboratedModel } from '../../../src/ir/elaborate/model.js';
import { numElements } from '../../../src/ir/types.js';
import { checkScalarGradients, rng } from './gradcheck.js';

const TINY: [string, number][] = [
  ['batch', 2],
  ['seq', 4],
  ['embed', 8],
  ['heads', 2],
  ['layers', 1],
];

function compile(path: string, extra: [string, number][] = []): ElaboratedModel {
  const r = compileSource({ path, text: readFileSync(path, 'utf8') }, { overrides: new Map([...TINY, ...extra]), data: { vocab: 7 } });
  if (!r.ok || !r.model) throw new Error(`${path} did not compile: ${r.diagnostics.map((d) => `${d.code} ${d.message}`).join('; ')}`);
  return r.model;
}

function randomParams(model: ElaboratedModel, seed: number): Map<string, Tensor> {
  const r = rng(seed);
  const out = new Map<string, Tensor>();
  for (const p of model.graph.params) {
    const n = numElements(p.type);
    const draw = p.init.kind === 'ones' ? () => 1 + 0.6 * (r() - 0.5) : p.init.kind === 'zeros' ? () => 0.6 * (r() - 0.5) : () => 1.2 * (r() - 0.5);
    out.set(p.name, tensor(p.type, Float64Array.from({ length: n }, draw)));
  }
  return out;
}

function indexInputs(model: ElaboratedModel, seed: number): Map<string, Tensor> {
  const r = rng(seed);
  const out = new Map<string, Tensor>();
  for (const i of model.graph.inputs) {
    expect(i.type.dtype).toBe('i32');
    const size = i.type.indexOf!.size;
    out.set(i.name, tensor(i.type, Int32Array.from({ length: numElements(i.type) }, () => Math.floor(r() * size))));
  }
  return out;
}

/** `perParam` distinct random elements of each named parameter. */
function sample(model: ElaboratedModel, names: readonly string[], perParam: number, seed: number): Map<string, number[]> {
  const r = rng(seed);
  const out = new Map<string, number[]>();
  for (const name of names) {
    const p = model.graph.params.find((x) => x.name === name);
    if (!p) throw new Error(`no parameter ${name}; the model has ${model.graph.params.map((x) => x.name).join(', ')}`);
    const n = numElements(p.type);
    const picked = new Set<number>();
    while (picked.size < Math.min(perParam, n)) picked.add(Math.floor(r() * n));
    out.set(name, [...picked]);
  }
  return out;
}

function check(model: ElaboratedModel, names: readonly string[], label: string) {
  const b = GraphBuilder.extend(model.graph);
  const params = randomParams(model, 2024);
  const inputs = indexInputs(model, 99);
  const elements = sample(model, names, 3, 7);
  const r = checkScalarGradients(b.graph, b, model.loss!, params, inputs, { only: names, elements });
  console.log(`${label}: ${r.checked} elements of ${names.length} parameters, max error ${r.maxErr.toExponential(2)} (${r.belowFloor} below the floor; max relative error above it ${r.maxRelAboveFloor.toExponential(2)}), max |grad| ${r.maxAbsGrad.toFixed(4)}`);
  expect(r.checked).toBe(names.length * 3);
  expect(r.maxAbsGrad).toBeGreaterThan(1e-2);
}

describe('whole-model gradients against finite differences (f64)', () => {
  it('transformer (batch 2, seq 4, embed 8, heads 2, layers 1, vocab 7)', () => {
    const model = compile('models/transformer.mdl');
    check(
      model,
      [
        'wte', // gathered and the tied output head
        'wpe',
        'blocks.0.layernorm.g',
        'blocks.0.layernorm.b',
        'blocks.0.attention.wq',
        'blocks.0.attention.wk',
        'blocks.0.attention.wv',
        'blocks.0.attention.wo',
        'blocks.0.mlp.w1', // through gelu
        'blocks.0.mlp.b1',
        'blocks.0.mlp.w2',
        'layernorm.g',
      ],
      'transformer',
    );
  });

  it('autoencoder (same, plus latent 2, code 4)', () => {
    const model = compile('models/autoencoder.mdl', [
      ['latent', 2],
      ['code', 4],
    ]);
    check(
      model,
      [
        'wte',
        'wpe',
        'encoder.0.layernorm.g',
        'encoder.0.self_attention.wq',
        'encoder.0.mlp.w1',
        'wdown', // into the code, through its normalisation
        'wup',
        'wslot',
        'slot_pe',
        'dec_pe',
        'decoder.0.cross_attention.wk', // softmax over the slots
        'decoder.0.cross_attention.wv',
        'decoder.0.self_attention.wo',
        'layernorm_2.g', // the slots' layernorm
      ],
      'autoencoder',
    );
  });
});
