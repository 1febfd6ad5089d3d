/**
 * What the user reads: the human rendering of each diagnostic this checker's newer rules
 * produce, for one fixture each, as committed snapshots (tests/ir/check/__snapshots__). A
 * change of wording, span or help shows up in review as a snapshot diff.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { compileSource } from '../../../src/driver/index.js';
import { lookupFrom, renderHuman } from '../../../src/diagnostics/index.js';

/** Every diagnostic of a fixture (paths relative to the repository, so snapshots are portable), rendered. */
function rendered(path: string, overrides?: Record<string, number>): string {
  const text = readFileSync(path, 'utf8');
  const r = compileSource({ path, text }, { overrides: overrides && new Map(Object.entries(overrides)) });
  const look = lookupFrom([{ path, text }]);
  return r.diagnostics.map((d) => renderHuman(d, look)).join('\n\n');
}

const F = 'tests/fixtures/check';

describe('diagnostics as the user sees them', () => {
  const cases: [string, string, Record<string, number>?][] = [
    ['E1201 at a mask that lets positions see ahead', `${F}/E1201-mask-off-by-one.mdl`],
    ['E1201 at a softmax with no mask', `${F}/E1201-no-mask-in-a-causal-model.mdl`],
    ['E1201 at targets that are not shifted', `${F}/E1201-targets-not-shifted.mdl`],
    ['E1201 at a normalization over seq', `${F}/E1201-layernorm-over-seq.mdl`],
    ['E1201 at a contraction over seq', `${F}/E1201-token-mixing-over-seq.mdl`],
    ['W1202 at a reduction over the batch', `${F}/W1202-normalised-over-the-batch.mdl`],
    ['E0502 at the sum of a distribution over its own axis', `${F}/E0502-sum-of-weights-times-values.mdl`],
    ['E0504 with the zero-gradient warnings it explains', `${F}/E0504-keys-not-renamed.mdl`],
    ['E0505 at a softmax of a softmax', `${F}/E0505-softmax-of-a-softmax.mdl`],
    ['E0505 at cross-entropy of probabilities', `${F}/E0505-cross-entropy-of-probabilities.mdl`],
    ['E0311 at a residual that grows axes, with the unused parameter', `${F}/E0311-residual-grows-heads.mdl`],
    ['E0311 at a mask that broadcasts the scores', `${F}/E0311-mask-broadcasts-scores.mdl`],
    ['E0602 at the mask that starves a row under a later mask', `${F}/E0602-mask-hidden-under-a-later-one.mdl`],
    ['E0302 suggesting the rename where the operand is defined', `${F}/E0302-keys-not-renamed.mdl`],
    ['E0501 offering both fixes', `${F}/E0501-softmax-contracted-over-wrong-axis.mdl`],
    ['E0204 naming both sides', `${F}/E0204-head-does-not-divide.mdl`],
    ['E0205 alone after a bad --set value', 'models/transformer.mdl', { seq: 0 }],
  ];
  for (const [name, path, overrides] of cases) {
    it(name, () => {
      expect(rendered(path, overrides)).toMatchSnapshot();
    });
  }
});
