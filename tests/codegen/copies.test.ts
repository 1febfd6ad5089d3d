/**
 * Copies of activations in the layout a GEMM wants (src/codegen/passes/activation-copies.ts):
 * which GEMMs get one, what the producer stores, and what the kernels' reads and writes become.
 */
import { describe, expect, it } from 'vitest';
import { GraphBuilder } from '../../src/ir/graph.js';
import { AxisTable, type Axis, type TensorType } from '../../src/ir/types.js';
import { Groups } from '../../src/codegen/buffers.js';
import { planActivationCopies } from '../../src/codegen/passes/activation-copies.js';
import { schedule } from '../../src/codegen/passes/index.js';
import { layoutStrides } from '../../src/codegen/kernel-ir/layout.js';
import type { GemmKernel, Schedule } from '../../src/codegen/kernel-ir/types.js';
import { registerReadMode } from '../../src/codegen/wgsl/gemm.js';

const span = { file: 't.mdl', line: 1, column: 1, endLine: 1, endColumn: 2, start: 0, end: 1 };
const f32 = (...axes: Axis[]): TensorType => ({ dtype: 'f32', axes });

/** x → q = x·wq, k = x·wk (renamed seq → key); s = q·k over d; y = s·k over key (k read across d). */
function attention(d: number, n = 8) {
  const t = new AxisTable();
  const [b, seq, key, e, h, hd] = [t.create('batch', 2), t.create('seq', n), t.create('key', n), t.create('embed', 8), t.create('heads', 2), t.create('head', d)];
  const g = new GraphBuilder();
  const x = g.param('x', f32(b, seq, e), { kind: 'zeros' }, span);
  const wq = g.param('wq', f32(e, h, hd), { kind: 'zeros' }, span);
  const wk = g.param('wk', f32(e, h, hd), { kind: 'zeros' }, span);
  const q = g.add({ op: 'contract', over: [e] }, [x, wq]);
  const kStored = g.add({ op: 'contract', over: [e] }, [x, wk]);
  const k = g.add({ op: 'rename', pairs: [[seq, key]] }, [kStored]);
  const s = g.add({ op: 'contract', over: [hd] }, [q, k]);
  const y = g.add({ op: 'contract', over: [key] }, [s, k]);
  const sched = schedule(g.graph, { outputs: [y] });
  const gemmOf = (sc: Schedule, node: number) => sc.kernels.findIndex((kn) => kn.kind === 'gemm' && kn.nodes.includes(node));
  return { g, sched, q, kStored, s, y, gemmOf, axes: { b, seq, h, hd }, params: new Set([x, wq, wk]) };
}

describe('activation copies', () => {
  it('has the GEMM that writes k also store it as [batch, heads, head, seq], and the scores read that across columns', () => {
    const { sched, kStored, s, y, gemmOf, axes, params } = attention(8);
    const scores = gemmOf(sched, s);
    expect(registerReadMode(sched.kernels[scores] as GemmKernel)).toBe('k');
    planActivationCopies(sched, new Groups(), params);

    const reader = sched.kernels[scores] as GemmKernel;
    const copy = reader.b.value;
    expect(sched.values.kind(copy)).toBe('relayout');
    expect(sched.values.original(copy)).toBe(kStored);
    expect(registerReadMode(reader)).toBe('cols');
    expect(sched.values.get(copy)!.axes.map((a) => a.name)).toEqual(['batch', 'heads', 'head', 'seq']);
    // The reader's strides are the copy's layout: key (the scores' column axis) is contiguous.
    const [keyAxis] = reader.n;
    expect(reader.b.strides.get(keyAxis.id)).toBe(1);
    expect(reader.b.strides.get(reader.k[0].id)).toBe(8);

    // The producer stores its output value again, through the copy's strides.
    const p = gemmOf(sched, kStored);
    const producer = sched.kernels[p] as GemmKernel;
    expect(producer.extra).toHaveLength(1);
    expect(producer.extra![0].value).toEqual({ k: 'acc' });
    const want = layoutStrides([axes.b, axes.h, axes.hd, axes.seq]);
    for (const a of [...producer.batch, ...producer.m, ...producer.n]) {
      const orig = [axes.b, axes.seq, axes.h, axes.hd].find((o) => producer.out.strides.get(a.id) === layoutStrides([axes.b, axes.seq, axes.h, axes.hd]).get(o.id) && o.size === a.size);
      expect(producer.extra![0].access.strides.get(a.id), a.name).toBe(want.get(orig!.id));
    }
    expect(producer.writes).toContain(copy);
    expect(reader.reads).toContain(copy);
    expect(reader.reads).not.toContain(kStored);

    // s·k over key reads k across its columns (head): it keeps the original.
    const other = sched.kernels[gemmOf(sched, y)] as GemmKernel;
    expect([other.a.value, other.b.value]).toContain(kStored);
    expect(registerReadMode(other)).toBe('cols');
  });

  it('copies for the scores across key even with a head of 3, but not the scores for s·k (3 multiply-adds per element)', () => {
    const { sched, kStored, s, y, gemmOf, params } = attention(3);
    planActivationCopies(sched, new Groups(), params);
    const copy = (sched.kernels[gemmOf(sched, s)] as GemmKernel).b.value;
    expect([sched.values.kind(copy), sched.values.original(copy)]).toEqual(['relayout', kStored]);
    // The only copy: every value any kernel reads is a node or that copy.
    expect(new Set(sched.kernels.flatMap((k) => k.reads).filter((v) => !sched.values.isNode(v)))).toEqual(new Set([copy]));
    expect((sched.kernels[gemmOf(sched, y)] as GemmKernel).a.value).toBe(s);
  });

  it('copies nothing where the copy could not be read as vec4s either (head 3, sequence 6)', () => {
    const { sched, kStored, s, gemmOf, params } = attention(3, 6);
    const text = (sc: Schedule) => sc.kernels.map((k) => JSON.stringify(k, (_, v) => (v instanceof Map ? [...v] : v)));
    const before = text(sched);
    planActivationCopies(sched, new Groups(), params);
    expect(text(sched)).toEqual(before);
    expect(sched.kernels.flatMap((k) => [...k.reads, ...k.writes]).every((v) => sched.values.isNode(v))).toBe(true);
    expect((sched.kernels[gemmOf(sched, s)] as GemmKernel).b.value).toBe(kStored);
  });

  it('never copies a persistent value: the GEMM reads it as it is', () => {
    const { sched, kStored, s, gemmOf, params } = attention(8);
    planActivationCopies(sched, new Groups(), new Set([...params, kStored]));
    expect((sched.kernels[gemmOf(sched, s)] as GemmKernel).b.value).toBe(kStored);
  });
});
