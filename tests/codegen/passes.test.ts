/**
 * The pass list (src/codegen/passes/), targets (target.ts) and labels (labels.ts): every pass
 * is a file that says what it does, the trace sees the program after each pass in order, the
 * target follows the adapter, and dispatches are labelled in .mdl terms.
 */
import { describe, expect, it } from 'vitest';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { compileFile } from '../../src/driver/index.js';
import { planProgram } from '../../src/codegen/program.js';
import { PASSES, programText } from '../../src/codegen/passes/index.js';
import { CPU_TARGET, GPU_TARGET, targetFor } from '../../src/codegen/target.js';
import { Labels } from '../../src/codegen/labels.js';
import { buildTrainStep } from '../../src/ir/optimizer/index.js';

const tiny = () => compileFile('models/transformer.mdl', { overrides: new Map(Object.entries({ layers: 1, embed: 16, heads: 2, seq: 8, batch: 2 })), data: { vocab: 11 } }).model!;

describe('passes', () => {
  it('are one file each, named as the list names them, each opening with a comment that says what it does', () => {
    const dir = 'src/codegen/passes';
    const files = readdirSync(dir).filter((f) => f !== 'index.ts').map((f) => f.replace(/\.ts$/, ''));
    expect(PASSES.map((p) => p.name).sort()).toEqual(files.sort());
    for (const f of files) {
      const text = readFileSync(join(dir, `${f}.ts`), 'utf8');
      expect(text, f).toMatch(/^\/\*\*\n \* \S[\s\S]{80,}?\*\//);
    }
  });

  it('run in order, the trace seeing each; the listing shows every entry point\'s kernels', () => {
    const seen: string[] = [];
    let afterLower = '';
    let last = '';
    planProgram(tiny(), {
      target: CPU_TARGET,
      trace: (pass, p) => {
        seen.push(pass);
        if (pass === 'lower') afterLower = programText(pass, p);
        last = programText(pass, p);
      },
    });
    expect(seen).toEqual(PASSES.map((p) => p.name));
    expect(afterLower).toMatch(/^== after lower\n-- train: \d+ kernels\n/);
    expect(afterLower).toMatch(/^-- eval: \d+ kernels$/m);
    expect(afterLower).toMatch(/^%\d+ = q \(transformer\.mdl:32\)$/m);
    // After the last pass: one segmented update, the fused q/k/v GEMM over the group axis.
    expect(last).toMatch(/: segmented of \d+ segments/);
    expect(last).toMatch(/gemm batch \[group=3\]/);
  });
});

describe('targets', () => {
  it('follow the adapter: register GEMMs and small workgroups on CPU adapters, tiled GEMMs and 64 on GPUs; --gemm overrides the variant only', () => {
    expect(targetFor({ isSoftware: true })).toBe(CPU_TARGET);
    expect(targetFor({ isSoftware: false })).toBe(GPU_TARGET);
    const tiledOnCpu = targetFor({ isSoftware: true }, 'tiled');
    expect([tiledOnCpu.name, tiledOnCpu.gemm, tiledOnCpu.workgroupSize(100)]).toEqual(['cpu', 'tiled', 8]);
    expect([CPU_TARGET.workgroupSize(255), CPU_TARGET.workgroupSize(256), GPU_TARGET.workgroupSize(100)]).toEqual([8, 64, 64]);
  });

  it('block the register GEMM by 8 rows whatever their number', () => {
    const rows = (m: number) => CPU_TARGET.register.rowsPerInvocation(m);
    expect([rows(65), rows(64), rows(48), rows(96), rows(100), rows(256), rows(257)]).toEqual([8, 8, 8, 8, 8, 8, 8]);
    expect([CPU_TARGET.register.lanes(8), CPU_TARGET.register.lanes(9)]).toEqual([8, 16]);
  });
});

describe('labels', () => {
  it('name values by their .mdl name and line, gradients after their primal, optimizer outputs by their graph output', () => {
    const model = tiny();
    const step = buildTrainStep(model);
    const g = step.graph;
    const labels = new Labels(g);
    const q = g.nodes.find((n) => n.name === 'q')!;
    expect(labels.value(q.id)).toBe('q (transformer.mdl:32)');
    const dq = g.nodes.find((n) => n.gradOf === q.id)!;
    expect(labels.value(dq.id)).toBe('d q (transformer.mdl:32)');
    const wte = step.params.find((p) => p.param.name === 'wte')!;
    expect(labels.value(wte.grad)).toBe('d wte (transformer.mdl:16)');
    expect(labels.value(wte.newM)).toBe('m:wte');
    // Every gradient autodiff made points at a node of the forward pass, computed before it.
    for (const n of g.nodes) if (n.gradOf !== undefined) expect(n.gradOf).toBeLessThan(n.id);
  });
});
