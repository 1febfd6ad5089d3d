/**
 * Every kernel kind the scheduler produces, run on the WebGPU adapter and compared with the
 * reference interpreter on the same graph and random inputs, at several shapes (including
 * sizes that are not multiples of workgroup or tile sizes).
 */
import { afterAll, describe, expect, it } from 'vitest';
import { GraphBuilder } from '../../src/ir/graph.js';
import type { Graph } from '../../src/ir/types.js';
import { gradients } from '../../src/ir/autodiff/index.js';
import { getTestDevice, releaseTestDevice } from '../helpers/webgpu.js';
import { compareWithInterpreter, type CompareOptions } from '../helpers/program.js';
import { Groups } from '../../src/codegen/buffers.js';
import { combineMaps } from '../../src/codegen/passes/combine-maps.js';
import { segmentUpdates } from '../../src/codegen/passes/segment-updates.js';
import { markCausalGemms } from '../../src/codegen/passes/causal-gemms.js';
import { planActivationCopies } from '../../src/codegen/passes/activation-copies.js';
import { registerBlocking, registerReadMode } from '../../src/codegen/wgsl/gemm.js';
import type { GemmKernel, Schedule } from '../../src/codegen/kernel-ir/types.js';
import { attentionScores, axes, causalAttention, causalSoftmax, crossEntropy, everyOpMap, f32, gatherScatter, gemmBiasGelu, gemmMaskedEpilogue, gemmStoredMap, globalNorm, layernorm, mlpGradients, optimizerUpdates, reductions, softmaxAndItsMap, span } from '../helpers/kernel-cases.js';

const gpu = await getTestDevice();
afterAll(releaseTestDevice);

const compare = (g: Graph, outputs: number[], opts: CompareOptions = {}) => compareWithInterpreter(gpu!, g, outputs, opts);

describe.runIf(gpu)('kernels vs the interpreter', () => {
  it('fuses an elementwise chain with broadcasting and renames into one map kernel', async () => {
    for (const [X, Y] of [[3, 5], [1, 1], [67, 13]]) {
      const [x, y, z] = axes(['x', X], ['y', Y], ['z', Y]);
      const b = new GraphBuilder();
      const a = b.param('a', f32(x, y), { kind: 'zeros' }, span);
      const c = b.param('c', f32(y), { kind: 'zeros' }, span);
      const d = b.param('d', f32(z, x), { kind: 'zeros' }, span);
      const dz = b.add({ op: 'rename', pairs: [[z, y]] }, [d]);
      const e = b.add({ op: 'binary', fn: 'mul' }, [c, b.add({ op: 'unary', fn: 'exp' }, [dz])]);
      const out = b.add({ op: 'unary', fn: 'tanh' }, [b.add({ op: 'binary', fn: 'add' }, [a, e])]);
      const r = await compare(b.graph, [out]);
      expect(r.kinds).toEqual(['map']);
    }
  });

  it('runs maps four elements at a time where the layout allows, every op kind included', async () => {
    // Last axis a multiple of 4 (vec4 path) and not (scalar path); a broadcast operand, a
    // transposed one (no vector read along the lane), positions, comparisons, casts, gathers.
    for (const [X, Y, vec] of [[3, 8, true], [5, 12, true], [1, 4, true], [4, 6, false]] as const) {
      const { b, outputs } = everyOpMap(X, Y);
      const r = await compare(b.graph, outputs, { seed: X * Y });
      expect(r.kinds).toEqual(['map']);
      expect(r.codes[0].includes('arena4(')).toBe(vec);
    }
  });

  it('runs independent maps over different axes as one dispatch (vec4, scalar and i32 parts)', async () => {
    const [x, y, z] = axes(['x', 3], ['y', 8], ['z', 5]);
    const b = new GraphBuilder();
    const a = b.param('a', f32(x, y), { kind: 'zeros' }, span);
    const c = b.param('c', f32(z), { kind: 'zeros' }, span);
    const m1 = b.add({ op: 'unary', fn: 'exp' }, [a]); // [x, y]: four at a time
    const m2 = b.add({ op: 'unary', fn: 'tanh' }, [c]); // [z]: one at a time
    const m3 = b.add({ op: 'compare', fn: 'gt' }, [c, b.constant(0)]); // i32 (bool) stores
    const r = await compare(b.graph, [m1, m2, m3], { transform: (s) => combineMaps(s, (v) => v, 8) });
    expect(r.kinds).toEqual(['maps']);
  });

  it('computes reductions (sum, mean, max) over one and two axes', async () => {
    // Last axes of 8 and 4: four outputs per invocation, read as vec4s.
    for (const [A, B, C] of [[3, 5, 7], [1, 1, 1], [2, 130, 3], [3, 5, 8], [2, 4, 4]]) {
      const { b, outputs } = reductions(A, B, C);
      await compare(b.graph, outputs);
    }
  });

  it('runs sibling reductions over the same axes as one kernel, but not one that reads another', async () => {
    for (const C of [7, 8]) await siblingReductions(C);
  });

  async function siblingReductions(C: number) {
    const [a, bb, c] = axes(['a', 3], ['b', 5], ['c', C]);
    const g = new GraphBuilder();
    const x = g.param('x', f32(a, bb, c), { kind: 'zeros' }, span);
    const y = g.param('y', f32(a, bb, c), { kind: 'zeros' }, span);
    const over = [a, bb];
    const s1 = g.add({ op: 'reduce', fn: 'sum', axes: over }, [x]);
    const s2 = g.add({ op: 'reduce', fn: 'max', axes: over }, [g.add({ op: 'binary', fn: 'mul' }, [y, x])]);
    const s3 = g.add({ op: 'reduce', fn: 'mean', axes: over }, [g.add({ op: 'unary', fn: 'exp' }, [y])]);
    // Reads s1: runs after it, in a kernel of its own.
    const s4 = g.add({ op: 'reduce', fn: 'sum', axes: over }, [g.add({ op: 'binary', fn: 'mul' }, [x, s1])]);
    // Reads s4's input region only: may join s4's kernel (s5 moves down to it).
    const s5 = g.add({ op: 'reduce', fn: 'sum', axes: over }, [g.add({ op: 'unary', fn: 'abs' }, [y])]);
    const r = await compare(g.graph, [s1, s2, s3, s4, s5]);
    expect(r.kinds).toEqual(['reduce', 'reduce']);
    expect(r.codes.every((code) => code.includes('vec4f(0.0)'))).toBe(C % 4 === 0);
  }

  it('moves a reduction down to a sibling that needs a later kernel, when nothing in between reads it', async () => {
    const [a, bb, c] = axes(['a', 3], ['b', 5], ['c', 8]);
    const g = new GraphBuilder();
    const x = g.param('x', f32(a, bb, c), { kind: 'zeros' }, span);
    const y = g.param('y', f32(a, bb, c), { kind: 'zeros' }, span);
    const r1 = g.add({ op: 'reduce', fn: 'sum', axes: [a, bb] }, [x]);
    const z = g.add({ op: 'softmax', axis: c }, [y]); // a kernel between the two
    const r2 = g.add({ op: 'reduce', fn: 'sum', axes: [a, bb] }, [g.add({ op: 'binary', fn: 'mul' }, [z, x])]);
    const r = await compare(g.graph, [r1, r2, z]);
    expect(r.kinds).toEqual(['softmax', 'reduce']);
  });

  it('computes a causally masked softmax in one kernel (mask and scale fused)', async () => {
    for (const [B, T] of [[2, 5], [3, 64], [1, 1]]) {
      const { b, outputs } = causalSoftmax(B, T);
      expect((await compare(b.graph, outputs)).kinds).toEqual(['softmax']);
    }
  });

  it('stores a map of a softmax (the cross-entropy gradient) from the softmax kernel', async () => {
    const { b, outputs } = softmaxAndItsMap(9);
    expect((await compare(b.graph, outputs)).kinds).toEqual(['softmax']);
  });

  it('computes cross-entropy against index targets', async () => {
    for (const [B, V] of [[4, 7], [33, 65]]) {
      const { b, outputs } = crossEntropy(B, V);
      expect((await compare(b.graph, outputs)).kinds).toEqual(['ce_rows', 'reduce']);
    }
  });

  it('gathers rows (fused into the consumer) and scatter-adds them back deterministically', async () => {
    // embed 6: one element per invocation; 8: four (vec4 reads of the values).
    for (const E of [6, 8]) {
      const { b, outputs } = gatherScatter(E);
      const r = await compare(b.graph, outputs);
      expect(r.kinds).toContain('scatter');
      expect(r.codes[r.kinds.indexOf('scatter')].includes('var acc = vec4f(0.0);')).toBe(E % 4 === 0);
    }
  });

  for (const variant of ['register', 'tiled'] as const) {
    it(`contracts with a fused epilogue (bias + gelu), ${variant} GEMM, odd shapes`, async () => {
      for (const [M, K, N] of [[37, 29, 23], [64, 64, 64], [1, 1, 1], [12, 128, 65]]) {
        const { b, outputs } = gemmBiasGelu(M, K, N);
        expect((await compare(b.graph, outputs, { variant })).kinds).toEqual(['gemm']);
      }
    });

    it(`contracts with a vector epilogue (residual, transposed operand, positions), ${variant} GEMM`, async () => {
      for (const [M, K, N] of [[16, 8, 32], [9, 5, 12]]) {
        const { b, outputs } = gemmMaskedEpilogue(M, K, N);
        const r = await compare(b.graph, outputs, { variant });
        expect(r.kinds).toEqual(['gemm']);
        if (variant === 'register' && N % 4 === 0) expect(r.codes[0]).toMatch(/arena4\(/);
      }
    });

    it(`stores a map of the GEMM's output (gelu next to the pre-activation) from its epilogue, ${variant} GEMM`, async () => {
      for (const [M, K, N] of [[16, 8, 32], [9, 5, 7]]) {
        const { b, outputs } = gemmStoredMap(M, K, N);
        expect((await compare(b.graph, outputs, { variant })).kinds).toEqual(['gemm', 'gemm', 'gemm']);
      }
    });

    it(`contracts attention-shaped operands through renames and a batch axis, ${variant} GEMM`, async () => {
      const { b, outputs } = attentionScores();
      await compare(b.graph, outputs, { variant });
    });
  }

  it('runs a layernorm as one row kernel', async () => {
    for (const [R, E] of [[6, 8], [65, 130], [1, 1], [3, 132]]) {
      const { b, outputs } = layernorm(R, E);
      const res = await compare(b.graph, outputs);
      expect(res.kinds).toEqual(['rows']);
      // The row's mean is reused from its local, and rsqrt(var + eps) is computed once per row, before the last loop.
      const bodies = res.codes[0].match(/for \(var[^{]*\{[^}]*\}/g)!;
      expect(bodies).toHaveLength(3);
      for (const body of bodies) expect(body).not.toMatch(/inverseSqrt/);
      expect(bodies[1]).toMatch(/\brow0\b/);
    }
  });

  it('computes a global norm from per-value sums of squares in one kernel', async () => {
    const { b, outputs } = globalNorm();
    expect((await compare(b.graph, outputs)).kinds).toEqual(['sum_squares', 'map']);
  });

  it('runs updates of tensors of several shapes as segmented kernels: one per body and elements per invocation', async () => {
    const { b, outputs: outs, updates } = optimizerUpdates();
    const r = await compare(b.graph, outs, { transform: (s) => segmentUpdates(s, updates, new Map(), 1024) });
    expect(r.kinds.filter((kind) => kind === 'map')).toEqual([]);
    expect(r.kinds.filter((kind) => kind === 'segmented').length).toBe(2);
    expect(r.codes.filter((c) => c.includes('arena4(')).length).toBe(1); // a, alone, one element per invocation
    // Every value is computed before any store, and the new parameter reads the new m from its local.
    for (const code of r.codes) {
      const firstStore = code.search(/\barena\[[^;]*\] = v\d/);
      expect(code.lastIndexOf('  let v')).toBeLessThan(firstStore);
      expect(code).toMatch(/let v1 = .*\bv0\b/);
    }
    // A table too small for all of one body's segments splits them over several dispatches.
    const small = await compare(b.graph, outs, { transform: (s) => segmentUpdates(s, updates, new Map(), 10) });
    expect(small.kinds.filter((kind) => kind === 'segmented').length).toBe(4);
  });

  it('skips the zero half of causal attention GEMMs (k loops stop or start at the row block), forward and backward', async () => {
    // seq 20: three row blocks of 8, so the loops really are cut short.
    const { b, outputs } = causalAttention(20);
    let planned: Schedule | undefined;
    await compare(b.graph, outputs, {
      transform: (sc) => {
        markCausalGemms(sc, b.graph);
        planned = sc;
        return sc;
      },
    });
    // p·v and dq = ds·k stop at the block's last row; dv = pᵀ·do and dk = dsᵀ·q start at its first.
    const causal = planned!.kernels.flatMap((k) => (k.kind === 'gemm' ? [registerBlocking(k).causal] : []));
    expect(causal.filter((c) => c === 'le').length).toBe(2);
    expect(causal.filter((c) => c === 'ge').length).toBe(2);
  });

  for (const [d, n] of [[8, 12], [3, 8]] as const) {
    it(`reads kᵀ and vᵀ copies stored by the GEMMs that compute k and v, forward and backward (head ${d}, sequence ${n})`, async () => {
      const [bt, s, t, e, h, hd] = axes(['batch', 2], ['seq', n], ['key', n], ['embed', 8], ['heads', 2], ['head', d]);
      const g = new GraphBuilder();
      const x = g.param('x', f32(bt, s, e), { kind: 'zeros' }, span);
      const [wq, wk, wv] = ['wq', 'wk', 'wv'].map((name) => g.param(name, f32(e, h, hd), { kind: 'zeros' }, span));
      const proj = (w: number) => g.add({ op: 'contract', over: [e] }, [x, w]);
      const q = proj(wq);
      const k = g.add({ op: 'rename', pairs: [[s, t]] }, [proj(wk)]);
      const v = g.add({ op: 'rename', pairs: [[s, t]] }, [proj(wv)]);
      const scores = g.add({ op: 'contract', over: [hd] }, [q, k]);
      const later = g.add({ op: 'compare', fn: 'gt' }, [g.add({ op: 'iota', axis: t }, []), g.add({ op: 'iota', axis: s }, [])]);
      const p = g.add({ op: 'softmax', axis: t }, [g.add({ op: 'where' }, [later, g.constant(-Infinity), scores])]);
      const o = g.add({ op: 'contract', over: [t] }, [p, v]);
      const loss = g.add({ op: 'reduce', fn: 'sum', axes: [bt, s, h, hd] }, [g.add({ op: 'binary', fn: 'mul' }, [o, o])]);
      const grads = gradients(g, loss, [x, wq, wk, wv]);
      let planned: Schedule | undefined;
      await compare(g.graph, [o, ...grads.values()], {
        transform: (sc) => {
          markCausalGemms(sc, g.graph);
          planActivationCopies(sc, new Groups(), new Set([x, wq, wk, wv]));
          planned = sc;
          return sc;
        },
      });
      // The scores and dp = dO·vᵀ (the GEMMs contracting `head` alone) read copies across key.
      const overHead = planned!.kernels.filter((kn): kn is GemmKernel => kn.kind === 'gemm' && kn.k.length === 1 && kn.k[0].id === hd.id);
      expect(overHead).toHaveLength(2);
      for (const kn of overHead) {
        expect(planned!.values.kind(kn.b.value)).toBe('relayout');
        expect(registerReadMode(kn)).toBe('cols');
      }
    });
  }

  it('runs the whole gradient graph of a two-layer MLP with cross-entropy', async () => {
    const { b, outputs } = mlpGradients();
    await compare(b.graph, outputs);
  });
});
