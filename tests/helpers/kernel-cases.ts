/**
 * The graphs that exercise each kernel kind, shared by the backends' kernel tests
 * (tests/webgpu/kernels.test.ts, tests/wasm/kernels.test.ts): each returns its builder (a test
 * may add to it) and the outputs to compare with the interpreter.
 */
import { GraphBuilder } from '../../src/ir/graph.js';
import { gradients } from '../../src/ir/autodiff/index.js';
import { AxisTable, type Axis, type TensorType } from '../../src/ir/types.js';

export const span = { file: 'test.mdl', line: 1, column: 1, endLine: 1, endColumn: 1, start: 0, end: 0 };
export const f32 = (...axes: Axis[]): TensorType => ({ dtype: 'f32', axes });

/** Fresh axes of these names and sizes. */
export function axes(...spec: [string, number][]): Axis[] {
  const t = new AxisTable();
  return spec.map(([n, s]) => t.create(n, s));
}

export interface KernelCase {
  b: GraphBuilder;
  outputs: number[];
}

/**
 * A map with every unary, binary, comparison and cast kind, broadcast and transposed operands,
 * positions and a gathered row ([X, Y]). `more`: also log, pow, integer casts and a gather
 * whose index varies along the innermost axis (summed into the map).
 */
export function everyOpMap(X: number, Y: number, more = false): KernelCase {
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
  let out = bin('add', bin('add', t1, t2), bin('add', t3, t4));
  if (more) {
    const idx2 = b.input('idx2', { dtype: 'i32', axes: [y], indexOf: v }, span);
    const col = b.add({ op: 'gather', axis: v }, [b.add({ op: 'rename', pairs: [[y, z]] }, [table]), idx2]);
    const t5 = bin('add', un('log', bin('add', un('abs', c), b.constant(0.1))), bin('pow', bin('add', un('abs', a), b.constant(0.5)), b.constant(1.5)));
    const t6 = bin('mul', un('neg', un('sqrt', un('abs', a))), b.add({ op: 'cast', to: 'f32' }, [b.add({ op: 'cast', to: 'i32' }, [bin('mul', a, b.constant(3))])]));
    const t7 = b.add({ op: 'reduce', fn: 'sum', axes: [z] }, [col]);
    out = bin('add', out, bin('add', bin('add', t5, t6), t7));
  }
  return { b, outputs: [out] };
}

/** Sum, mean and max over one and two axes of x[A, B, C]. */
export function reductions(A: number, B: number, C: number): KernelCase & { x: number; over: Axis[] } {
  const [a, bb, c] = axes(['a', A], ['b', B], ['c', C]);
  const b = new GraphBuilder();
  const x = b.param('x', f32(a, bb, c), { kind: 'zeros' }, span);
  const sq = b.add({ op: 'unary', fn: 'square' }, [x]);
  const s = b.add({ op: 'reduce', fn: 'sum', axes: [bb] }, [sq]);
  const m = b.add({ op: 'reduce', fn: 'mean', axes: [a, c] }, [x]);
  const mx = b.add({ op: 'reduce', fn: 'max', axes: [c] }, [x]);
  return { b, outputs: [s, m, mx], x, over: [a, bb] };
}

/** A causally masked, scaled softmax over key of s[batch B, seq T, key T]. */
export function causalSoftmax(B: number, T: number): KernelCase {
  const [bt, q, k] = axes(['batch', B], ['seq', T], ['key', T]);
  const b = new GraphBuilder();
  const s = b.param('s', f32(bt, q, k), { kind: 'zeros' }, span);
  const scaled = b.add({ op: 'binary', fn: 'div' }, [s, b.constant(4)]);
  const mask = b.add({ op: 'compare', fn: 'gt' }, [b.add({ op: 'iota', axis: k }, []), b.add({ op: 'iota', axis: q }, [])]);
  const masked = b.add({ op: 'where' }, [mask, b.constant(-Infinity), scaled]);
  return { b, outputs: [b.add({ op: 'softmax', axis: k }, [masked])] };
}

/** A softmax over V and a map of it (the cross-entropy gradient's form), batch 5. */
export function softmaxAndItsMap(V: number): KernelCase {
  const [bt, v] = axes(['batch', 5], ['vocab', V]);
  const b = new GraphBuilder();
  const logits = b.param('logits', f32(bt, v), { kind: 'zeros' }, span);
  const targets = b.input('targets', { dtype: 'i32', axes: [bt], indexOf: v }, span);
  const p = b.add({ op: 'softmax', axis: v }, [logits]);
  const onehot = b.add({ op: 'cast', to: 'f32' }, [b.add({ op: 'compare', fn: 'eq' }, [b.add({ op: 'iota', axis: v }, []), targets])]);
  const grad = b.add({ op: 'binary', fn: 'mul' }, [b.add({ op: 'binary', fn: 'sub' }, [p, onehot]), b.constant(0.2)]);
  return { b, outputs: [p, grad] };
}

/** Cross-entropy of logits[B, V] against index targets. */
export function crossEntropy(B: number, V: number): KernelCase {
  const [bt, v] = axes(['batch', B], ['vocab', V]);
  const b = new GraphBuilder();
  const logits = b.param('logits', f32(bt, v), { kind: 'zeros' }, span);
  const targets = b.input('targets', { dtype: 'i32', axes: [bt], indexOf: v }, span);
  return { b, outputs: [b.add({ op: 'cross_entropy', axis: v }, [logits, targets])] };
}

/** Rows of a table gathered by token (plus positions), and a map of them scatter-added back; embed E. */
export function gatherScatter(E: number): KernelCase {
  const [bt, s, v, e] = axes(['batch', 3], ['seq', 5], ['vocab', 4], ['embed', E]);
  const b = new GraphBuilder();
  const table = b.param('table', f32(v, e), { kind: 'zeros' }, span);
  const pos = b.param('pos', f32(s, e), { kind: 'zeros' }, span);
  const idx = b.input('tokens', { dtype: 'i32', axes: [bt, s], indexOf: v }, span);
  const x = b.add({ op: 'binary', fn: 'add' }, [b.add({ op: 'gather', axis: v }, [table, idx]), pos]);
  const back = b.add({ op: 'scatter_add', axis: v }, [b.add({ op: 'unary', fn: 'tanh' }, [x]), idx]);
  return { b, outputs: [x, back] };
}

/** gelu(x[M, K] · w[K, N] + bias). */
export function gemmBiasGelu(M: number, K: number, N: number): KernelCase {
  const [m, k, n] = axes(['m', M], ['k', K], ['n', N]);
  const b = new GraphBuilder();
  const x = b.param('x', f32(m, k), { kind: 'zeros' }, span);
  const w = b.param('w', f32(k, n), { kind: 'zeros' }, span);
  const bias = b.param('bias', f32(n), { kind: 'zeros' }, span);
  const y = b.add({ op: 'contract', over: [k] }, [x, w]);
  return { b, outputs: [b.add({ op: 'unary', fn: 'gelu' }, [b.add({ op: 'binary', fn: 'add' }, [y, bias])])] };
}

/** A GEMM whose epilogue reads a residual, a transposed operand and positions (a causal mask). */
export function gemmMaskedEpilogue(M: number, K: number, N: number): KernelCase {
  const [m, k, n, m2] = axes(['m', M], ['k', K], ['n', N], ['m2', M]);
  const b = new GraphBuilder();
  const x = b.param('x', f32(m, k), { kind: 'zeros' }, span);
  const w = b.param('w', f32(k, n), { kind: 'zeros' }, span);
  const res = b.param('res', f32(m, n), { kind: 'zeros' }, span);
  const tr = b.add({ op: 'rename', pairs: [[m2, m]] }, [b.param('tr', f32(n, m2), { kind: 'zeros' }, span)]);
  const y = b.add({ op: 'contract', over: [k] }, [x, w]);
  const causal = b.add({ op: 'compare', fn: 'gt' }, [b.add({ op: 'iota', axis: n }, []), b.add({ op: 'iota', axis: m }, [])]);
  const e = b.add({ op: 'binary', fn: 'add' }, [b.add({ op: 'unary', fn: 'gelu_grad' }, [y]), b.add({ op: 'binary', fn: 'mul' }, [res, tr])]);
  return { b, outputs: [b.add({ op: 'where' }, [causal, b.constant(0), e])] };
}

/** gelu of a GEMM's output next to its pre-activation, both read by later GEMMs (so both stored). */
export function gemmStoredMap(M: number, K: number, N: number): KernelCase {
  const [m, k, n, j] = axes(['m', M], ['k', K], ['n', N], ['j', 3]);
  const b = new GraphBuilder();
  const x = b.param('x', f32(m, k), { kind: 'zeros' }, span);
  const w = b.param('w', f32(k, n), { kind: 'zeros' }, span);
  const bias = b.param('bias', f32(n), { kind: 'zeros' }, span);
  const pre = b.add({ op: 'binary', fn: 'add' }, [b.add({ op: 'contract', over: [k] }, [x, w]), bias]);
  const h = b.add({ op: 'unary', fn: 'gelu' }, [pre]);
  const v = b.param('v', f32(n, j), { kind: 'zeros' }, span);
  const u = b.param('u', f32(m, j), { kind: 'zeros' }, span);
  const y1 = b.add({ op: 'contract', over: [n] }, [h, v]);
  const y2 = b.add({ op: 'contract', over: [m] }, [pre, u]);
  return { b, outputs: [y1, y2, h, pre] };
}

/** Attention scores: q[batch, seq, heads, head] · k renamed to key, over head, scaled. */
export function attentionScores(): KernelCase {
  const [bt, q, hd, h, kk] = axes(['batch', 2], ['seq', 9], ['head', 8], ['heads', 3], ['key', 9]);
  const b = new GraphBuilder();
  const Q = b.param('q', f32(bt, q, h, hd), { kind: 'zeros' }, span);
  const K = b.param('k', f32(bt, q, h, hd), { kind: 'zeros' }, span);
  const s = b.add({ op: 'contract', over: [hd] }, [Q, b.add({ op: 'rename', pairs: [[q, kk]] }, [K])]);
  return { b, outputs: [b.add({ op: 'binary', fn: 'mul' }, [s, b.constant(0.35)])] };
}

/** Causal attention over a sequence of S (head 8, batch 2), and the gradients of a loss of it with respect to q, k and v. */
export function causalAttention(S: number): KernelCase {
  const [bt, s, t, d] = axes(['batch', 2], ['seq', S], ['key', S], ['d', 8]);
  const b = new GraphBuilder();
  const q = b.param('q', f32(bt, s, d), { kind: 'zeros' }, span);
  const k = b.param('k', f32(bt, t, d), { kind: 'zeros' }, span);
  const v = b.param('v', f32(bt, t, d), { kind: 'zeros' }, span);
  const scores = b.add({ op: 'contract', over: [d] }, [q, k]);
  const later = b.add({ op: 'compare', fn: 'gt' }, [b.add({ op: 'iota', axis: t }, []), b.add({ op: 'iota', axis: s }, [])]);
  const p = b.add({ op: 'softmax', axis: t }, [b.add({ op: 'where' }, [later, b.constant(-Infinity), scores])]);
  const o = b.add({ op: 'contract', over: [t] }, [p, v]);
  const loss = b.add({ op: 'reduce', fn: 'sum', axes: [bt, s, d] }, [b.add({ op: 'binary', fn: 'mul' }, [o, o])]);
  return { b, outputs: [o, ...gradients(b, loss, [q, k, v]).values()] };
}

/** A layernorm of x[R, E] with a gain, and the row's mean. */
export function layernorm(R: number, E: number): KernelCase {
  const [r, e] = axes(['rows', R], ['embed', E]);
  const b = new GraphBuilder();
  const x = b.param('x', f32(r, e), { kind: 'zeros' }, span);
  const gain = b.param('g', f32(e), { kind: 'zeros' }, span);
  const mu = b.add({ op: 'reduce', fn: 'mean', axes: [e] }, [x]);
  const d = b.add({ op: 'binary', fn: 'sub' }, [x, mu]);
  const v = b.add({ op: 'reduce', fn: 'mean', axes: [e] }, [b.add({ op: 'unary', fn: 'square' }, [d])]);
  const y = b.add({ op: 'binary', fn: 'mul' }, [b.add({ op: 'binary', fn: 'mul' }, [d, b.add({ op: 'unary', fn: 'rsqrt' }, [b.add({ op: 'binary', fn: 'add' }, [v, b.constant(1e-5)])])]), gain]);
  return { b, outputs: [y, mu] };
}

/** The global norm of three values of odd sizes: sqrt of the sum of their sums of squares. */
export function globalNorm(): KernelCase {
  const [x, y, z] = axes(['x', 37], ['y', 5], ['z', 130]);
  const b = new GraphBuilder();
  const vals = [b.param('a', f32(x, y), { kind: 'zeros' }, span), b.param('b', f32(z), { kind: 'zeros' }, span), b.param('c', f32(y, z), { kind: 'zeros' }, span)];
  let sum = b.constant(0);
  for (const v of vals) {
    const sq = b.add({ op: 'unary', fn: 'square' }, [v]);
    sum = b.add({ op: 'binary', fn: 'add' }, [sum, b.add({ op: 'reduce', fn: 'sum', axes: b.type(sq).axes }, [sq])]);
  }
  return { b, outputs: [b.add({ op: 'unary', fn: 'sqrt' }, [sum])] };
}

/**
 * Optimizer-like updates (a moment and a parameter each) of tensors of several shapes, with
 * the `updates` segmentUpdates takes; `big`: also one of 9,000 elements.
 */
export function optimizerUpdates(big = false): KernelCase & { updates: { axes: readonly Axis[]; values: number[] }[] } {
  const [x, y, z, w, large] = axes(['x', 3], ['y', 5], ['z', 4], ['w', 8], ['big', 9000]);
  const b = new GraphBuilder();
  const lr = b.input('lr', f32(), span);
  const k = (v: number) => b.constant(v);
  const bin = (fn: 'add' | 'sub' | 'mul' | 'div', l: number, r: number) => b.add({ op: 'binary', fn }, [l, r]);
  const shapes = [
    { name: 'a', axes: [x, y], wd: 0.1 }, // 15 elements: one at a time
    { name: 'b', axes: [w, z], wd: 0 },
    { name: 'c', axes: [w], wd: 0.01 },
    { name: 'd', axes: [z, x], wd: 0.5 },
    ...(big ? [{ name: 'e', axes: [large], wd: 0.2 }] : []),
  ];
  const updates = shapes.map(({ name, axes: ax, wd }) => {
    const t = f32(...ax);
    const p = b.param(name, t, { kind: 'zeros' }, span);
    const grad = b.input(`g.${name}`, t, span);
    const m = b.input(`m.${name}`, t, span);
    const newM = bin('add', bin('mul', k(0.9), m), bin('mul', k(0.1), grad));
    const step = bin('div', newM, bin('add', b.add({ op: 'unary', fn: 'sqrt' }, [b.add({ op: 'unary', fn: 'square' }, [grad])]), k(1e-3)));
    const newP = bin('sub', bin('mul', p, bin('sub', k(1), bin('mul', lr, k(wd)))), bin('mul', lr, step));
    return { axes: t.axes, values: [newM, newP] };
  });
  return { b, outputs: updates.flatMap((u) => u.values), updates };
}

/** A two-layer MLP with cross-entropy: the loss and the gradients of every parameter. */
export function mlpGradients(): KernelCase {
  const [bt, i, hdn, v] = axes(['batch', 5], ['in', 7], ['hidden', 11], ['vocab', 6]);
  const b = new GraphBuilder();
  const x = b.input('x', f32(bt, i), span);
  const t = b.input('t', { dtype: 'i32', axes: [bt], indexOf: v }, span);
  const w1 = b.param('w1', f32(i, hdn), { kind: 'zeros' }, span);
  const b1 = b.param('b1', f32(hdn), { kind: 'zeros' }, span);
  const w2 = b.param('w2', f32(hdn, v), { kind: 'zeros' }, span);
  const h = b.add({ op: 'unary', fn: 'gelu' }, [b.add({ op: 'binary', fn: 'add' }, [b.add({ op: 'contract', over: [i] }, [x, w1]), b1])]);
  const logits = b.add({ op: 'contract', over: [hdn] }, [h, w2]);
  const loss = b.add({ op: 'cross_entropy', axis: v }, [logits, t]);
  return { b, outputs: [loss, ...gradients(b, loss, [w1, b1, w2]).values()] };
}
