/** The interpreter backend's memory estimate (src/train/memory.ts) and its refusal, E0904. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import { compileSource } from '../../src/driver/index.js';
import { buildTrainStep } from '../../src/ir/optimizer/index.js';
import { numElements } from '../../src/ir/types.js';
import { availableMemory, checkCpuMemory, estimateStepMemory } from '../../src/train/memory.js';

const MODEL = join(import.meta.dirname, '..', '..', 'models', 'transformer.mdl');
const TEXT = readFileSync(MODEL, 'utf8');
const DATA = join(import.meta.dirname, '..', 'fixtures', 'check', 'good', 'tiny-transformer.mdl');

function stepAt(sets: Record<string, number>) {
  const r = compileSource({ path: MODEL, text: TEXT }, { data: { vocab: 65 }, overrides: new Map(Object.entries(sets)) });
  if (!r.model) throw new Error(r.diagnostics.map((d) => d.message).join('\n'));
  return buildTrainStep(r.model);
}

const SMALL = { layers: 1, embed: 32, seq: 16, batch: 4 };

describe('estimateStepMemory', () => {
  it('counts parameters and both Adam moments as state: 3 × 4 bytes per parameter', () => {
    const step = stepAt(SMALL);
    const params = step.params.reduce((n, p) => n + numElements(p.param.type), 0);
    expect(estimateStepMemory(step).state).toBe(12 * params);
  });

  it('grows with the batch in proportion, on top of the state', () => {
    const one = estimateStepMemory(stepAt({ ...SMALL, batch: 8 }));
    const two = estimateStepMemory(stepAt({ ...SMALL, batch: 16 }));
    const ratio = (two.bytes - two.state) / (one.bytes - one.state);
    expect(ratio).toBeGreaterThan(1.9);
    expect(ratio).toBeLessThan(2.1);
  });

  it('names the largest value: the attention scores once the window is long', () => {
    const e = estimateStepMemory(stepAt({ ...SMALL, seq: 256 }));
    expect(e.largest!.node.type.axes.map((a) => a.name).sort()).toEqual(['batch', 'heads', 'key', 'seq']);
    expect(e.largest!.bytes).toBe(4 * 4 * 256 * 4 * 256);
  });
});

describe('availableMemory', () => {
  it('is capped by MDLC_CPU_MEMORY', () => {
    expect(availableMemory({ MDLC_CPU_MEMORY: '1000' })).toBeLessThanOrEqual(1000);
    expect(availableMemory({})).toBeGreaterThan(1000);
  });
});

describe('checkCpuMemory', () => {
  it('is E0904 with the figure, at a line of the model, when the step does not fit', () => {
    const step = stepAt(SMALL);
    const need = estimateStepMemory(step).bytes;
    expect(checkCpuMemory(step, MODEL, need)).toBeUndefined();
    const d = checkCpuMemory(step, MODEL, need - 1)!;
    expect(d.code).toBe('E0904');
    expect(d.message).toMatch(/^a training step on the interpreter backend needs about [\d.]+ (KiB|MiB) \(parameters and Adam state [\d.]+ (KiB|MiB); the largest value is f32\[.*\], .*\), but [\d.]+ (KiB|MiB) of memory is available$/);
    expect(d.span.line).toBeGreaterThan(1);
    expect(d.help).toMatch(/--batch N.*--backend webgpu/);
  });
});

describe('mdlc train --backend interpreter refuses what cannot fit, before allocating', () => {
  async function train(...extra: string[]) {
    const err: string[] = [];
    const code = await main(['train', MODEL, '--backend', 'interpreter', '--data', DATA, '--steps', '1', ...extra], { out: () => {}, err: (s) => err.push(s), color: false });
    return { code, err: err.join('\n') };
  }

  it('--set embed=8192 (it used to run silently for minutes) is E0904', async () => {
    // About 74 GiB: more than this machine has; MDLC_CPU_MEMORY makes sure of it anywhere.
    process.env.MDLC_CPU_MEMORY = String(2 ** 30);
    try {
      const r = await train('--set', 'embed=8192');
      expect(r.code).toBe(1);
      expect(r.err).toContain('error[E0904]');
      expect(r.err).toMatch(/but 1 GiB of memory is available/);
    } finally {
      delete process.env.MDLC_CPU_MEMORY;
    }
  });

  it('--set seq=100000 (it died with "Invalid typed array length") and --batch 100000 are E0211', async () => {
    for (const flags of [['--set', 'seq=100000'], ['--batch', '100000']]) {
      const r = await train(...flags);
      expect(r.code, flags.join(' ')).toBe(1);
      expect(r.err).toContain('error[E0211]');
    }
  });
});
