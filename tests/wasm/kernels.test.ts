/**
 * Every kernel kind the scheduler produces, rendered to WebAssembly and compared with the
 * reference interpreter on the same graph and random inputs, at sizes that are not multiples
 * of the SIMD width (4), the GEMM tiles (4 × 8) or the work items; each run with its dispatches
 * split for 1 and for 3 threads, which must agree bit for bit.
 */
import { describe, expect, it } from 'vitest';
import { GraphBuilder } from '../../src/ir/graph.js';
import { AxisTable, type Axis, type Graph, type TensorType } from '../../src/ir/types.js';
import { interpret, tensor, makeRng, type Tensor } from '../../src/ir/interpret/index.js';
import { gradients } from '../../src/ir/autodiff/index.js';
import { maxRelError } from '../helpers/program.js';
import { runOnWasm, type WasmRun } from '../helpers/wasm.js';
import { combineMaps } from '../../src/codegen/passes/combine-maps.js';
import { segmentUpdates } from '../../src/codegen/passes/segment-updates.js';
import { markCausalGemms } from '../../src/codegen/passes/causal-gemms.js';
import { planGemm, type GemmTuning } from '../../src/codegen/wasm/gemm.js';
import type { GemmKernel, Schedule } from '../../src/codegen/kernel-ir/types.js';

const f32 = (...axes: Axis[]): TensorType => ({ dtype: 'f32', axes });
const span = { file: 'test.mdl', line: 1, column: 1, endLine: 1, endColumn: 1, start: 0, end: 0 };

function randomFeeds(g: Graph, seed: number) {
  const rng = makeRng(seed, 'feeds');
  const params = new Map<string, Tensor>();
  const inputs = new Map<string, Tensor>();
  const fill = (t: TensorType) => {
    const n = t.axes.reduce((s, a) => s * a.size, 1);
    if (t.dtype === 'i32') return tensor(t, Int32Array.from({ length: n }, () => rng.int(t.indexOf?.size ?? 4)));
    return tensor(t, Float32Array.from({ length: n }, () => rng.normal()));
  };
  for (const p of g.params) params.set(p.name, fill(p.type));
  for (const i of g.inputs) inputs.set(i.name, fill(i.type));
  return { params, inputs };
}

/** Run on wasm with 1 and 3 threads; both must match the interpreter and each other exactly. */
function compare(g: Graph, outputs: number[], opts: { seed?: number; tol?: number; transform?: (s: Schedule) => Schedule; tuning?: GemmTuning } = {}): WasmRun {
  const feeds = randomFeeds(g, opts.seed ?? 1);
  const want = interpret(g, feeds, { precision: 'f32', outputs });
  const runs = [1, 3].map((threads) => runOnWasm(g, outputs, feeds, { threads, transform: opts.transform, tuning: opts.tuning }));
  for (const o of outputs) {
    const w = want.get(o)!.data;
    const d = runs[0].outputs.get(o)!;
    expect(d.length).toBe(w.length);
    expect(maxRelError(d, w as ArrayLike<number>)).toBeLessThan(opts.tol ?? 1e-4);
    expect(runs[1].outputs.get(o)).toEqual(d);
  }
  return runs[0];
}

function axes(...spec: [string, number][]): Axis[] {
  const t = new AxisTable();
  return spec.map(([n, s]) => t.create(n, s));
}

describe('wasm kernels vs the interpreter', () => {
  it('runs a map with every op kind, four lanes at a time and one at a time', () => {
    for (const [X, Y] of [[3, 8], [5, 13], [1, 4], [4, 6], [2, 3], [1, 1], [40, 130]]) {
      const [x, y, z, v] = axes(['x', X], ['y', Y], ['z', Y], ['v', 5]);
      const b = new GraphBuilder();
      const a = b.param('a', f32(x, y), { kind: 'zeros' }, span);
      const c = b.param('c', f32(y), { kind: 'zeros' }, span);
      const d = b.param('d', f32(z, x), { kind: 'zeros' }, span);
      const table = b.param('table', f32(v, y), { kind: 'zeros' }, span);
      const idx = b.input('idx', { dtype: 'i32', axes: [x], indexOf: v }, span);
      const idx2 = b.input('idx2', { dtype: 'i32', axes: [y], indexOf: v }, span);
      const un = (fn: string, t: number) => b.add({ op: 'unary', fn } as never, [t]);
      const bin = (fn: string, l: number, r: number) => b.add({ op: 'binary', fn } as never, [l, r]);
      const dz = b.add({ op: 'rename', pairs: [[z, y]] }, [d]);
      const later = b.add({ op: 'compare', fn: 'gt' }, [b.add({ op: 'iota', axis: y }, []), b.add({ op: 'iota', axis: x }, [])]);
      const pos = b.add({ op: 'cast', to: 'f32' }, [b.add({ op: 'iota', axis: y }, [])]);
      const row = b.add({ op: 'gather', axis: v }, [table, idx]);
      // A gather whose index varies along the innermost axis: built lane by lane.
      const col = b.add({ op: 'gather', axis: v }, [b.add({ op: 'rename', pairs: [[y, z]] }, [table]), idx2]);
      const t1 = bin('add', bin('mul', un('gelu', a), c), un('tanh', dz));
      const t2 = bin('sub', un('gelu_grad', a), bin('div', un('sigmoid', c), bin('add', un('square', a), b.constant(1))));
      const t3 = bin('max', bin('mul', un('relu', dz), un('step', a)), bin('min', pos, un('exp', c)));
      const t4 = b.add({ op: 'where' }, [later, row, un('rsqrt', bin('add', un('abs', a), b.constant(0.5)))]);
      const t5 = bin('add', un('log', bin('add', un('abs', c), b.constant(0.1))), bin('pow', bin('add', un('abs', a), b.constant(0.5)), b.constant(1.5)));
      const t6 = bin('mul', un('neg', un('sqrt', un('abs', a))), b.add({ op: 'cast', to: 'f32' }, [b.add({ op: 'cast', to: 'i32' }, [bin('mul', a, b.constant(3))])]));
      const t7 = b.add({ op: 'reduce', fn: 'sum', axes: [z] }, [col]);
      const out = bin('add', bin('add', bin('add', t1, t2), bin('add', t3, t4)), bin('add', bin('add', t5, t6), t7));
      compare(b.graph, [out], { seed: X * Y });
    }
  });

  it('stores integers and masks into the i32 arena, four lanes and one', () => {
    for (const Y of [8, 7]) {
      const [x, y] = axes(['x', 3], ['y', Y]);
      const b = new GraphBuilder();
      const a = b.param('a', f32(x, y), { kind: 'zeros' }, span);
      const mask = b.add({ op: 'compare', fn: 'lt' }, [a, b.constant(0)]);
      const ints = b.add({ op: 'binary', fn: 'max' }, [b.add({ op: 'cast', to: 'i32' }, [b.add({ op: 'binary', fn: 'mul' }, [a, b.constant(4)])]), b.add({ op: 'iota', axis: y }, [])]);
      const neg = b.add({ op: 'unary', fn: 'neg' }, [b.add({ op: 'binary', fn: 'min' }, [ints, b.add({ op: 'iota', axis: x }, [])])]);
      compare(b.graph, [mask, ints, neg]);
    }
  });

  it('runs independent maps over different axes as one dispatch', () => {
    const [x, y, z] = axes(['x', 3], ['y', 8], ['z', 5]);
    const b = new GraphBuilder();
    const a = b.param('a', f32(x, y), { kind: 'zeros' }, span);
    const c = b.param('c', f32(z), { kind: 'zeros' }, span);
    const m1 = b.add({ op: 'unary', fn: 'exp' }, [a]);
    const m2 = b.add({ op: 'unary', fn: 'tanh' }, [c]);
    const m3 = b.add({ op: 'compare', fn: 'gt' }, [c, b.constant(0)]);
    const r = compare(b.graph, [m1, m2, m3], { transform: (s) => combineMaps(s, (v) => v, 8) });
    expect(r.kinds).toEqual(['maps']);
  });

  it('computes reductions (sum, mean, max) over one and two axes, and siblings in one loop', () => {
    for (const [A, B, C] of [[3, 5, 7], [1, 1, 1], [2, 130, 3], [3, 5, 8], [2, 4, 4]]) {
      const [a, bb, c] = axes(['a', A], ['b', B], ['c', C]);
      const g = new GraphBuilder();
      const x = g.param('x', f32(a, bb, c), { kind: 'zeros' }, span);
      const y = g.param('y', f32(a, bb, c), { kind: 'zeros' }, span);
      const sq = g.add({ op: 'unary', fn: 'square' }, [x]);
      const s = g.add({ op: 'reduce', fn: 'sum', axes: [bb] }, [sq]);
      const m = g.add({ op: 'reduce', fn: 'mean', axes: [a, c] }, [x]);
      const mx = g.add({ op: 'reduce', fn: 'max', axes: [c] }, [x]);
      const s1 = g.add({ op: 'reduce', fn: 'sum', axes: [a, bb] }, [x]);
      const s2 = g.add({ op: 'reduce', fn: 'max', axes: [a, bb] }, [g.add({ op: 'binary', fn: 'mul' }, [y, x])]);
      const s3 = g.add({ op: 'reduce', fn: 'mean', axes: [a, bb] }, [g.add({ op: 'unary', fn: 'exp' }, [y])]);
      compare(g.graph, [s, m, mx, s1, s2, s3]);
    }
  });

  it('computes a causally masked softmax, and a map of it from the same kernel', () => {
    for (const [B, T] of [[2, 5], [3, 64], [1, 1], [2, 12]]) {
      const [bt, q, k] = axes(['batch', B], ['seq', T], ['key', T]);
      const g = new GraphBuilder();
      const s = g.param('s', f32(bt, q, k), { kind: 'zeros' }, span);
      const scaled = g.add({ op: 'binary', fn: 'div' }, [s, g.constant(4)]);
      const mask = g.add({ op: 'compare', fn: 'gt' }, [g.add({ op: 'iota', axis: k }, []), g.add({ op: 'iota', axis: q }, [])]);
      const masked = g.add({ op: 'where' }, [mask, g.constant(-Infinity), scaled]);
      const p = g.add({ op: 'softmax', axis: k }, [masked]);
      const r = compare(g.graph, [p]);
      expect(r.kinds).toEqual(['softmax']);
    }
    for (const V of [9, 12]) {
      const [bt, v] = axes(['batch', 5], ['vocab', V]);
      const g = new GraphBuilder();
      const logits = g.param('logits', f32(bt, v), { kind: 'zeros' }, span);
      const targets = g.input('targets', { dtype: 'i32', axes: [bt], indexOf: v }, span);
      const p = g.add({ op: 'softmax', axis: v }, [logits]);
      const onehot = g.add({ op: 'cast', to: 'f32' }, [g.add({ op: 'compare', fn: 'eq' }, [g.add({ op: 'iota', axis: v }, []), targets])]);
      const grad = g.add({ op: 'binary', fn: 'mul' }, [g.add({ op: 'binary', fn: 'sub' }, [p, onehot]), g.constant(0.2)]);
      const r = compare(g.graph, [p, grad]);
      expect(r.kinds).toEqual(['softmax']);
    }
  });

  it('computes cross-entropy against index targets', () => {
    for (const [B, V] of [[4, 7], [33, 65], [3, 8]]) {
      const [bt, v] = axes(['batch', B], ['vocab', V]);
      const g = new GraphBuilder();
      const logits = g.param('logits', f32(bt, v), { kind: 'zeros' }, span);
      const targets = g.input('targets', { dtype: 'i32', axes: [bt], indexOf: v }, span);
      const loss = g.add({ op: 'cross_entropy', axis: v }, [logits, targets]);
      const r = compare(g.graph, [loss]);
      expect(r.kinds).toEqual(['ce_rows', 'reduce']);
    }
  });

  it('gathers rows (fused into the consumer) and scatter-adds them back deterministically', () => {
    for (const E of [6, 8, 1]) {
      const [bt, s, v, e] = axes(['batch', 3], ['seq', 5], ['vocab', 4], ['embed', E]);
      const g = new GraphBuilder();
      const table = g.param('table', f32(v, e), { kind: 'zeros' }, span);
      const pos = g.param('pos', f32(s, e), { kind: 'zeros' }, span);
      const idx = g.input('tokens', { dtype: 'i32', axes: [bt, s], indexOf: v }, span);
      const x = g.add({ op: 'binary', fn: 'add' }, [g.add({ op: 'gather', axis: v }, [table, idx]), pos]);
      const back = g.add({ op: 'scatter_add', axis: v }, [g.add({ op: 'unary', fn: 'tanh' }, [x]), idx]);
      const r = compare(g.graph, [x, back]);
      expect(r.kinds).toContain('scatter');
    }
  });

  const tunings: GemmTuning[] = [{}, { mr: 4, nr: 12 }, { mr: 3, nr: 8, rowBlock: 6 }, { swap: true }, { mr: 1, nr: 4 }];
  it('contracts with a fused epilogue (bias + gelu) at odd shapes, every blocking', () => {
    for (const tuning of tunings) {
      for (const [M, K, N] of [[37, 29, 23], [64, 64, 64], [1, 1, 1], [12, 128, 65], [5, 3, 8]]) {
        const [m, k, n] = axes(['m', M], ['k', K], ['n', N]);
        const g = new GraphBuilder();
        const x = g.param('x', f32(m, k), { kind: 'zeros' }, span);
        const w = g.param('w', f32(k, n), { kind: 'zeros' }, span);
        const bias = g.param('bias', f32(n), { kind: 'zeros' }, span);
        const y = g.add({ op: 'contract', over: [k] }, [x, w]);
        const h = g.add({ op: 'unary', fn: 'gelu' }, [g.add({ op: 'binary', fn: 'add' }, [y, bias])]);
        const r = compare(g.graph, [h], { tuning });
        expect(r.kinds).toEqual(['gemm']);
      }
    }
  });

  it('contracts with an epilogue over positions and a transposed operand, and stores a map of its output', () => {
    for (const tuning of tunings) {
      for (const [M, K, N] of [[16, 8, 32], [9, 5, 12], [9, 5, 7]]) {
        const [m, k, n, m2, j] = axes(['m', M], ['k', K], ['n', N], ['m2', M], ['j', 3]);
        const g = new GraphBuilder();
        const x = g.param('x', f32(m, k), { kind: 'zeros' }, span);
        const w = g.param('w', f32(k, n), { kind: 'zeros' }, span);
        const res = g.param('res', f32(m, n), { kind: 'zeros' }, span);
        const tr = g.add({ op: 'rename', pairs: [[m2, m]] }, [g.param('tr', f32(n, m2), { kind: 'zeros' }, span)]);
        const y = g.add({ op: 'contract', over: [k] }, [x, w]);
        const causal = g.add({ op: 'compare', fn: 'gt' }, [g.add({ op: 'iota', axis: n }, []), g.add({ op: 'iota', axis: m }, [])]);
        const e = g.add({ op: 'binary', fn: 'add' }, [g.add({ op: 'unary', fn: 'gelu_grad' }, [y]), g.add({ op: 'binary', fn: 'mul' }, [res, tr])]);
        const out = g.add({ op: 'where' }, [causal, g.constant(0), e]);
        // gelu of the output, stored by the same kernel, and both read by later GEMMs.
        const h = g.add({ op: 'unary', fn: 'gelu' }, [out]);
        const v = g.param('v', f32(n, j), { kind: 'zeros' }, span);
        const u = g.param('u', f32(m, j), { kind: 'zeros' }, span);
        const y1 = g.add({ op: 'contract', over: [n] }, [h, v]);
        const y2 = g.add({ op: 'contract', over: [m] }, [out, u]);
        compare(g.graph, [y1, y2, h, out], { tuning });
      }
    }
  });

  it('contracts attention-shaped operands through renames and a batch axis', () => {
    for (const tuning of tunings) {
      const [bt, q, hd, h, kk] = axes(['batch', 2], ['seq', 9], ['head', 8], ['heads', 3], ['key', 9]);
      const g = new GraphBuilder();
      const Q = g.param('q', f32(bt, q, h, hd), { kind: 'zeros' }, span);
      const K = g.param('k', f32(bt, q, h, hd), { kind: 'zeros' }, span);
      const Kr = g.add({ op: 'rename', pairs: [[q, kk]] }, [K]);
      const s = g.add({ op: 'contract', over: [hd] }, [Q, Kr]);
      const scaled = g.add({ op: 'binary', fn: 'mul' }, [s, g.constant(0.35)]);
      compare(g.graph, [scaled], { tuning });
    }
  });

  it('skips the zero half of causal attention GEMMs, forward and backward', () => {
    for (const tuning of tunings) {
      const [bt, s, t, d] = axes(['batch', 2], ['seq', 21], ['key', 21], ['d', 8]);
      const g = new GraphBuilder();
      const q = g.param('q', f32(bt, s, d), { kind: 'zeros' }, span);
      const k = g.param('k', f32(bt, t, d), { kind: 'zeros' }, span);
      const v = g.param('v', f32(bt, t, d), { kind: 'zeros' }, span);
      const scores = g.add({ op: 'contract', over: [d] }, [q, k]);
      const later = g.add({ op: 'compare', fn: 'gt' }, [g.add({ op: 'iota', axis: t }, []), g.add({ op: 'iota', axis: s }, [])]);
      const p = g.add({ op: 'softmax', axis: t }, [g.add({ op: 'where' }, [later, g.constant(-Infinity), scores])]);
      const o = g.add({ op: 'contract', over: [t] }, [p, v]);
      const loss = g.add({ op: 'reduce', fn: 'sum', axes: [bt, s, d] }, [g.add({ op: 'binary', fn: 'mul' }, [o, o])]);
      const grads = gradients(g, loss, [q, k, v]);
      let planned: Schedule | undefined;
      compare(g.graph, [o, ...grads.values()], {
        tuning,
        transform: (sc) => {
          markCausalGemms(sc, g.graph);
          planned = sc;
          return sc;
        },
      });
      // p·v and dq stop at each tile's last row; dv and dk start at its first.
      const causal = planned!.kernels.flatMap((kn) => (kn.kind === 'gemm' ? [planGemm(kn as GemmKernel, tuning).causal?.keep] : []));
      expect(causal.filter((c) => c === 'le').length).toBe(2);
      expect(causal.filter((c) => c === 'ge').length).toBe(2);
    }
  });

  it('runs a layernorm as one row kernel', () => {
    for (const [R, E] of [[6, 8], [65, 130], [1, 1], [3, 132], [4, 7]]) {
      const [r, e] = axes(['rows', R], ['embed', E]);
      const g = new GraphBuilder();
      const x = g.param('x', f32(r, e), { kind: 'zeros' }, span);
      const gain = g.param('g', f32(e), { kind: 'zeros' }, span);
      const mu = g.add({ op: 'reduce', fn: 'mean', axes: [e] }, [x]);
      const d = g.add({ op: 'binary', fn: 'sub' }, [x, mu]);
      const v = g.add({ op: 'reduce', fn: 'mean', axes: [e] }, [g.add({ op: 'unary', fn: 'square' }, [d])]);
      const y = g.add({ op: 'binary', fn: 'mul' }, [g.add({ op: 'binary', fn: 'mul' }, [d, g.add({ op: 'unary', fn: 'rsqrt' }, [g.add({ op: 'binary', fn: 'add' }, [v, g.constant(1e-5)])])]), gain]);
      const res = compare(g.graph, [y, mu]);
      expect(res.kinds).toEqual(['rows']);
    }
  });

  it('computes a global norm from per-value sums of squares in one kernel', () => {
    const [x, y, z] = axes(['x', 37], ['y', 5], ['z', 130]);
    const g = new GraphBuilder();
    const vals = [g.param('a', f32(x, y), { kind: 'zeros' }, span), g.param('b', f32(z), { kind: 'zeros' }, span), g.param('c', f32(y, z), { kind: 'zeros' }, span)];
    let sum = g.constant(0);
    for (const v of vals) {
      const sq = g.add({ op: 'unary', fn: 'square' }, [v]);
      sum = g.add({ op: 'binary', fn: 'add' }, [sum, g.add({ op: 'reduce', fn: 'sum', axes: g.type(sq).axes }, [sq])]);
    }
    const norm = g.add({ op: 'unary', fn: 'sqrt' }, [sum]);
    const r = compare(g.graph, [norm]);
    expect(r.kinds).toEqual(['sum_squares', 'map']);
  });

  it('runs updates of tensors of several shapes as segmented kernels, one element or four at a time', () => {
    const [x, y, z, w, big] = axes(['x', 3], ['y', 5], ['z', 4], ['w', 8], ['big', 9000]);
    const g = new GraphBuilder();
    const lr = g.input('lr', f32(), span);
    const k = (v: number) => g.constant(v);
    const bin = (fn: 'add' | 'sub' | 'mul' | 'div', a: number, b: number) => g.add({ op: 'binary', fn }, [a, b]);
    const updates = [
      { name: 'a', axes: [x, y], wd: 0.1 },
      { name: 'b', axes: [w, z], wd: 0 },
      { name: 'c', axes: [w], wd: 0.01 },
      { name: 'd', axes: [z, x], wd: 0.5 },
      { name: 'e', axes: [big], wd: 0.2 }, // several work items
    ].map(({ name, axes: ax, wd }) => {
      const t = f32(...ax);
      const p = g.param(name, t, { kind: 'zeros' }, span);
      const grad = g.input(`g.${name}`, t, span);
      const m = g.input(`m.${name}`, t, span);
      const newM = bin('add', bin('mul', k(0.9), m), bin('mul', k(0.1), grad));
      const step = bin('div', newM, bin('add', g.add({ op: 'unary', fn: 'sqrt' }, [g.add({ op: 'unary', fn: 'square' }, [grad])]), k(1e-3)));
      const newP = bin('sub', bin('mul', p, bin('sub', k(1), bin('mul', lr, k(wd)))), bin('mul', lr, step));
      return { axes: t.axes, values: [newM, newP] };
    });
    const outs = updates.flatMap((u) => u.values);
    const r = compare(g.graph, outs, { transform: (s) => segmentUpdates(s, updates, new Map(), 1024) });
    expect(r.kinds.filter((kind) => kind === 'map')).toEqual([]);
    expect(r.kinds.filter((kind) => kind === 'segmented').length).toBe(2);
    expect(Math.max(...r.items)).toBeGreaterThan(3);
  });

  it('runs the whole gradient graph of a two-layer MLP with cross-entropy', () => {
    const [bt, i, hdn, v] = axes(['batch', 5], ['in', 7], ['hidden', 11], ['vocab', 6]);
    const g = new GraphBuilder();
    const x = g.input('x', f32(bt, i), span);
    const t = g.input('t', { dtype: 'i32', axes: [bt], indexOf: v }, span);
    const w1 = g.param('w1', f32(i, hdn), { kind: 'zeros' }, span);
    const b1 = g.param('b1', f32(hdn), { kind: 'zeros' }, span);
    const w2 = g.param('w2', f32(hdn, v), { kind: 'zeros' }, span);
    const h = g.add({ op: 'unary', fn: 'gelu' }, [g.add({ op: 'binary', fn: 'add' }, [g.add({ op: 'contract', over: [i] }, [x, w1]), b1])]);
    const logits = g.add({ op: 'contract', over: [hdn] }, [h, w2]);
    const loss = g.add({ op: 'cross_entropy', axis: v }, [logits, t]);
    const grads = gradients(g, loss, [w1, b1, w2]);
    compare(g.graph, [loss, ...grads.values()]);
  });
});
