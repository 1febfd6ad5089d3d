/**
 * `silu` (src/ir/ops/unary/silu.ts) wherever a unary function shows: the interpreter, its
 * gradient against finite differences, the .mdl function that makes it, its WGSL helper (in
 * the kernels that apply it, scalar and vec4, and nowhere else) and its PyTorch form.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { compileSource } from '../../../src/driver/index.js';
import { GraphBuilder } from '../../../src/ir/graph.js';
import { forwardFunctions, UNARY } from '../../../src/ir/ops/index.js';
import { keepsNonFinite, preservesZero } from '../../../src/ir/ops/unary/index.js';
import { schedule } from '../../../src/codegen/passes/index.js';
import { CPU_TARGET } from '../../../src/codegen/target.js';
import { PRELUDE } from '../../../src/codegen/wgsl/expr.js';
import { renderKernel } from '../../../src/codegen/wgsl/kernels.js';
import { emitModelPy } from '../../../src/export/index.js';
import { Case, checkGradients, uniform } from '../autodiff/gradcheck.js';
import { F32, SPAN, axes, expectValues, f32, run } from '../interpret/helpers.js';

const SWISH = readFileSync('tests/fixtures/models/swish.mdl', 'utf8');

describe('silu: the interpreter', () => {
  const { w } = axes({ w: 4 });

  it('is x · sigmoid(x)', () => {
    const r = run({ op: 'unary', fn: 'silu' }, [f32([w], [-1, 0, 0.5, 2])]);
    expectValues(r, [-0.2689414213699951, 0, 0.3112296656009273, 1.7615941559557646]);
    expect(r.type).toEqual({ dtype: 'f32', axes: [w] });
  });

  it('gives NaN at -inf (as PyTorch), +inf at +inf, and -0 far below zero', () => {
    const r = run({ op: 'unary', fn: 'silu' }, [f32([w], [-Infinity, Infinity, NaN, -1000])]);
    expectValues(r, [NaN, Infinity, NaN, 0]);
    expect(Object.is(r.data[3], -0)).toBe(true);
  });

  it('rounds to f32 at f32 precision', () => {
    const r = run({ op: 'unary', fn: 'silu' }, [f32([w], [0.1, 0.2, 0.3, 3], 'f32')], F32);
    expect(r.data).toBeInstanceOf(Float32Array);
    expect(r.data[3]).toBe(Math.fround(3 / (1 + Math.exp(-3))));
  });

  it('keeps zeros and non-finite values (what the leak and mask analyses ask)', () => {
    expect(preservesZero(UNARY.silu)).toBe(true);
    expect(keepsNonFinite(UNARY.silu)).toBe(true);
  });

  it('refuses an integer operand', () => {
    const { v } = axes({ v: 3 });
    const b = new GraphBuilder();
    const i = b.input('i', { dtype: 'i32', axes: [v] }, SPAN);
    expect(() => b.add({ op: 'unary', fn: 'silu' }, [i])).toThrow(/silu/);
  });
});

describe('silu: the gradient', () => {
  it('matches finite differences over [-4, 4] (both sides of its minimum at -1.28)', () => {
    const { a, b } = axes({ a: 3, b: 4 });
    const c = new Case(17);
    const x = c.param('x', [a, b], uniform(-4, 4));
    const r = checkGradients(c, c.add({ op: 'unary', fn: 'silu' }, [x]));
    expect(r.maxErr).toBeLessThan(1e-6);
    expect(r.maxAbsGrad).toBeGreaterThan(0.1);
  });
});

describe('silu in .mdl', () => {
  it('is a function of the language, elaborated to the unary op', () => {
    expect(forwardFunctions()).toContain('silu');
    const r = compileSource({ path: 'swish.mdl', text: SWISH }, { data: { vocab: 7 } });
    expect(r.diagnostics.map((d) => d.code)).toEqual([]);
    const silus = r.model!.graph.nodes.filter((n) => n.attrs.op === 'unary' && n.attrs.fn === 'silu');
    expect(silus).toHaveLength(1);
    expect(silus[0].type.axes.map((a) => a.name)).toEqual(['batch', 'seq', 'hidden']);
    expect(silus[0].span?.line).toBe(19);
  });

  it('of an index tensor is E0402 at its line', () => {
    const text = SWISH.replace('h    = silu(x . w1 over embed)', 'h    = silu(tokens) * (x . w1 over embed)');
    const r = compileSource({ path: 'swish.mdl', text }, { data: { vocab: 7 } });
    expect(r.diagnostics.map((d) => [d.code, d.span.line])).toContainEqual(['E0402', 19]);
  });
});

describe('silu in kernels', () => {
  /** The WGSL of every kernel of `out`'s graph, rendered for the CPU target (no device needed). */
  function codes(b: GraphBuilder, out: number): string[] {
    return schedule(b.graph, { outputs: [out] }).kernels.map((k) => renderKernel(k, CPU_TARGET).code);
  }

  it('calls its helper, declared in the kernels that apply it (scalar, and vec4 where four elements go at once)', () => {
    for (const [n, vec] of [[8, true], [6, false]] as const) {
      const { a } = axes({ a: n });
      const b = new GraphBuilder();
      const x = b.param('x', { dtype: 'f32', axes: [a] }, { kind: 'zeros' }, SPAN);
      const [code] = codes(b, b.add({ op: 'unary', fn: 'silu' }, [x]));
      expect(code).toContain('fn silu(x: f32) -> f32 { return x / (1.0 + exp(-x)); }');
      expect(code).toContain('fn silu4(x: vec4f) -> vec4f { return x / (1.0 + exp(-x)); }');
      expect(code).toMatch(vec ? /silu4\(arena4\(/ : /= silu\(arena\[/);
    }
  });

  it('is not in the prelude, nor in a kernel that does not apply it', () => {
    expect(PRELUDE).not.toContain('silu');
    const { a } = axes({ a: 8 });
    const b = new GraphBuilder();
    const x = b.param('x', { dtype: 'f32', axes: [a] }, { kind: 'zeros' }, SPAN);
    expect(codes(b, b.add({ op: 'unary', fn: 'sigmoid' }, [x]))[0]).not.toContain('silu');
  });
});

describe('silu in the PyTorch export', () => {
  it('is F.silu', () => {
    const model = compileSource({ path: 'swish.mdl', text: SWISH }, { data: { vocab: 7 } }).model!;
    const py = emitModelPy(model, { sourceText: SWISH, sourcePath: 'swish.mdl', version: 'test' });
    expect(py.text).toContain("h = F.silu(torch.einsum('bse,eh->bsh', x, self.w1))");
  });
});
