/**
 * Every kernel kind the scheduler produces, rendered to WebAssembly and compared with the
 * reference interpreter on the same graph and random inputs, at sizes that are not multiples
 * of the SIMD width (4), the GEMM tiles (4 × 8) or the work items; each run with its dispatches
 * split for 1 and for 3 threads, which must agree bit for bit.
 */
import { describe, expect, it } from 'vitest';
import { GraphBuilder } from '../../src/ir/graph.js';
import type { Graph, TensorType } from '../../src/ir/types.js';
import { interpret, tensor, makeRng, type Tensor } from '../../src/ir/interpret/index.js';
import { maxRelError } from '../helpers/program.js';
import { runOnWasm, type WasmRun } from '../helpers/wasm.js';
import { combineMaps } from '../../src/codegen/passes/combine-maps.js';
import { segmentUpdates } from '../../src/codegen/passes/segment-updates.js';
import { markCausalGemms } from '../../src/codegen/passes/causal-gemms.js';
import { planGemm, type GemmTuning } from '../../src/codegen/wasm/gemm.js';
import type { GemmKernel, Schedule } from '../../src/codegen/kernel-ir/types.js';
import { attentionScores, axes, causalAttention, causalSoftmax, crossEntropy, everyOpMap, f32, gatherScatter, gemmBiasGelu, gemmMaskedEpilogue, gemmStoredMap, globalNorm, layernorm, mlpGradients, optimizerUpdates, reductions, softmaxAndItsMap, span } from '../helpers/kernel-cases.js';

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

describe('wasm kernels vs the interpreter', () => {
  it('runs a map with every op kind, four lanes at a time and one at a time', () => {
    for (const [X, Y] of [[3, 8], [5, 13], [1, 4], [4, 6], [2, 3], [1, 1], [40, 130]]) {
      const { b, outputs } = everyOpMap(X, Y, true);
      compare(b.graph, outputs, { seed: X * Y });
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
      const { b: g, outputs, x, over } = reductions(A, B, C);
      const y = g.param('y', g.type(x), { kind: 'zeros' }, span);
      const s1 = g.add({ op: 'reduce', fn: 'sum', axes: over }, [x]);
      const s2 = g.add({ op: 'reduce', fn: 'max', axes: over }, [g.add({ op: 'binary', fn: 'mul' }, [y, x])]);
      const s3 = g.add({ op: 'reduce', fn: 'mean', axes: over }, [g.add({ op: 'unary', fn: 'exp' }, [y])]);
      compare(g.graph, [...outputs, s1, s2, s3]);
    }
  });

  it('computes a causally masked softmax, and a map of it from the same kernel', () => {
    for (const [B, T] of [[2, 5], [3, 64], [1, 1], [2, 12]]) {
      const { b, outputs } = causalSoftmax(B, T);
      expect(compare(b.graph, outputs).kinds).toEqual(['softmax']);
    }
    for (const V of [9, 12]) {
      const { b, outputs } = softmaxAndItsMap(V);
      expect(compare(b.graph, outputs).kinds).toEqual(['softmax']);
    }
  });

  it('computes cross-entropy against index targets', () => {
    for (const [B, V] of [[4, 7], [33, 65], [3, 8]]) {
      const { b, outputs } = crossEntropy(B, V);
      expect(compare(b.graph, outputs).kinds).toEqual(['ce_rows', 'reduce']);
    }
  });

  it('gathers rows (fused into the consumer) and scatter-adds them back deterministically', () => {
    for (const E of [6, 8, 1]) {
      const { b, outputs } = gatherScatter(E);
      expect(compare(b.graph, outputs).kinds).toContain('scatter');
    }
  });

  const tunings: GemmTuning[] = [{}, { mr: 4, nr: 12 }, { mr: 3, nr: 8, rowBlock: 6 }, { swap: true }, { mr: 1, nr: 4 }];
  it('contracts with a fused epilogue (bias + gelu) at odd shapes, every blocking', () => {
    for (const tuning of tunings) {
      for (const [M, K, N] of [[37, 29, 23], [64, 64, 64], [1, 1, 1], [12, 128, 65], [5, 3, 8]]) {
        const { b, outputs } = gemmBiasGelu(M, K, N);
        expect(compare(b.graph, outputs, { tuning }).kinds).toEqual(['gemm']);
      }
    }
  });

  it('contracts with an epilogue over positions and a transposed operand, and stores a map of its output', () => {
    for (const tuning of tunings) {
      for (const [M, K, N] of [[16, 8, 32], [9, 5, 12], [9, 5, 7]]) {
        for (const { b, outputs } of [gemmMaskedEpilogue(M, K, N), gemmStoredMap(M, K, N)]) compare(b.graph, outputs, { tuning });
      }
    }
  });

  it('contracts attention-shaped operands through renames and a batch axis', () => {
    for (const tuning of tunings) {
      const { b, outputs } = attentionScores();
      compare(b.graph, outputs, { tuning });
    }
  });

  it('skips the zero half of causal attention GEMMs, forward and backward', () => {
    for (const tuning of tunings) {
      const { b, outputs } = causalAttention(21);
      let planned: Schedule | undefined;
      compare(b.graph, outputs, {
        tuning,
        transform: (sc) => {
          markCausalGemms(sc, b.graph);
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
      const { b, outputs } = layernorm(R, E);
      expect(compare(b.graph, outputs).kinds).toEqual(['rows']);
    }
  });

  it('computes a global norm from per-value sums of squares in one kernel', () => {
    const { b, outputs } = globalNorm();
    expect(compare(b.graph, outputs).kinds).toEqual(['sum_squares', 'map']);
  });

  it('runs updates of tensors of several shapes as segmented kernels, one element or four at a time', () => {
    // The 9,000-element tensor takes several work items.
    const { b, outputs, updates } = optimizerUpdates(true);
    const r = compare(b.graph, outputs, { transform: (s) => segmentUpdates(s, updates, new Map(), 1024) });
    expect(r.kinds.filter((kind) => kind === 'map')).toEqual([]);
    expect(r.kinds.filter((kind) => kind === 'segmented').length).toBe(2);
    expect(Math.max(...r.items)).toBeGreaterThan(3);
  });

  it('runs the whole gradient graph of a two-layer MLP with cross-entropy', () => {
    const { b, outputs } = mlpGradients();
    compare(b.graph, outputs);
  });

});
