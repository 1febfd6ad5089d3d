/**
 * W0803's reach (trainedNodes) against real gradients: a parameter it calls untrained must
 * get a zero gradient from autodiff on the interpreter, and the ones it calls trained must
 * not; in particular softmax ignores a term constant along its axis.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { compileSource } from '../../../src/driver/index.js';
import { computeFacts } from '../../../src/ir/check/facts.js';
import { trainedNodes } from '../../../src/ir/check/gradients.js';
import { gradients } from '../../../src/ir/autodiff/index.js';
import { GraphBuilder } from '../../../src/ir/graph.js';
import { interpret, tensor, type Tensor } from '../../../src/ir/interpret/index.js';
import type { ElaboratedModel } from '../../../src/ir/elaborate/model.js';
import { numElements } from '../../../src/ir/types.js';
import { rng } from '../autodiff/gradcheck.js';
import { axes, SPAN } from '../interpret/helpers.js';

const FIXTURES = join(import.meta.dirname, '..', '..', 'fixtures', 'check');

/** Largest |gradient| of the loss for every parameter, at O(1) random parameters. */
function gradientSizes(model: ElaboratedModel): Map<string, number> {
  const b = GraphBuilder.extend(model.graph);
  const wrt = model.graph.params.map((p) => p.node);
  const grads = gradients(b, model.loss!, wrt);
  const r = rng(3);
  const params = new Map(model.graph.params.map((p) => [p.name, tensor(p.type, Float64Array.from({ length: numElements(p.type) }, () => 1.2 * (r() - 0.5)))]));
  const inputs = new Map<string, Tensor>(model.graph.inputs.map((i) => [i.name, tensor(i.type, Int32Array.from({ length: numElements(i.type) }, () => Math.floor(r() * i.type.indexOf!.size)))]));
  const ids = model.graph.params.map((p) => grads.get(p.node)).filter((x): x is number => x !== undefined);
  const out = interpret(b.graph, { params, inputs }, { precision: 'f64', outputs: ids });
  return new Map(model.graph.params.map((p) => [p.name, grads.has(p.node) ? Math.max(...Array.from(out.get(grads.get(p.node)!)!.data, Math.abs)) : 0]));
}

function model(file: string): ElaboratedModel {
  const r = compileSource({ path: file, text: readFileSync(join(FIXTURES, file), 'utf8') }, { data: { vocab: 7 } });
  return r.model!;
}

describe('parameters the loss cannot train', () => {
  for (const file of ['E0504-keys-not-renamed.mdl', 'E0504-additive-mask-on-scores-without-key.mdl', 'good/tiny-transformer.mdl', 'good/causal-uniform-average.mdl']) {
    it(`${file}: untrained by the analysis ⇔ zero gradient`, () => {
      const m = model(file);
      const trained = trainedNodes(m.graph, m.loss!, computeFacts(m.graph));
      const sizes = gradientSizes(m);
      for (const p of m.graph.params) {
        if (trained.has(p.node)) expect(sizes.get(p.name), p.name).toBeGreaterThan(1e-6);
        else expect(sizes.get(p.name), p.name).toBeLessThan(1e-12);
      }
      const untrained = m.graph.params.filter((p) => !trained.has(p.node)).map((p) => p.name);
      expect(untrained.length > 0).toBe(file.startsWith('E0504'));
    });
  }

  it('softmax(x + c) does not train c (constant along the axis); softmax(x * c) does', () => {
    const { r, k } = axes({ r: 2, k: 3 });
    const g = new GraphBuilder();
    const x = g.param('x', { dtype: 'f32', axes: [r, k] }, { kind: 'zeros' }, SPAN);
    const c = g.param('c', { dtype: 'f32', axes: [r] }, { kind: 'zeros' }, SPAN);
    const d = g.param('d', { dtype: 'f32', axes: [r] }, { kind: 'zeros' }, SPAN);
    const shifted = g.add({ op: 'softmax', axis: k }, [g.add({ op: 'binary', fn: 'add' }, [x, c], SPAN)], SPAN);
    const scaled = g.add({ op: 'softmax', axis: k }, [g.add({ op: 'binary', fn: 'mul' }, [x, d], SPAN)], SPAN);
    const loss = g.add({ op: 'reduce', fn: 'sum', axes: [r, k] }, [g.add({ op: 'binary', fn: 'mul' }, [shifted, scaled], SPAN)], SPAN);
    const trained = trainedNodes(g.graph, loss, computeFacts(g.graph));
    expect(trained.has(x)).toBe(true);
    expect(trained.has(c)).toBe(false);
    expect(trained.has(d)).toBe(true);
  });
});
