/**
 * `silu` and `prod` on the WebGPU adapter against the interpreter: silu in maps (one and four
 * elements at a time), prod in every kind of kernel that reduces, and one training step of
 * tests/fixtures/models/swish.mdl (forward, gradients through both, AdamW) on the same
 * weights and batch.
 */
import { readFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { GraphBuilder } from '../../src/ir/graph.js';
import { AxisTable, type Axis, type Graph, type TensorType } from '../../src/ir/types.js';
import { initParams, interpret, tensor, type Tensor } from '../../src/ir/interpret/index.js';
import { compileForTraining } from '../../src/train/compile.js';
import { makeRng } from '../../runtime/random.js';
import { getTestDevice, releaseTestDevice } from '../helpers/webgpu.js';
import { compareWithInterpreter, maxRelError, runOnDevice, type CompareOptions } from '../helpers/program.js';

const gpu = await getTestDevice();
afterAll(releaseTestDevice);

const span = { file: 'test.mdl', line: 1, column: 1, endLine: 1, endColumn: 1, start: 0, end: 0 };
const f32 = (...axes: Axis[]): TensorType => ({ dtype: 'f32', axes });
const compare = (g: Graph, outputs: number[], opts: CompareOptions = {}) => compareWithInterpreter(gpu!, g, outputs, opts);
function axes(...spec: [string, number][]): Axis[] {
  const t = new AxisTable();
  return spec.map(([n, s]) => t.create(n, s));
}

describe.runIf(gpu)('silu and prod on WebGPU vs the interpreter', () => {
  it('silu in a map, one element and four at a time', async () => {
    for (const [X, Y, vec] of [[3, 8, true], [5, 7, false]] as const) {
      const [x, y] = axes(['x', X], ['y', Y]);
      const b = new GraphBuilder();
      const a = b.param('a', f32(x, y), { kind: 'zeros' }, span);
      const out = b.add({ op: 'unary', fn: 'silu' }, [b.add({ op: 'binary', fn: 'mul' }, [a, b.constant(3)])]);
      const r = await compare(b.graph, [out], { seed: X });
      expect(r.kinds).toEqual(['map']);
      // Called four at a time (the helper is declared in both forms either way).
      expect(r.codes[0].includes('arena4(')).toBe(vec);
      expect((r.codes[0].match(/silu4\(/g) ?? []).length > 1).toBe(vec);
    }
  });

  it('prod as a reduction of its own, over one and two axes, odd and vec4 sizes', async () => {
    for (const [A, B, C] of [[3, 5, 7], [2, 3, 8], [1, 1, 1]]) {
      const [a, bb, c] = axes(['a', A], ['b', B], ['c', C]);
      const g = new GraphBuilder();
      const x = g.param('x', f32(a, bb, c), { kind: 'zeros' }, span);
      const p1 = g.add({ op: 'reduce', fn: 'prod', axes: [a, bb] }, [x]);
      const p2 = g.add({ op: 'reduce', fn: 'prod', axes: [bb] }, [g.add({ op: 'unary', fn: 'tanh' }, [x])]);
      const r = await compare(g.graph, [p1, p2], { seed: A * B * C });
      expect(r.codes.join('\n')).toMatch(/= (vec4f\()?1\.0\)?;/);
    }
  });

  it('prod beside a sibling sum, and as a phase of a row kernel', async () => {
    const [a, bb, c] = axes(['a', 3], ['b', 5], ['c', 8]);
    const g = new GraphBuilder();
    const x = g.param('x', f32(a, bb, c), { kind: 'zeros' }, span);
    const p = g.add({ op: 'reduce', fn: 'prod', axes: [a, bb] }, [x]);
    const s = g.add({ op: 'reduce', fn: 'sum', axes: [a, bb] }, [x]);
    const siblings = await compare(g.graph, [p, s]);
    expect(siblings.kinds).toEqual(['reduce']);

    const [r, e] = axes(['r', 6], ['e', 5]);
    const h = new GraphBuilder();
    const y = h.param('y', f32(r, e), { kind: 'zeros' }, span);
    const q = h.add({ op: 'reduce', fn: 'prod', axes: [e] }, [y]);
    const rows = await compare(h.graph, [h.add({ op: 'binary', fn: 'div' }, [y, q]), q]);
    expect(rows.kinds).toEqual(['rows']);
  });

  it('one training step of swish.mdl: the loss, the gradient norm and every new parameter', async () => {
    const source = { path: 'tests/fixtures/models/swish.mdl', text: readFileSync('tests/fixtures/models/swish.mdl', 'utf8') };
    const vocab = 11;
    const trained = compileForTraining(source, { vocab, overrides: new Map([['embed', 8], ['hidden', 8], ['seq', 4], ['batch', 2]]) });
    expect(trained.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
    if (!trained.ok) throw new Error('swish.mdl does not compile');
    const { step } = trained;
    const g = step.graph;
    const rng = makeRng(5, 'batch');
    const params = initParams(g, 1, 'f32');
    const inputs = new Map<string, Tensor>();
    for (const i of g.inputs) {
      const n = i.type.axes.reduce((s, a) => s * a.size, 1);
      if (i.type.dtype === 'i32') inputs.set(i.name, tensor(i.type, Int32Array.from({ length: n }, () => rng.int(vocab))));
      else inputs.set(i.name, tensor(i.type, new Float32Array(n).fill(i.name === 'lr.0' ? 1e-2 : i.name === 'bc1' ? 10 : i.name === 'bc2' ? 1000 : 0)));
    }
    const outputs = [step.loss, step.gradNorm, ...step.params.map((p) => p.newParam)];
    const want = interpret(g, { params, inputs }, { precision: 'f32', outputs });
    const got = await runOnDevice(gpu!, g, outputs, { params, inputs });
    expect(want.get(step.loss)!.data[0]).toBeGreaterThan(1);
    expect(want.get(step.gradNorm)!.data[0]).toBeGreaterThan(0.01);
    for (const o of outputs) expect(maxRelError(got.outputs.get(o)!, want.get(o)!.data as ArrayLike<number>), g.nodes[o].name ?? `node ${o}`).toBeLessThan(1e-4);
    // The step moved every parameter.
    for (const p of step.params) expect(maxRelError(want.get(p.newParam)!.data as ArrayLike<number>, params.get(p.param.name)!.data as ArrayLike<number>), p.param.name).toBeGreaterThan(1e-4);
  });
});
