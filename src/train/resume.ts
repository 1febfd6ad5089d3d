/**
 * Whether a checkpoint fits a compiled model: the same model, vocabulary, parameters and
 * shapes. A mismatch is one line that says what differs, never a crash mid-upload.
 */
import type { Checkpoint } from '../../runtime/checkpoint.js';
import type { TensorMap } from '../../runtime/backend.js';
import type { ElaboratedModel } from '../ir/elaborate/model.js';

const shapeText = (s: readonly number[]) => `[${s.join(', ')}]`;

/** What differs between `ckpt` and the model (with the data's vocabulary), or undefined when it fits. */
export function checkpointMismatch(ckpt: Checkpoint, model: ElaboratedModel, vocab: readonly string[]): string | undefined {
  if (ckpt.meta.model !== model.name) return `it is a checkpoint of model \`${ckpt.meta.model}\`, not \`${model.name}\``;
  if (ckpt.meta.vocab.join('') !== vocab.join('')) {
    const missing = vocab.filter((c) => !ckpt.meta.vocab.includes(c));
    const extra = ckpt.meta.vocab.filter((c) => !vocab.includes(c));
    const detail = [missing.length ? `the data has ${JSON.stringify(missing.slice(0, 8).join(''))} that it lacks` : '', extra.length ? `it has ${JSON.stringify(extra.slice(0, 8).join(''))} that the data lacks` : '']
      .filter(Boolean)
      .join('; ');
    return `its vocabulary of ${ckpt.meta.vocab.length} characters differs from the data's ${vocab.length}${detail ? ` (${detail})` : ' (same characters, another order)'}`;
  }
  for (const p of model.graph.params) {
    const t = ckpt.params.get(p.name);
    const want = p.type.axes.map((a) => a.size);
    if (!t) return `it has no parameter \`${p.name}\``;
    if (shapeText(t.shape) !== shapeText(want)) return `parameter \`${p.name}\` has shape ${shapeText(t.shape)} in it, but ${shapeText(want)} [${p.type.axes.map((a) => a.name).join(', ')}] in this model`;
  }
  const names = new Set(model.graph.params.map((p) => p.name));
  const unknown = [...ckpt.params.keys()].filter((n) => !names.has(n));
  if (unknown.length) return `it has parameter${unknown.length > 1 ? 's' : ''} this model lacks: ${unknown.slice(0, 4).map((n) => `\`${n}\``).join(', ')}${unknown.length > 4 ? ', …' : ''}`;
  return undefined;
}

/** The checkpoint's tensors as plain arrays (weights, or optimizer state). */
export function tensorsOf(m: Checkpoint['params']): TensorMap {
  return new Map([...m].map(([k, t]) => [k, Float32Array.from(t.data)]));
}
