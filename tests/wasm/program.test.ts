/**
 * The wasm program as a whole: functions shared between dispatches, and the barriers between
 * calls. A call without a barrier before it may run at the same time as the calls since the
 * last barrier, in any order: running every such group backwards must give exactly what
 * running it forwards gives.
 */
import { describe, expect, it } from 'vitest';
import { compileFile } from '../../src/driver/index.js';
import { planWasmProgram } from '../../src/codegen/wasm/program.js';
import { initParameters } from '../../runtime/init.js';
import { grabSize, WasmJs, type WasmEntry, type WasmProgram } from '../../runtime/wasm.js';

const model = (file: string, sets: Record<string, number>) => compileFile(file, { overrides: new Map(Object.entries(sets)), data: { vocab: 11 } }).model!;

/** Run `entry` on this thread from a fresh memory, each group of calls between barriers in `order`; returns the memory. */
function run(p: WasmProgram, entry: WasmEntry, order: 'forwards' | 'backwards'): Float32Array {
  const pages = Math.ceil((p.staticBytes + p.scratchPerThread) / 65536);
  const memory = new WasmJs.Memory({ initial: pages, maximum: pages, shared: true });
  new Uint32Array(memory.buffer).set(p.tables.words, p.tables.at / 4);
  const f32 = new Float32Array(memory.buffer);
  const i32 = new Int32Array(memory.buffer);
  const init = initParameters(p.params, 3);
  for (const q of p.params) f32.set(init.get(q.name)!, p.bases.f32 / 4 + q.offset);
  for (const [name, slot] of Object.entries(p.inputs)) {
    const at = p.bases[slot.arena] / 4 + slot.offset;
    if (slot.arena === 'i32') for (let i = 0; i < slot.size; i++) i32[at + i] = (i * 7 + 3) % 11;
    else f32.fill(name === 'lr.0' ? 0.01 : 2, at, at + slot.size);
  }
  const instance = new WasmJs.Instance(new WasmJs.Module(p.module), { env: { memory }, math: { pow: Math.pow } });
  const calls = p.entries[entry];
  const groups: (typeof calls)[] = [[]];
  for (const c of calls) {
    groups.at(-1)!.push(c);
    if (c.sync) groups.push([]);
  }
  for (const g of groups) {
    for (const c of order === 'forwards' ? g : [...g].reverse()) {
      i32[p.staticBytes / 4] = -1;
      (instance.exports[p.kernels[c.kernel]] as (t: number, lo: number, hi: number, s: number) => void)(c.table, 0, c.items, p.staticBytes);
    }
  }
  return new Float32Array(memory.buffer.slice(0, p.tables.at));
}

describe('the wasm program', () => {
  it('needs no barrier where calls are independent, and every one where they are not', () => {
    for (const [file, sets] of [
      ['models/transformer.mdl', { layers: 2, embed: 16, heads: 2, seq: 8, batch: 3 }],
      ['models/autoencoder.mdl', { layers: 1, embed: 12, heads: 2, seq: 9, batch: 3, latent: 3, code: 5 }],
      ['models/transformer.mdl', { layers: 2, embed: 128, heads: 4, seq: 64, batch: 12 }],
    ] as const) {
      const { program: p } = planWasmProgram(model(file, sets));
      for (const entry of ['train', 'eval', 'forward'] as const) {
        const calls = p.entries[entry];
        expect(calls.at(-1)!.sync).toBe(true);
        const forwards = run(p, entry, 'forwards');
        const backwards = run(p, entry, 'backwards');
        // Outputs, parameters and optimizer state (temporaries may legitimately differ where a region is reused).
        const regions = [p.outputs.loss, p.outputs.logits, p.outputs.gradNorm, ...p.params.flatMap((q) => [{ offset: q.offset, size: q.size }, { offset: q.m, size: q.size }, { offset: q.v, size: q.size }])];
        for (const r of regions) expect(backwards.subarray(r.offset, r.offset + r.size)).toEqual(forwards.subarray(r.offset, r.offset + r.size));
      }
      // Some barriers are left out (the layers' independent calls), not all.
      const train = p.entries.train;
      expect(train.filter((c) => !c.sync).length).toBeGreaterThan(0);
    }
  });

  it('lets threads take about four turns each at a call, at least one item at a time', () => {
    expect([grabSize(64, 2), grabSize(65, 2), grabSize(7, 2), grabSize(1, 4), grabSize(100, 1)]).toEqual([8, 8, 1, 1, 25]);
  });

  it('shares one function between dispatches that differ only in where their data lives', () => {
    // A middle layer's kernels are those of any other middle layer (the first and last layers
    // fuse differently with the embedding and the head): a fourth layer adds calls, no functions.
    const three = planWasmProgram(model('models/transformer.mdl', { layers: 3, embed: 16, heads: 2, seq: 8, batch: 3 })).program;
    const four = planWasmProgram(model('models/transformer.mdl', { layers: 4, embed: 16, heads: 2, seq: 8, batch: 3 })).program;
    for (const entry of ['train', 'eval', 'forward'] as const) {
      expect(four.entries[entry].length).toBeGreaterThan(three.entries[entry].length);
      expect(new Set(four.entries[entry].map((c) => c.kernel)).size).toBe(new Set(three.entries[entry].map((c) => c.kernel)).size);
    }
    expect(four.kernels.length).toBe(three.kernels.length);
    expect(four.kernels.length).toBeLessThan(four.entries.train.length / 2);
    expect(WasmJs.validate(four.module)).toBe(true);
  });
});
