/**
 * The reference interpreter runs the reference models: logits of the declared axes, and a
 * loss at initialisation close to ln(vocab). The transformer's head starts small, so its
 * prediction is nearly uniform; the autoencoder's head is fan-in scaled, so its logits start
 * at unit scale and the loss near ln(vocab) + 1/2 (the mean of −log softmax of unit-variance
 * logits).
 */
import { describe, expect, it } from 'vitest';
import { compileFile } from '../../src/driver/index.js';
import { initParams, interpret, tensor, makeRng } from '../../src/ir/interpret/index.js';

describe.each([
  ['transformer', 0, 0.05],
  ['autoencoder', 0.5, 0.25],
])('%s forward on the interpreter', (name, excess, tolerance) => {
  it(`returns logits over [batch, seq, vocab] and a loss near ln(vocab) + ${excess} at initialisation`, () => {
    const vocab = 65;
    const r = compileFile(`models/${name}.mdl`, { overrides: new Map(Object.entries({ layers: 1, batch: 2, seq: 16 })), data: { vocab } });
    expect(r.ok).toBe(true);
    const m = r.model!;
    const g = m.graph;
    const params = initParams(g, 1337, 'f32');
    const rng = makeRng(5, 'tokens');
    const inputs = new Map(g.inputs.map((i) => [i.name, tensor(i.type, Int32Array.from({ length: 2 * 16 }, () => rng.int(vocab)))]));
    const out = interpret(g, { params, inputs }, { precision: 'f32', outputs: [m.logits, m.loss!] });
    const logits = out.get(m.logits)!;
    expect(new Set(logits.type.axes.map((a) => `${a.name}=${a.size}`))).toEqual(new Set(['batch=2', 'seq=16', `vocab=${vocab}`]));
    expect(logits.data.every((x) => Number.isFinite(x))).toBe(true);
    const loss = out.get(m.loss!)!.data[0];
    expect(Math.abs(loss - Math.log(vocab) - excess)).toBeLessThan(tolerance);
  });
});
