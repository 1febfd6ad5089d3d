// Compiling kernels on helper devices before the model's device does (runtime/shader-cache.ts):
// when it is used, how kernels are shared out, and on lavapipe that helpers compile real
// kernels, drop their errors, and leave the model's device to report them.
import { afterAll, describe, expect, it } from 'vitest';
import { compileCost, compileDevices, MAX_COMPILE_DEVICES, mesaCacheOn, startShaderCacheWarming, UPFRONT_SHARE, warmingSchedule, warmShaderCache } from '../../runtime/shader-cache.js';
import { getTestDevice, releaseTestDevice } from '../helpers/webgpu.js';

const gpu = await getTestDevice();
afterAll(releaseTestDevice);

const LAVAPIPE = 'mesa software llvmpipe-llvm-15-0-6-256-bits- llvmpipe: Mesa 25.0.7 (LLVM 15.0.6)';

describe('compileDevices', () => {
  it('uses one helper per core, up to MAX_COMPILE_DEVICES and half the kernels, on lavapipe in Node with the cache on', () => {
    expect(compileDevices(LAVAPIPE, 42, 2, {}, true)).toBe(2);
    expect(compileDevices(LAVAPIPE, 42, 64, {}, true)).toBe(MAX_COMPILE_DEVICES);
    expect(compileDevices(LAVAPIPE, 6, 16, {}, true)).toBe(3);
  });
  it('uses none with one core, fewer than four kernels, another adapter, outside Node, or the cache off', () => {
    expect(compileDevices(LAVAPIPE, 42, 1, {}, true)).toBe(0);
    expect(compileDevices(LAVAPIPE, 3, 16, {}, true)).toBe(0);
    expect(compileDevices('nvidia discrete NVIDIA H200', 42, 16, {}, true)).toBe(0);
    expect(compileDevices('google swiftshader Vulkan', 42, 16, {}, true)).toBe(0);
    expect(compileDevices(LAVAPIPE, 42, 16, {}, false)).toBe(0);
    expect(compileDevices(LAVAPIPE, 42, 16, { MESA_SHADER_CACHE_DISABLE: 'true' }, true)).toBe(0);
  });
  it('takes MDLC_COMPILE_DEVICES as given (0 turns helpers off) and refuses what is not a count', () => {
    expect(compileDevices(LAVAPIPE, 42, 2, { MDLC_COMPILE_DEVICES: '0' }, true)).toBe(0);
    expect(compileDevices('nvidia', 42, 2, { MDLC_COMPILE_DEVICES: '3' }, true)).toBe(3);
    expect(compileDevices(LAVAPIPE, 2, 2, { MDLC_COMPILE_DEVICES: '5' }, true)).toBe(2);
    expect(() => compileDevices(LAVAPIPE, 42, 2, { MDLC_COMPILE_DEVICES: 'many' }, true)).toThrow(/MDLC_COMPILE_DEVICES/);
    expect(() => compileDevices(LAVAPIPE, 42, 2, { MDLC_COMPILE_DEVICES: '-1' }, true)).toThrow(/MDLC_COMPILE_DEVICES/);
  });
});

describe('mesaCacheOn', () => {
  it("is on unless MESA_SHADER_CACHE_DISABLE (or MESA_GLSL_CACHE_DISABLE) holds something other than Mesa's false values", () => {
    expect(mesaCacheOn({})).toBe(true);
    for (const off of ['false', 'FALSE', '0', 'n', 'no', 'f']) expect(mesaCacheOn({ MESA_SHADER_CACHE_DISABLE: off }), off).toBe(true);
    for (const on of ['true', '1', 'yes', 'y']) expect(mesaCacheOn({ MESA_SHADER_CACHE_DISABLE: on }), on).toBe(false);
    expect(mesaCacheOn({ MESA_GLSL_CACHE_DISABLE: 'true' })).toBe(false);
  });
});

describe('warmingSchedule', () => {
  const sum = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0);
  it('hands each helper the costliest kernels up to its part of UPFRONT_SHARE of the cost, the least loaded first, and queues the rest costliest first', () => {
    const first = [5, 1, 9, 3, 3, 2, 7]; // 30 in all: 9 each upfront on 2 helpers
    const got = warmingSchedule(first, [], 2, (x) => x);
    expect(UPFRONT_SHARE).toBe(0.6);
    expect(got.upfront).toEqual([[9], [7, 2]]);
    expect(got.queue).toEqual([5, 3, 3, 1]);
    expect(got.upfront.map(sum).every((c) => c <= 9)).toBe(true);
    expect([...got.upfront.flat(), ...got.queue].sort((a, b) => a - b)).toEqual([...first].sort((a, b) => a - b));
  });
  it('queues `later` after the rest of `first`, costliest first, and gives none of it upfront', () => {
    const got = warmingSchedule(['a', 'bb', 'ccc', 'dddd'], ['x', 'yyyyyyyyy', 'zz'], 2, (s) => s.length, 0.5);
    expect(got.upfront).toEqual([['dddd'], ['ccc']]);
    expect(got.queue).toEqual(['bb', 'a', 'yyyyyyyyy', 'zz', 'x']);
  });
  it('gives every helper a kernel even over budget, makes no more shares than kernels, and with nothing first leaves all to the queue', () => {
    expect(warmingSchedule([10, 1], [], 2, (x) => x, 0.1).upfront).toEqual([[10], [1]]);
    expect(warmingSchedule([4], [2, 3], 3, (x) => x)).toEqual({ upfront: [[4]], queue: [3, 2] });
    expect(warmingSchedule([], [2, 3], 2, (x) => x)).toEqual({ upfront: [], queue: [3, 2] });
    expect(warmingSchedule([1, 2, 3], [], 2, (x) => x, 1).queue).toEqual([]);
  });
  it('costs a kernel by its memory accesses', () => {
    expect(compileCost('fn main() {}')).toBe(1);
    expect(compileCost('arena[0] = arena4(1u).x + arena_f32(2u) + f32(iarena[3]);')).toBe(5);
  });
});

/** A kernel as the programs declare them (offsets uniform, both arenas), writing `value` to element `at`. */
const kernel = (at: number, value: number) => `@group(1) @binding(0) var<uniform> off: array<vec4<u32>, 256>;
@group(0) @binding(0) var<storage, read_write> arena: array<f32>;
@group(0) @binding(1) var<storage, read_write> iarena: array<i32>;
@compute @workgroup_size(8)
fn main(@builtin(global_invocation_id) gid: vec3u) {
  for (var i = gid.x; i < 64u + off[255].w; i = i + 8u) { arena[off[0].x + i + ${at}u] = ${value.toFixed(1)} + f32(iarena[i % 4u]); }
}
`;

describe.runIf(gpu)('warmShaderCache on the test adapter', () => {
  it('compiles the kernels on the helper devices asked for and returns when they are done', async () => {
    const codes = Array.from({ length: 6 }, (_, i) => kernel(i, i));
    const r = await warmShaderCache(gpu!, codes, { MDLC_COMPILE_DEVICES: '2' });
    expect(r.devices).toBe(2);
    expect(r.kernels).toBe(6);
    expect(r.seconds).toBeGreaterThan(0);
    // The test device is untouched and works.
    gpu!.throwIfErrors();
    const buf = gpu!.device.createBuffer({ size: 16, usage: GPUBufferUsage.COPY_DST | GPUBufferUsage.MAP_READ });
    gpu!.device.queue.writeBuffer(buf, 0, new Float32Array([1, 2, 3, 4]));
    await buf.mapAsync(GPUMapMode.READ);
    expect([...new Float32Array(buf.getMappedRange())]).toEqual([1, 2, 3, 4]);
    buf.unmap();
  });

  it("drops a helper's errors: WGSL that does not compile fails on the model's device, not here", async () => {
    const r = await warmShaderCache(gpu!, [kernel(0, 1), 'fn main( {', kernel(1, 2)], { MDLC_COMPILE_DEVICES: '2' });
    expect(r.devices).toBe(2);
    gpu!.throwIfErrors();
  });

  it('starts in two halves: the helpers exist and have their work before `first` and `done` settle', async () => {
    const codes = Array.from({ length: 4 }, (_, i) => kernel(i, i));
    const warming = await startShaderCacheWarming(gpu!, codes, { MDLC_COMPILE_DEVICES: '2' });
    let settled = false;
    void warming.done.then(() => (settled = true));
    expect(settled).toBe(false);
    const r = await warming.done;
    expect(r).toMatchObject({ devices: 2, kernels: 4 });
    expect(await warming.first).toMatchObject({ devices: 2, kernels: 4 });
    const off = await startShaderCacheWarming(gpu!, codes, { MDLC_COMPILE_DEVICES: '0' });
    expect(await off.first).toEqual({ devices: 0, kernels: 0, seconds: 0 });
    expect(await off.done).toEqual({ devices: 0, kernels: 0, seconds: 0 });
  });

  it('settles `first` when the first kernels are compiled, and `done` once the later ones are too', async () => {
    const first = Array.from({ length: 4 }, (_, i) => kernel(i, i));
    const later = Array.from({ length: 3 }, (_, i) => kernel(10 + i, i));
    const warming = await startShaderCacheWarming(gpu!, first, { MDLC_COMPILE_DEVICES: '2' }, later);
    const order: string[] = [];
    const got = await Promise.all([warming.first.then((r) => (order.push('first'), r)), warming.done.then((r) => (order.push('done'), r))]);
    expect(order).toEqual(['first', 'done']);
    expect(got[0].kernels).toBeGreaterThanOrEqual(4);
    expect(got[1]).toMatchObject({ devices: 2, kernels: 7 });
    // One first kernel and more later: the second helper starts on the queue.
    const few = await startShaderCacheWarming(gpu!, first.slice(0, 1), { MDLC_COMPILE_DEVICES: '2' }, later);
    expect(await few.done).toMatchObject({ devices: 2, kernels: 4 });
    // Only later kernels: `first` settles at once, the helpers still compile them.
    const onlyLater = await startShaderCacheWarming(gpu!, [], { MDLC_COMPILE_DEVICES: '2' }, later);
    expect((await onlyLater.first).kernels).toBe(0);
    expect(await onlyLater.done).toMatchObject({ devices: 2, kernels: 3 });
    gpu!.throwIfErrors();
  });

  it('does nothing with MDLC_COMPILE_DEVICES=0 or the cache off', async () => {
    const codes = Array.from({ length: 6 }, (_, i) => kernel(i, i));
    expect(await warmShaderCache(gpu!, codes, { MDLC_COMPILE_DEVICES: '0' })).toEqual({ devices: 0, kernels: 0, seconds: 0 });
    expect(await warmShaderCache(gpu!, codes, { MESA_SHADER_CACHE_DISABLE: 'true' })).toEqual({ devices: 0, kernels: 0, seconds: 0 });
  });
});
