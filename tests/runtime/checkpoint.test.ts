/**
 * Checkpoints: the safetensors bytes exactly as the format's specification lays them out (and
 * as Python's `safetensors` reads them, when it is installed), corrupt files refused with a
 * message, checkpoint directories round-tripped with names, shapes, values and metadata,
 * replaced atomically, pointed to by `latest`/`best`, and pruned.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeSafetensors, encodeSafetensors, type StoredTensor } from '../../runtime/safetensors.js';
import { CheckpointError, checkpointName, pruneCheckpoints, readCheckpoint, readPointer, writeCheckpoint, writeFileAtomic, writePointer, type ModelMeta } from '../../runtime/checkpoint.js';
import { decodeModelFile, encodeModelFile, encodeStateFile, encodeTrainerFile } from '../../runtime/checkpoint-files.js';

const tmp = mkdtempSync(join(tmpdir(), 'mdlc-ckpt-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const tensors = () =>
  new Map<string, StoredTensor>([
    ['b', { dtype: 'I32', shape: [1, 1], data: Int32Array.of(7) }],
    ['a', { dtype: 'F32', shape: [2], data: Float32Array.of(1.5, -2) }],
  ]);

describe('safetensors', () => {
  it('lays out the header length, the padded JSON header and the data as the specification says', () => {
    const bytes = encodeSafetensors(tensors(), { x: 'y' });
    const json = '{"__metadata__":{"x":"y"},"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"I32","shape":[1,1],"data_offsets":[8,12]}}';
    const padded = json + ' '.repeat((8 - ((8 + json.length) % 8)) % 8);
    const n = padded.length;
    expect((8 + n) % 8).toBe(0);
    const expected = new Uint8Array(8 + n + 12);
    const view = new DataView(expected.buffer);
    view.setBigUint64(0, BigInt(n), true);
    expected.set(new TextEncoder().encode(padded), 8);
    view.setFloat32(8 + n, 1.5, true);
    view.setFloat32(8 + n + 4, -2, true);
    view.setInt32(8 + n + 8, 7, true);
    expect([...bytes]).toEqual([...expected]);
  });

  it('round-trips names, dtypes, shapes, values and metadata', () => {
    const { tensors: t, metadata } = decodeSafetensors(encodeSafetensors(tensors(), { step: '3' }));
    expect(metadata).toEqual({ step: '3' });
    expect([...t.keys()].sort()).toEqual(['a', 'b']);
    expect(t.get('a')).toEqual({ dtype: 'F32', shape: [2], data: Float32Array.of(1.5, -2) });
    expect(t.get('b')).toEqual({ dtype: 'I32', shape: [1, 1], data: Int32Array.of(7) });
  });

  it('copies tensors out of a larger buffer (a Buffer from readFileSync shares its memory)', () => {
    const bytes = encodeSafetensors(tensors());
    const file = join(tmp, 'x.safetensors');
    writeFileSync(file, bytes);
    const { tensors: t } = decodeSafetensors(readFileSync(file));
    expect(t.get('a')!.data.length).toBe(2);
    expect(t.get('a')!.data.buffer.byteLength).toBe(8);
  });

  it('refuses truncated, corrupt and overlapping files with a message', () => {
    const good = encodeSafetensors(tensors());
    expect(() => decodeSafetensors(good.subarray(0, 5), 'f')).toThrow(/f is truncated/);
    expect(() => decodeSafetensors(good.subarray(0, good.length - 4), 'f')).toThrow(/tensor b out of bounds/);
    const notJson = good.slice();
    notJson[9] = 0x7b; // '{' → '{{'
    expect(() => decodeSafetensors(notJson, 'f')).toThrow(/not JSON/);
    const header = (h: object) => {
      const j = new TextEncoder().encode(JSON.stringify(h));
      const out = new Uint8Array(8 + j.length + 8);
      new DataView(out.buffer).setBigUint64(0, BigInt(j.length), true);
      out.set(j, 8);
      return out;
    };
    expect(() => decodeSafetensors(header({ a: { dtype: 'F32', shape: [1], data_offsets: [0, 4] }, b: { dtype: 'F32', shape: [1], data_offsets: [2, 6] } }), 'f')).toThrow(/overlap/);
    expect(() => decodeSafetensors(header({ a: { dtype: 'F16', shape: [2], data_offsets: [0, 4] } }), 'f')).toThrow(/unsupported entry/);
    expect(() => decodeSafetensors(header([1, 2]), 'f')).toThrow(/not a JSON object/);
  });

  it("is what Python's safetensors package reads, where it is installed", () => {
    const probe = spawnSync('python3', ['-c', 'import safetensors, numpy'], { encoding: 'utf8' });
    if (probe.status !== 0) {
      // Not a dependency of mdlc; .ci/run installs it when the machine's package index has it.
      console.warn(`python3 safetensors not installed: ${probe.stderr.trim().split('\n').at(-1)}`);
      return;
    }
    const file = join(tmp, 'py.safetensors');
    writeFileSync(file, encodeSafetensors(new Map([['blocks.0.attention.wq', { dtype: 'F32', shape: [2, 3], data: Float32Array.of(1, 2, 3, 4, 5, 6) }]]), { format: 'mdlc/1' }));
    const r = spawnSync('python3', ['-c', `from safetensors import safe_open\nwith safe_open(${JSON.stringify(file)}, framework="numpy") as f:\n  t = f.get_tensor("blocks.0.attention.wq")\n  print(f.metadata()["format"], list(t.shape), t.dtype, t.tolist())`], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.stdout.trim()).toBe('mdlc/1 [2, 3] float32 [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]');
  });
});

const meta: ModelMeta = { model: 'toy', modelHash: 'abc', vocab: ['a', '\n', 'é'], axes: { 'blocks.0.w': ['embed', 'hidden'] }, source: 'model toy\n', overrides: { embed: 2 } };
const contents = (step: number, w = 1) => ({
  meta,
  params: new Map([['blocks.0.w', Float32Array.of(w, 2, 3, 4, 5, 6)]]),
  state: new Map([
    ['m.blocks.0.w', Float32Array.of(0.1, 0.2, 0.3, 0.4, 0.5, 0.6)],
    ['v.blocks.0.w', Float32Array.of(1, 1, 1, 1, 1, 1)],
  ]),
  shapes: new Map([['blocks.0.w', [2, 3]]]),
  trainer: { format: 'mdlc/1' as const, step, batchesDrawn: step, seed: 1, modelHash: 'abc', valLoss: 1.5, bestValLoss: 1.5, elapsedSeconds: 2 },
});

describe('checkpoint directories', () => {
  it('round-trip weights with their names and shapes, the optimizer state, the trainer state and the model metadata', () => {
    const dir = join(tmp, 'c1', checkpointName(20));
    writeCheckpoint(dir, contents(20));
    expect(readdirSync(dir).sort()).toEqual(['model.safetensors', 'optimizer.safetensors', 'trainer.json']);
    const c = readCheckpoint(dir);
    expect(c.meta).toEqual(meta);
    expect(c.params.get('blocks.0.w')).toEqual({ dtype: 'F32', shape: [2, 3], data: Float32Array.of(1, 2, 3, 4, 5, 6) });
    expect(c.state!.get('m.blocks.0.w')!.shape).toEqual([2, 3]);
    expect([...c.state!.get('m.blocks.0.w')!.data]).toEqual([...Float32Array.of(0.1, 0.2, 0.3, 0.4, 0.5, 0.6)]);
    expect(c.trainer).toEqual(contents(20).trainer);
    // The weights file alone (copied elsewhere) is enough to rebuild the model.
    mkdirSync(join(tmp, 'alone'));
    writeFileSync(join(tmp, 'alone', 'weights.safetensors'), readFileSync(join(dir, 'model.safetensors')));
    const alone = readCheckpoint(join(tmp, 'alone', 'weights.safetensors'));
    expect(alone.meta.source).toBe('model toy\n');
    expect(alone.state).toBeUndefined();
    expect(checkpointName(20)).toBe('step-00000020');
  });

  it('are the bytes of the checkpoint files a page encodes without a file system', () => {
    const dir = join(tmp, 'c-bytes', checkpointName(7));
    const c = contents(7, 9);
    writeCheckpoint(dir, c);
    const model = encodeModelFile(c.meta, c.params, c.shapes, 7);
    expect([...readFileSync(join(dir, 'model.safetensors'))]).toEqual([...model]);
    expect([...readFileSync(join(dir, 'optimizer.safetensors'))]).toEqual([...encodeStateFile(c.state, c.shapes, 7)]);
    expect(readFileSync(join(dir, 'trainer.json'), 'utf8')).toBe(encodeTrainerFile(c.trainer));
    const decoded = decodeModelFile(model, 'model.safetensors');
    expect(decoded.meta).toEqual(meta);
    expect([...decoded.params.get('blocks.0.w')!.data]).toEqual([9, 2, 3, 4, 5, 6]);
    expect(() => decodeModelFile(encodeSafetensors(tensors(), { format: 'other' }), 'x.safetensors')).toThrow("x.safetensors is not an mdlc checkpoint (format 'other', expected 'mdlc/1')");
    expect(() => encodeModelFile(meta, new Map([['nope', Float32Array.of(1)]]), c.shapes, 1)).toThrow('internal: no shape for nope');
  });

  it('replaces a checkpoint of the same step only once the new one is complete, leaving no temporaries', () => {
    const dir = join(tmp, 'c2', checkpointName(5));
    writeCheckpoint(dir, contents(5, 1));
    writeCheckpoint(dir, contents(5, 9));
    expect(readCheckpoint(dir).params.get('blocks.0.w')!.data[0]).toBe(9);
    expect(readdirSync(join(tmp, 'c2'))).toEqual([checkpointName(5)]);
  });

  it('refuses a directory without a checkpoint, a foreign safetensors file and a broken trainer.json', () => {
    mkdirSync(join(tmp, 'empty'), { recursive: true });
    expect(() => readCheckpoint(join(tmp, 'empty'))).toThrow(/holds no checkpoint/);
    const foreign = join(tmp, 'foreign.safetensors');
    writeFileSync(foreign, encodeSafetensors(tensors()));
    expect(() => readCheckpoint(foreign)).toThrow(CheckpointError);
    expect(() => readCheckpoint(foreign)).toThrow(/not an mdlc checkpoint/);
    const dir = join(tmp, 'c3', checkpointName(1));
    writeCheckpoint(dir, contents(1));
    writeFileSync(join(dir, 'trainer.json'), '{"format":"mdlc/1","step":-1}');
    expect(() => readCheckpoint(dir)).toThrow(/trainer.json is malformed/);
  });

  it('keeps the newest checkpoints and those the pointers name, and removes what killed writers left', () => {
    const root = join(tmp, 'c4');
    for (const s of [10, 20, 30, 40, 50]) writeCheckpoint(join(root, checkpointName(s)), contents(s));
    writePointer(root, 'best', checkpointName(20));
    writePointer(root, 'latest', checkpointName(50));
    mkdirSync(join(root, `${checkpointName(60)}.tmp-12345`));
    writeFileSync(join(root, `latest.tmp-999`), 'x');
    pruneCheckpoints(root, 2);
    expect(readdirSync(root).sort()).toEqual(['best', 'latest', checkpointName(20), checkpointName(40), checkpointName(50)]);
    expect(readPointer(root, 'best')).toBe(join(root, checkpointName(20)));
    writeFileSync(join(root, 'latest'), 'step-00000999\n');
    expect(readPointer(root, 'latest')).toBeUndefined();
  });

  it('writes files atomically: a failed write leaves the old file and no temporary', () => {
    const file = join(tmp, 'atomic', 'f.txt');
    writeFileAtomic(file, 'old');
    expect(() => writeFileAtomic(join(file, 'child'), 'new')).toThrow();
    expect(readFileSync(file, 'utf8')).toBe('old');
    expect(readdirSync(join(tmp, 'atomic'))).toEqual(['f.txt']);
    expect(existsSync(`${file}.tmp-${process.pid}`)).toBe(false);
  });
});
