/**
 * Test harness: schedule an IR graph, plan its buffers, render its kernels, run them on the
 * WebGPU device in one pass, and return the requested outputs, so kernels can be compared
 * with the reference interpreter on the same graph and inputs.
 */
import { expect } from 'vitest';
import type { Graph, TensorType } from '../../src/ir/types.js';
import { schedule } from '../../src/codegen/passes/index.js';
import type { Schedule } from '../../src/codegen/kernel-ir/types.js';
import { planBuffers, resolveOffsets } from '../../src/codegen/buffers.js';
import { renderKernel } from '../../src/codegen/wgsl/kernels.js';
import { segmentTable } from '../../src/codegen/kernel-ir/kernel.js';
import { CPU_TARGET, GPU_TARGET, type GemmVariant } from '../../src/codegen/target.js';
import { interpret, makeRng, tensor, type Tensor } from '../../src/ir/interpret/index.js';
import type { GpuContext } from '../../runtime/device.js';

export interface DeviceRun {
  outputs: Map<number, Float32Array | Int32Array>;
  kernels: number;
  kinds: string[];
  /** The WGSL of each kernel, in dispatch order. */
  codes: string[];
}

/** Row-major data of a tensor as f32 or i32. */
function toArray(t: Tensor): Float32Array | Int32Array {
  if (t.type.dtype === 'f32') return Float32Array.from(t.data as ArrayLike<number>);
  return Int32Array.from(t.data as ArrayLike<number>);
}

/**
 * The graph scheduled (and transformed) as codegen would, its buffers planned with the
 * parameters, inputs and requested outputs kept alive, and every kernel's offsets resolved:
 * what both the WebGPU and the wasm harnesses run.
 */
export function scheduleAndPlan(graph: Graph, outputs: readonly number[], transform: (s: Schedule) => Schedule = (s) => s) {
  const sched = transform(schedule(graph, { outputs }));
  const value = (id: number) => {
    const n = graph.nodes[id];
    return { node: id, arena: (n.type.dtype === 'f32' ? 'f32' : 'i32') as 'f32' | 'i32', axes: n.type.axes, size: n.type.axes.reduce((s, a) => s * a.size, 1) };
  };
  const persistent = [...new Set([...graph.params.map((p) => p.node), ...graph.inputs.map((i) => i.node), ...outputs])].map(value);
  const [plan] = planBuffers([sched], { persistent, aliases: new Map() });
  resolveOffsets(sched.kernels, plan);
  return { sched, plan };
}

export async function runOnDevice(
  gpu: GpuContext,
  graph: Graph,
  outputs: readonly number[],
  feeds: { params: ReadonlyMap<string, Tensor>; inputs: ReadonlyMap<string, Tensor> },
  variant: GemmVariant = 'register',
  transform: (s: Schedule) => Schedule = (s) => s,
): Promise<DeviceRun> {
  const device = gpu.device;
  const { sched, plan } = scheduleAndPlan(graph, outputs, transform);

  const f32 = new Float32Array(plan.arenaSize.f32);
  const i32 = new Int32Array(plan.arenaSize.i32);
  const place = (id: number, t: Tensor) => {
    const r = plan.regions.get(id)!;
    // Feeds must be in the declared axis order (the interpreter's layout).
    const data = toArray(t);
    if (r.arena === 'f32') f32.set(data as Float32Array, r.offset);
    else i32.set(data as Int32Array, r.offset);
  };
  for (const p of graph.params) place(p.node, feeds.params.get(p.name)!);
  for (const i of graph.inputs) place(i.node, feeds.inputs.get(i.name)!);

  const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST | GPUBufferUsage.COPY_SRC;
  const arena = device.createBuffer({ size: f32.byteLength, usage });
  const iarena = device.createBuffer({ size: i32.byteLength, usage });
  device.queue.writeBuffer(arena, 0, f32);
  device.queue.writeBuffer(iarena, 0, i32);
  const layout = device.createBindGroupLayout({ entries: [0, 1].map((binding) => ({ binding, visibility: GPUShaderStage.COMPUTE, buffer: { type: 'storage' as const } })) });
  const bindGroup = device.createBindGroup({ layout, entries: [{ binding: 0, resource: { buffer: arena } }, { binding: 1, resource: { buffer: iarena } }] });
  const pipelineLayout = device.createPipelineLayout({ bindGroupLayouts: [layout] });
  // Segmented kernels read their table from an offsets uniform at group 1, as in model.ts.
  const tableLayout = device.createBindGroupLayout({ entries: [{ binding: 0, visibility: GPUShaderStage.COMPUTE, buffer: { type: 'uniform' as const } }] });
  const tablePipelineLayout = device.createPipelineLayout({ bindGroupLayouts: [layout, tableLayout] });
  const tables: GPUBuffer[] = [];

  const encoder = device.createCommandEncoder();
  const pass = encoder.beginComputePass();
  pass.setBindGroup(0, bindGroup);
  const codes: string[] = [];
  for (const k of sched.kernels) {
    // 'register' on the CPU target (lavapipe's), 'tiled' on the GPU target.
    const r = renderKernel(k, variant === 'register' ? CPU_TARGET : GPU_TARGET);
    let table: GPUBindGroup | undefined;
    if (k.kind === 'segmented') {
      const data = Uint32Array.from(segmentTable(k));
      const words = Math.ceil(Math.max(4, data.length) / 4) * 4;
      r.code = `@group(1) @binding(0) var<uniform> off: array<vec4<u32>, ${words / 4}>;\n${r.code}`;
      const buffer = device.createBuffer({ size: words * 4, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST });
      device.queue.writeBuffer(buffer, 0, data);
      tables.push(buffer);
      table = device.createBindGroup({ layout: tableLayout, entries: [{ binding: 0, resource: { buffer } }] });
    }
    codes.push(r.code);
    const module = device.createShaderModule({ code: r.code });
    const info = await module.getCompilationInfo();
    const errors = info.messages.filter((m) => m.type === 'error');
    if (errors.length) throw new Error(`WGSL of ${k.name} does not compile: ${errors.map((e) => `${e.lineNum}:${e.linePos} ${e.message}`).join('; ')}\n${r.code}`);
    const pipeline = device.createComputePipeline({ layout: table ? tablePipelineLayout : pipelineLayout, compute: { module, entryPoint: 'main' } });
    pass.setPipeline(pipeline);
    if (table) pass.setBindGroup(1, table);
    pass.dispatchWorkgroups(...r.dispatch);
  }
  pass.end();
  const readF = device.createBuffer({ size: f32.byteLength, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
  const readI = device.createBuffer({ size: i32.byteLength, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
  encoder.copyBufferToBuffer(arena, 0, readF, 0, f32.byteLength);
  encoder.copyBufferToBuffer(iarena, 0, readI, 0, i32.byteLength);
  device.queue.submit([encoder.finish()]);
  await gpu.sync();
  await readF.mapAsync(GPUMapMode.READ);
  await readI.mapAsync(GPUMapMode.READ);
  const outF = new Float32Array(readF.getMappedRange().slice(0));
  const outI = new Int32Array(readI.getMappedRange().slice(0));
  readF.unmap();
  readI.unmap();
  for (const b of [arena, iarena, readF, readI, ...tables]) b.destroy();

  const result = new Map<number, Float32Array | Int32Array>();
  for (const o of outputs) {
    const r = plan.regions.get(o)!;
    result.set(o, r.arena === 'f32' ? outF.slice(r.offset, r.offset + r.size) : outI.slice(r.offset, r.offset + r.size));
  }
  return { outputs: result, kernels: sched.kernels.length, kinds: sched.kernels.map((k) => k.kind), codes };
}

/** Largest |a-b| / (|b| + scale) over elements, where scale is the mean |b| (robust near zero). */
export function maxRelError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let scale = 0;
  for (let i = 0; i < b.length; i++) scale += Math.abs(b[i]);
  scale = scale / Math.max(1, b.length) + 1e-12;
  let worst = 0;
  for (let i = 0; i < b.length; i++) {
    const e = Math.abs(a[i] - b[i]) / (Math.abs(b[i]) + scale);
    if (!(e <= worst)) worst = Number.isNaN(e) ? Infinity : Math.max(worst, e);
  }
  return worst;
}

/** Random values for every parameter and input of `g`: normal floats, indices below their axis's size (or `indexRanges`' bound, or 4). */
export function randomFeeds(g: Graph, seed: number, indexRanges: ReadonlyMap<string, number> = new Map()) {
  const rng = makeRng(seed, 'feeds');
  const params = new Map<string, Tensor>();
  const inputs = new Map<string, Tensor>();
  const fill = (t: TensorType, name: string) => {
    const n = t.axes.reduce((s, a) => s * a.size, 1);
    if (t.dtype === 'i32') {
      const hi = indexRanges.get(name) ?? t.indexOf?.size ?? 4;
      return tensor(t, Int32Array.from({ length: n }, () => rng.int(hi)));
    }
    return tensor(t, Float32Array.from({ length: n }, () => rng.normal()));
  };
  for (const p of g.params) params.set(p.name, fill(p.type, p.name));
  for (const i of g.inputs) inputs.set(i.name, fill(i.type, i.name));
  return { params, inputs };
}

export interface CompareOptions {
  seed?: number;
  variant?: GemmVariant;
  /** Largest maxRelError accepted (1e-4). */
  tol?: number;
  transform?: (s: Schedule) => Schedule;
}

/** Run `outputs` of `g` on the device and in the interpreter (f32) on the same random feeds, and expect them to agree. */
export async function compareWithInterpreter(gpu: GpuContext, g: Graph, outputs: readonly number[], opts: CompareOptions = {}): Promise<DeviceRun> {
  const feeds = randomFeeds(g, opts.seed ?? 1);
  const want = interpret(g, feeds, { precision: 'f32', outputs });
  const got = await runOnDevice(gpu, g, outputs, feeds, opts.variant, opts.transform);
  for (const o of outputs) {
    const w = want.get(o)!.data;
    const d = got.outputs.get(o)!;
    expect(d.length).toBe(w.length);
    expect(maxRelError(d, w as ArrayLike<number>)).toBeLessThan(opts.tol ?? 1e-4);
  }
  return got;
}
