/**
 * Every kernel kind the scheduler produces, run on the WebGPU adapter and compared with the
 * reference interpreter on the same graph and random inputs, at several shapes (including
 * sizes that are not multiples of workgroup or tile sizes).
 */
import { afterAll, describe, expect, it } from 'vitest';
import { GraphBuilder } from '../../src/ir/graph.js';
import { AxisTable, type Axis, type Graph, type TensorType } from '../../src/ir/types.js';
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

const gpu = await getTestDevice();
afterAll(releaseTestDevice);

const f32 = (...axes: Axis[]): TensorType => ({ dtype: 'f32', axes });

const span = { file: 'test.mdl', line: 1, column: 1, endLine: 1, endColumn: 1, start: 0, end: 0 };

const compare = (g: Graph, outputs: number[], opts: CompareOptions = {}) => compareWithInterpreter(gpu!, g, outputs, opts);

function axes(...spec: [string, number][]): Axis[] {
  const t = new AxisTable();
  return spec.map(([n, s]) => t.create(n, s));
}

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
      const [x, y, z, v] = axes(['x', X], ['y', Y], ['z', Y], ['v', 5]);
      const b = new GraphBuilder();
      const a = b.param('a', f32(x, y), { kind: 'zeros' }, span);
      const c = b.param('c', f32(y), { kind: 'zeros' }, span);
      const d = b.param('d', f32(z, x), { kind: 'zeros' }, span);
      const table = b.param('table', f32(v, y), { kind: 'zeros' }, span);
      const idx = b.input('idx', { dtype: 'i32', axes: [x], indexOf: v }, span);
      const un = (fn: string, t: number) => b.add({ op: 'unary', fn } as never, [t]);
      const bin = (fn: string, l: number, r: number) => b.add({ op: 'binary', fn } as never, [l, r]);
      const dz = b.add({ op: 'rename', pairs: [[z, y]] }, [d]);
      const later = b.add({ op: 'compare', fn: 'gt' }, [b.add({ op: 'iota', axis: y }, []), b.add({ op: 'iota', axis: x }, [])]);
      const pos = b.add({ op: 'cast', to: 'f32' }, [b.add({ op: 'iota', axis: y }, [])]);
      const row = b.add({ op: 'gather', axis: v }, [table, idx]);
      const t1 = bin('add', bin('mul', un('gelu', a), c), un('tanh', dz));
      const t2 = bin('sub', un('gelu_grad', a), bin('div', un('sigmoid', c), bin('add', un('square', a), b.constant(1))));
      const t3 = bin('max', bin('mul', un('relu', dz), un('step', a)), bin('min', pos, un('exp', c)));
      const t4 = b.add({ op: 'where' }, [later, row, un('rsqrt', bin('add', un('abs', a), b.constant(0.5)))]);
      const out = bin('add', bin('add', t1, t2), bin('add', t3, t4));
      const r = await compare(b.graph, [out], { seed: X * Y });
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
      const [a, bb, c] = axes(['a', A], ['b', B], ['c', C]);
      const g = new GraphBuilder();
      const x = g.param('x', f32(a, bb, c), { kind: 'zeros' }, span);
      const sq = g.add({ op: 'unary', fn: 'square' }, [x]);
      const s = g.add({ op: 'reduce', fn: 'sum', axes: [bb] }, [sq]);
      const m = g.add({ op: 'reduce', fn: 'mean', axes: [a, c] }, [x]);
      const mx = g.add({ op: 'reduce', fn: 'max', axes: [c] }, [x]);
      await compare(g.graph, [s, m, mx]);
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
      const [bt, q, k] = axes(['batch', B], ['seq', T], ['key', T]);
      const g = new GraphBuilder();
      const s = g.param('s', f32(bt, q, k), { kind: 'zeros' }, span);
      const scaled = g.add({ op: 'binary', fn: 'div' }, [s, g.constant(4)]);
      const mask = g.add({ op: 'compare', fn: 'gt' }, [g.add({ op: 'iota', axis: k }, []), g.add({ op: 'iota', axis: q }, [])]);
      const masked = g.add({ op: 'where' }, [mask, g.constant(-Infinity), scaled]);
      const p = g.add({ op: 'softmax', axis: k }, [masked]);
      const r = await compare(g.graph, [p]);
      expect(r.kinds).toEqual(['softmax']);
    }
  });

  it('stores a map of a softmax (the cross-entropy gradient) from the softmax kernel', async () => {
    const [bt, v] = axes(['batch', 5], ['vocab', 9]);
    const g = new GraphBuilder();
    const logits = g.param('logits', f32(bt, v), { kind: 'zeros' }, span);
    const targets = g.input('targets', { dtype: 'i32', axes: [bt], indexOf: v }, span);
    const p = g.add({ op: 'softmax', axis: v }, [logits]);
    const onehot = g.add({ op: 'cast', to: 'f32' }, [g.add({ op: 'compare', fn: 'eq' }, [g.add({ op: 'iota', axis: v }, []), targets])]);
    const grad = g.add({ op: 'binary', fn: 'mul' }, [g.add({ op: 'binary', fn: 'sub' }, [p, onehot]), g.constant(0.2)]);
    const r = await compare(g.graph, [p, grad]);
    expect(r.kinds).toEqual(['softmax']);
  });

  it('computes cross-entropy against index targets', async () => {
    for (const [B, V] of [[4, 7], [33, 65]]) {
      const [bt, v] = axes(['batch', B], ['vocab', V]);
      const g = new GraphBuilder();
      const logits = g.param('logits', f32(bt, v), { kind: 'zeros' }, span);
      const targets = g.input('targets', { dtype: 'i32', axes: [bt], indexOf: v }, span);
      const loss = g.add({ op: 'cross_entropy', axis: v }, [logits, targets]);
      const r = await compare(g.graph, [loss]);
      expect(r.kinds).toEqual(['ce_rows', 'reduce']);
    }
  });

  it('gathers rows (fused into the consumer) and scatter-adds them back deterministically', async () => {
    // embed 6: one element per invocation; 8: four (vec4 reads of the values).
    for (const E of [6, 8]) {
      const [bt, s, v, e] = axes(['batch', 3], ['seq', 5], ['vocab', 4], ['embed', E]);
      const g = new GraphBuilder();
      const table = g.param('table', f32(v, e), { kind: 'zeros' }, span);
      const pos = g.param('pos', f32(s, e), { kind: 'zeros' }, span);
      const idx = g.input('tokens', { dtype: 'i32', axes: [bt, s], indexOf: v }, span);
      const x = g.add({ op: 'binary', fn: 'add' }, [g.add({ op: 'gather', axis: v }, [table, idx]), pos]);
      const back = g.add({ op: 'scatter_add', axis: v }, [g.add({ op: 'unary', fn: 'tanh' }, [x]), idx]);
      const r = await compare(g.graph, [x, back]);
      expect(r.kinds).toContain('scatter');
      expect(r.codes[r.kinds.indexOf('scatter')].includes('var acc = vec4f(0.0);')).toBe(E % 4 === 0);
    }
  });

  for (const variant of ['register', 'tiled'] as const) {
    it(`contracts with a fused epilogue (bias + gelu), ${variant} GEMM, odd shapes`, async () => {
      for (const [M, K, N] of [[37, 29, 23], [64, 64, 64], [1, 1, 1], [12, 128, 65]]) {
        const [m, k, n] = axes(['m', M], ['k', K], ['n', N]);
        const g = new GraphBuilder();
        const x = g.param('x', f32(m, k), { kind: 'zeros' }, span);
        const w = g.param('w', f32(k, n), { kind: 'zeros' }, span);
        const bias = g.param('bias', f32(n), { kind: 'zeros' }, span);
        const y = g.add({ op: 'contract', over: [k] }, [x, w]);
        const h = g.add({ op: 'unary', fn: 'gelu' }, [g.add({ op: 'binary', fn: 'add' }, [y, bias])]);
        const r = await compare(g.graph, [h], { variant });
        expect(r.kinds).toEqual(['gemm']);
      }
    });

    it(`contracts with a vector epilogue (residual, transposed operand, positions), ${variant} GEMM`, async () => {
      for (const [M, K, N] of [[16, 8, 32], [9, 5, 12]]) {
        const [m, k, n, m2] = axes(['m', M], ['k', K], ['n', N], ['m2', M]);
        const g = new GraphBuilder();
        const x = g.param('x', f32(m, k), { kind: 'zeros' }, span);
        const w = g.param('w', f32(k, n), { kind: 'zeros' }, span);
        const res = g.param('res', f32(m, n), { kind: 'zeros' }, span);
        const tr = g.add({ op: 'rename', pairs: [[m2, m]] }, [g.param('tr', f32(n, m2), { kind: 'zeros' }, span)]);
        const y = g.add({ op: 'contract', over: [k] }, [x, w]);
        const causal = g.add({ op: 'compare', fn: 'gt' }, [g.add({ op: 'iota', axis: n }, []), g.add({ op: 'iota', axis: m }, [])]);
        const e = g.add({ op: 'binary', fn: 'add' }, [g.add({ op: 'unary', fn: 'gelu_grad' }, [y]), g.add({ op: 'binary', fn: 'mul' }, [res, tr])]);
        const out = g.add({ op: 'where' }, [causal, g.constant(0), e]);
        const r = await compare(g.graph, [out], { variant });
        expect(r.kinds).toEqual(['gemm']);
        if (variant === 'register' && N % 4 === 0) expect(r.codes[0]).toMatch(/arena4\(/);
      }
    });

    it(`stores a map of the GEMM's output (gelu next to the pre-activation) from its epilogue, ${variant} GEMM`, async () => {
      for (const [M, K, N] of [[16, 8, 32], [9, 5, 7]]) {
        const [m, k, n, j] = axes(['m', M], ['k', K], ['n', N], ['j', 3]);
        const g = new GraphBuilder();
        const x = g.param('x', f32(m, k), { kind: 'zeros' }, span);
        const w = g.param('w', f32(k, n), { kind: 'zeros' }, span);
        const bias = g.param('bias', f32(n), { kind: 'zeros' }, span);
        const pre = g.add({ op: 'binary', fn: 'add' }, [g.add({ op: 'contract', over: [k] }, [x, w]), bias]);
        const h = g.add({ op: 'unary', fn: 'gelu' }, [pre]);
        // Both are read by other kernels (as contraction operands): both are stored.
        const v = g.param('v', f32(n, j), { kind: 'zeros' }, span);
        const u = g.param('u', f32(m, j), { kind: 'zeros' }, span);
        const y1 = g.add({ op: 'contract', over: [n] }, [h, v]);
        const y2 = g.add({ op: 'contract', over: [m] }, [pre, u]);
        const r = await compare(g.graph, [y1, y2, h, pre], { variant });
        expect(r.kinds).toEqual(['gemm', 'gemm', 'gemm']);
      }
    });

    it(`contracts attention-shaped operands through renames and a batch axis, ${variant} GEMM`, async () => {
      const [bt, q, hd, h, kk] = axes(['batch', 2], ['seq', 9], ['head', 8], ['heads', 3], ['key', 9]);
      const g = new GraphBuilder();
      const Q = g.param('q', f32(bt, q, h, hd), { kind: 'zeros' }, span);
      const K = g.param('k', f32(bt, q, h, hd), { kind: 'zeros' }, span);
      const Kr = g.add({ op: 'rename', pairs: [[q, kk]] }, [K]);
      const s = g.add({ op: 'contract', over: [hd] }, [Q, Kr]);
      const scaled = g.add({ op: 'binary', fn: 'mul' }, [s, g.constant(0.35)]);
      await compare(g.graph, [scaled], { variant });
    });
  }

  it('runs a layernorm as one row kernel', async () => {
    for (const [R, E] of [[6, 8], [65, 130], [1, 1], [3, 132]]) {
      const [r, e] = axes(['rows', R], ['embed', E]);
      const g = new GraphBuilder();
      const x = g.param('x', f32(r, e), { kind: 'zeros' }, span);
      const gain = g.param('g', f32(e), { kind: 'zeros' }, span);
      const mu = g.add({ op: 'reduce', fn: 'mean', axes: [e] }, [x]);
      const d = g.add({ op: 'binary', fn: 'sub' }, [x, mu]);
      const v = g.add({ op: 'reduce', fn: 'mean', axes: [e] }, [g.add({ op: 'unary', fn: 'square' }, [d])]);
      const y = g.add({ op: 'binary', fn: 'mul' }, [g.add({ op: 'binary', fn: 'mul' }, [d, g.add({ op: 'unary', fn: 'rsqrt' }, [g.add({ op: 'binary', fn: 'add' }, [v, g.constant(1e-5)])])]), gain]);
      const res = await compare(g.graph, [y, mu]);
      expect(res.kinds).toEqual(['rows']);
      // The row's mean is reused from its local, and rsqrt(var + eps) is computed once per row, before the last loop.
      const bodies = res.codes[0].match(/for \(var[^{]*\{[^}]*\}/g)!;
      expect(bodies).toHaveLength(3);
      for (const b of bodies) expect(b).not.toMatch(/inverseSqrt/);
      expect(bodies[1]).toMatch(/\brow0\b/);
    }
  });

  it('computes a global norm from per-value sums of squares in one kernel', async () => {
    const [x, y, z] = axes(['x', 37], ['y', 5], ['z', 130]);
    const g = new GraphBuilder();
    const vals = [g.param('a', f32(x, y), { kind: 'zeros' }, span), g.param('b', f32(z), { kind: 'zeros' }, span), g.param('c', f32(y, z), { kind: 'zeros' }, span)];
    let sum = g.constant(0);
    for (const v of vals) {
      const sq = g.add({ op: 'unary', fn: 'square' }, [v]);
      sum = g.add({ op: 'binary', fn: 'add' }, [sum, g.add({ op: 'reduce', fn: 'sum', axes: g.type(sq).axes }, [sq])]);
    }
    const norm = g.add({ op: 'unary', fn: 'sqrt' }, [sum]);
    const r = await compare(g.graph, [norm]);
    expect(r.kinds).toEqual(['sum_squares', 'map']);
  });

  it('runs updates of tensors of several shapes as segmented kernels: one per body and elements per invocation', async () => {
    const [x, y, z, w] = axes(['x', 3], ['y', 5], ['z', 4], ['w', 8]);
    const g = new GraphBuilder();
    const lr = g.input('lr', f32(), span);
    const k = (v: number) => g.constant(v);
    const bin = (fn: 'add' | 'sub' | 'mul' | 'div', a: number, b: number) => g.add({ op: 'binary', fn }, [a, b]);
    const updates = [
      { name: 'a', axes: [x, y], wd: 0.1 }, // 15 elements: one per invocation
      { name: 'b', axes: [w, z], wd: 0 },
      { name: 'c', axes: [w], wd: 0.01 },
      { name: 'd', axes: [z, x], wd: 0.5 },
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
    const r = await compare(g.graph, outs, { transform: (s) => segmentUpdates(s, updates, new Map(), 1024) });
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
    const small = await compare(g.graph, outs, { transform: (s) => segmentUpdates(s, updates, new Map(), 10) });
    expect(small.kinds.filter((kind) => kind === 'segmented').length).toBe(4);
  });

  it('skips the zero half of causal attention GEMMs (k loops stop or start at the row block), forward and backward', async () => {
    // seq 20: three row blocks of 8, so the loops really are cut short.
    const [bt, s, t, d] = axes(['batch', 2], ['seq', 20], ['key', 20], ['d', 8]);
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
    await compare(g.graph, [o, ...grads.values()], {
      transform: (sc) => {
        markCausalGemms(sc, g.graph);
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
    await compare(g.graph, [loss, ...grads.values()]);
  });
});
