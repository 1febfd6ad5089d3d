/**
 * `silu` and `prod` on the wasm renderer against the interpreter: silu in maps (one and four
 * lanes at a time), prod in every kind of kernel that reduces (its own, beside a sibling, a
 * phase of a row kernel, four outputs at a time), a row kernel that reduces by max, and one
 * training step of tests/fixtures/models/swish.mdl on the wasm backend's worker threads.
 * Work items taken as 1 and as 3 threads take them agree bit for bit.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { GraphBuilder } from '../../src/ir/graph.js';
import { AxisTable, type Axis, type Graph, type TensorType } from '../../src/ir/types.js';
import { initParams, interpret, makeRng, tensor, type Tensor } from '../../src/ir/interpret/index.js';
import { compileForTraining } from '../../src/train/compile.js';
import { planWasmProgram } from '../../src/codegen/wasm/program.js';
import { WasmBackend } from '../../runtime/wasm.js';
import { maxRelError } from '../helpers/program.js';
import { runOnWasm, type WasmRun } from '../helpers/wasm.js';

const span = { file: 'test.mdl', line: 1, column: 1, endLine: 1, endColumn: 1, start: 0, end: 0 };
const f32 = (...axes: Axis[]): TensorType => ({ dtype: 'f32', axes });
function axes(...spec: [string, number][]): Axis[] {
  const t = new AxisTable();
  return spec.map(([n, s]) => t.create(n, s));
}

/** Parameters drawn near 1 (products of many stay finite), on wasm with 1 and 3 threads against the interpreter. */
function compare(g: Graph, outputs: number[], seed = 1): WasmRun {
  const rng = makeRng(seed, 'feeds');
  const params = new Map<string, Tensor>();
  for (const p of g.params) params.set(p.name, tensor(p.type, Float32Array.from({ length: p.type.axes.reduce((n, a) => n * a.size, 1) }, () => 1 + 0.3 * rng.normal())));
  const feeds = { params, inputs: new Map<string, Tensor>() };
  const want = interpret(g, feeds, { precision: 'f32', outputs });
  const runs = [1, 3].map((threads) => runOnWasm(g, outputs, feeds, { threads }));
  for (const o of outputs) {
    expect(maxRelError(runs[0].outputs.get(o)!, want.get(o)!.data as ArrayLike<number>), `node ${o}`).toBeLessThan(1e-5);
    expect(runs[1].outputs.get(o)).toEqual(runs[0].outputs.get(o));
  }
  return runs[0];
}

describe('silu and prod on wasm vs the interpreter', () => {
  it('silu in a map, four lanes at a time and one at a time', () => {
    for (const [X, Y] of [[3, 8], [5, 7], [1, 1]]) {
      const [x, y] = axes(['x', X], ['y', Y]);
      const b = new GraphBuilder();
      const a = b.param('a', f32(x, y), { kind: 'zeros' }, span);
      // Inputs from about -9 to 9, and silu inside silu (each evaluates its operand once).
      const scaled = b.add({ op: 'binary', fn: 'mul' }, [b.add({ op: 'binary', fn: 'sub' }, [a, b.constant(1)]), b.constant(30)]);
      const once = b.add({ op: 'unary', fn: 'silu' }, [scaled]);
      const twice = b.add({ op: 'unary', fn: 'silu' }, [b.add({ op: 'binary', fn: 'add' }, [once, b.add({ op: 'unary', fn: 'silu' }, [a])])]);
      expect(compare(b.graph, [once, twice], X * Y).kinds).toEqual(['map']);
    }
  });

  it('prod as a reduction of its own over one and two axes, four outputs at a time and one', () => {
    for (const [A, B, C] of [[3, 5, 7], [2, 3, 8], [1, 1, 1], [2, 130, 4]]) {
      const [a, bb, c] = axes(['a', A], ['b', B], ['c', C]);
      const g = new GraphBuilder();
      const x = g.param('x', f32(a, bb, c), { kind: 'zeros' }, span);
      const p1 = g.add({ op: 'reduce', fn: 'prod', axes: [a, bb] }, [x]);
      const p2 = g.add({ op: 'reduce', fn: 'prod', axes: [bb] }, [g.add({ op: 'unary', fn: 'tanh' }, [x])]);
      compare(g.graph, [p1, p2], A * B * C);
    }
  });

  it('prod beside a sibling sum, and prod and max as phases of a row kernel', () => {
    const [a, bb, c] = axes(['a', 3], ['b', 5], ['c', 8]);
    const g = new GraphBuilder();
    const x = g.param('x', f32(a, bb, c), { kind: 'zeros' }, span);
    const p = g.add({ op: 'reduce', fn: 'prod', axes: [a, bb] }, [x]);
    const s = g.add({ op: 'reduce', fn: 'sum', axes: [a, bb] }, [x]);
    expect(compare(g.graph, [p, s]).kinds).toEqual(['reduce']);

    for (const E of [5, 8]) {
      for (const fn of ['prod', 'max'] as const) {
        const [r, e] = axes(['r', 6], ['e', E]);
        const h = new GraphBuilder();
        const y = h.param('y', f32(r, e), { kind: 'zeros' }, span);
        const q = h.add({ op: 'reduce', fn, axes: [e] }, [y]);
        expect(compare(h.graph, [h.add({ op: 'binary', fn: 'div' }, [y, q]), q], E).kinds, `${fn} over ${E}`).toEqual(['rows']);
      }
    }
  });

  it('one training step of swish.mdl on 2 worker threads: the loss, the gradient norm and every new parameter', async () => {
    const source = { path: 'tests/fixtures/models/swish.mdl', text: readFileSync('tests/fixtures/models/swish.mdl', 'utf8') };
    const vocab = 11;
    const trained = compileForTraining(source, { vocab, overrides: new Map([['embed', 8], ['hidden', 8], ['seq', 4], ['batch', 2]]) });
    if (!trained.ok) throw new Error('swish.mdl does not compile');
    const { model, step } = trained;
    const g = step.graph;
    const params = initParams(g, 1, 'f32');
    const rng = makeRng(5, 'batch');
    const tokens = Int32Array.from({ length: 8 }, () => rng.int(vocab));
    const targets = Int32Array.from({ length: 8 }, () => rng.int(vocab));
    const inputs = new Map<string, Tensor>();
    for (const i of g.inputs) {
      const n = i.type.axes.reduce((s, a) => s * a.size, 1);
      if (i.name === 'tokens' || i.name === 'targets') inputs.set(i.name, tensor(i.type, i.name === 'tokens' ? tokens : targets));
      else inputs.set(i.name, tensor(i.type, new Float32Array(n).fill(i.name === 'lr.0' ? 1e-2 : i.name === 'bc1' ? 10 : i.name === 'bc2' ? 1000 : 0)));
    }
    const want = interpret(g, { params, inputs }, { precision: 'f32', outputs: [step.loss, step.gradNorm, ...step.params.map((p) => p.newParam)] });
    const dev = await WasmBackend.open(planWasmProgram(model, { step }).program, { seed: 1, threads: 2 });
    try {
      await dev.setParams(new Map([...params].map(([k, t]) => [k, Float32Array.from(t.data as Float32Array)])));
      const got = await dev.trainStep(new Map([['tokens', tokens], ['targets', targets]]), { lr: [1e-2], bc1: 10, bc2: 1000 });
      expect(want.get(step.loss)!.data[0]).toBeGreaterThan(1);
      expect(Math.abs(got.loss - want.get(step.loss)!.data[0]) / want.get(step.loss)!.data[0]).toBeLessThan(1e-5);
      expect(Math.abs(got.gradNorm - want.get(step.gradNorm)!.data[0]) / want.get(step.gradNorm)!.data[0]).toBeLessThan(1e-4);
      const after = await dev.getParams();
      for (const p of step.params) expect(maxRelError(after.get(p.param.name)!, want.get(p.newParam)!.data as ArrayLike<number>), p.param.name).toBeLessThan(1e-4);
    } finally {
      dev.destroy();
    }
  });
});
