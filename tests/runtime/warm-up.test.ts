// Which pipelines a model runs before its first step (runtime/plan.ts's PlanModel and the
// generated Model of src/codegen/emit.ts): every kernel is created, but only the training
// step's are dispatched in the warm-up, so that evaluation's and sampling's own kernels (on
// lavapipe: compiled by LLVM at their first dispatch) do not delay the first step. A recording
// stand-in for a GPUDevice shows what each dispatches; no adapter is needed.
import { afterAll, describe, expect, it } from 'vitest';
import { rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { compileFile } from '../../src/driver/index.js';
import { build, CPU_TARGET } from '../../src/codegen/index.js';
import { runnablePlan } from '../../src/browser.js';
import { PlanModel, planModule, stepKernels } from '../../runtime/plan.js';
import { kernelsToWarm, WebGpuBackend } from '../../runtime/webgpu.js';
import type { GpuContext } from '../../runtime/device.js';
import type { WarmResult } from '../../runtime/shader-cache.js';

/** A device that records the pipelines (by label) dispatched in each submit. */
function recordingDevice() {
  const submits: string[][] = [];
  let encoded: string[] = [];
  const object = (label?: string) => ({ label, destroy() {}, mapAsync: async () => {}, getMappedRange: () => new ArrayBuffer(16), unmap() {} });
  const device = {
    createBindGroupLayout: () => object(),
    createPipelineLayout: () => object(),
    createBindGroup: () => object(),
    createBuffer: () => object(),
    createShaderModule: (d: { label?: string }) => object(d.label),
    createComputePipelineAsync: async (d: { label?: string }) => object(d.label),
    createCommandEncoder: () => {
      encoded = [];
      let current: string | undefined;
      return {
        beginComputePass: () => ({
          setBindGroup() {},
          setPipeline: (p: { label: string }) => (current = p.label),
          dispatchWorkgroups: () => encoded.push(current!),
          end() {},
        }),
        copyBufferToBuffer() {},
        finish: () => encoded,
      };
    },
    queue: { writeBuffer() {}, submit: (buffers: string[][]) => submits.push(...buffers), onSubmittedWorkDone: async () => {} },
  };
  return { device: device as unknown as GPUDevice, submits };
}

// The generated model reads WebGPU's flag globals, which only a WebGPU binding installs.
const flags = globalThis as unknown as Record<string, unknown>;
flags.GPUBufferUsage ??= { MAP_READ: 1, COPY_SRC: 4, COPY_DST: 8, UNIFORM: 0x40, STORAGE: 0x80 };
flags.GPUShaderStage ??= { COMPUTE: 4 };
flags.GPUMapMode ??= { READ: 1 };

const outDir = resolve('build', `test-warm-up-${process.pid}`);
afterAll(() => rmSync(outDir, { recursive: true, force: true }));

describe('the warm-up before the first step', () => {
  const r = compileFile('models/transformer.mdl', { overrides: new Map(Object.entries({ layers: 2, embed: 16, heads: 2, seq: 8, batch: 2 })), data: { vocab: 11 } });
  const built = build(r.model!, 'models/transformer.mdl', { outDir, target: CPU_TARGET });
  const plan = built.plan!;
  const step = stepKernels(plan.entries);

  it('stepKernels: the kernels of the training step, each once, in the order the step first runs them', () => {
    const firstUse: string[] = [];
    for (const c of plan.entries.train) if (!firstUse.includes(c.kernel)) firstUse.push(c.kernel);
    expect(step).toEqual(firstUse);
    expect(stepKernels({ train: [{ kernel: 'b' }, { kernel: 'a' }, { kernel: 'b' }] })).toEqual(['b', 'a']);
    // Evaluation has a kernel of its own: the MLP's GEMM that does not keep gelu's input for the backward pass.
    const evalOnly = plan.kernels.filter((k) => !step.includes(k.name));
    expect(evalOnly.length).toBeGreaterThan(0);
    for (const k of evalOnly) expect(plan.entries.eval.some((c) => c.kernel === k.name) || plan.entries.forward.some((c) => c.kernel === k.name), k.name).toBe(true);
  });

  it("PlanModel dispatches each of the training step's kernels once, and eval's own at the first evaluation", async () => {
    const { device, submits } = recordingDevice();
    const model = await PlanModel.create(device, runnablePlan(plan));
    expect(submits).toEqual([step]);
    await model.evalLoss(new Map());
    expect(submits[1]).toEqual(plan.entries.eval.map((c) => c.kernel));
    expect(planModule(runnablePlan(plan)).STEP_KERNELS).toEqual(step);
  });

  it('the generated Model does the same, from the STEP_KERNELS it exports', async () => {
    const generated = await import(pathToFileURL(join(outDir, 'model.js')).href);
    expect(generated.STEP_KERNELS).toEqual(step);
    const { device, submits } = recordingDevice();
    const model = await generated.Model.create(device);
    expect(submits).toEqual([step]);
    await model.evalLoss(new Map());
    expect(submits[1]).toEqual(plan.entries.eval.map((c) => c.kernel));
  });

  it('WebGpuBackend trains once the first kernels are compiled, and waits for the rest before evaluating', async () => {
    const { device, submits } = recordingDevice();
    const ctx = { device, isSoftware: false, description: 'recording', throwIfErrors() {}, destroy() {}, sync: async () => {} } as unknown as GpuContext;
    const result: WarmResult = { devices: 2, kernels: 1, seconds: 0 };
    let finish!: (r: WarmResult) => void;
    const warming = { first: Promise.resolve(result), done: new Promise<WarmResult>((resolve) => (finish = resolve)) };
    const backend = await WebGpuBackend.open(planModule(runnablePlan(plan)), { seed: 1, gpu: ctx, warming });
    await backend.trainStep(new Map(), { lr: [], bc1: 1, bc2: 1 });
    expect(submits.map((s) => s.length)).toEqual([step.length, plan.entries.train.length]);
    let evaluated = false;
    const evaluation = backend.evalLoss(new Map()).then(() => (evaluated = true));
    await new Promise((r) => setTimeout(r, 20));
    expect(evaluated).toBe(false);
    expect(submits.length).toBe(2);
    finish(result);
    await evaluation;
    expect(submits[2]).toEqual(plan.entries.eval.map((c) => c.kernel));
    await backend.forward(new Map()); // no wait left
    expect(submits[3]).toEqual(plan.entries.forward.map((c) => c.kernel));
  });

  it("hands the helpers the training step's kernels first and the others after; all first where the module does not say", () => {
    expect(kernelsToWarm({ KERNELS: { a: 'A', b: 'B', c: 'C' }, STEP_KERNELS: ['c', 'a'] })).toEqual({ first: ['A', 'C'], later: ['B'] });
    expect(kernelsToWarm({ KERNELS: { a: 'A', b: 'B' } })).toEqual({ first: ['A', 'B'], later: [] });
    expect(kernelsToWarm({})).toEqual({ first: [], later: [] });
    const split = kernelsToWarm(planModule(runnablePlan(plan)));
    expect(split.first.length).toBe(step.length);
    expect(split.later.length).toBe(plan.kernels.length - step.length);
  });
});
