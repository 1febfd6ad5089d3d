/**
 * `mdlc build` output: the files exist, every kernel file starts with its IR nodes and .mdl
 * lines, the report counts dispatches, and the generated model.ts and train.ts type-check
 * under `tsc --strict`.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import ts from 'typescript';
import { Project } from 'ts-morph';
import { compileFile } from '../../src/driver/index.js';
import { build, CPU_TARGET, GPU_TARGET, planProgram } from '../../src/codegen/index.js';
import { literal } from '../../src/codegen/emit.js';
import type { ProgramIR } from '../../src/codegen/passes/index.js';
import type { GemmKernel, Kernel } from '../../src/codegen/kernel-ir/types.js';
import { isGroupAxis } from '../../src/codegen/kernel-ir/ids.js';
import { registerReadMode } from '../../src/codegen/wgsl/gemm.js';
import { segmentRowWidth } from '../../src/codegen/kernel-ir/kernel.js';
import { ASSIGNABLE_OFFSET_SLOTS, MAX_OFFSET_SLOTS, RUNTIME_ZERO } from '../../src/codegen/offsets.js';

const outDir = resolve('build', `test-emit-${process.pid}`);
afterAll(() => rmSync(outDir, { recursive: true, force: true }));

describe('mdlc build output', () => {
  const r = compileFile('models/transformer.mdl', { overrides: new Map(Object.entries({ layers: 2, embed: 16, heads: 2, seq: 8, batch: 2 })), data: { vocab: 11 } });
  mkdirSync(outDir, { recursive: true });
  // The kernel IR after the last pass: tests check its structure, not the WGSL's text.
  let program!: ProgramIR;
  const result = build(r.model!, 'models/transformer.mdl', { outDir, target: CPU_TARGET, trace: (_, p) => (program = p) });
  const kernelsOf = (entry: string): Kernel[] => program.entries.find((e) => e.name === entry)!.schedule.kernels;
  const gemmsOf = (entry: string) => kernelsOf(entry).filter((k): k is GemmKernel => k.kind === 'gemm');

  it('writes kernels, model.ts/js, train.ts/js, ir.txt and report.json', () => {
    expect(result.diagnostics).toEqual([]);
    for (const f of ['model.ts', 'model.js', 'train.ts', 'train.js', 'ir.txt', 'report.json']) expect(existsSync(join(outDir, f)), f).toBe(true);
    const kernels = readdirSync(join(outDir, 'kernels')).filter((f) => f.endsWith('.wgsl'));
    expect(kernels.length).toBe(result.report!.kernels);
    for (const k of kernels) {
      const text = readFileSync(join(outDir, 'kernels', k), 'utf8');
      const lines = text.split('\n');
      expect(lines[0]).toMatch(/^\/\/ \w+: \w+ kernel, run by \d+ dispatch(es)?$/);
      expect(lines[1]).toBe('// IR nodes and .mdl lines, per dispatch:');
      expect(lines[2]).toMatch(/^\/\/ {3}\w+: (%\d+ .*|\(temporary\)) — from .+$/);
    }
    // Forward kernels name the .mdl lines they come from.
    const all = kernels.map((k) => readFileSync(join(outDir, 'kernels', k), 'utf8'));
    expect(all.some((t) => /forward_k\d+_gemm: .* — from transformer\.mdl:\d+/.test(t))).toBe(true);
    // Layers share kernels: fewer distinct kernels than dispatches.
    expect(result.report!.kernels).toBeLessThan(result.report!.perStep.dispatches);
  });

  it('reports one submit per step and counts dispatches by kind', () => {
    const rep = JSON.parse(readFileSync(join(outDir, 'report.json'), 'utf8'));
    expect(rep.perStep.submits).toBe(1);
    expect(rep.perStep.dispatches).toBe(Object.values(rep.kernelKinds as Record<string, number>).reduce((a, b) => a + b, 0));
    expect(rep.perStep.flops).toBeGreaterThan(0);
    expect(rep.perStep.peakBufferBytes).toBeGreaterThan(0);
  });

  it('annotates every dispatch in model.ts with the .mdl values it computes, gradients by their primal', () => {
    const text = readFileSync(join(outDir, 'model.ts'), 'utf8');
    const dispatches = text.match(/dispatchWorkgroups\(\d+, \d+, \d+\)/g) ?? [];
    expect(dispatches.length).toBe(result.report!.perStep.dispatches + result.report!.eval.dispatches + result.report!.forward.dispatches);
    // The comment above each dispatch: its kind and at least one value, never the kind alone.
    const labels = [...text.matchAll(/\/\/ (.*)\n\s*pass\.setBindGroup\(1,/g)].map((m) => m[1]);
    expect(labels.length).toBe(dispatches.length);
    for (const l of labels) expect(l).toMatch(/^\w+ \S/);
    expect(labels).toContain('gemm q (transformer.mdl:32), k (transformer.mdl:33), v (transformer.mdl:34)');
    expect(labels).toContain('gemm d q (transformer.mdl:32)');
    expect(labels).toContain('gemm d blocks.0.mlp.w1 (transformer.mdl:42)');
    expect(labels.some((l) => l.startsWith('segmented update wte, update wpe'))).toBe(true);
  });

  it('keeps the WGSL out of model.ts: kernels/index.ts exports each kernel, as in kernels/*.wgsl', async () => {
    const model = readFileSync(join(outDir, 'model.ts'), 'utf8');
    expect(model).not.toMatch(/@compute/);
    expect(model).toMatch(/^import \{ KERNELS \} from '\.\/kernels\/index\.js';$/m);
    expect(Math.max(...model.split('\n').map((l) => l.length))).toBeLessThan(10_000);
    const { KERNELS } = await import(pathToFileURL(join(outDir, 'kernels', 'index.js')).href);
    expect(Object.keys(KERNELS).sort()).toEqual(result.plan!.kernels.map((k) => k.name).sort());
    for (const k of result.plan!.kernels) expect(KERNELS[k.name]).toBe(readFileSync(join(outDir, 'kernels', `${k.name}.wgsl`), 'utf8'));
  });

  it("hands the kernels and the training step's to the runtime (compiled ahead on lavapipe, the step's first) from train.ts", () => {
    const train = readFileSync(join(outDir, 'train.ts'), 'utf8');
    expect(train.split('\n')[0]).toMatch(/^\/\/ Generated by mdlc from models\/transformer\.mdl/);
    expect(train).toMatch(/^import \{ KERNELS, Model, PARAMS, STEP_KERNELS \} from ["']\.\/model\.js["'];$/m);
    expect(train.match(/\{ Model, PARAMS, KERNELS, STEP_KERNELS \}/g)?.length).toBe(2); // train() and the script's main
  });

  it("writes model.ts and train.ts as TypeScript's formatter would leave them, and their JavaScript as its transpiler makes it", () => {
    const project = new Project({ useInMemoryFileSystem: true });
    for (const name of ['model.ts', 'train.ts']) {
      const text = readFileSync(join(outDir, name), 'utf8');
      const f = project.createSourceFile(name, text, { overwrite: true });
      f.formatText({ indentSize: 2 });
      expect(f.getFullText(), name).toBe(text);
      const js = ts.transpileModule(text, { fileName: name, compilerOptions: { target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.ES2022, removeComments: false } }).outputText;
      expect(readFileSync(join(outDir, name.replace(/\.ts$/, '.js')), 'utf8'), name).toBe(js);
    }
  });

  it("bounds the register GEMMs' row loops with the offsets block's last slot, which no dispatch writes (it stays 0)", () => {
    const gemms = result.plan!.kernels.filter((k) => k.kind === 'gemm');
    expect(gemms.length).toBeGreaterThan(0);
    for (const k of gemms) expect(k.code, k.name).toMatch(new RegExp(`for \\(var r = 0u; r < \\d+u \\+ ${RUNTIME_ZERO.replace(/[[\].]/g, '\\$&')};`));
    const calls = Object.values(result.plan!.entries).flat();
    expect(calls.length).toBeGreaterThan(0);
    for (const c of calls) expect(c.offsets.length, c.kernel).toBeLessThanOrEqual(ASSIGNABLE_OFFSET_SLOTS);
    expect(ASSIGNABLE_OFFSET_SLOTS).toBe(MAX_OFFSET_SLOTS - 1);
    expect(RUNTIME_ZERO).toBe(`off[${(MAX_OFFSET_SLOTS - 1) >> 2}].w`);
  });

  it('keeps transposed copies of the weights that GEMMs would read along k, and no GEMM reads along k', async () => {
    const plan = result.plan!;
    const copied = plan.params.filter((p) => p.transposed).map((p) => p.name.replace(/^blocks\.\d+\./, ''));
    // dY·Wᵀ for every projection, and the head tied to the embedding.
    for (const w of ['wte', 'attention.wq', 'attention.wk', 'attention.wv', 'attention.wo', 'mlp.w1', 'mlp.w2']) expect(copied).toContain(w);
    for (const w of ['layernorm.g', 'mlp.b1', 'wpe']) expect(copied).not.toContain(w);
    const w2 = plan.params.find((p) => p.name === 'blocks.0.mlp.w2')!;
    expect(w2.transposed!.perm).toEqual([1, 0]);
    // Every GEMM dispatch that reads a layer weight's copy reads across columns, not along k.
    // (The head reads the embedding's copy as its uniform operand; vocab 11 puts its lanes along
    // the activations' rows, which it reads along k.)
    const layerCopy = (v: number) => program.values.kind(v) === 'transposed' && program.graph.nodes[program.values.original(v)!].name!.startsWith('blocks.');
    const readers = gemmsOf('train').filter((k) => layerCopy(k.a.value) || layerCopy(k.b.value));
    expect(readers.length).toBe(2 * 4); // per layer: the data gradients through wo, w1, w2, and [wq wk wv] (one GEMM)
    for (const k of readers) expect(registerReadMode(k), k.name).not.toBe('k');
    // The generated permutation the host uses to initialise a copy.
    const { permuteAxes } = await import(pathToFileURL(join(outDir, 'model.js')).href);
    const data = Float32Array.from({ length: 24 }, (_, i) => i); // [2, 3, 4]
    const t = permuteAxes(data, [2, 3, 4], [2, 0, 1]); // → [4, 2, 3]
    expect(t[0 * 6 + 1 * 3 + 2]).toBe(data[1 * 12 + 2 * 4 + 0]);
    expect(t[3 * 6 + 0 * 3 + 1]).toBe(data[0 * 12 + 1 * 4 + 3]);
    expect([...permuteAxes(Float32Array.of(1, 2, 3, 4, 5, 6), [2, 3], [1, 0])]).toEqual([1, 4, 2, 5, 3, 6]);
  });

  it('has the QKV GEMM store kᵀ and vᵀ for the attention scores and dp = dO·vᵀ, so only the head reads along k', () => {
    const plan = result.plan!;
    // Along k: only the head, forward (vocab 11 puts its lanes along the activations' rows, see
    // above) and its gradient with respect to the final layernorm's output (the same GEMM shape).
    const logits = r.model!.logits;
    const alongK = ['train', 'eval', 'forward'].flatMap(gemmsOf).filter((k) => registerReadMode(k) === 'k');
    expect(alongK.length).toBeGreaterThan(0);
    expect(alongK.filter((k) => k.nodes.includes(logits)).length).toBe(3); // once per entry point
    expect(alongK.every((k) => k.nodes.includes(logits) || k.lines.length === 0)).toBe(true);
    // The fused q/k/v projection stores its output twice: as it is, and transposed (into a group of copies)...
    const i = kernelsOf('forward').findIndex((k) => k.kind === 'gemm' && k.batch.some((a) => isGroupAxis(a.id)));
    const qkv = kernelsOf('forward')[i] as GemmKernel;
    expect(qkv.extra?.map((x) => program.values.kind(x.access.value))).toEqual(['relayout']);
    expect(program.groups.groupOf(qkv.extra![0].access.value)).toHaveLength(3);
    // ... the copy with four scalar stores per vec4 of outputs.
    const code = plan.kernels.find((k) => k.name === plan.entries.forward[i].kernel)!.code;
    expect(code).toMatch(/fn post_out4[\s\S]*v\[3\][\s\S]*\n}/);
    // (tests/codegen/copies.test.ts checks which value each GEMM reads.)
    const s = program.graph.nodes.find((n) => n.name === 's')!.id; // the scaled scores, the scores GEMM's epilogue
    const scores = gemmsOf('forward').find((k) => k.nodes.includes(s))!;
    expect(registerReadMode(scores)).toBe('cols');
  });

  it('runs the q, k and v projections as one dispatch, their weight gradients as one, and the input gradient through them as one', () => {
    const plan = result.plan!;
    const groupOf = (axes: readonly { id: number; size: number }[]) => axes.find((a) => isGroupAxis(a.id))?.size;
    // Per layer (2): x·[Wq Wk Wv], xᵀ·[dQ dK dV], and [dQ dK dV]·[Wqᵀ Wkᵀ Wvᵀ] contracting over the group.
    expect(gemmsOf('train').filter((k) => groupOf(k.batch) === 3).length).toBe(2 * 2); // the group as a batch axis
    expect(gemmsOf('train').filter((k) => groupOf(k.k) === 3).length).toBe(2); // as a contracted axis
    expect(gemmsOf('forward').filter((k) => groupOf(k.batch) === 3).length).toBe(2);
    // The weights sit one after another, 16-element aligned.
    const at = (n: string) => plan.params.find((p) => p.name === n)!.offset;
    expect(at('blocks.0.attention.wk') - at('blocks.0.attention.wq')).toBe(at('blocks.0.attention.wv') - at('blocks.0.attention.wk'));
  });

  it('stays within the fusion budget: 25 dispatches per layer per training step, plus 15 (in total)', () => {
    const dispatches = (layers: number) => {
      const m = compileFile('models/transformer.mdl', { overrides: new Map(Object.entries({ layers, embed: 16, heads: 2, seq: 8, batch: 2 })), data: { vocab: 11 } });
      return planProgram(m.model!, { target: CPU_TARGET }).entries.train.length;
    };
    const [one, two, four] = [dispatches(1), dispatches(2), dispatches(4)];
    const perLayer = two - one;
    expect(four - two).toBe(2 * perLayer);
    expect(perLayer).toBeLessThanOrEqual(25);
    // The part that does not grow with the layers: embeddings, head, loss and optimizer.
    expect(one - perLayer).toBeLessThanOrEqual(15);
    expect(four).toBeLessThanOrEqual(25 * 4 + 15);
  });

  it('updates every parameter in one segmented kernel whose table rows are the parameters', () => {
    const plan = result.plan!;
    const byName = new Map(plan.kernels.map((k) => [k.name, k]));
    const calls = plan.entries.train.filter((c) => byName.get(c.kernel)!.kind === 'segmented');
    expect(calls.length).toBe(1);
    expect(plan.entries.train.filter((c) => byName.get(c.kernel)!.kind === 'map').length).toBe(1); // the gradient norm
    const code = byName.get(calls[0].kernel)!.code;
    const seg = kernelsOf('train').find((k) => k.kind === 'segmented')!;
    const width = seg.kind === 'segmented' ? segmentRowWidth(seg) : 0;
    const table = calls[0].offsets;
    expect(table.length).toBe(width * plan.params.length);
    const f = new Float32Array(1);
    const u = new Uint32Array(f.buffer);
    let start = 0;
    const rows = plan.params.map((_, s) => table.slice(s * width, (s + 1) * width));
    // Row order is schedule order; match each parameter by its offset among the row's slots.
    for (const p of plan.params) {
      const row = rows.find((r) => r.slice(1).includes(p.offset) && r.slice(1).includes(p.m) && r.slice(1).includes(p.v));
      expect(row, p.name).toBeDefined();
      // The copy's slot and its rows × cols view, or 0 × 0.
      const [r, c] = row!.slice(-2);
      if (p.transposed) {
        expect(row!.slice(1, -2)).toContain(p.transposed.offset);
        expect(r * c).toBe(p.size);
        expect(c).toBe(p.axes.slice(p.transposed.perm[0]).reduce((n, a) => n * a.size, 1));
      } else expect([r, c]).toEqual([0, 0]);
      // The one constant that differs between parameters is the weight decay.
      u[0] = row![width - 3];
      expect(f[0]).toBeCloseTo(p.weightDecay, 7);
    }
    for (const r of rows) {
      expect(r[0]).toBe(start); // first invocation: four elements each
      const p = plan.params.find((q) => r.slice(1).includes(q.offset) && r.slice(1).includes(q.m))!;
      start += p.size / 4;
    }
    expect(calls[0].dispatch[0] * calls[0].dispatch[1] * 64).toBeGreaterThanOrEqual(start);
  });

  it('reports buffers over the device binding limit at build time, naming the value (E0901)', () => {
    const big = build(r.model!, 'models/transformer.mdl', { outDir: join(outDir, 'small-device'), target: CPU_TARGET, limits: { maxStorageBufferBindingSize: 64 * 1024 } });
    expect(big.report).toBeUndefined();
    expect(big.diagnostics.map((d) => d.code)).toContain('E0901');
    const d = big.diagnostics.find((x) => x.code === 'E0901')!;
    expect(d.message).toMatch(/binding limit of 64\.0 KiB; the largest is .* over \[\w+=\d+/);
    expect(d.span.file).toBe('models/transformer.mdl');
    expect(d.help).toMatch(/--set/);
  });

  it('reports workgroup memory over the device limit, naming the kernel and its .mdl line (E0903)', () => {
    const small = build(r.model!, 'models/transformer.mdl', { outDir: join(outDir, 'small-workgroup'), target: GPU_TARGET, limits: { maxComputeWorkgroupStorageSize: 4096 } });
    expect(small.report).toBeUndefined();
    const d = small.diagnostics.filter((x) => x.code === 'E0903');
    expect(d.length).toBeGreaterThan(0);
    // Each GEMM kernel once, with its workgroup memory (two 65 × 16 f32 tiles) and its line in the model.
    expect(new Set(d.map((x) => /kernel (\w+)/.exec(x.message)![1])).size).toBe(d.length);
    expect(d[0].message).toMatch(/kernel gemm_\d+ \(gemm .*\) needs 8320 bytes of workgroup memory, over the device's limit of 4096/);
    expect(d.every((x) => x.span.file === 'models/transformer.mdl')).toBe(true);
    expect(d[0].help).toMatch(/--gemm register/);
    // The register variant has no workgroup memory: the same limits build.
    expect(build(r.model!, 'models/transformer.mdl', { outDir: join(outDir, 'small-workgroup'), target: CPU_TARGET, limits: { maxComputeWorkgroupStorageSize: 4096 } }).diagnostics).toEqual([]);
    expect(build(r.model!, 'models/transformer.mdl', { outDir: join(outDir, 'small-workgroup'), target: CPU_TARGET, limits: { maxComputeInvocationsPerWorkgroup: 32 } }).diagnostics.map((x) => x.code)).toContain('E0903');
  });

  it('reports a dispatch grid over the device limit, naming the kernel (E0902)', () => {
    const m = compileFile('models/transformer.mdl', { overrides: new Map(Object.entries({ layers: 1, embed: 16, heads: 2, seq: 8, batch: 64 })), data: { vocab: 11 } });
    const res = build(m.model!, 'models/transformer.mdl', { outDir: join(outDir, 'small-grid'), target: CPU_TARGET, limits: { maxComputeWorkgroupsPerDimension: 4 } });
    expect(res.report).toBeUndefined();
    const d = res.diagnostics.filter((x) => x.code === 'E0902');
    expect(d.length).toBeGreaterThan(0);
    expect(d[0].message).toMatch(/a dispatch of kernel \w+ \(.*\) needs \d+ × \d+ × \d+ workgroups, over the device's limit of 4 per dimension/);
    expect(d[0].span.file).toBe('models/transformer.mdl');
  });

  it('prints literals as JSON spaced as TypeScript formats them', () => {
    expect(literal({ a: 1, b: [1, 2, { c: 'x"y' }], d: {}, e: [], f: undefined, g: null })).toBe('{ "a": 1, "b": [1, 2, { "c": "x\\"y" }], "d": {}, "e": [], "g": null }');
    expect([literal([undefined, NaN, -0.5, 1e-8]), literal('s'), literal(undefined)]).toEqual(['[null, null, -0.5, 1e-8]', '"s"', 'undefined']);
  });

  it('emits a model.ts, kernels/index.ts and train.ts that type-check under --strict', () => {
    const program = ts.createProgram([join(outDir, 'model.ts'), join(outDir, 'kernels', 'index.ts'), join(outDir, 'train.ts')], {
      strict: true,
      noEmit: true,
      target: ts.ScriptTarget.ES2022,
      module: ts.ModuleKind.NodeNext,
      moduleResolution: ts.ModuleResolutionKind.NodeNext,
      types: ['node', '@webgpu/types'],
      skipLibCheck: true,
    });
    const diags = ts.getPreEmitDiagnostics(program).map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n') + (d.file ? ` (${d.file.fileName}:${d.file.getLineAndCharacterOfPosition(d.start ?? 0).line + 1})` : ''));
    expect(diags).toEqual([]);
  }, 60000);
});
