/**
 * A compiled model run straight from its program plan (the compiler's `planProgram`: WGSL of
 * every kernel, the dispatches of each entry with their arena offsets, the layout of
 * parameters, optimizer state, inputs and outputs), with no generated code: what a browser
 * page runs, since it cannot emit and load a `model.js`. It behaves as the generated `Model`
 * class does, call for call (the same pipelines, dispatches, buffers and uploads), so the two
 * compute the same numbers; `planModule` makes it a module `WebGpuBackend.open` takes.
 * Browser-safe: standard WebGPU only, no Node imports.
 */
import type { Feeds, StepResult, StepScalars } from './backend.js';
import type { Init } from './init.js';
import { BufferUsage, programLayouts } from './layouts.js';
import type { GeneratedModel, GeneratedModule } from './webgpu.js';

/** A tensor's place in one of the two arenas (elements, not bytes). */
export interface PlanSlot {
  name: string;
  arena: 'f32' | 'i32';
  offset: number;
  size: number;
  axes: readonly { name: string; size: number }[];
}

export interface PlanParam extends PlanSlot {
  init: Init;
  /** Offsets of AdamW's moments. */
  m: number;
  v: number;
  /** A copy in another axis order (perm[j]: the parameter axis that is the copy's j-th), kept by the update kernel. */
  transposed?: { offset: number; perm: readonly number[] };
}

export interface PlanCall {
  kernel: string;
  dispatch: readonly number[];
  /** Arena offsets the kernel reads from its offsets uniform, by slot. */
  offsets: readonly number[];
}

/** What the runner needs of a `ProgramPlan` (src/codegen/program.ts), plus its offsets block size. */
export interface ModelPlan {
  arenas: { f32: number; i32: number };
  params: readonly PlanParam[];
  inputs: readonly PlanSlot[];
  outputs: { loss: PlanSlot; gradNorm: PlanSlot; logits: PlanSlot };
  kernels: readonly { name: string; code: string }[];
  entries: { train: readonly PlanCall[]; eval: readonly PlanCall[]; forward: readonly PlanCall[] };
  /** u32 slots in each dispatch's block of the offsets uniform (the WGSL's `off` array holds as many). */
  offsetSlots: number;
}

/** `data` (row-major over `sizes`) with its axes reordered: axis j of the result is axis perm[j]. */
export function permuteAxes(data: Float32Array<ArrayBuffer>, sizes: readonly number[], perm: readonly number[]): Float32Array<ArrayBuffer> {
  const strides = sizes.map((_, i) => sizes.slice(i + 1).reduce((a, b) => a * b, 1));
  const outSizes = perm.map((p) => sizes[p]);
  const out = new Float32Array(data.length);
  const pos = outSizes.map(() => 0);
  for (let i = 0; i < out.length; i++) {
    let src = 0;
    for (let j = 0; j < perm.length; j++) src += pos[j] * strides[perm[j]];
    out[i] = data[src];
    for (let j = pos.length - 1; j >= 0; j--) {
      if (++pos[j] < outSizes[j]) break;
      pos[j] = 0;
    }
  }
  return out;
}

/**
 * The kernels a training step runs, by name, in the order it first runs them: what a model
 * compiles and warms up before its first step. The others (evaluation's and sampling's own,
 * such as a GEMM that does not keep what the backward pass would read) compile at their first use.
 */
export function stepKernels(entries: { train: readonly { kernel: string }[] }): string[] {
  return [...new Set(entries.train.map((c) => c.kernel))];
}

/** Flag values of the WebGPU specification, spelled out: a page need not have the globals a Node binding installs. */
const MapMode = { READ: 0x1 } as const;

export class PlanModel implements GeneratedModel {
  private readonly arena: GPUBuffer;
  private readonly iarena: GPUBuffer;
  private readonly readback: GPUBuffer;
  /** Free staging buffers for losses: each read in flight has its own, so a step can be queued before the last loss is read. */
  private readonly scalarReadbacks: GPUBuffer[] = [];
  private readonly bindGroup: GPUBindGroup;
  private readonly offsetsBuffer: GPUBuffer;
  private readonly offsets: GPUBindGroup;
  private readonly inputs: ReadonlyMap<string, PlanSlot>;
  /** Each call's block in the offsets uniform: calls are numbered train, then eval, then forward. */
  private readonly blockOf = new Map<PlanCall, number>();

  private constructor(
    private readonly device: GPUDevice,
    private readonly plan: ModelPlan,
    private readonly pipelines: ReadonlyMap<string, GPUComputePipeline>,
    layout: GPUBindGroupLayout,
    offsetsLayout: GPUBindGroupLayout,
  ) {
    const storage = BufferUsage.STORAGE | BufferUsage.COPY_DST | BufferUsage.COPY_SRC;
    this.arena = device.createBuffer({ label: 'arena', size: plan.arenas.f32 * 4, usage: storage });
    this.iarena = device.createBuffer({ label: 'iarena', size: plan.arenas.i32 * 4, usage: storage });
    this.readback = device.createBuffer({ label: 'readback', size: 4 * Math.max(4, plan.outputs.logits.size, ...plan.params.map((p) => p.size)), usage: BufferUsage.MAP_READ | BufferUsage.COPY_DST });
    this.bindGroup = device.createBindGroup({ layout, entries: [{ binding: 0, resource: { buffer: this.arena } }, { binding: 1, resource: { buffer: this.iarena } }] });
    this.inputs = new Map(plan.inputs.map((i) => [i.name, i]));
    // One block of offsets per dispatch, selected by a dynamic offset.
    const calls = [...plan.entries.train, ...plan.entries.eval, ...plan.entries.forward];
    const slots = plan.offsetSlots;
    const table = new Uint32Array(Math.max(1, calls.length) * slots);
    calls.forEach((c, i) => {
      if (c.offsets.length > slots) throw new Error(`internal: a dispatch of ${c.kernel} has ${c.offsets.length} offsets, over ${slots}`);
      table.set(c.offsets, i * slots);
      this.blockOf.set(c, i);
    });
    this.offsetsBuffer = device.createBuffer({ label: 'offsets', size: table.byteLength, usage: BufferUsage.UNIFORM | BufferUsage.COPY_DST });
    device.queue.writeBuffer(this.offsetsBuffer, 0, table);
    this.offsets = device.createBindGroup({ layout: offsetsLayout, entries: [{ binding: 0, resource: { buffer: this.offsetsBuffer, size: slots * 4 } }] });
  }

  /**
   * Compile every pipeline, and run each that a training step uses once on a tiny grid (LLVM
   * compiles a kernel at its first dispatch on CPU adapters), before any parameter is written.
   */
  static async create(device: GPUDevice, plan: ModelPlan): Promise<PlanModel> {
    const { arenas: layout, offsets: offsetsLayout, pipeline: pipelineLayout } = programLayouts(device);
    const compiled = await Promise.all(
      plan.kernels.map((k) => device.createComputePipelineAsync({ label: k.name, layout: pipelineLayout, compute: { module: device.createShaderModule({ label: k.name, code: k.code }), entryPoint: 'main' } })),
    );
    const model = new PlanModel(device, plan, new Map(plan.kernels.map((k, i) => [k.name, compiled[i]])), layout, offsetsLayout);
    await model.warmUp();
    return model;
  }

  private async warmUp(): Promise<void> {
    const encoder = this.device.createCommandEncoder();
    const pass = encoder.beginComputePass();
    pass.setBindGroup(0, this.bindGroup);
    pass.setBindGroup(1, this.offsets, [0]);
    for (const name of stepKernels(this.plan.entries)) {
      pass.setPipeline(this.pipelines.get(name)!);
      pass.dispatchWorkgroups(1);
    }
    pass.end();
    this.device.queue.submit([encoder.finish()]);
    await this.device.queue.onSubmittedWorkDone();
    // The warm-up wrote into the arenas: start from zeros (zero optimizer state).
    this.device.queue.writeBuffer(this.arena, 0, new Float32Array(this.plan.arenas.f32));
    this.device.queue.writeBuffer(this.iarena, 0, new Int32Array(this.plan.arenas.i32));
  }

  /** Record the dispatches of one entry into a compute pass of `encoder`. */
  private encode(entry: keyof ModelPlan['entries'], encoder: GPUCommandEncoder): void {
    const pass = encoder.beginComputePass();
    pass.setBindGroup(0, this.bindGroup);
    for (const call of this.plan.entries[entry]) {
      pass.setBindGroup(1, this.offsets, [this.blockOf.get(call)! * this.plan.offsetSlots * 4]);
      const pipeline = this.pipelines.get(call.kernel);
      if (!pipeline) throw new Error(`no pipeline ${call.kernel}`);
      pass.setPipeline(pipeline);
      pass.dispatchWorkgroups(call.dispatch[0], call.dispatch[1], call.dispatch[2]);
    }
    pass.end();
  }

  /** Upload parameter values (each row-major over its slot's axes), and their transposed copies. */
  setParams(values: ReadonlyMap<string, Float32Array<ArrayBuffer>>): void {
    for (const p of this.plan.params) {
      const v = values.get(p.name);
      if (!v || v.length !== p.size) throw new Error(`parameter ${p.name} needs ${p.size} values`);
      this.device.queue.writeBuffer(this.arena, p.offset * 4, v);
      if (p.transposed)
        this.device.queue.writeBuffer(
          this.arena,
          p.transposed.offset * 4,
          permuteAxes(
            v,
            p.axes.map((a) => a.size),
            p.transposed.perm,
          ),
        );
    }
  }

  private async readF32(offset: number, count: number, encoder?: GPUCommandEncoder): Promise<Float32Array<ArrayBuffer>> {
    const enc = encoder ?? this.device.createCommandEncoder();
    enc.copyBufferToBuffer(this.arena, offset * 4, this.readback, 0, count * 4);
    this.device.queue.submit([enc.finish()]);
    await this.readback.mapAsync(MapMode.READ, 0, count * 4);
    const out = new Float32Array(this.readback.getMappedRange(0, count * 4).slice(0));
    this.readback.unmap();
    return out;
  }

  async getParams(): Promise<Map<string, Float32Array<ArrayBuffer>>> {
    const out = new Map<string, Float32Array<ArrayBuffer>>();
    for (const p of this.plan.params) out.set(p.name, await this.readF32(p.offset, p.size));
    return out;
  }

  /** AdamW's moments as `m.<param>` and `v.<param>`. */
  async getState(): Promise<Map<string, Float32Array<ArrayBuffer>>> {
    const out = new Map<string, Float32Array<ArrayBuffer>>();
    for (const p of this.plan.params) {
      out.set(`m.${p.name}`, await this.readF32(p.m, p.size));
      out.set(`v.${p.name}`, await this.readF32(p.v, p.size));
    }
    return out;
  }

  setState(values: ReadonlyMap<string, Float32Array<ArrayBuffer>>): void {
    for (const p of this.plan.params) {
      const m = values.get(`m.${p.name}`);
      const v = values.get(`v.${p.name}`);
      if (!m || !v || m.length !== p.size || v.length !== p.size) throw new Error(`optimizer state of ${p.name} is missing`);
      this.device.queue.writeBuffer(this.arena, p.m * 4, m);
      this.device.queue.writeBuffer(this.arena, p.v * 4, v);
    }
  }

  private writeInput(name: string, data: Int32Array<ArrayBuffer> | Float32Array<ArrayBuffer>): void {
    const slot = this.inputs.get(name);
    if (!slot) throw new Error(`the model has no input ${name}`);
    if (data.length !== slot.size) throw new Error(`input ${name} needs ${slot.size} values, got ${data.length}`);
    this.device.queue.writeBuffer(slot.arena === 'f32' ? this.arena : this.iarena, slot.offset * 4, data);
  }

  /** One training step as one compute pass and one submit; reads back only the loss and the gradient norm. */
  async trainStep(windows: Feeds, scalars: StepScalars): Promise<StepResult> {
    for (const [name, data] of windows) this.writeInput(name, data);
    scalars.lr.forEach((lr, i) => this.writeInput(`lr.${i}`, new Float32Array([lr])));
    this.writeInput('bc1', new Float32Array([scalars.bc1]));
    this.writeInput('bc2', new Float32Array([scalars.bc2]));
    const encoder = this.device.createCommandEncoder();
    this.encode('train', encoder);
    const [loss, gradNorm] = await this.readScalars([this.plan.outputs.loss.offset, this.plan.outputs.gradNorm.offset], encoder);
    return { loss, gradNorm };
  }

  /** Submit `encoder` with copies of the f32s at `offsets` (at most 4), read back through a staging buffer of its own. */
  private async readScalars(offsets: readonly number[], encoder: GPUCommandEncoder): Promise<number[]> {
    const staging = this.scalarReadbacks.pop() ?? this.device.createBuffer({ label: 'scalar readback', size: 16, usage: BufferUsage.MAP_READ | BufferUsage.COPY_DST });
    offsets.forEach((offset, i) => encoder.copyBufferToBuffer(this.arena, offset * 4, staging, i * 4, 4));
    this.device.queue.submit([encoder.finish()]);
    try {
      await staging.mapAsync(MapMode.READ, 0, 16);
    } catch (e) {
      staging.destroy();
      throw e;
    }
    const values = Array.from(new Float32Array(staging.getMappedRange(0, 16)).subarray(0, offsets.length));
    staging.unmap();
    this.scalarReadbacks.push(staging);
    return values;
  }

  async evalLoss(windows: Feeds): Promise<number> {
    for (const [name, data] of windows) this.writeInput(name, data);
    const encoder = this.device.createCommandEncoder();
    this.encode('eval', encoder);
    const [loss] = await this.readScalars([this.plan.outputs.loss.offset], encoder);
    return loss;
  }

  /** The logits, row-major over the output slot's axes. */
  async forward(windows: Feeds): Promise<Float32Array<ArrayBuffer>> {
    for (const [name, data] of windows) this.writeInput(name, data);
    const encoder = this.device.createCommandEncoder();
    this.encode('forward', encoder);
    return this.readF32(this.plan.outputs.logits.offset, this.plan.outputs.logits.size, encoder);
  }

  destroy(): void {
    this.arena.destroy();
    this.iarena.destroy();
    this.readback.destroy();
    this.offsetsBuffer.destroy();
    for (const b of this.scalarReadbacks.splice(0)) b.destroy();
  }
}

/** A plan as the module `WebGpuBackend.open` takes in place of a generated `model.js`. */
export function planModule(plan: ModelPlan): GeneratedModule {
  return {
    Model: { create: (device: GPUDevice) => PlanModel.create(device, plan) },
    PARAMS: plan.params,
    KERNELS: Object.fromEntries(plan.kernels.map((k) => [k.name, k.code])),
    STEP_KERNELS: stepKernels(plan.entries),
  };
}
