import { describe, expect, it } from 'vitest';
import { GraphBuilder } from '../../../src/ir/graph.js';
import type { Axis, TensorType } from '../../../src/ir/types.js';
import { diffTensors, get, initParams, interpret, permute, type Tensor } from '../../../src/ir/interpret/index.js';
import { gelu } from '../../../src/ir/ops/unary/gelu.js';
import { makeRng } from '../../../src/ir/interpret/random.js';
import { SPAN, axes, expectValues, f32, i32 } from './helpers.js';

const F = (a: readonly Axis[]): TensorType => ({ dtype: 'f32', axes: a });

describe('interpret: a one-layer model by hand', () => {
  it('computes logits and the loss', () => {
    const { b, i, v } = axes({ b: 1, i: 2, v: 2 });
    const g = new GraphBuilder();
    const x = g.input('x', F([b, i]), SPAN);
    const t = g.input('t', { dtype: 'i32', axes: [b], indexOf: v }, SPAN);
    const w = g.param('w', F([i, v]), { kind: 'zeros' }, SPAN);
    const logits = g.add({ op: 'contract', over: [i] }, [x, w]);
    const loss = g.add({ op: 'cross_entropy', axis: v }, [logits, t]);
    g.output('logits', logits);
    g.output('loss', loss);
    const out = interpret(
      g.graph,
      { params: new Map([['w', f32([i, v], [1, 0, 0, 1])]]), inputs: new Map([['x', f32([b, i], [1, 2])], ['t', i32([b], [1], v)]]) },
      { precision: 'f64' },
    );
    expectValues(out.get(logits)!, [1, 2]);
    // -log softmax([1, 2])[1] = log(e + e^2) - 2 = log(1 + 1/e)
    expectValues(out.get(loss)!, [Math.log(1 + Math.exp(-1))], 1e-15);
  });
});

describe('interpret: a 2-layer MLP with cross-entropy', () => {
  const { batch, inp, hidden, vocab } = axes({ batch: 3, inp: 4, hidden: 5, vocab: 6 });
  const g = new GraphBuilder();
  const x = g.input('x', F([batch, inp]), SPAN);
  const targets = g.input('targets', { dtype: 'i32', axes: [batch], indexOf: vocab }, SPAN);
  const w1 = g.param('w1', F([inp, hidden]), { kind: 'normal', mean: 0, std: 0.5 }, SPAN);
  const b1 = g.param('b1', F([hidden]), { kind: 'uniform', low: -0.1, high: 0.1 }, SPAN);
  const w2 = g.param('w2', F([hidden, vocab]), { kind: 'normal', mean: 0, std: 0.5 }, SPAN);
  const b2 = g.param('b2', F([vocab]), { kind: 'uniform', low: -0.1, high: 0.1 }, SPAN);
  const h = g.add({ op: 'unary', fn: 'gelu' }, [g.add({ op: 'binary', fn: 'add' }, [g.add({ op: 'contract', over: [inp] }, [x, w1]), b1])]);
  const logits = g.add({ op: 'binary', fn: 'add' }, [g.add({ op: 'contract', over: [hidden] }, [h, w2]), b2]);
  const loss = g.add({ op: 'cross_entropy', axis: vocab }, [logits, targets]);
  g.output('hidden', h);
  g.output('logits', logits);
  g.output('loss', loss);
  const graph = g.graph;

  const rng = makeRng(11, 'mlp-data');
  const xT = f32([batch, inp], Array.from({ length: 12 }, () => rng.normal()));
  const tT = i32([batch], [5, 0, 3], vocab);
  const params = initParams(graph, 123, 'f64');
  const inputs = new Map([
    ['x', xT],
    ['targets', tT],
  ]);

  /** The same model written as plain loops. */
  function reference(): { hidden: number[][]; logits: number[][]; loss: number } {
    const P = (name: string) => params.get(name)!;
    const hid: number[][] = [];
    const lg: number[][] = [];
    let total = 0;
    for (let bi = 0; bi < 3; bi++) {
      const hr: number[] = [];
      for (let j = 0; j < 5; j++) {
        let s = get(P('b1'), { hidden: j });
        for (let k = 0; k < 4; k++) s += get(xT, { batch: bi, inp: k }) * get(P('w1'), { inp: k, hidden: j });
        hr.push(gelu(s));
      }
      const lr: number[] = [];
      for (let v = 0; v < 6; v++) {
        let s = get(P('b2'), { vocab: v });
        for (let j = 0; j < 5; j++) s += hr[j] * get(P('w2'), { hidden: j, vocab: v });
        lr.push(s);
      }
      const lse = Math.log(lr.reduce((a, z) => a + Math.exp(z), 0));
      total += lse - lr[get(tT, { batch: bi })];
      hid.push(hr);
      lg.push(lr);
    }
    return { hidden: hid, logits: lg, loss: total / 3 };
  }

  it('matches the model written as loops (f64)', () => {
    const out = interpret(graph, { params, inputs }, { precision: 'f64' });
    const ref = reference();
    expect([...out.keys()].sort((a, b) => a - b)).toEqual([h, logits, loss].sort((a, b) => a - b));
    expectValues(out.get(h)!, ref.hidden.flat(), 1e-13);
    expectValues(out.get(logits)!, ref.logits.flat(), 1e-13);
    expectValues(out.get(loss)!, [ref.loss], 1e-13);
    expect(out.get(loss)!.data[0]).toBeGreaterThan(0);
  });

  it('f32 precision gives f32 buffers close to f64', () => {
    const o32 = interpret(graph, { params: initParams(graph, 123, 'f32'), inputs }, { precision: 'f32' });
    const o64 = interpret(graph, { params, inputs }, { precision: 'f64' });
    for (const id of [h, logits, loss]) {
      expect(o32.get(id)!.data).toBeInstanceOf(Float32Array);
      expect(diffTensors(o32.get(id)!, o64.get(id)!, 1e-5, 1e-6).message).toBe('');
    }
    // f64 feeds are rounded to f32 at f32 precision, so the result is the same either way
    const again = interpret(graph, { params, inputs }, { precision: 'f32' });
    expect(Array.from(again.get(loss)!.data)).toEqual(Array.from(o32.get(loss)!.data));
  });

  it('accepts feeds with the declared axes in any order', () => {
    const base = interpret(graph, { params, inputs }, { precision: 'f64' });
    const shuffled = new Map(params);
    shuffled.set('w1', permute(params.get('w1')!, [hidden, inp]));
    const out = interpret(graph, { params: shuffled, inputs: new Map([['x', permute(xT, [inp, batch])], ['targets', tT]]) }, { precision: 'f64' });
    expect(Array.from(out.get(loss)!.data)).toEqual(Array.from(base.get(loss)!.data));
  });

  it('computes only what the requested outputs need', () => {
    const onlyHidden = new Map(params);
    onlyHidden.delete('w2');
    onlyHidden.delete('b2');
    // neither w2, b2 nor the targets are needed for the hidden layer
    const out = interpret(graph, { params: onlyHidden, inputs: new Map([['x', xT]]) }, { precision: 'f64', outputs: [h] });
    expect([...out.keys()]).toEqual([h]);
    expectValues(out.get(h)!, reference().hidden.flat(), 1e-13);
    expect(() => interpret(graph, { params, inputs: new Map([['x', xT]]) }, { precision: 'f64', outputs: [loss] })).toThrow(
      /no value fed for input `targets` \(declared index\[batch\] of vocab\); fed inputs: x/,
    );
    expect(() => interpret(graph, { params, inputs }, { precision: 'f64', outputs: [999] })).toThrow(/no node 999/);
  });

  describe('feed errors name the feed and what is wrong', () => {
    const withParam = (name: string, t: Tensor) => new Map([...params, [name, t]]);
    const go = (p: ReadonlyMap<string, Tensor>, i: ReadonlyMap<string, Tensor> = inputs) => () => interpret(graph, { params: p, inputs: i }, { precision: 'f64' });

    it('a missing parameter', () => {
      const p = new Map(params);
      p.delete('b1');
      expect(go(p)).toThrow(/no value fed for parameter `b1` \(declared f32\[hidden\]\)/);
    });
    it('an axis of the same name that is a different axis', () => {
      const { hidden: other } = axes({ hidden: 5 });
      expect(go(withParam('b1', f32([other], [0, 0, 0, 0, 0])))).toThrow(
        /parameter `b1` must have axes \[hidden\], got \[hidden\]: `hidden` is a different axis of the same name/,
      );
    });
    it('a missing or unexpected axis', () => {
      const { extra } = axes({ extra: 2 });
      expect(go(withParam('w1', f32([inp, extra], new Array(8).fill(0))))).toThrow(/parameter `w1` must have axes \[inp, hidden\], got \[inp, extra\]: missing axis `hidden`; unexpected axis `extra`/);
    });
    it('a wrong dtype', () => {
      expect(go(params, new Map([['x', xT], ['targets', f32([batch], [5, 0, 3])]]))).toThrow(/input `targets` must be index\[batch\] of vocab, got f32\[batch\]/);
    });
    it('a buffer of the wrong length', () => {
      expect(go(withParam('b1', { type: F([hidden]), data: new Float64Array(4) }))).toThrow(/parameter `b1` has 4 elements, but f32\[hidden\] has 5/);
    });
    it('an index out of range in the data', () => {
      expect(go(params, new Map([['x', xT], ['targets', i32([batch], [5, 6, 0], vocab)]]))).toThrow(/index value 6 is out of range for axis `vocab`/);
    });
  });
});

describe('interpret: causal attention weights from axis positions', () => {
  it('masks with iota, compare and where, then softmax over key', () => {
    const { seq, key } = axes({ seq: 3, key: 3 });
    const g = new GraphBuilder();
    const s = g.input('s', F([seq, key]), SPAN);
    const mask = g.add({ op: 'compare', fn: 'gt' }, [g.add({ op: 'iota', axis: key }, []), g.add({ op: 'iota', axis: seq }, [])]);
    const masked = g.add({ op: 'where' }, [mask, g.constant(-Infinity), s]);
    const p = g.add({ op: 'softmax', axis: key }, [masked]);
    g.output('p', p);
    const out = interpret(g.graph, { params: new Map(), inputs: new Map([['s', f32([seq, key], [0, 9, 9, 0, 0, 9, 0, Math.log(2), 0])]]) }, { precision: 'f64' });
    const r = out.get(p)!;
    expect(r.type.axes.map((a) => a.name)).toEqual(['seq', 'key']);
    expectValues(r, [1, 0, 0, 0.5, 0.5, 0, 0.25, 0.5, 0.25], 1e-15);
  });
});
