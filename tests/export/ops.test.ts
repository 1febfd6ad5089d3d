/**
 * Every op's translation to PyTorch, in float64 against the interpreter: the logits, the
 * loss and every parameter's gradient (PyTorch's autograd against mdlc's autodiff) of
 * tests/fixtures/export/ops.mdl, a model built to need permutes, `None` broadcasting,
 * movedim, clamps, a loop and an unrolled repeat.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compileFile } from '../../src/driver/index.js';
import { readSourceFile } from '../../src/parser/index.js';
import { buildTrainStep } from '../../src/ir/optimizer/index.js';
import { initParams, interpret, tensor, type Tensor } from '../../src/ir/interpret/index.js';
import { exportPytorch, writeExport } from '../../src/export/index.js';
import { encodeSafetensors } from '../../runtime/checkpoint.js';
import { makeRng } from '../../runtime/random.js';
import { runPythonOk, torchPython } from '../helpers/torch.js';

const python = torchPython();
const tmp = mkdtempSync(join(tmpdir(), 'mdlc-export-ops-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** Largest |a - b| over the largest |b|: a relative error that is not fooled by values near zero. */
function relError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < a.length; i++) {
    diff = Math.max(diff, Math.abs(a[i] - b[i]));
    scale = Math.max(scale, Math.abs(b[i]));
  }
  return diff / scale;
}

describe.runIf(python)('every op, exported, against the interpreter in float64', () => {
  it('gives the logits, the loss and every gradient of ops.mdl within 1e-11', () => {
    const file = 'tests/fixtures/export/ops.mdl';
    const vocab = 'abcdefghijk';
    const r = compileFile(file, { data: { vocab: vocab.length } });
    expect(r.ok).toBe(true);
    const model = r.model!;
    writeExport(tmp, exportPytorch(model, { source: readSourceFile(file).source!, vocab: [...vocab], overrides: new Map(), version: 'test' }));

    const step = buildTrainStep(model);
    const params = initParams(step.graph, 3, 'f32');
    writeFileSync(join(tmp, 'params.safetensors'), encodeSafetensors(new Map([...params].map(([k, t]) => [k, { dtype: 'F32', shape: t.type.axes.map((a) => a.size), data: t.data as Float32Array }]))));
    const rng = makeRng(9, 'ops');
    const ids = (n: number) => Int32Array.from({ length: n }, () => rng.int(vocab.length));
    const typeOf = (name: string) => model.graph.inputs.find((i) => i.name === name)!.type;
    const tokens = ids(15);
    const targets = ids(15);
    const inputs = new Map<string, Tensor>([
      ['tokens', tensor(typeOf('tokens'), tokens)],
      ['targets', tensor(typeOf('targets'), targets)],
    ]);
    const grads = step.params.map((p) => p.grad);
    const want = interpret(step.graph, { params, inputs }, { precision: 'f64', outputs: [model.logits, model.loss!, ...grads] });

    const script = [
      'import json, torch, model, train',
      'torch.set_default_dtype(torch.float64)',
      'm = model.MODEL()',
      `weights, _ = train.load_safetensors(${JSON.stringify(join(tmp, 'params.safetensors'))})`,
      'with torch.no_grad():',
      '    for k, p in m.named_parameters(): p.copy_(weights[k])',
      `tokens = torch.tensor(${JSON.stringify([...tokens])}).view(3, 5)`,
      `targets = torch.tensor(${JSON.stringify([...targets])}).view(3, 5)`,
      'logits = m(tokens)',
      'loss = m.loss(logits, targets)',
      'loss.backward()',
      'print(json.dumps({"logits": logits.flatten().tolist(), "shape": list(logits.shape), "loss": loss.item(), "grads": {k: p.grad.flatten().tolist() for k, p in m.named_parameters()}}))',
    ].join('\n');
    const got = JSON.parse(runPythonOk(python!, ['-c', script], { cwd: tmp }).stdout);

    // The logits come out in the IR's axis order ([vocab, batch, seq] here), element for element.
    expect(got.shape).toEqual(model.graph.nodes[model.logits].type.axes.map((a) => a.size));
    expect(relError(got.logits, want.get(model.logits)!.data)).toBeLessThan(1e-11);
    expect(Math.abs(got.loss - want.get(model.loss!)!.data[0]) / got.loss).toBeLessThan(1e-12);
    for (const p of step.params) expect(relError(got.grads[p.param.name], want.get(p.grad)!.data), p.param.name).toBeLessThan(1e-11);
    expect(Object.keys(got.grads).sort()).toEqual(step.params.map((p) => p.param.name).sort());
  }, 120_000);
});
