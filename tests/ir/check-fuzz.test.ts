/**
 * The checker never crashes on a well-parsed but ill-typed model: names, axes, numbers and
 * operators of the reference models are swapped at random, and every resulting file must
 * compile to diagnostics (with valid spans) without throwing; the variants that still check
 * clean must also lower to a program (training step, schedule, buffers, WGSL) without throwing.
 */
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { compileSource } from '../../src/driver/index.js';
import { CATALOG } from '../../src/diagnostics/catalog.js';
import { planProgram } from '../../src/codegen/program.js';
import { CPU_TARGET } from '../../src/codegen/target.js';

const models = ['models/transformer.mdl', 'models/autoencoder.mdl'].map((p) => ({ path: p, text: readFileSync(p, 'utf8') }));
// Small sizes keep lowering fast; mutations that rename these dims simply drop the override.
const SMALL = new Map(Object.entries({ embed: 16, heads: 2, seq: 4, batch: 2, layers: 1, latent: 2, code: 4, hidden: 32 }));
const WORD = /[A-Za-z_][A-Za-z0-9_]*|\d+(?:\.\d+)?(?:e-?\d+)?|[-+*/^<>]=?|\.\./g;

/** Token positions of a text (identifiers, numbers, operators). */
function tokens(text: string): { start: number; end: number; text: string }[] {
  return [...text.matchAll(WORD)].map((m) => ({ start: m.index!, end: m.index! + m[0].length, text: m[0] }));
}

describe('checker robustness', () => {
  for (const m of models) {
    const toks = tokens(m.text);
    const words = [...new Set(toks.map((t) => t.text))];
    it(`never throws on ${m.path} with tokens replaced by other tokens of the file`, () => {
      fc.assert(
        fc.property(fc.array(fc.tuple(fc.nat(toks.length - 1), fc.nat(words.length - 1)), { minLength: 1, maxLength: 4 }), (edits) => {
          let text = m.text;
          // Apply from the end so earlier offsets stay valid.
          for (const [ti, wi] of [...edits].sort((a, b) => b[0] - a[0])) {
            const t = toks[ti];
            text = text.slice(0, t.start) + words[wi] + text.slice(t.end);
          }
          const r = compileSource({ path: m.path, text }, { overrides: SMALL, data: { vocab: 11 } });
          if (r.ok && r.model?.loss !== undefined) planProgram(r.model, { target: CPU_TARGET });
          for (const d of r.diagnostics) {
            expect(CATALOG[d.code]).toBeDefined();
            expect(d.span.start).toBeLessThanOrEqual(d.span.end);
            expect(d.span.end).toBeLessThanOrEqual(text.length);
            expect(d.span.line).toBeGreaterThanOrEqual(1);
          }
        }),
        { numRuns: Number(process.env.FUZZ_RUNS ?? 400), seed: 20261128 },
      );
    }, 120000);
  }
});
