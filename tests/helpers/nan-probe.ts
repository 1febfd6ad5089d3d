/**
 * A model whose loss becomes NaN after a few steps of training, at a value the report must
 * name: `sqrt(s)` on line 9, once AdamW pushes an element of `s` below zero (it starts at
 * 0.001 ± 0.03). Shared by the CLI tests of the NaN report on each backend.
 */
import { writeFileSync } from 'node:fs';

/** Write the probe model, reading its text from `data`, to `path`. */
export function writeNanProbe(path: string, data: string): void {
  writeFileSync(
    path,
    `model probe
dim vocab = data.vocab
dim batch = 2
dim seq   = 4
dim embed = 8
param wte[vocab, embed] init normal(0.5)
param s[embed] init normal(0.001, 0.03)
forward(tokens: index[batch, seq] of vocab) -> logits {
  x = wte[tokens] * sqrt(s)
  return x . wte over embed
}
loss = cross_entropy(logits, targets, over: vocab)
train {
  data      = text("${data}", window: seq + 1)
  tokens    = data[0 .. seq]
  targets   = data[1 .. seq + 1]
  optimizer = adamw(lr: 0.01)
  steps     = 40
  eval_every = 100
  seed      = 3
}
`,
  );
}
