/**
 * Long chains of elementwise statements (`x = x * 1.0001`, thousands of times) through code
 * generation: no stack overflow in the scheduler or the causal-zero analysis, and no WGSL
 * nested deeper than Tint parses (about 128 brackets).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { MAX_INLINE_DEPTH } from '../../src/codegen/passes/lower.js';
import { planProgram } from '../../src/codegen/program.js';
import { zeroPatterns } from '../../src/codegen/passes/causal-gemms.js';
import { CPU_TARGET } from '../../src/codegen/target.js';
import { compileSource } from '../../src/driver/index.js';
import { buildTrainStep } from '../../src/ir/optimizer/index.js';

const TINY = readFileSync(join(import.meta.dirname, '..', 'fixtures', 'check', 'good', 'tiny-transformer.mdl'), 'utf8').replace('dim layers = 2', 'dim layers = 1');

function chained(statements: number, body = '  x = x * 1.0001\n') {
  const text = TINY.replace('  x = wte[tokens] + wpe\n', `  x = wte[tokens] + wpe\n${body.repeat(statements)}`);
  const r = compileSource({ path: 'chain.mdl', text }, { data: { vocab: 65 } });
  if (!r.model) throw new Error(r.diagnostics.map((d) => d.message).join('\n'));
  return r.model;
}

/** Deepest bracket nesting of a WGSL source. */
function nesting(code: string): number {
  let depth = 0;
  let max = 0;
  for (const c of code) {
    if (c === '(' || c === '[') max = Math.max(max, ++depth);
    else if (c === ')' || c === ']') depth--;
  }
  return max;
}

describe('long elementwise chains', () => {
  it('generate kernels nested no deeper than WGSL compilers parse', () => {
    for (const body of ['  x = x * 1.0001\n', '  x = sigmoid(x) - 0.5\n']) {
      const plan = planProgram(chained(300, body), { target: CPU_TARGET });
      const deepest = Math.max(...plan.kernels.map((k) => nesting(k.code)));
      expect(deepest, body).toBeLessThanOrEqual(120);
      expect(deepest, body).toBeGreaterThan(MAX_INLINE_DEPTH / 2);
    }
  });

  it('of 10,000 statements plan without overflowing the stack', () => {
    const model = chained(10_000);
    const step = buildTrainStep(model);
    // The causal-zero analysis used to recurse once per statement.
    const zero = zeroPatterns(step.graph);
    expect(zero(step.graph.nodes.length - 1)).toBeUndefined();
    const plan = planProgram(model, { target: CPU_TARGET, step });
    expect(Math.max(...plan.kernels.map((k) => nesting(k.code)))).toBeLessThanOrEqual(120);
  }, 120_000);
});
