/**
 * The reference interpreter runs the reference models: logits of the declared axes, and a
 * loss at initialisation close to ln(vocab) (the initial weights are small, so the predicted
 * distribution is nearly uniform).
 */
import { describe, expect, it } from 'vitest';
import { compileFile } from '../../src/driver/index.js';
import { initParams, interpret, tensor, makeRng } from '../../src/ir/interpret/index.js';

describe.each(['transformer', 'autoencoder'])('%s forward on the interpreter', (name) => {
  it('returns logits over [batch, seq, vocab] and a loss near ln(vocab) at initialisation', () => {
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
    expect(Math.abs(loss - Math.log(vocab))).toBeLessThan(0.05);
  });
});
