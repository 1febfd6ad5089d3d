/**
 * A trained model back from a checkpoint alone: its metadata carries the source, overrides
 * and vocabulary, so the model is compiled again, checked against the weights, and loaded
 * on a backend. `mdlc sample` and `mdlc score` start here.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Diagnostic, SourceFile } from '../diagnostics/index.js';
import { CheckpointError, readCheckpoint, type Checkpoint } from '../../runtime/checkpoint.js';
import { Vocab } from '../../runtime/data.js';
import { resolveCheckpoint } from '../../runtime/run.js';
import type { TrainBackend, TrainSpec } from '../../runtime/backend.js';
import { chooseBackend, openBackend, type BackendChoice } from './backends.js';
import { checkpointMismatch, tensorsOf } from './resume.js';
import { compileForRows, compileForTraining, modelHash } from './session.js';

export interface Restored {
  dir: string;
  checkpoint: Checkpoint;
  source: SourceFile;
  spec: TrainSpec;
  vocab: Vocab;
  backend: TrainBackend;
  /** Destroys the backend and removes the temporary build. */
  close(): void;
}

export type RestoreResult = { ok: true; restored: Restored; diagnostics: Diagnostic[]; source: SourceFile } | { ok: false; diagnostics: Diagnostic[]; source?: SourceFile };

/**
 * Load the checkpoint `path` names (a run directory's newest, or `best`; a checkpoint directory;
 * a model.safetensors file) on `backend` (default: as chooseBackend chooses: WebGPU on a GPU, else wasm).
 * With `rows`, the model is compiled for batches of that many windows where its batch dim can
 * be set so and its parameters stay the same: sampling one text needs one row, and each
 * forward pass then costs 1/batch of the training batch's.
 */
export async function restoreModel(path: string, options: { best?: boolean; backend?: BackendChoice; threads?: number; rows?: number } = {}): Promise<RestoreResult> {
  const dir = resolveCheckpoint(path, options.best ? 'best' : 'latest');
  const checkpoint = readCheckpoint(dir);
  const meta = checkpoint.meta;
  const overrides = new Map(Object.entries(meta.overrides));
  if (modelHash(meta.source, overrides) !== meta.modelHash) throw new CheckpointError(`${dir}: the model source in its metadata does not match its hash (the file was edited or is corrupt)`);
  const source = { path: `${meta.model}.mdl (from ${dir})`, text: meta.source };
  let compiled = compileForTraining(source, { overrides, vocab: meta.vocab.length });
  if (!compiled.ok) return { ok: false, diagnostics: compiled.diagnostics, source };
  const why = checkpointMismatch(checkpoint, compiled.model, meta.vocab);
  if (why) throw new CheckpointError(`${dir} does not fit its own model: ${why}`);
  if (options.rows !== undefined) compiled = compileForRows(source, { overrides, vocab: meta.vocab.length }, compiled, options.rows) ?? compiled;

  const { kind, adapter } = await chooseBackend(options.backend);
  const buildDir = kind === 'webgpu' ? mkdtempSync(join(tmpdir(), 'mdlc-restore-')) : undefined;
  const removeBuild = () => buildDir && rmSync(buildDir, { recursive: true, force: true });
  try {
    const opened = await openBackend(kind, compiled.model, compiled.step, { seed: compiled.spec.seed, buildDir, sourcePath: source.path, meta, adapter, threads: options.threads });
    if (!opened.backend) {
      removeBuild();
      return { ok: false, diagnostics: opened.build.diagnostics, source };
    }
    const backend = opened.backend;
    await backend.setParams(tensorsOf(checkpoint.params));
    const close = () => {
      backend.destroy();
      removeBuild();
    };
    return { ok: true, restored: { dir, checkpoint, source, spec: compiled.spec, vocab: new Vocab(meta.vocab), backend, close }, diagnostics: compiled.diagnostics, source };
  } catch (e) {
    removeBuild();
    throw e;
  }
}
