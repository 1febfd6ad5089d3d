/** Pieces of a training loop shared by the generated programs and the cpu backend. */
import { join } from 'node:path';
import { saveCheckpoint, writeFileAtomic, type StoredTensor } from './checkpoint.js';
import type { Vocab } from './data.js';

export class NonFiniteLossError extends Error {
  constructor(
    readonly step: number,
    readonly loss: number,
  ) {
    super(`the loss became ${loss} at step ${step + 1}: training diverged (lower the learning rate, or clip gradients with \`clip = 1.0\`)`);
    this.name = 'NonFiniteLossError';
  }
}

export function formatStep(step: number, steps: number, loss: number, lr: number, val?: number, gradNorm?: number): string {
  const w = String(steps).length;
  const v = val !== undefined ? `  val ${val.toFixed(4)}` : '';
  const g = gradNorm !== undefined ? `  |g| ${gradNorm.toFixed(3)}` : '';
  return `step ${String(step).padStart(w)}/${steps}  loss ${loss.toFixed(4)}${v}  lr ${lr.toExponential(2)}${g}`;
}

/** Parameters, optimizer state and vocabulary, each written atomically into `dir`. */
export function saveTrainingCheckpoint(
  dir: string,
  c: { model: string; params: ReadonlyMap<string, Float32Array>; state?: ReadonlyMap<string, Float32Array>; vocab: Vocab; step: number; shapes?: ReadonlyMap<string, number[]> },
): void {
  const tensors = (m: ReadonlyMap<string, Float32Array>) =>
    new Map<string, StoredTensor>([...m].map(([name, data]) => [name, { dtype: 'F32', shape: c.shapes?.get(name.replace(/^[mv]:/, '')) ?? [data.length], data }]));
  saveCheckpoint(join(dir, 'params.safetensors'), tensors(c.params), { model: c.model, step: String(c.step) });
  if (c.state) saveCheckpoint(join(dir, 'optimizer.safetensors'), tensors(c.state), { model: c.model, step: String(c.step) });
  writeFileAtomic(join(dir, 'vocab.json'), JSON.stringify(c.vocab.toJSON()));
}
