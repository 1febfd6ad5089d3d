// Proves that WGSL compute kernels run on the WebGPU adapter (lavapipe in CI) and agree
// with JavaScript. Skips without an adapter unless MDLC_REQUIRE_WEBGPU=1, where it fails.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GpuDeviceError, type GpuContext } from '../../runtime/index.js';
import { BufferUsage, Readback, createEmptyStorageBuffer, createStorageBuffer, createUniformBuffer, readBuffer, writeBuffer } from '../helpers/buffers.js';
import { getTestDevice, releaseTestDevice } from '../helpers/webgpu.js';
import { randomFloats } from '../helpers/random.js';

const gpu = await getTestDevice();
const noGpu = gpu === undefined;
let reader: Readback;

beforeAll(() => {
  if (!gpu) return;
  console.log(`[webgpu] adapter: ${gpu.description} (software: ${gpu.isSoftware}, subgroups: ${gpu.hasSubgroups})`);
  reader = new Readback(gpu.device);
});

afterAll(() => {
  reader?.destroy();
  releaseTestDevice();
});


/** Compiles `code` (failing on WGSL errors), binds `buffers` to @group(0) @binding(i), dispatches. */
async function runKernel(
  ctx: GpuContext,
  code: string,
  buffers: GPUBuffer[],
  workgroups: [number, number?, number?],
): Promise<void> {
  const { device } = ctx;
  const module = device.createShaderModule({ code });
  const messages = (await module.getCompilationInfo()).messages.filter((m) => m.type === 'error');
  expect(messages.map((m) => `${m.lineNum}:${m.linePos} ${m.message}`)).toEqual([]);
  const pipeline = await device.createComputePipelineAsync({ layout: 'auto', compute: { module, entryPoint: 'main' } });
  const bindGroup = device.createBindGroup({
    layout: pipeline.getBindGroupLayout(0),
    entries: buffers.map((buffer, binding) => ({ binding, resource: { buffer } })),
  });
  const encoder = device.createCommandEncoder();
  const pass = encoder.beginComputePass();
  pass.setPipeline(pipeline);
  pass.setBindGroup(0, bindGroup);
  pass.dispatchWorkgroups(workgroups[0], workgroups[1] ?? 1, workgroups[2] ?? 1);
  pass.end();
  device.queue.submit([encoder.finish()]);
  await ctx.sync(); // throws any uncaptured validation error
}

function expectClose(actual: Float32Array, expected: ArrayLike<number>, scale: ArrayLike<number> | number, rel: number): void {
  expect(actual.length).toBe(expected.length);
  let worst = 0;
  let worstAt = -1;
  for (let i = 0; i < expected.length; i++) {
    const s = typeof scale === 'number' ? scale : scale[i];
    const err = Math.abs(actual[i] - expected[i]) / Math.max(s, Number.MIN_VALUE);
    if (!(err <= worst)) {
      worst = err;
      worstAt = i;
    }
  }
  expect(worst, `worst relative error ${worst} at ${worstAt}: ${actual[worstAt]} vs ${expected[worstAt]}`).toBeLessThanOrEqual(rel);
}

describe('WebGPU smoke', () => {
  it.skipIf(noGpu)('reports the adapter, limits and features', () => {
    const ctx = gpu!;
    expect(ctx.alive).toBe(true);
    expect(ctx.adapter.limits.maxStorageBufferBindingSize).toBe(ctx.limits.maxStorageBufferBindingSize);
    expect(ctx.limits.maxBufferSize).toBe(ctx.adapter.limits.maxBufferSize);
    expect(ctx.limits.maxComputeInvocationsPerWorkgroup).toBe(ctx.adapter.limits.maxComputeInvocationsPerWorkgroup);
    expect(ctx.limits.maxComputeWorkgroupStorageSize).toBe(ctx.adapter.limits.maxComputeWorkgroupStorageSize);
    expect(ctx.limits.maxStorageBuffersPerShaderStage).toBe(ctx.adapter.limits.maxStorageBuffersPerShaderStage);
    expect(ctx.hasSubgroups).toBe(ctx.adapter.features.has('subgroups'));
    if (/llvmpipe|lavapipe|swiftshader/i.test(ctx.description)) expect(ctx.isSoftware).toBe(true);
  });

  it.skipIf(noGpu)('elementwise c = a * b + c on 1000 floats (not a multiple of the workgroup size)', async () => {
    const ctx = gpu!;
    const n = 1000;
    const a = randomFloats(n, 1);
    const b = randomFloats(n, 2);
    const c = randomFloats(n, 3);
    const bufA = createStorageBuffer(ctx.device, a);
    const bufB = createStorageBuffer(ctx.device, b);
    const bufC = createStorageBuffer(ctx.device, c);
    await runKernel(
      ctx,
      /* wgsl */ `
      @group(0) @binding(0) var<storage, read> a: array<f32>;
      @group(0) @binding(1) var<storage, read> b: array<f32>;
      @group(0) @binding(2) var<storage, read_write> c: array<f32>;
      @compute @workgroup_size(64)
      fn main(@builtin(global_invocation_id) gid: vec3u) {
        let i = gid.x;
        if (i >= arrayLength(&c)) { return; }
        c[i] = a[i] * b[i] + c[i];
      }`,
      [bufA, bufB, bufC],
      [Math.ceil(n / 64)],
    );
    const got = await reader.readF32(bufC);
    const want = Array.from(c, (ci, i) => Math.fround(Math.fround(a[i] * b[i]) + ci));
    // Fused multiply-add on the GPU may differ from JS's two roundings by an ulp.
    expectClose(got, want, 1, 1e-6);
    for (const buf of [bufA, bufB, bufC]) buf.destroy();
  });

  it.skipIf(noGpu)('naive matmul 37x29 @ 29x23 matches a JS loop within 1e-5 relative', async () => {
    const ctx = gpu!;
    const [M, K, N] = [37, 29, 23];
    const A = randomFloats(M * K, 11);
    const B = randomFloats(K * N, 12);
    const bufA = createStorageBuffer(ctx.device, A);
    const bufB = createStorageBuffer(ctx.device, B);
    const bufC = createEmptyStorageBuffer(ctx.device, M * N * 4);
    const dims = createUniformBuffer(ctx.device, new Uint32Array([M, K, N]));
    await runKernel(
      ctx,
      /* wgsl */ `
      struct Dims { M: u32, K: u32, N: u32 }
      @group(0) @binding(0) var<storage, read> A: array<f32>;
      @group(0) @binding(1) var<storage, read> B: array<f32>;
      @group(0) @binding(2) var<storage, read_write> C: array<f32>;
      @group(0) @binding(3) var<uniform> d: Dims;
      @compute @workgroup_size(8, 8)
      fn main(@builtin(global_invocation_id) gid: vec3u) {
        let row = gid.y;
        let col = gid.x;
        if (row >= d.M || col >= d.N) { return; }
        var acc = 0.0;
        for (var k = 0u; k < d.K; k++) {
          acc += A[row * d.K + k] * B[k * d.N + col];
        }
        C[row * d.N + col] = acc;
      }`,
      [bufA, bufB, bufC, dims],
      [Math.ceil(N / 8), Math.ceil(M / 8)],
    );
    const got = await reader.readF32(bufC);
    expect(got.length).toBe(M * N);
    const want = new Float64Array(M * N);
    const scale = new Float64Array(M * N); // sum of |a||b|: the natural scale of a dot product's error
    for (let i = 0; i < M; i++) {
      for (let k = 0; k < K; k++) {
        const aik = A[i * K + k];
        for (let j = 0; j < N; j++) {
          want[i * N + j] += aik * B[k * N + j];
          scale[i * N + j] += Math.abs(aik * B[k * N + j]);
        }
      }
    }
    expectClose(got, want, scale, 1e-5);
    for (const buf of [bufA, bufB, bufC, dims]) buf.destroy();
  });

  it.skipIf(noGpu)('row softmax 50x13, one invocation per row, matches JS', async () => {
    const ctx = gpu!;
    const [rows, cols] = [50, 13];
    const x = randomFloats(rows * cols, 21).map((v) => v * 8); // logits in [-8, 8)
    const bufX = createStorageBuffer(ctx.device, x);
    const bufY = createEmptyStorageBuffer(ctx.device, rows * cols * 4);
    const dims = createUniformBuffer(ctx.device, new Uint32Array([rows, cols]));
    await runKernel(
      ctx,
      /* wgsl */ `
      struct Dims { rows: u32, cols: u32 }
      @group(0) @binding(0) var<storage, read> x: array<f32>;
      @group(0) @binding(1) var<storage, read_write> y: array<f32>;
      @group(0) @binding(2) var<uniform> d: Dims;
      @compute @workgroup_size(64)
      fn main(@builtin(global_invocation_id) gid: vec3u) {
        let r = gid.x;
        if (r >= d.rows) { return; }
        let base = r * d.cols;
        var m = x[base];
        for (var j = 1u; j < d.cols; j++) { m = max(m, x[base + j]); }
        var s = 0.0;
        for (var j = 0u; j < d.cols; j++) {
          let e = exp(x[base + j] - m);
          y[base + j] = e;
          s += e;
        }
        let inv = 1.0 / s;
        for (var j = 0u; j < d.cols; j++) { y[base + j] *= inv; }
      }`,
      [bufX, bufY, dims],
      [Math.ceil(rows / 64)],
    );
    const got = await reader.readF32(bufY);
    const want = new Float64Array(rows * cols);
    for (let r = 0; r < rows; r++) {
      const row = Array.from(x.subarray(r * cols, (r + 1) * cols));
      const m = Math.max(...row);
      const e = row.map((v) => Math.exp(v - m));
      const s = e.reduce((p, q) => p + q, 0);
      e.forEach((v, j) => (want[r * cols + j] = v / s));
    }
    // exp() in WGSL is not correctly rounded: allow a few ulps relative to each value.
    expectClose(got, want, want.map((v) => Math.abs(v)), 1e-5);
    for (let r = 0; r < rows; r++) {
      const sum = got.subarray(r * cols, (r + 1) * cols).reduce((p, q) => p + q, 0);
      expect(Math.abs(sum - 1)).toBeLessThan(1e-5);
    }
    for (const buf of [bufX, bufY, dims]) buf.destroy();
  });

  it.skipIf(noGpu || !gpu.hasSubgroups)('subgroupAdd works when the subgroups feature is enabled', async () => {
    const ctx = gpu!;
    const n = 64;
    const out = createEmptyStorageBuffer(ctx.device, n * 2 * 4);
    await runKernel(
      ctx,
      /* wgsl */ `
      enable subgroups;
      @group(0) @binding(0) var<storage, read_write> out: array<u32>;
      @compute @workgroup_size(64)
      fn main(@builtin(local_invocation_index) i: u32, @builtin(subgroup_size) sg: u32) {
        out[2u * i] = subgroupAdd(1u);
        out[2u * i + 1u] = sg;
      }`,
      [out],
      [1],
    );
    const got = await reader.readU32(out);
    for (let i = 0; i < n; i++) expect(got[2 * i]).toBe(got[2 * i + 1]);
    const size = got[1];
    if (ctx.info.subgroupMinSize !== undefined) expect(size).toBeGreaterThanOrEqual(ctx.info.subgroupMinSize);
    if (ctx.info.subgroupMaxSize !== undefined) expect(size).toBeLessThanOrEqual(ctx.info.subgroupMaxSize);
    out.destroy();
  });
});

describe('buffer helpers', () => {
  it.skipIf(noGpu)('round-trips Int32Array and Uint32Array, writes at offsets, reads sub-ranges', async () => {
    const ctx = gpu!;
    const ints = new Int32Array([-3, -2, -1, 0, 1, 2, 2147483647, -2147483648]);
    const bufI = createStorageBuffer(ctx.device, ints);
    expect(Array.from(await reader.readI32(bufI))).toEqual(Array.from(ints));
    const uints = new Uint32Array([0, 1, 0xffffffff, 12345]);
    const bufU = createStorageBuffer(ctx.device, uints);
    expect(Array.from(await reader.readU32(bufU))).toEqual(Array.from(uints));
    writeBuffer(ctx.device, bufU, new Uint32Array([7, 8]), 8);
    expect(Array.from(await reader.readU32(bufU))).toEqual([0, 1, 7, 8]);
    expect(Array.from(await reader.readU32(bufU, 2, 4))).toEqual([1, 7]);
    // A typed array that is a view into a larger buffer writes only its own bytes.
    const big = new Float32Array([9, 10, 11, 12, 13]);
    const bufF = createStorageBuffer(ctx.device, big.subarray(1, 4));
    expect(Array.from(await readBuffer(ctx.device, bufF, 'f32'))).toEqual([10, 11, 12]);
    for (const buf of [bufI, bufU, bufF]) buf.destroy();
  });

  it.skipIf(noGpu)('empty buffers are zeroed; the readback buffer grows and is reused', async () => {
    const ctx = gpu!;
    const r = new Readback(ctx.device);
    const small = createEmptyStorageBuffer(ctx.device, 4);
    expect(Array.from(await r.readF32(small))).toEqual([0]);
    expect(r.capacity).toBe(4);
    const n = 1 << 18; // 1 MiB
    const data = randomFloats(n, 5);
    const large = createStorageBuffer(ctx.device, data);
    const [x, y] = await Promise.all([r.readF32(large), r.readF32(large, 3, 8)]); // serialised
    expect(x.length).toBe(n);
    expect(x.every((v, i) => Object.is(v, data[i]))).toBe(true); // (toEqual on 256k elements is slow)
    expect(Array.from(y)).toEqual(Array.from(data.subarray(2, 5)));
    expect(r.capacity).toBe(n * 4);
    expect(Array.from(await r.readF32(small))).toEqual([0]);
    expect(r.capacity).toBe(n * 4);
    await expect(r.readBytes(small, 8)).rejects.toThrow(RangeError);
    expect(Array.from(await r.readF32(small))).toEqual([0]); // still usable after a failure
    r.destroy();
    small.destroy();
    large.destroy();
  });

  it.skipIf(noGpu)('uncaptured validation errors surface through sync() and onError', async () => {
    const ctx = gpu!;
    const seen: GpuDeviceError[] = [];
    const off = ctx.onError((e) => seen.push(e));
    try {
      // MAP_READ may only be combined with COPY_DST: a validation error.
      ctx.device.createBuffer({ size: 16, usage: BufferUsage.MAP_READ | BufferUsage.STORAGE });
      await expect(ctx.sync()).rejects.toMatchObject({ name: 'GpuDeviceError', kind: 'validation' });
      expect(seen).toHaveLength(1);
      await ctx.sync(); // cleared
      await expect(
        ctx.withErrorScope(() => ctx.device.createBuffer({ size: 16, usage: BufferUsage.MAP_READ | BufferUsage.STORAGE })),
      ).rejects.toThrow(/validation/);
      expect(ctx.takeErrors()).toEqual([]); // scoped errors are not uncaptured
    } finally {
      off();
    }
  });
});
