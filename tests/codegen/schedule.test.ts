/**
 * Scheduler and buffer planner, without a device: which nodes fuse into which kernels, and
 * that no live regions overlap.
 */
import { describe, expect, it } from 'vitest';
import { GraphBuilder } from '../../src/ir/graph.js';
import type { Axis } from '../../src/ir/types.js';
import { RECOMPUTE_COST } from '../../src/codegen/passes/lower.js';
import { schedule } from '../../src/codegen/passes/index.js';
import { planBuffers, resolveOffsets, ALIGN } from '../../src/codegen/buffers.js';
import { accessesOf } from '../../src/codegen/kernel-ir/kernel.js';
import { ValueTable } from '../../src/codegen/kernel-ir/ids.js';
import type { Kernel } from '../../src/codegen/kernel-ir/types.js';
import { f32Literal, emitExpr } from '../../src/codegen/wgsl/expr.js';
import { compileFile } from '../../src/driver/index.js';
import { buildTrainStep } from '../../src/ir/optimizer/index.js';
import { segmentUpdates } from '../../src/codegen/passes/segment-updates.js';
import { axes, f32, layernorm, span } from '../helpers/kernel-cases.js';


describe('schedule', () => {
  it('inlines single-use elementwise producers and keeps views free', () => {
    const [x, y, z] = axes(['x', 3], ['y', 4], ['z', 4]);
    const b = new GraphBuilder();
    const a = b.param('a', f32(x, y), { kind: 'zeros' }, span);
    const c = b.param('c', f32(z), { kind: 'zeros' }, span);
    const cz = b.add({ op: 'rename', pairs: [[z, y]] }, [c]);
    const out = b.add({ op: 'unary', fn: 'exp' }, [b.add({ op: 'binary', fn: 'add' }, [a, cz])]);
    const s = schedule(b.graph, { outputs: [out] });
    expect(s.kernels.map((k) => k.kind)).toEqual(['map']);
    // The rename is a stride: `c` is read at the position of axis y.
    const loads = accessesOf(s.kernels[0]).filter((acc) => acc.value === c);
    expect([...loads[0].strides.keys()]).toEqual([y.id]);
  });

  it('materialises a costly value used by two kernels once, and recomputes a cheap one in each', () => {
    const [x] = axes(['x', 5]);
    const b = new GraphBuilder();
    const a = b.param('a', f32(x), { kind: 'zeros' }, span);
    // gelu(a) * exp(a): cost 11, over RECOMPUTE_COST: stored once; the two reductions over the
    // same axes then share one kernel.
    const e = b.add({ op: 'unary', fn: 'exp' }, [a]);
    const costly = b.add({ op: 'binary', fn: 'mul' }, [e, b.add({ op: 'unary', fn: 'gelu' }, [a])]);
    const s1 = b.add({ op: 'reduce', fn: 'sum', axes: [x] }, [costly]);
    const s2 = b.add({ op: 'reduce', fn: 'max', axes: [x] }, [costly]);
    const stored = schedule(b.graph, { outputs: [s1, s2] });
    expect(stored.kernels.map((k) => k.kind)).toEqual(['map', 'reduce']);
    expect(stored.kernels[1].kind === 'reduce' && stored.kernels[1].siblings?.length).toBe(1);
    // exp(a) alone: cost 2, recomputed in the (shared) reduction.
    const s3 = b.add({ op: 'reduce', fn: 'sum', axes: [x] }, [e]);
    const s4 = b.add({ op: 'reduce', fn: 'max', axes: [x] }, [e]);
    const cheap = schedule(b.graph, { outputs: [s3, s4] });
    expect(cheap.kernels.map((k) => k.kind)).toEqual(['reduce']);
    expect(RECOMPUTE_COST).toBeGreaterThanOrEqual(2);
    expect(RECOMPUTE_COST).toBeLessThan(11);
  });

  it('merges a map into an earlier one over the same axes unless a kernel between them feeds it', () => {
    const [x, y] = axes(['x', 3], ['y', 4]);
    const b = new GraphBuilder();
    const a = b.param('a', f32(x, y), { kind: 'zeros' }, span);
    const c = b.param('c', f32(x, y), { kind: 'zeros' }, span);
    const m1 = b.add({ op: 'unary', fn: 'exp' }, [a]);
    // A kernel in between, unrelated to m2 (to a scalar: a row kernel would take m3 in below).
    const r = b.add({ op: 'reduce', fn: 'max', axes: [x, y] }, [c]);
    const m2 = b.add({ op: 'unary', fn: 'log' }, [c]);
    expect(schedule(b.graph, { outputs: [m1, r, m2] }).kernels.map((k) => k.kind)).toEqual(['map', 'reduce']);
    // m3 reads the reduction's output: it cannot move above it.
    const m3 = b.add({ op: 'binary', fn: 'mul' }, [m2, r]);
    expect(schedule(b.graph, { outputs: [m1, r, m3] }).kernels.map((k) => k.kind)).toEqual(['map', 'reduce', 'map']);
  });

  it('runs a layernorm (mean, centre, variance, normalise) as one row kernel', () => {
    const { b, outputs: [y] } = layernorm(6, 8);
    const s = schedule(b.graph, { outputs: [y] });
    expect(s.kernels.map((k) => k.kind)).toEqual(['rows']);
  });

  it('sums the squares of several whole values in one kernel (the gradient norm)', () => {
    const [x, y] = axes(['x', 5], ['y', 3]);
    const b = new GraphBuilder();
    const a = b.param('a', f32(x, y), { kind: 'zeros' }, span);
    const c = b.param('c', f32(y), { kind: 'zeros' }, span);
    const sq = (v: number, ax: Axis[]) => b.add({ op: 'reduce', fn: 'sum', axes: ax }, [b.add({ op: 'unary', fn: 'square' }, [v])]);
    const total = b.add({ op: 'unary', fn: 'sqrt' }, [b.add({ op: 'binary', fn: 'add' }, [sq(a, [x, y]), sq(c, [y])])]);
    const s = schedule(b.graph, { outputs: [total] });
    expect(s.kernels.map((k) => k.kind)).toEqual(['sum_squares', 'map']);
  });

  it('fuses scale, bias, GELU and a residual add into the GEMM epilogue', () => {
    const [m, k, n] = axes(['m', 8], ['k', 4], ['n', 4]);
    const b = new GraphBuilder();
    const x = b.param('x', f32(m, k), { kind: 'zeros' }, span);
    const w = b.param('w', f32(k, n), { kind: 'zeros' }, span);
    const bias = b.param('b', f32(n), { kind: 'zeros' }, span);
    const res = b.param('r', f32(m, n), { kind: 'zeros' }, span);
    const y = b.add({ op: 'contract', over: [k] }, [x, w]);
    const g = b.add({ op: 'unary', fn: 'gelu' }, [b.add({ op: 'binary', fn: 'add' }, [b.add({ op: 'binary', fn: 'mul' }, [y, b.constant(0.5)]), bias])]);
    const out = b.add({ op: 'binary', fn: 'add' }, [res, g]);
    const s = schedule(b.graph, { outputs: [out] });
    expect(s.kernels.map((kk) => kk.kind)).toEqual(['gemm']);
  });

  it('fuses a causal mask and a scale into the softmax prologue', () => {
    const [q, kk] = axes(['seq', 6], ['key', 6]);
    const b = new GraphBuilder();
    const sc = b.param('s', f32(q, kk), { kind: 'zeros' }, span);
    const mask = b.add({ op: 'compare', fn: 'gt' }, [b.add({ op: 'iota', axis: kk }, []), b.add({ op: 'iota', axis: q }, [])]);
    const p = b.add({ op: 'softmax', axis: kk }, [b.add({ op: 'where' }, [mask, b.constant(-Infinity), b.add({ op: 'binary', fn: 'div' }, [sc, b.constant(2)])])]);
    const s = schedule(b.graph, { outputs: [p] });
    expect(s.kernels.map((x) => x.kind)).toEqual(['softmax']);
  });
});

describe('buffer planning', () => {
  it('places a group one member after another, align(size) apart, and frees it when all are dead', () => {
    // Three temporaries a, b, c (7 elements each, spacing 16) in a group; d written after a and b
    // are dead but c still lives: d must not land in the group's block.
    const values = new ValueTable({ nodes: [], params: [], inputs: [], outputs: new Map() });
    const v = (size: number) => values.temporary([{ id: 0, name: 'x', size }]).node;
    const [p1, p2, p3] = [v(5), v(5), v(40)];
    const [a, b, c, d] = [v(7), v(7), v(7), v(7)];
    const kernel = (reads: number[], writes: number[]): Kernel => ({ kind: 'map', name: '', nodes: [], lines: [], reads, writes, axes: [], stores: [] });
    const sched = { kernels: [kernel([], [a]), kernel([a], [b]), kernel([b], [c]), kernel([], [d]), kernel([c, d], [])], values };
    const persist = [p1, p2, p3].map((id) => values.get(id));
    const [plan] = planBuffers([sched], { persistent: persist, aliases: new Map(), groups: [[a, b, c], [p2, p1]] });
    const at = (id: number) => plan.regions.get(id)!.offset;
    expect(at(p1) - at(p2)).toBe(16); // persistent group in the group's order
    expect(at(b) - at(a)).toBe(16);
    expect(at(c) - at(b)).toBe(16);
    expect(at(d) >= at(a) + 48 || at(d) + 7 <= at(a)).toBe(true);
  });


  it('never overlaps values that are live at the same time, and reuses freed space', () => {
    const r = compileFile('models/transformer.mdl', { overrides: new Map(Object.entries({ layers: 2, embed: 16, heads: 2, seq: 8, batch: 2 })), data: { vocab: 11 } });
    expect(r.ok).toBe(true);
    const step = buildTrainStep(r.model!);
    const outputs = [step.loss, step.gradNorm, ...step.params.flatMap((p) => [p.newParam, p.newM, p.newV])];
    const sched = schedule(step.graph, { outputs });
    const g = step.graph;
    const persistent = [...new Set([...g.params.map((p) => p.node), ...g.inputs.map((i) => i.node), step.loss, step.gradNorm])].map((id) => {
      const n = g.nodes[id];
      return { node: id, arena: (n.type.dtype === 'f32' ? 'f32' : 'i32') as 'f32' | 'i32', axes: n.type.axes, size: n.type.axes.reduce((s, a) => s * a.size, 1) };
    });
    const aliases = new Map<number, number>();
    for (const p of step.params) {
      aliases.set(p.newParam, p.param.node);
      aliases.set(p.newM, p.m);
      aliases.set(p.newV, p.v);
    }
    const [plan] = planBuffers([sched], { persistent, aliases });
    resolveOffsets(sched.kernels, plan);
    // Live intervals per value: [first write, last read] in kernel order.
    const first = new Map<number, number>();
    const last = new Map<number, number>();
    sched.kernels.forEach((k, i) => k.writes.forEach((w) => first.has(w) || first.set(w, i)));
    sched.kernels.forEach((k, i) => k.reads.forEach((r) => last.set(r, i)));
    const persistentIds = new Set([...persistent.map((v) => v.node), ...aliases.keys()]);
    const temps = [...first.keys()].filter((v) => !persistentIds.has(v));
    let total = 0;
    for (const v of temps) if (plan.regions.get(v)!.arena === 'f32') total += plan.regions.get(v)!.size;
    for (let i = 0; i < temps.length; i++) {
      for (let j = i + 1; j < temps.length; j++) {
        const a = temps[i];
        const b = temps[j];
        const ra = plan.regions.get(a)!;
        const rb = plan.regions.get(b)!;
        if (ra.arena !== rb.arena) continue;
        const liveTogether = first.get(a)! <= (last.get(b) ?? first.get(b)!) && first.get(b)! <= (last.get(a) ?? first.get(a)!);
        const overlap = ra.offset < rb.offset + rb.size && rb.offset < ra.offset + ra.size;
        expect(liveTogether && overlap, `values ${a} and ${b} overlap while live`).toBe(false);
      }
    }
    for (const r of plan.regions.values()) expect(r.offset % ALIGN).toBe(0);
    // Reuse: the space above the persistent values is smaller than all temporaries end to end.
    const persistentTop = Math.max(...[...persistentIds].map((id) => plan.regions.get(id)).filter((r) => r?.arena === 'f32').map((r) => r!.offset + r!.size));
    expect(plan.arenaSize.f32 - persistentTop).toBeLessThan(0.5 * total);
  });
});

describe('WGSL expressions', () => {
  it('writes f32 literals WGSL accepts, with infinities as bit patterns', () => {
    expect(f32Literal(1)).toBe('1.00000000');
    for (const v of [1e-5, 0.02, 3.14159, 1e12, -7e-9, 123456]) expect(Math.fround(parseFloat(f32Literal(v).replace(/[()]/g, '')))).toBe(Math.fround(v));
    expect(f32Literal(1e-5)).toBe('9.99999975e-6');
    expect(f32Literal(-2.5)).toBe('(-2.50000000)');
    expect(f32Literal(-Infinity)).toBe('(-pos_inf())');
    expect(f32Literal(Infinity)).toBe('pos_inf()');
  });

  it('selects with where(c, a, b) as select(b, a, c)', () => {
    const text = emitExpr(
      { k: 'where', c: { k: 'compare', fn: 'gt', a: { k: 'const', value: 1, dtype: 'i32' }, b: { k: 'const', value: 0, dtype: 'i32' } }, a: { k: 'const', value: 2, dtype: 'f32' }, b: { k: 'const', value: 3, dtype: 'f32' } },
      { index: (a) => `i${a.id}` },
    );
    expect(text).toBe('select(3.00000000, 2.00000000, (1i > 0i))');
  });
});

describe('segmented updates', () => {
  it('moves updates over contiguous regions and scalars into one kernel, and leaves one that reads a broadcast in its map', () => {
    const [x, y] = axes(['x', 4], ['y', 8]);
    const b = new GraphBuilder();
    const lr = b.input('lr', f32(), span);
    const p = b.param('p', f32(x, y), { kind: 'zeros' }, span);
    const q = b.param('q', f32(y), { kind: 'zeros' }, span);
    const r = b.param('r', f32(x, y), { kind: 'zeros' }, span);
    const gp = b.input('gp', f32(x, y), span);
    const gq = b.input('gq', f32(y), span);
    const gr = b.input('gr', f32(x), span); // broadcast along y: not an element of r's layout
    const update = (w: number, g: number) => b.add({ op: 'binary', fn: 'sub' }, [w, b.add({ op: 'binary', fn: 'mul' }, [lr, g])]);
    const [np, nq, nr] = [update(p, gp), update(q, gq), update(r, b.add({ op: 'expand', axes: [y] }, [gr]))];
    const s = schedule(b.graph, { outputs: [np, nq, nr] });
    const ups = [
      { axes: [x, y], values: [np] },
      { axes: [y], values: [nq] },
      { axes: [x, y], values: [nr] },
    ];
    const out = segmentUpdates(s, ups, new Map(), 1024);
    const seg = out.kernels.filter((k) => k.kind === 'segmented');
    expect(seg.length).toBe(1);
    expect(seg[0].kind === 'segmented' && seg[0].segments.map((g) => g.size)).toEqual([32, 8]);
    const maps = out.kernels.filter((k) => k.kind === 'map');
    expect(maps.flatMap((k) => (k.kind === 'map' ? k.stores.map((st) => st.access.value) : []))).toEqual([nr]);
    // The segmented kernel says what it writes and reads (for liveness and hazards).
    expect([...seg[0].writes].sort()).toEqual([np, nq].sort());
    expect(seg[0].reads).toEqual(expect.arrayContaining([lr, p, q, gp, gq]));
  });

  it('does not move an update past a later kernel that reads what it writes', () => {
    const [x] = axes(['x', 8]);
    const b = new GraphBuilder();
    const p = b.param('p', f32(x), { kind: 'zeros' }, span);
    const g = b.input('g', f32(x), span);
    const np = b.add({ op: 'binary', fn: 'sub' }, [p, g]);
    // A reduction of the new value, then another update: moving np down would cross the reduction.
    const total = b.add({ op: 'reduce', fn: 'sum', axes: [x] }, [b.add({ op: 'unary', fn: 'exp' }, [np])]);
    const q = b.param('q', f32(x), { kind: 'zeros' }, span);
    const nq = b.add({ op: 'binary', fn: 'sub' }, [q, b.add({ op: 'binary', fn: 'mul' }, [g, total])]);
    const s = schedule(b.graph, { outputs: [np, total, nq] });
    const out = segmentUpdates(s, [{ axes: [x], values: [np] }, { axes: [x], values: [nq] }], new Map(), 1024);
    const seg = out.kernels.find((k) => k.kind === 'segmented');
    expect(seg && seg.kind === 'segmented' && seg.segments.length).toBe(1);
    expect(out.kernels.some((k) => k.kind === 'map' && k.stores.some((st) => st.access.value === np))).toBe(true);
  });
});
