/**
 * The zero-pattern analysis behind causal GEMMs (src/codegen/zeros.ts): which values are
 * provably 0 above a diagonal, through which ops the fact survives, and which GEMMs get a
 * k range from it.
 */
import { describe, expect, it } from 'vitest';
import { GraphBuilder } from '../../src/ir/graph.js';
import { AxisTable, type Axis, type TensorType } from '../../src/ir/types.js';
import { markCausalGemms, zeroPatterns } from '../../src/codegen/passes/causal-gemms.js';
import { schedule } from '../../src/codegen/passes/index.js';

const span = { file: 't.mdl', line: 1, column: 1, endLine: 1, endColumn: 2, start: 0, end: 1 };
const f32 = (...axes: Axis[]): TensorType => ({ dtype: 'f32', axes });

function setup() {
  const t = new AxisTable();
  const [s, key, d, other] = [t.create('seq', 6), t.create('key', 6), t.create('d', 4), t.create('other', 6)];
  const g = new GraphBuilder();
  const scores = g.param('scores', f32(s, key), { kind: 'zeros' }, span);
  const later = g.add({ op: 'compare', fn: 'gt' }, [g.add({ op: 'iota', axis: key }, []), g.add({ op: 'iota', axis: s }, [])]);
  const masked = g.add({ op: 'where' }, [later, g.constant(-Infinity), scores]);
  const p = g.add({ op: 'softmax', axis: key }, [masked]);
  return { g, s, key, d, other, scores, later, masked, p };
}

describe('zero patterns', () => {
  it('a softmax over a causally masked row is zero above the diagonal; the mask gradient too', () => {
    const { g, s, key, scores, later, p } = setup();
    const zero = zeroPatterns(g.graph);
    expect(zero(p)).toEqual({ above: key.id, below: s.id });
    // where(c, 0, x): zero where c; lt swaps the sides.
    const grad = g.add({ op: 'where' }, [later, g.constant(0), scores]);
    expect(zero(grad)).toEqual({ above: key.id, below: s.id });
    const earlier = g.add({ op: 'compare', fn: 'lt' }, [g.add({ op: 'iota', axis: s }, []), g.add({ op: 'iota', axis: key }, [])]);
    expect(zero(g.add({ op: 'where' }, [earlier, g.constant(0), scores]))).toEqual({ above: key.id, below: s.id });
    // Not zero: the masked scores themselves (-inf), a where with another constant, the raw scores.
    expect(zero(g.add({ op: 'where' }, [later, g.constant(1), scores]))).toBeUndefined();
    expect(zero(scores)).toBeUndefined();
  });

  it('survives products, quotients, negation, renames and reductions over other axes, not sums with other values', () => {
    const { g, s, key, other, scores, p } = setup();
    const zero = zeroPatterns(g.graph);
    const bin = (fn: 'mul' | 'div' | 'add' | 'sub', a: number, b: number) => g.add({ op: 'binary', fn }, [a, b]);
    expect(zero(bin('mul', scores, p))).toEqual({ above: key.id, below: s.id });
    expect(zero(bin('div', p, g.constant(3)))).toEqual({ above: key.id, below: s.id });
    expect(zero(bin('div', scores, p))).toBeUndefined();
    expect(zero(g.add({ op: 'unary', fn: 'neg' }, [p]))).toEqual({ above: key.id, below: s.id });
    expect(zero(bin('add', p, scores))).toBeUndefined();
    expect(zero(bin('sub', p, g.add({ op: 'unary', fn: 'neg' }, [p])))).toEqual({ above: key.id, below: s.id });
    expect(zero(g.add({ op: 'rename', pairs: [[s, other]] }, [p]))).toEqual({ above: key.id, below: other.id });
    expect(zero(g.add({ op: 'reduce', fn: 'sum', axes: [key] }, [p]))).toBeUndefined();
  });

  it('gives p·v a k range that ends at the row, and pᵀ·dy one that starts at it', () => {
    const { g, s, key, d, p } = setup();
    const v = g.param('v', f32(key, d), { kind: 'zeros' }, span);
    const dy = g.param('dy', f32(s, d), { kind: 'zeros' }, span);
    const out = g.add({ op: 'contract', over: [key] }, [p, v]); // [seq, d]
    const dv = g.add({ op: 'contract', over: [s] }, [p, dy]); // [key, d]
    const plain = g.add({ op: 'contract', over: [d] }, [dy, v]); // [seq, key]: no causal operand
    const sched = schedule(g.graph, { outputs: [out, dv, plain] });
    markCausalGemms(sched, g.graph);
    const gemms = sched.kernels.filter((k) => k.kind === 'gemm');
    const rangeOf = (node: number) => gemms.find((k) => k.kind === 'gemm' && k.out.value === node)!;
    expect(rangeOf(out).kind === 'gemm' && rangeOf(out).kRange).toEqual({ row: s.id, keep: 'le' });
    expect(rangeOf(dv).kind === 'gemm' && rangeOf(dv).kRange).toEqual({ row: key.id, keep: 'ge' });
    expect(rangeOf(plain).kind === 'gemm' && rangeOf(plain).kRange).toBeUndefined();
  });
});
