/**
 * Checkpoints on disk (Node.js). A checkpoint is a directory of three files:
 *   model.safetensors      the weights, named as in the .mdl, in their declared shapes;
 *                          the metadata makes the file self-describing (model, source, vocabulary)
 *   optimizer.safetensors  AdamW's moments `m.<param>`, `v.<param>`
 *   trainer.json           step, data-sampler position, losses
 * written into a temporary directory, each file fsynced, then renamed into place, so a kill at
 * any moment leaves either the previous set or the new one, never a mix. Every other file
 * mdlc writes goes through `writeFileAtomic` (temporary file, fsync, rename).
 */
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { CheckpointError, decodeSafetensors, encodeSafetensors, type StoredTensor } from './safetensors.js';
import { CHECKPOINT_FORMAT, encodeModelFile, encodeStateFile, encodeTrainerFile, MODEL_FILE, parseMeta, STATE_FILE, TRAINER_FILE, type ModelMeta, type TrainerState } from './checkpoint-files.js';

export { CheckpointError, decodeSafetensors, encodeSafetensors, type StoredTensor } from './safetensors.js';
export { CHECKPOINT_FORMAT, decodeModelFile, encodeModelFile, encodeStateFile, encodeTrainerFile, type ModelMeta, type TrainerState } from './checkpoint-files.js';

/** Suffix of the temporary files and directories mdlc writes before renaming them. */
const TMP_MARK = '.tmp-';

function fsyncPath(path: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(path, 'r');
    fsyncSync(fd);
  } catch {
    // Some file systems do not fsync directories; the rename is still atomic.
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

function writeAndSync(path: string, bytes: Uint8Array | string): void {
  const fd = openSync(path, 'w');
  try {
    const data = typeof bytes === 'string' ? Buffer.from(bytes, 'utf8') : bytes;
    let at = 0;
    while (at < data.length) at += writeSync(fd, data, at, data.length - at);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Write bytes to `path` atomically: a temporary file in the same folder, fsynced, renamed over the target. */
export function writeFileAtomic(path: string, bytes: Uint8Array | string): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}${TMP_MARK}${process.pid}`;
  try {
    writeAndSync(tmp, bytes);
    renameSync(tmp, path);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
  fsyncPath(dirname(path));
}

export function saveSafetensors(path: string, tensors: ReadonlyMap<string, StoredTensor>, metadata: Record<string, string> = {}): void {
  writeFileAtomic(path, encodeSafetensors(tensors, metadata));
}

export function loadSafetensors(path: string): { tensors: Map<string, StoredTensor>; metadata: Record<string, string> } {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    throw new CheckpointError(`cannot read ${path} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  return decodeSafetensors(bytes, path);
}

export interface Checkpoint {
  meta: ModelMeta;
  /** Weights by parameter name with their shapes. */
  params: Map<string, StoredTensor>;
  /** `m.<param>` and `v.<param>`; absent in a weights-only checkpoint. */
  state?: Map<string, StoredTensor>;
  trainer?: TrainerState;
}

/**
 * Write a checkpoint as directory `dir` (e.g. `runs/x/checkpoints/step-00000500`): files into
 * `dir.tmp-<pid>`, each fsynced, then the directory renamed into place. An existing `dir`
 * (the same step saved again) is replaced only after the new one is complete.
 */
export function writeCheckpoint(dir: string, c: { meta: ModelMeta; params: ReadonlyMap<string, Float32Array>; state?: ReadonlyMap<string, Float32Array>; trainer: TrainerState; shapes: ReadonlyMap<string, number[]> }): void {
  const parent = dirname(dir);
  mkdirSync(parent, { recursive: true });
  const tmp = `${dir}${TMP_MARK}${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp);
  try {
    writeAndSync(join(tmp, MODEL_FILE), encodeModelFile(c.meta, c.params, c.shapes, c.trainer.step));
    if (c.state) writeAndSync(join(tmp, STATE_FILE), encodeStateFile(c.state, c.shapes, c.trainer.step));
    writeAndSync(join(tmp, TRAINER_FILE), encodeTrainerFile(c.trainer));
    fsyncPath(tmp);
    if (existsSync(dir)) {
      const old = `${dir}${TMP_MARK}old-${process.pid}`;
      renameSync(dir, old);
      renameSync(tmp, dir);
      rmSync(old, { recursive: true, force: true });
    } else renameSync(tmp, dir);
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
  fsyncPath(parent);
}

/** Read a checkpoint directory, or a `model.safetensors` file alone (weights only). */
export function readCheckpoint(path: string): Checkpoint {
  let dir = path;
  let modelFile = join(path, MODEL_FILE);
  if (existsSync(path) && statSync(path).isFile()) {
    dir = dirname(path);
    modelFile = path;
  } else if (!existsSync(modelFile)) throw new CheckpointError(`${path} holds no checkpoint (no ${MODEL_FILE})`);
  const weights = loadSafetensors(modelFile);
  const meta = parseMeta(weights.metadata, modelFile);
  const out: Checkpoint = { meta, params: weights.tensors };
  if (basename(modelFile) !== MODEL_FILE) return out;
  const stateFile = join(dir, STATE_FILE);
  if (existsSync(stateFile)) out.state = loadSafetensors(stateFile).tensors;
  const trainerFile = join(dir, TRAINER_FILE);
  if (existsSync(trainerFile)) {
    let t: TrainerState;
    try {
      t = JSON.parse(readFileSync(trainerFile, 'utf8')) as TrainerState;
    } catch {
      throw new CheckpointError(`${trainerFile} is corrupt (not JSON)`);
    }
    if (t?.format !== CHECKPOINT_FORMAT || !Number.isInteger(t.step) || !Number.isInteger(t.batchesDrawn) || t.step < 0 || t.batchesDrawn < 0) throw new CheckpointError(`${trainerFile} is malformed`);
    out.trainer = t;
  }
  return out;
}

/** `step-00000500`: zero-padded so that names sort by step. */
export function checkpointName(step: number): string {
  return `step-${String(step).padStart(8, '0')}`;
}

/** The checkpoint a pointer file (`latest`, `best`) in `checkpointsDir` names, if any. */
export function readPointer(checkpointsDir: string, which: 'latest' | 'best'): string | undefined {
  const file = join(checkpointsDir, which);
  if (!existsSync(file)) return undefined;
  const name = readFileSync(file, 'utf8').trim();
  return /^step-\d+$/.test(name) && existsSync(join(checkpointsDir, name)) ? join(checkpointsDir, name) : undefined;
}

export function writePointer(checkpointsDir: string, which: 'latest' | 'best', name: string): void {
  writeFileAtomic(join(checkpointsDir, which), name + '\n');
}

/** Checkpoint directories in `checkpointsDir`, oldest first. */
export function listCheckpoints(checkpointsDir: string): string[] {
  if (!existsSync(checkpointsDir)) return [];
  return readdirSync(checkpointsDir)
    .filter((n) => /^step-\d+$/.test(n))
    .sort();
}

/**
 * Remove what a killed writer left (`*.tmp-*` files and directories) and all checkpoints but
 * the newest `keep` and those the pointers name.
 */
export function pruneCheckpoints(checkpointsDir: string, keep: number): void {
  if (!existsSync(checkpointsDir)) return;
  for (const n of readdirSync(checkpointsDir)) if (n.includes(TMP_MARK)) rmSync(join(checkpointsDir, n), { recursive: true, force: true });
  const pinned = new Set((['latest', 'best'] as const).map((w) => readPointer(checkpointsDir, w)).filter((p): p is string => !!p).map((p) => basename(p)));
  const all = listCheckpoints(checkpointsDir);
  for (const n of all.slice(0, Math.max(0, all.length - keep))) {
    if (pinned.has(n)) continue;
    // Renamed out of the way first: a kill during the removal leaves a temporary, never half a checkpoint.
    const doomed = join(checkpointsDir, `${n}${TMP_MARK}pruned-${process.pid}`);
    renameSync(join(checkpointsDir, n), doomed);
    rmSync(doomed, { recursive: true, force: true });
  }
}

/** Remove temporary files a killed writer left in `dir` (not recursive). */
export function removeStaleTemporaries(dir: string): void {
  if (!existsSync(dir)) return;
  for (const n of readdirSync(dir)) if (n.includes(TMP_MARK)) rmSync(join(dir, n), { recursive: true, force: true });
}
