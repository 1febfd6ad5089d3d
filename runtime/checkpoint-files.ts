/**
 * The files of a checkpoint as bytes, without a file system: `model.safetensors` (the weights,
 * named as in the .mdl, in their declared shapes, with metadata that makes the file
 * self-describing), `optimizer.safetensors` (AdamW's moments) and `trainer.json`. The CLI
 * writes them into a checkpoint directory (checkpoint.ts); a browser page offers them as
 * downloads. Browser-safe: no Node imports.
 */
import { CheckpointError, decodeSafetensors, encodeSafetensors, type StoredTensor } from './safetensors.js';

export const CHECKPOINT_FORMAT = 'mdlc/1';

export const MODEL_FILE = 'model.safetensors';
export const STATE_FILE = 'optimizer.safetensors';
export const TRAINER_FILE = 'trainer.json';

/** What the model file's metadata says, so that a checkpoint alone can rebuild its model. */
export interface ModelMeta {
  model: string;
  /** SHA-256 of the source and the overrides: which model (and sizes) these weights are for. */
  modelHash: string;
  /** The vocabulary's characters: token i is vocab[i]. */
  vocab: string[];
  /** Declared axis names of each parameter. */
  axes: Record<string, string[]>;
  /** The .mdl source and the `--set` overrides it was trained with. */
  source: string;
  overrides: Record<string, number>;
}

export interface TrainerState {
  format: typeof CHECKPOINT_FORMAT;
  /** Completed steps. */
  step: number;
  /** Batches the training sampler has drawn (resuming skips as many). */
  batchesDrawn: number;
  seed: number;
  modelHash: string;
  valLoss: number | null;
  bestValLoss: number | null;
  elapsedSeconds: number;
}

function metaStrings(meta: ModelMeta, step: number): Record<string, string> {
  return {
    format: CHECKPOINT_FORMAT,
    model: meta.model,
    model_hash: meta.modelHash,
    step: String(step),
    axes: JSON.stringify(meta.axes),
    vocab: JSON.stringify(meta.vocab),
    source: meta.source,
    overrides: JSON.stringify(meta.overrides),
  };
}

/** The model's metadata from a model file's `__metadata__`; `path` names the file in errors. */
export function parseMeta(m: Record<string, string>, path: string): ModelMeta {
  const json = (key: string): unknown => {
    try {
      return JSON.parse(m[key]);
    } catch {
      throw new CheckpointError(`${path} is not an mdlc checkpoint (its metadata has no valid \`${key}\`)`);
    }
  };
  if (m.format !== CHECKPOINT_FORMAT) throw new CheckpointError(`${path} is not an mdlc checkpoint (format ${m.format === undefined ? 'missing' : `'${m.format}'`}, expected '${CHECKPOINT_FORMAT}')`);
  const vocab = json('vocab');
  if (!Array.isArray(vocab) || !vocab.every((c) => typeof c === 'string')) throw new CheckpointError(`${path}: the vocabulary in its metadata is malformed`);
  if (typeof m.model !== 'string' || typeof m.source !== 'string' || typeof m.model_hash !== 'string') throw new CheckpointError(`${path}: its metadata lacks the model, its source or its hash`);
  return { model: m.model, modelHash: m.model_hash, vocab, axes: json('axes') as Record<string, string[]>, source: m.source, overrides: json('overrides') as Record<string, number> };
}

/** Tensors (parameters, or moments `m.<param>`/`v.<param>`) with the shapes of their parameters. */
function shaped(m: ReadonlyMap<string, Float32Array>, shapes: ReadonlyMap<string, number[]>): Map<string, StoredTensor> {
  return new Map(
    [...m].map(([name, data]) => {
      const shape = shapes.get(name.replace(/^[mv]\./, ''));
      if (!shape) throw new CheckpointError(`internal: no shape for ${name}`);
      return [name, { dtype: 'F32' as const, shape, data }];
    }),
  );
}

/** `model.safetensors`: the weights after `step` steps, with the model's metadata. */
export function encodeModelFile(meta: ModelMeta, params: ReadonlyMap<string, Float32Array>, shapes: ReadonlyMap<string, number[]>, step: number): Uint8Array {
  return encodeSafetensors(shaped(params, shapes), metaStrings(meta, step));
}

/** `optimizer.safetensors`: AdamW's moments after `step` steps. */
export function encodeStateFile(state: ReadonlyMap<string, Float32Array>, shapes: ReadonlyMap<string, number[]>, step: number): Uint8Array {
  return encodeSafetensors(shaped(state, shapes), { format: CHECKPOINT_FORMAT, optimizer: 'adamw', step: String(step) });
}

/** `trainer.json`. */
export function encodeTrainerFile(trainer: TrainerState): string {
  return JSON.stringify(trainer, null, 2) + '\n';
}

/** The metadata and weights of a `model.safetensors` file's bytes; `path` names it in errors. */
export function decodeModelFile(bytes: Uint8Array, path: string): { meta: ModelMeta; params: Map<string, StoredTensor> } {
  const { tensors, metadata } = decodeSafetensors(bytes, path);
  return { meta: parseMeta(metadata, path), params: tensors };
}
