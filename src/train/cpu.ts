/**
 * The `interpreter` backend: the training-step graph on the reference interpreter, in f32. Slow but
 * exact, and the oracle for every other backend. It implements the runtime's
 * `TrainBackend`, so the one training loop, checkpoints, resume and sampling run on it
 * unchanged.
 */
import { initParams, interpret, tensor, type Tensor } from '../ir/interpret/index.js';
import type { ElaboratedModel } from '../ir/elaborate/model.js';
import type { TrainStep } from '../ir/optimizer/index.js';
import type { Feeds, StepResult, StepScalars, TensorMap, TrainBackend } from '../../runtime/backend.js';

export class CpuBackend implements TrainBackend {
  readonly kind = 'interpreter';
  readonly description = 'the reference interpreter (f32)';
  private params: Map<string, Tensor>;
  private m = new Map<string, Tensor>();
  private v = new Map<string, Tensor>();
  private readonly outputs: number[];

  constructor(
    private readonly model: ElaboratedModel,
    private readonly step: TrainStep,
    seed: number,
  ) {
    const g = step.graph;
    this.params = initParams(g, seed, 'f32');
    for (const p of g.params) {
      this.m.set(p.name, tensor(p.type, new Float32Array(this.params.get(p.name)!.data.length)));
      this.v.set(p.name, tensor(p.type, new Float32Array(this.params.get(p.name)!.data.length)));
    }
    this.outputs = [step.loss, step.gradNorm, ...step.params.flatMap((p) => [p.newParam, p.newM, p.newV])];
  }

  /** The training-step graph it runs. */
  get graph() {
    return this.step.graph;
  }

  private inputs(feeds: Feeds, graph = this.step.graph): Map<string, Tensor> {
    const out = new Map<string, Tensor>();
    for (const [name, data] of feeds) {
      const info = graph.inputs.find((i) => i.name === name);
      if (!info) throw new Error(`the model has no input ${name}`);
      out.set(name, tensor(info.type, data));
    }
    return out;
  }

  /** The feeds of one training step (windows, scalars, optimizer state) by input name. */
  stepInputs(feeds: Feeds, scalars: StepScalars): Map<string, Tensor> {
    const inputs = this.inputs(feeds);
    const scalar = (name: string, value: number) => inputs.set(name, tensor({ dtype: 'f32', axes: [] }, [value]));
    scalars.lr.forEach((lr, i) => scalar(`lr.${i}`, lr));
    scalar('bc1', scalars.bc1);
    scalar('bc2', scalars.bc2);
    for (const p of this.step.graph.params) {
      inputs.set(`m:${p.name}`, this.m.get(p.name)!);
      inputs.set(`v:${p.name}`, this.v.get(p.name)!);
    }
    return inputs;
  }

  async trainStep(feeds: Feeds, scalars: StepScalars): Promise<StepResult> {
    await yieldToEventLoop();
    const out = interpret(this.step.graph, { params: this.params, inputs: this.stepInputs(feeds, scalars) }, { precision: 'f32', outputs: this.outputs });
    const loss = out.get(this.step.loss)!.data[0];
    const gradNorm = out.get(this.step.gradNorm)!.data[0];
    // A non-finite step leaves the state as it was, so it can be diagnosed and saved.
    if (Number.isFinite(loss)) {
      for (const p of this.step.params) {
        this.params.set(p.param.name, out.get(p.newParam)!);
        this.m.set(p.param.name, out.get(p.newM)!);
        this.v.set(p.param.name, out.get(p.newV)!);
      }
    }
    return { loss, gradNorm };
  }

  async evalLoss(feeds: Feeds): Promise<number> {
    await yieldToEventLoop();
    const g = this.model.graph;
    return interpret(g, { params: this.params, inputs: this.inputs(feeds, g) }, { precision: 'f32', outputs: [this.model.loss!] }).get(this.model.loss!)!.data[0];
  }

  async forward(feeds: Feeds): Promise<Float32Array<ArrayBuffer>> {
    await yieldToEventLoop();
    const g = this.model.graph;
    const out = interpret(g, { params: this.params, inputs: this.inputs(feeds, g) }, { precision: 'f32', outputs: [this.model.logits] });
    return Float32Array.from(out.get(this.model.logits)!.data);
  }

  async getParams(): Promise<TensorMap> {
    return new Map([...this.params].map(([k, t]) => [k, Float32Array.from(t.data)]));
  }

  async setParams(values: ReadonlyMap<string, Float32Array<ArrayBuffer>>): Promise<void> {
    for (const p of this.step.graph.params) this.params.set(p.name, tensor(p.type, checked(values, p.name, p.type.axes)));
  }

  async getState(): Promise<TensorMap> {
    const out: TensorMap = new Map();
    for (const p of this.step.graph.params) {
      out.set(`m.${p.name}`, Float32Array.from(this.m.get(p.name)!.data));
      out.set(`v.${p.name}`, Float32Array.from(this.v.get(p.name)!.data));
    }
    return out;
  }

  async setState(values: ReadonlyMap<string, Float32Array<ArrayBuffer>>): Promise<void> {
    for (const p of this.step.graph.params) {
      this.m.set(p.name, tensor(p.type, checked(values, `m.${p.name}`, p.type.axes)));
      this.v.set(p.name, tensor(p.type, checked(values, `v.${p.name}`, p.type.axes)));
    }
  }

  /** Parameters and optimizer state as the interpreter holds them (for diagnosing a step). */
  snapshot(): { params: Map<string, Tensor>; m: Map<string, Tensor>; v: Map<string, Tensor> } {
    return { params: new Map(this.params), m: new Map(this.m), v: new Map(this.v) };
  }

  destroy(): void {}
}

/**
 * The interpreter computes synchronously: without a turn of the event loop between steps,
 * signals (Ctrl-C), output and timers would wait until training ends.
 */
function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

function checked(values: ReadonlyMap<string, Float32Array>, name: string, axes: readonly { size: number }[]): Float32Array {
  const v = values.get(name);
  const n = axes.reduce((s, a) => s * a.size, 1);
  if (!v || v.length !== n) throw new Error(`${name} needs ${n} values${v ? `, got ${v.length}` : ''}`);
  return v;
}
