/**
 * `prod` (src/ir/ops/reduce/prod.ts) wherever a reduction shows: the interpreter, its gradient
 * against finite differences (zeros included, where dividing by the element would fail), the
 * .mdl function, its accumulator in every kind of kernel that reduces (a reduction, four at a
 * time, beside a sibling sum, a phase of a row kernel), and its PyTorch form.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { compileSource } from '../../../src/driver/index.js';
import { gradients } from '../../../src/ir/autodiff/index.js';
import { GraphBuilder } from '../../../src/ir/graph.js';
import { forwardFunctions, REDUCE, reducesZerosToZero } from '../../../src/ir/ops/index.js';
import type { Axis, TensorType } from '../../../src/ir/types.js';
import { schedule } from '../../../src/codegen/passes/index.js';
import { CPU_TARGET } from '../../../src/codegen/target.js';
import { renderKernel } from '../../../src/codegen/wgsl/kernels.js';
import { emitModelPy } from '../../../src/export/index.js';
import { Case, checkGradients } from '../autodiff/gradcheck.js';
import { F32, SPAN, axes, expectValues, f32, names, run } from '../interpret/helpers.js';

const SWISH = readFileSync('tests/fixtures/models/swish.mdl', 'utf8');

describe('prod: the interpreter', () => {
  const { x, y, z } = axes({ x: 2, y: 3, z: 4 });
  // t[x=i, y=j, z=k] = 1 + (12 i + 4 j + k) / 8
  const t = f32([x, y, z], Array.from({ length: 24 }, (_, i) => 1 + i / 8));
  const at = (i: number, j: number, k: number) => 1 + (12 * i + 4 * j + k) / 8;

  it('multiplies over a middle axis', () => {
    const r = run({ op: 'reduce', fn: 'prod', axes: [y] }, [t]);
    expect(names(r)).toEqual(['x', 'z']);
    expectValues(r, [0, 1].flatMap((i) => [0, 1, 2, 3].map((k) => at(i, 0, k) * at(i, 1, k) * at(i, 2, k))));
  });

  it('multiplies over two axes, and over every axis to a scalar', () => {
    const r = run({ op: 'reduce', fn: 'prod', axes: [z, x] }, [t]);
    expect(names(r)).toEqual(['y']);
    expectValues(r, [0, 1, 2].map((j) => [0, 1].reduce((p, i) => p * [0, 1, 2, 3].reduce((q, k) => q * at(i, j, k), 1), 1)), 1e-12);
    const all = run({ op: 'reduce', fn: 'prod', axes: [x, y, z] }, [t]);
    expect(all.type.axes).toEqual([]);
    expectValues(all, [Array.from({ length: 24 }, (_, i) => 1 + i / 8).reduce((p, v) => p * v, 1)], 1e-12);
  });

  it('is 0 with a zero, NaN with a NaN or with 0 and inf together, and keeps signs', () => {
    const { w, v } = axes({ w: 4, v: 3 });
    const s = f32([w, v], [2, 0, 5, 1, NaN, 2, 0, Infinity, 1, -2, 3, -0.5]);
    expectValues(run({ op: 'reduce', fn: 'prod', axes: [v] }, [s]), [0, NaN, NaN, 3]);
  });

  it('at f32 precision, multiplies in double and rounds once', () => {
    const { n } = axes({ n: 4 });
    const xs = [1.1, 1.43, 0.77, 2.09].map(Math.fround);
    const r = run({ op: 'reduce', fn: 'prod', axes: [n] }, [f32([n], xs, 'f32')], F32);
    expect(r.data).toBeInstanceOf(Float32Array);
    const once = Math.fround(xs.reduce((p, v) => p * v, 1));
    // Rounded at every step the product would be one f32 below.
    expect(xs.reduce((p, v) => Math.fround(p * v), 1)).toBeLessThan(once);
    expect(r.data[0]).toBe(once);
  });

  it('starts at 1 and maps zeros to zero (what the causal GEMMs and the leak analysis assume)', () => {
    expect(REDUCE.prod.identity).toBe(1);
    expect(reducesZerosToZero(REDUCE.prod)).toBe(true);
    expect(REDUCE.prod.averages).toBe(false);
  });
});

describe('prod: the gradient (the product of the other elements)', () => {
  it('over one axis, two axes and every axis, away from zero', () => {
    const { a, b, d } = axes({ a: 2, b: 3, d: 4 });
    for (const [over, seed] of [[[b], 5], [[d, a], 7], [[a, b, d], 9]] as [Axis[], number][]) {
      const c = new Case(seed);
      // Factors of both signs around 1: products of 2 to 24 of them stay O(1).
      const x = c.param('x', [a, b, d], (_i, r) => (r() < 0.2 ? -1 : 1) * (0.8 + 0.4 * r()));
      const r = checkGradients(c, c.add({ op: 'reduce', fn: 'prod', axes: over }, [x]));
      expect(r.maxErr, over.map((x) => x.name).join()).toBeLessThan(1e-6);
      expect(r.maxAbsGrad).toBeGreaterThan(0.1);
    }
  });

  it('with one zero in a row (it alone gets a gradient) and two zeros (none does), without NaN', () => {
    const { a, b } = axes({ a: 3, b: 4 });
    const c = new Case(11);
    // Row 0 has no zero, row 1 one zero, row 2 two zeros.
    const x = c.param('x', [a, b], [0.9, -1.2, 1.5, 0.7, 1.3, 0, -0.8, 1.1, 0, 1.4, 0, 0.6]);
    const r = checkGradients(c, c.add({ op: 'reduce', fn: 'prod', axes: [b] }, [x]));
    expect(r.maxErr).toBeLessThan(1e-6);
    expect(r.maxAbsGrad).toBeGreaterThan(0.1);
  });
});

describe('prod in .mdl', () => {
  it('is a function of the language, elaborated to the reduce op', () => {
    expect(forwardFunctions()).toContain('prod');
    const r = compileSource({ path: 'swish.mdl', text: SWISH }, { data: { vocab: 7 } });
    expect(r.diagnostics.map((d) => d.code)).toEqual([]);
    const prods = r.model!.graph.nodes.filter((n) => n.attrs.op === 'reduce' && n.attrs.fn === 'prod');
    expect(prods).toHaveLength(1);
    expect(prods[0].type.axes.map((a) => a.name)).toEqual(['batch', 'seq']);
    expect(prods[0].span?.line).toBe(20);
  });

  it('over an axis the value lacks is E0305, of an index tensor E0402', () => {
    const codes = (replacement: string) => {
      const text = SWISH.replace('prod(1 + tanh(x . wg over embed) * 0.5, over: group)', replacement);
      return compileSource({ path: 'swish.mdl', text }, { data: { vocab: 7 } }).diagnostics.map((d) => [d.code, d.span.line]);
    };
    expect(codes('prod(1 + tanh(x . wg over embed) * 0.5, over: hidden)')).toContainEqual(['E0305', 20]);
    expect(codes('prod(tokens, over: seq)')).toContainEqual(['E0402', 20]);
  });
});

describe('prod in kernels: a product accumulator, started at 1, in every kernel that reduces', () => {
  const f32t = (...ax: Axis[]): TensorType => ({ dtype: 'f32', axes: ax });
  /** The kernels of `outs` (kinds and WGSL), rendered for the CPU target (no device needed). */
  function kernels(b: GraphBuilder, outs: number[]) {
    const ks = schedule(b.graph, { outputs: outs }).kernels;
    return { kinds: ks.map((k) => k.kind), codes: ks.map((k) => renderKernel(k, CPU_TARGET).code) };
  }
  /** The accumulators a kernel declares, with their start values, and the updates it makes. */
  const accumulators = (code: string) => [...code.matchAll(/var (acc\d*)(?:: f32)? = ([^;]+);/g)].map((m) => [m[1], m[2]]);
  const updates = (code: string) => [...code.matchAll(/(acc\d*) = (acc\d*) ([*+]) /g)].map((m) => `${m[1]} ${m[3]}`);

  it('a reduction of its own, one output at a time', () => {
    const { a, b } = axes({ a: 3, b: 5 });
    const g = new GraphBuilder();
    const x = g.param('x', f32t(a, b), { kind: 'zeros' }, SPAN);
    const { kinds, codes } = kernels(g, [g.add({ op: 'reduce', fn: 'prod', axes: [a] }, [x])]);
    expect(kinds).toEqual(['reduce']);
    expect(accumulators(codes[0])).toEqual([['acc', '1.0']]);
    expect(updates(codes[0])).toEqual(['acc *']);
  });

  it('four outputs at a time (vec4), and beside a sibling sum over the same axes', () => {
    const { a, b, c } = axes({ a: 3, b: 5, c: 8 });
    const g = new GraphBuilder();
    const x = g.param('x', f32t(a, b, c), { kind: 'zeros' }, SPAN);
    const p = g.add({ op: 'reduce', fn: 'prod', axes: [a, b] }, [x]);
    const s = g.add({ op: 'reduce', fn: 'sum', axes: [a, b] }, [g.add({ op: 'unary', fn: 'exp' }, [x])]);
    const { kinds, codes } = kernels(g, [p, s]);
    expect(kinds).toEqual(['reduce']);
    expect(codes[0]).toContain('arena4(');
    expect(accumulators(codes[0])).toEqual([['acc0', 'vec4f(1.0)'], ['acc1', 'vec4f(0.0)']]);
    expect(updates(codes[0])).toEqual(['acc0 *', 'acc1 +']);
  });

  it('a phase of a row kernel (a product over the row, then the row scaled by it)', () => {
    const { r, e } = axes({ r: 6, e: 5 });
    const g = new GraphBuilder();
    const x = g.param('x', f32t(r, e), { kind: 'zeros' }, SPAN);
    const p = g.add({ op: 'reduce', fn: 'prod', axes: [e] }, [x]);
    const y = g.add({ op: 'binary', fn: 'div' }, [x, p]);
    const { kinds, codes } = kernels(g, [y, p]);
    expect(kinds).toEqual(['rows']);
    expect(accumulators(codes[0])).toEqual([['acc0', '1.0']]);
    expect(updates(codes[0])).toEqual(['acc0 *']);
  });

  it('the gradient: the product of the nonzero elements and the count of zeros, each in its own accumulator', () => {
    const { a, b } = axes({ a: 3, b: 8 });
    const g = new GraphBuilder();
    const x = g.param('x', f32t(a, b), { kind: 'zeros' }, SPAN);
    const out = g.add({ op: 'reduce', fn: 'prod', axes: [b] }, [x]);
    const dx = gradients(g, g.add({ op: 'reduce', fn: 'sum', axes: [a] }, [out]), [x]).get(x)!;
    const all = kernels(g, [dx]).codes.flatMap(updates).sort();
    expect(all.filter((u) => u.endsWith('*'))).toHaveLength(1);
    expect(all.filter((u) => u.endsWith('+')).length).toBeGreaterThanOrEqual(1);
  });
});

describe('prod in the PyTorch export', () => {
  it('is .prod(dim=), one dim at a time', () => {
    const model = compileSource({ path: 'swish.mdl', text: SWISH }, { data: { vocab: 7 } }).model!;
    const py = emitModelPy(model, { sourceText: SWISH, sourcePath: 'swish.mdl', version: 'test' });
    expect(py.text).toMatch(/gate = \(1\.0 \+ torch\.tanh\(torch\.einsum\('bse,eg->bsg', x, self\.wg\)\) \* 0\.5\)\.prod\(dim=2\)/);
  });
});
