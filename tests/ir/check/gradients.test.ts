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

describe('W0803, E0504 and E0505 on combinations of attention edits', () => {
  // Every combination of six edits of the transformer's attention: keys not renamed, the mask
  // inside the softmax, a per-query bias (constant along key), a per-head temperature, a
  // double softmax, a per-key bias. What the checker claims is then verified on the
  // interpreter: W0803's parameters get a zero gradient (and the others do not), E0504's
  // softmax is uniform over what it keeps, E0505's inner softmax is a distribution.
  const EDITS: [string, string][] = [
    ['  k = (x . wk over embed) as [seq -> key]', '  k = x . wk over embed'],
    ['  s = where(key > seq, -inf, s)              # causal: no attending to later positions\n  p = softmax(s, over: key)', '  p = softmax(where(key > seq, -inf, s), over: key)'],
    ['  s = (q . k over head) / sqrt(head)', '  s = (q . k over head) / sqrt(head) + q . wb over head'],
    ['  s = (q . k over head) / sqrt(head)', '  s = (q . k over head) / sqrt(head) * temp'],
    ['softmax(s, over: key)', 'softmax(softmax(s, over: key), over: key)'],
    ['  s = (q . k over head) / sqrt(head)', '  s = (q . k over head) / sqrt(head) + wkb'],
  ];
  const PARAMS = '  param wb[heads, head] init normal(0.02)\n  param temp[heads] init ones\n  param wkb[key] init zeros\n';
  const SMALL = new Map(Object.entries({ seq: 4, embed: 8, heads: 2, layers: 1, batch: 2 }));
  it('every claim holds on the interpreter', () => {
    const text = readFileSync('models/transformer.mdl', 'utf8').replace('  q = x . wq over embed', `${PARAMS}  q = x . wq over embed`);
    const seen = new Map<string, number>();
    for (let mask = 0; mask < 1 << EDITS.length; mask++) {
      let t = text;
      EDITS.forEach(([from, to], i) => {
        if (mask & (1 << i) && t.includes(from)) t = t.replace(from, to);
      });
      const r = compileSource({ path: 'm.mdl', text: t }, { data: { vocab: 7 }, overrides: SMALL });
      const m = r.model;
      if (!m || m.loss === undefined || r.diagnostics.some((d) => d.severity === 'error' && !['E0504', 'E0505'].includes(d.code))) continue;
      for (const d of r.diagnostics) seen.set(d.code, (seen.get(d.code) ?? 0) + 1);
      const sizes = gradientSizes(m);
      const untrained = new Set(r.diagnostics.filter((d) => d.code === 'W0803').flatMap((d) => m.graph.params.filter((p) => p.span.start === d.span.start).map((p) => p.name)));
      for (const p of m.graph.params) {
        if (untrained.has(p.name)) expect(sizes.get(p.name), `${p.name} untrained in\n${t}`).toBeLessThan(1e-10);
        else if (!r.diagnostics.some((d) => d.code === 'W0801' && d.span.start === p.span.start)) expect(sizes.get(p.name), `${p.name} trained in\n${t}`).toBeGreaterThan(1e-8);
      }
      for (const d of r.diagnostics.filter((x) => x.code === 'E0504')) {
        const sm = m.graph.nodes.find((n) => n.attrs.op === 'softmax' && n.span?.start === d.span.start)!;
        expect(rowsUniform(m, sm.id), t).toBe(true);
      }
      for (const d of r.diagnostics.filter((x) => x.code === 'E0505')) {
        const outer = m.graph.nodes.find((n) => n.attrs.op === 'softmax' && n.span?.start === d.span.start)!;
        expect(m.graph.nodes[outer.inputs[0]].attrs.op).toBe('softmax');
      }
    }
    // The combinations exercise every claim.
    expect(seen.get('W0803')).toBeGreaterThan(4);
    expect(seen.get('E0504')).toBeGreaterThan(2);
    expect(seen.get('E0505')).toBeGreaterThan(2);
  }, 300000);
});

/** Are the softmax's rows uniform over their non-zero entries (at random parameters)? */
function rowsUniform(m: ElaboratedModel, id: number): boolean {
  const r = rng(9);
  const params = new Map(m.graph.params.map((p) => [p.name, tensor(p.type, Float64Array.from({ length: numElements(p.type) }, () => 1.2 * (r() - 0.5)))]));
  const inputs = new Map<string, Tensor>(m.graph.inputs.map((i) => [i.name, tensor(i.type, Int32Array.from({ length: numElements(i.type) }, () => Math.floor(r() * i.type.indexOf!.size)))]));
  const t = interpret(m.graph, { params, inputs }, { precision: 'f64', outputs: [id] }).get(id)!;
  const axis = (m.graph.nodes[id].attrs as { axis: { id: number } }).axis;
  const k = t.type.axes.findIndex((a) => a.id === axis.id);
  const inner = t.type.axes.slice(k + 1).reduce((n, a) => n * a.size, 1);
  const n = t.type.axes[k].size;
  for (let base = 0; base < t.data.length; base++) {
    if (Math.floor(base / inner) % n !== 0) continue;
    const row = Array.from({ length: n }, (_, j) => t.data[base + j * inner]).filter((v) => v !== 0);
    if (row.some((v) => Math.abs(v - row[0]) > 1e-12)) return false;
  }
  return true;
}
