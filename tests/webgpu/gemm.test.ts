/**
 * The GEMM generator (src/codegen/wgsl/gemm.ts), both variants, against a plain JS reference:
 * shapes that are not multiples of the block or tile sizes, operands in every memory order
 * (row-major, transposed, batch axis innermost, broadcast batch), multi-axis groups (merged
 * and not), arena offsets aligned and not, and the epilogues the scheduler fuses (scale, bias +
 * GELU, residual add). Each run also checks that nothing outside the output region changed.
 */
import { afterAll, describe, expect, it } from 'vitest';
import type { Axis } from '../../src/ir/types.js';
import type { Access, GemmKernel, KExpr } from '../../src/codegen/kernel-ir/types.js';
import { gemmWgsl, mergeRuns, registerBlocking, type GemmOptions } from '../../src/codegen/wgsl/gemm.js';
import { loadsOf } from '../../src/codegen/kernel-ir/expr.js';
import type { GemmVariant } from '../../src/codegen/target.js';
import { getTestDevice, releaseTestDevice } from '../helpers/webgpu.js';
import { randomFloats } from '../helpers/random.js';

const gpu = await getTestDevice();
afterAll(releaseTestDevice);

type Epilogue = 'acc' | 'scale' | 'gelu_bias' | 'residual';

interface Case {
  name: string;
  batch?: [string, number][];
  m: [string, number][];
  n: [string, number][];
  k: [string, number][];
  /** Memory order of each operand's axes, outermost first (an axis left out is broadcast). */
  a: string[];
  b: string[];
  out: string[];
  epilogue?: Epilogue;
  /** Memory order of the residual (default: out's order). */
  residual?: string[];
  /** Place regions at odd offsets (no vec4 access possible) instead of multiples of 16. */
  misalign?: boolean;
  /** Register rows per invocation other than the CPU target's 8 (a tuning: bench/gemm.mjs compares them). */
  rows?: number;
}


const gelu = (x: number) => 0.5 * x * (1 + Math.tanh(0.7978845608 * (x + 0.044715 * x * x * x)));

interface Built {
  spec: GemmKernel;
  arena: Float32Array;
  outRegion: [number, number];
  expected: Float64Array;
  /** Per output: Σ|a·b| times the epilogue's slope, the natural scale of its rounding error. */
  scale: Float64Array;
  /** Output element offsets (in the arena), in the order of `expected`. */
  outIndex: Int32Array;
}

function build(c: Case): Built {
  let id = 100;
  const table = new Map<string, Axis>();
  const group = (list: [string, number][] = []) =>
    list.map(([name, size]) => {
      const a: Axis = { id: id++, name, size };
      table.set(name, a);
      return a;
    });
  const batch = group(c.batch);
  const m = group(c.m);
  const n = group(c.n);
  const k = group(c.k);
  const get = (name: string) => table.get(name) ?? (() => { throw new Error(`unknown axis ${name}`); })();
  const count = (axes: readonly Axis[]) => axes.reduce((p, a) => p * a.size, 1);

  // Regions, one after the other, at multiples of 16 (or at odd offsets when misaligned).
  let top = c.misalign ? 3 : 16;
  const place = (order: string[]) => {
    const axes = order.map(get);
    const strides = new Map<number, number>();
    let s = 1;
    for (let i = axes.length - 1; i >= 0; i--) {
      strides.set(axes[i].id, s);
      s *= axes[i].size;
    }
    const access: Access = { arena: 'f32', value: 0, offset: top, strides };
    top += s + (c.misalign ? 5 : 16 + ((16 - (s % 16)) % 16));
    return { access, size: s };
  };
  const A = place(c.a);
  const B = place(c.b);
  const epi = c.epilogue ?? 'acc';
  const bias = epi === 'gelu_bias' ? place(c.n.map(([name]) => name)) : undefined;
  const residual = epi === 'residual' ? place(c.residual ?? c.out) : undefined;
  const out = place(c.out);
  const arena = new Float32Array(Math.ceil(top / 16) * 16 + 16);
  arena.set(randomFloats(arena.length, 7));
  arena.fill(Number.NaN, out.access.offset, out.access.offset + out.size); // unwritten outputs show

  const acc: KExpr = { k: 'acc' };
  const epilogue: KExpr =
    epi === 'acc'
      ? acc
      : epi === 'scale'
        ? { k: 'binary', fn: 'mul', a: acc, b: { k: 'const', value: 0.125, dtype: 'f32' }, dtype: 'f32' }
        : epi === 'gelu_bias'
          ? { k: 'unary', fn: 'gelu', x: { k: 'binary', fn: 'add', a: acc, b: { k: 'load', access: bias!.access, dtype: 'f32' }, dtype: 'f32' } }
          : { k: 'binary', fn: 'add', a: acc, b: { k: 'load', access: residual!.access, dtype: 'f32' }, dtype: 'f32' };
  const spec: GemmKernel = { kind: 'gemm', name: c.name, nodes: [], lines: [], reads: [], writes: [], batch, m, n, k, a: A.access, b: B.access, epilogue, out: out.access };

  // Reference, in float64.
  const positions = (axes: readonly Axis[], flat: number, into: Map<number, number>) => {
    for (let i = axes.length - 1; i >= 0; i--) {
      into.set(axes[i].id, flat % axes[i].size);
      flat = Math.floor(flat / axes[i].size);
    }
  };
  const offset = (a: Access, pos: Map<number, number>) => {
    let o = a.offset;
    for (const [axis, stride] of a.strides) o += (pos.get(axis) ?? 0) * stride;
    return o;
  };
  const [NB, NM, NN, NK] = [count(batch), count(m), count(n), count(k)];
  const expected = new Float64Array(NB * NM * NN);
  const scale = new Float64Array(NB * NM * NN);
  const outIndex = new Int32Array(NB * NM * NN);
  const pos = new Map<number, number>();
  let e = 0;
  for (let bi = 0; bi < NB; bi++) {
    positions(batch, bi, pos);
    for (let mi = 0; mi < NM; mi++) {
      positions(m, mi, pos);
      for (let ni = 0; ni < NN; ni++, e++) {
        positions(n, ni, pos);
        let sum = 0;
        let abs = 0;
        for (let ki = 0; ki < NK; ki++) {
          positions(k, ki, pos);
          const p = arena[offset(A.access, pos)] * arena[offset(B.access, pos)];
          sum += p;
          abs += Math.abs(p);
        }
        let v = sum;
        let slope = 1;
        if (epi === 'scale') {
          v = sum * 0.125;
          slope = 0.125;
        } else if (epi === 'gelu_bias') {
          v = gelu(sum + arena[offset(bias!.access, pos)]);
          slope = 1.2;
        } else if (epi === 'residual') v = sum + arena[offset(residual!.access, pos)];
        expected[e] = v;
        scale[e] = abs * slope + 1e-6;
        outIndex[e] = offset(out.access, pos);
      }
    }
  }
  return { spec, arena, outRegion: [out.access.offset, out.access.offset + out.size], expected, scale, outIndex };
}

/** Compiles and runs the kernel on the arena; returns the arena afterwards. */
async function run(spec: GemmKernel, arena: Float32Array, variant: GemmVariant, options?: GemmOptions): Promise<Float32Array> {
  const device = gpu!.device;
  const g = gemmWgsl(spec, variant, options);
  const module = device.createShaderModule({ code: g.code });
  const errors = (await module.getCompilationInfo()).messages.filter((m) => m.type === 'error');
  expect(errors.map((m) => `${m.lineNum}:${m.linePos} ${m.message}`), g.code).toEqual([]);
  const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST | GPUBufferUsage.COPY_SRC;
  const buffer = device.createBuffer({ size: arena.byteLength, usage });
  device.queue.writeBuffer(buffer, 0, arena);
  const ibuffer = device.createBuffer({ size: 16, usage });
  const layout = device.createBindGroupLayout({
    entries: [0, 1].map((binding) => ({ binding, visibility: GPUShaderStage.COMPUTE, buffer: { type: 'storage' as const } })),
  });
  const pipeline = await device.createComputePipelineAsync({
    layout: device.createPipelineLayout({ bindGroupLayouts: [layout] }),
    compute: { module, entryPoint: 'main' },
  });
  const bindGroup = device.createBindGroup({ layout, entries: [{ binding: 0, resource: { buffer } }, { binding: 1, resource: { buffer: ibuffer } }] });
  const readback = device.createBuffer({ size: arena.byteLength, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
  const encoder = device.createCommandEncoder();
  const pass = encoder.beginComputePass();
  pass.setPipeline(pipeline);
  pass.setBindGroup(0, bindGroup);
  pass.dispatchWorkgroups(...g.dispatch);
  pass.end();
  encoder.copyBufferToBuffer(buffer, 0, readback, 0, arena.byteLength);
  device.queue.submit([encoder.finish()]);
  await readback.mapAsync(GPUMapMode.READ);
  const result = new Float32Array(readback.getMappedRange().slice(0));
  readback.unmap();
  for (const b of [buffer, ibuffer, readback]) b.destroy();
  await gpu!.sync();
  return result;
}

async function check(c: Case, variant: GemmVariant, options?: GemmOptions): Promise<void> {
  const built = build(c);
  if (c.rows && variant === 'register') options = { ...options, tuning: { rows: c.rows, ...options?.tuning } };
  const got = await run(built.spec, built.arena, variant, options);
  let worst = 0;
  let worstAt = -1;
  for (let e = 0; e < built.expected.length; e++) {
    const err = Math.abs(got[built.outIndex[e]] - built.expected[e]) / built.scale[e];
    if (!(err <= worst)) {
      worst = err;
      worstAt = e;
    }
  }
  expect(worst, `worst relative error at output ${worstAt}: ${got[built.outIndex[worstAt]]} vs ${built.expected[worstAt]}`).toBeLessThan(1e-4);
  // Nothing outside the output region was written.
  const [lo, hi] = built.outRegion;
  let changed = -1;
  for (let i = 0; i < got.length && changed < 0; i++) {
    if ((i < lo || i >= hi) && !Object.is(got[i], built.arena[i])) changed = i;
  }
  expect(changed, 'an element outside the output region changed').toBe(-1);
}

const cases: Case[] = [
  { name: '1×1×1', m: [['m', 1]], n: [['n', 1]], k: [['k', 1]], a: ['m', 'k'], b: ['n', 'k'], out: ['m', 'n'] },
  { name: '37×29×23, A row-major, B n-major', m: [['m', 37]], n: [['n', 29]], k: [['k', 23]], a: ['m', 'k'], b: ['n', 'k'], out: ['m', 'n'] },
  { name: '37×29×23, A and B k-major (transposed)', m: [['m', 37]], n: [['n', 29]], k: [['k', 23]], a: ['k', 'm'], b: ['k', 'n'], out: ['m', 'n'], misalign: true },
  { name: '64×64×64, acc·0.125', m: [['m', 64]], n: [['n', 64]], k: [['k', 64]], a: ['m', 'k'], b: ['k', 'n'], out: ['m', 'n'], epilogue: 'scale' },
  { name: '64×64×64, B n-major, out transposed', m: [['m', 64]], n: [['n', 64]], k: [['k', 64]], a: ['k', 'm'], b: ['n', 'k'], out: ['n', 'm'] },
  { name: '65×130×17, gelu(acc + bias[n])', m: [['m', 65]], n: [['n', 130]], k: [['k', 17]], a: ['m', 'k'], b: ['k', 'n'], out: ['m', 'n'], epilogue: 'gelu_bias' },
  { name: '65×132×16, gelu(acc + bias[n]), vec4 paths', m: [['m', 65]], n: [['n', 132]], k: [['k', 16]], a: ['m', 'k'], b: ['k', 'n'], out: ['m', 'n'], epilogue: 'gelu_bias' },
  {
    name: 'batch 3×(5×7×9), acc + residual[m, n], batch innermost in A',
    batch: [['batch', 3]],
    m: [['m', 5]],
    n: [['n', 7]],
    k: [['k', 9]],
    a: ['m', 'k', 'batch'],
    b: ['batch', 'n', 'k'],
    out: ['batch', 'm', 'n'],
    epilogue: 'residual',
  },
  {
    name: 'batch 4×(13×12×8), B broadcast over the batch (shared weights)',
    batch: [['batch', 4]],
    m: [['m', 13]],
    n: [['n', 12]],
    k: [['k', 8]],
    a: ['batch', 'm', 'k'],
    b: ['k', 'n'],
    out: ['batch', 'm', 'n'],
  },
  {
    name: 'm = [batch, seq] merged, k = [heads, head] merged, acc + residual',
    m: [['b', 3], ['s', 5]],
    n: [['o', 20]],
    k: [['h', 2], ['d', 4]],
    a: ['b', 's', 'h', 'd'],
    b: ['h', 'd', 'o'],
    out: ['b', 's', 'o'],
    epilogue: 'residual',
    residual: ['b', 's', 'o'],
  },
  {
    name: 'non-mergeable pairs: m = [b, s] stored [s, b], k = [h, d] stored [d, h]',
    m: [['b', 3], ['s', 6]],
    n: [['o', 9]],
    k: [['h', 3], ['d', 5]],
    a: ['s', 'b', 'd', 'h'],
    b: ['o', 'd', 'h'],
    out: ['s', 'b', 'o'],
  },
  {
    name: 'attention scores: q[b,s,h,d]·k[b,t,h,d], batch (b, h) interleaved, scaled',
    batch: [['b', 2], ['h', 3]],
    m: [['s', 12]],
    n: [['t', 12]],
    k: [['d', 8]],
    a: ['b', 's', 'h', 'd'],
    b: ['b', 't', 'h', 'd'],
    out: ['b', 'h', 's', 't'],
    epilogue: 'scale',
  },
  {
    name: 'attention p·v: p[b,h,s,t]·v[b,t,h,d], out [b,s,h,d]',
    batch: [['b', 2], ['h', 3]],
    m: [['s', 12]],
    n: [['d', 8]],
    k: [['t', 12]],
    a: ['b', 'h', 's', 't'],
    b: ['b', 't', 'h', 'd'],
    out: ['b', 's', 'h', 'd'],
  },
  {
    name: 'weight gradient: x[b,s,i]ᵀ·dy[b,s,o], k = (b, s)',
    m: [['i', 24]],
    n: [['o', 20]],
    k: [['b', 3], ['s', 8]],
    a: ['b', 's', 'i'],
    b: ['b', 's', 'o'],
    out: ['i', 'o'],
  },
  // A partial last block of rows (300 = 37 × 8 + 4), the fused epilogues' loops.
  { name: '300×36×20, gelu(acc + bias[n])', m: [['m', 300]], n: [['n', 36]], k: [['k', 20]], a: ['m', 'k'], b: ['k', 'n'], out: ['m', 'n'], epilogue: 'gelu_bias' },
  // The same epilogue on blocks that tile the output exactly: init_out4 without its edge check.
  { name: '256×32×20, gelu(acc + bias[n]), blocks tiling it exactly', m: [['m', 256]], n: [['n', 32]], k: [['k', 20]], a: ['m', 'k'], b: ['k', 'n'], out: ['m', 'n'], epilogue: 'gelu_bias' },
  { name: '260×24×12, acc + residual, A k-major', m: [['m', 260]], n: [['n', 24]], k: [['k', 12]], a: ['k', 'm'], b: ['n', 'k'], out: ['m', 'n'], epilogue: 'residual' },
  // 16 rows per invocation (a tuning; the CPU target's rule was 16 until issue 16): partial blocks, epilogues.
  { name: '300×36×20, gelu(acc + bias[n]), 16-row blocks', m: [['m', 300]], n: [['n', 36]], k: [['k', 20]], a: ['m', 'k'], b: ['k', 'n'], out: ['m', 'n'], epilogue: 'gelu_bias', rows: 16 },
  { name: '260×24×12, acc + residual, A k-major, 16-row blocks', m: [['m', 260]], n: [['n', 24]], k: [['k', 12]], a: ['k', 'm'], b: ['n', 'k'], out: ['m', 'n'], epilogue: 'residual', rows: 16 },
  { name: 'narrow n: 37×3×5', m: [['m', 37]], n: [['n', 3]], k: [['k', 5]], a: ['m', 'k'], b: ['n', 'k'], out: ['m', 'n'] },
  { name: 'matrix-vector: 1×70×12', m: [['m', 1]], n: [['n', 70]], k: [['k', 12]], a: ['k', 'm'], b: ['n', 'k'], out: ['m', 'n'] },
  { name: 'batch 2×(64×32×16), attention-sized', batch: [['batch', 2]], m: [['m', 64]], n: [['n', 32]], k: [['k', 16]], a: ['batch', 'm', 'k'], b: ['batch', 'k', 'n'], out: ['batch', 'm', 'n'] },
];

/** More workgroups than 65535 in the natural z dimension: the grid is folded. */
const folded: Case = { name: 'batch 70000 (dispatch folded)', batch: [['batch', 70000]], m: [['m', 1]], n: [['n', 2]], k: [['k', 3]], a: ['batch', 'm', 'k'], b: ['batch', 'n', 'k'], out: ['batch', 'm', 'n'] };

describe('GEMM addressing', () => {
  it('merges runs of axes whose strides are mergeable in every operand', () => {
    const ax = (id: number, size: number): Axis => ({ id, name: `a${id}`, size });
    const [b, s, e] = [ax(1, 3), ax(2, 5), ax(3, 4)];
    const rowMajor: Access = { arena: 'f32', value: 0, offset: 0, strides: new Map([[1, 20], [2, 4], [3, 1]]) };
    const swapped: Access = { arena: 'f32', value: 0, offset: 0, strides: new Map([[1, 1], [2, 3], [3, 15]]) };
    expect(mergeRuns([b, s, e], [rowMajor])).toEqual([{ size: 60, strides: [1] }]);
    expect(mergeRuns([b, s], [swapped])).toEqual([{ size: 3, strides: [1] }, { size: 5, strides: [3] }]);
    expect(mergeRuns([b, s, e], [rowMajor, swapped])).toEqual([{ size: 3, strides: [20, 1] }, { size: 5, strides: [4, 3] }, { size: 4, strides: [1, 15] }]);
    expect(mergeRuns([ax(4, 1), s], [rowMajor])).toEqual([{ size: 5, strides: [4] }]);
  });

  it('gives an invocation 8 rows on the CPU target (16 when tuned so), and loops over them in the epilogue', () => {
    const big = build(cases.find((c) => c.name.startsWith('300×36×20'))!).spec;
    const from64 = build(cases.find((c) => c.name.startsWith('batch 2×(64×32×16)'))!).spec;
    const unbatched64 = build(cases.find((c) => c.name.startsWith('64×64×64, acc'))!).spec;
    const odd = build(cases.find((c) => c.name.startsWith('65×132×16'))!).spec;
    const small = build(cases.find((c) => c.name.startsWith('37×29×23, A row-major'))!).spec;
    expect([big, from64, odd, unbatched64, small].map((s) => registerBlocking(s).rows)).toEqual([8, 8, 8, 8, 8]);
    expect([big, odd, small].map((s) => registerBlocking(s).lanesAlong)).toEqual(['n', 'n', 'n']); // rows of A uniform across lanes
    // The rows of a block are the output's: 8 accumulator rows, or 16 when tuned.
    const accRows = (code: string) => new Set([...code.matchAll(/var acc(\d+)_/g)].map((m) => m[1])).size;
    expect(accRows(gemmWgsl(big, 'register').code)).toBe(8);
    expect(accRows(gemmWgsl(big, 'register', { tuning: { rows: 16 } }).code)).toBe(16);
    // The additive epilogue starts the accumulators and the rest runs after the stores, each in one loop over the rows.
    const code = gemmWgsl(big, 'register').code;
    expect(code.match(/init_out4\(batch/g)!.length).toBe(2);
    expect(code.match(/post_out4\(batch/g)!.length).toBe(2);
  });

  it('with a run-time zero, starts, stores and finishes the accumulators in loops over the rows bounded by it, not once per row', () => {
    const zero = 'off[255].w';
    const big = build(cases.find((c) => c.name.startsWith('300×36×20'))!).spec; // gelu(acc + bias): init, store and post phases
    const plain = build(cases.find((c) => c.name.startsWith('37×29×23, A row-major'))!).spec; // no epilogue, scalar stores
    for (const spec of [big, plain]) {
      const { rows } = registerBlocking(spec);
      const code = gemmWgsl(spec, 'register', { runtimeZero: zero }).code;
      const written = gemmWgsl(spec, 'register').code;
      const rowLoops = code.match(new RegExp(`for \\(var r = 0u; r < ${rows}u \\+ off\\[255\\]\\.w; r = r \\+ 1u\\)`, 'g')) ?? [];
      expect(rowLoops.length).toBe(spec === big ? 3 : 1);
      // Every store is inside the loop: one call per accumulator column, against one per accumulator written out.
      const stores = (c: string) => c.match(/store_out4?\((acc|done)/g)!.length; // calls, not the definitions
      const { cols, vecStore } = registerBlocking(spec);
      expect(stores(code)).toBe(vecStore ? cols / 4 : cols); // one row's
      expect(stores(written)).toBe(rows * stores(code));
      expect(written).not.toContain('off[255]');
    }
  });

  it('leaves the edge check out of init_out4 only where the blocks tile the output exactly and a post phase follows', () => {
    // Issue 16: the check made lavapipe's LLVM compile such kernels 3–4× slower.
    const initBody = (c: string) => gemmWgsl(build(cases.find((x) => x.name.startsWith(c))!).spec, 'register').code.match(/fn init_out4[^]*?\n}/)![0];
    expect(initBody('256×32×20')).not.toContain('return vec4f(0.0)');
    expect(initBody('300×36×20')).toContain('if (m >= 300u || n >= 36u) { return vec4f(0.0); }'); // a partial last block of rows
    expect(initBody('260×24×12')).toContain('return vec4f(0.0)'); // no post phase (and a partial block)
    // The stores keep theirs.
    expect(gemmWgsl(build(cases.find((x) => x.name.startsWith('256×32×20'))!).spec, 'register').code).toMatch(/fn store_out4[^{]*\{\n {2}if \(m >= 256u \|\| n >= 32u\) \{ return; \}/);
  });

  it('keeps the dispatch within 65535 workgroups per dimension', () => {
    const { spec } = build(folded);
    for (const variant of ['register', 'tiled'] as const) {
      const g = gemmWgsl(spec, variant);
      expect(Math.max(...g.dispatch)).toBeLessThanOrEqual(65535);
      expect(g.dispatch[0] * g.dispatch[1] * g.dispatch[2]).toBeGreaterThanOrEqual(70000);
    }
  });

  it('emits run-time offsets as reads of the offsets uniform, never as the numbers of the regions', () => {
    // The program points every access at an offset slot (offsets.ts): the generators must emit
    // the slot's uniform read wherever the offset goes, folding nothing into it.
    for (const c of [cases[5], cases[6], cases[11], cases[12], cases[9]]) {
      const { spec } = build(c);
      const accesses: Access[] = [spec.a, spec.b, spec.out, ...loadsOf(spec.epilogue)];
      accesses.forEach((a, j) => {
        a.offset = 0x1230000 + 16 * j;
        a.base = { in: 'uniform', slot: j };
      });
      for (const variant of ['register', 'tiled'] as const) {
        const code = gemmWgsl(spec, variant).code;
        for (let j = 0; j < accesses.length; j++) expect(code, `${c.name} (${variant})`).toContain(`off[${j >> 2}].${'xyzw'[j & 3]}`);
        expect([...code.matchAll(/\b(\d+)u\b/g)].filter((m) => Number(m[1]) >= 0x1230000), `${c.name} (${variant})`).toEqual([]);
      }
    }
  });

  it('register: no workgroup memory, no barriers; tiled: both', () => {
    const { spec } = build(cases[5]);
    const reg = gemmWgsl(spec, 'register').code;
    expect(reg).not.toMatch(/var<workgroup>|workgroupBarrier/);
    const tiled = gemmWgsl(spec, 'tiled').code;
    expect(tiled).toMatch(/var<workgroup>/);
    expect(tiled).toMatch(/workgroupBarrier/);
  });

  it('uses vec4 accesses where the layout allows and the scalar view where it does not', () => {
    const aligned = gemmWgsl(build(cases[6]).spec, 'register').code;
    expect(aligned).toMatch(/array<vec4f>/);
    expect(aligned).toMatch(/store_out4/);
    const odd = gemmWgsl(build(cases[2]).spec, 'register').code;
    expect(odd).toMatch(/var<storage, read_write> arena: array<f32>/);
    expect(gemmWgsl(build(cases[6]).spec, 'register', { vec4: false }).code).not.toMatch(/vec4f>/);
  });
});

describe.runIf(gpu)('GEMM kernels vs a JS reference', () => {
  for (const c of cases) {
    it(`register: ${c.name}`, () => check(c, 'register'));
  }
  it('register, scalar arena view: every case', async () => {
    for (const c of cases) await check(c, 'register', { vec4: false });
  });
  // A zero the compiler cannot see (the i32 buffer holds 4 elements): the loops over rows around
  // the k loop stay loops, as with the offsets uniform's RUNTIME_ZERO in a program.
  it('register, row loops bounded with a run-time zero: every case, vec4 and scalar views', async () => {
    for (const c of cases) {
      await check(c, 'register', { runtimeZero: '(arrayLength(&iarena) >> 8u)' });
      await check(c, 'register', { runtimeZero: '(arrayLength(&iarena) >> 8u)', vec4: false });
    }
  });
  it('register, other orientations and block widths', async () => {
    for (const c of [cases[1], cases[6], cases[12]]) {
      for (const swap of [false, true]) for (const cols of [4, 8] as const) await check(c, 'register', { tuning: { swap, cols } });
    }
  });
  for (const c of cases) {
    it(`tiled: ${c.name}`, () => check(c, 'tiled'), 180_000);
  }
  it('register and tiled: a folded dispatch', async () => {
    await check(folded, 'register');
    await check(folded, 'tiled');
  }, 180_000);
});
