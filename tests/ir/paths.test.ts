/** pathAvoiding on hand-made graphs, and the autoencoder's bottleneck proved on its IR. */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { compileSource } from '../../src/driver/index.js';
import { GraphBuilder } from '../../src/ir/graph.js';
import { pathAvoiding } from '../../src/ir/paths.js';
import type { ElaboratedModel } from '../../src/ir/elaborate/index.js';
import type { Span } from '../../src/diagnostics/index.js';

const span: Span = { file: 't', line: 1, column: 1, endLine: 1, endColumn: 1, start: 0, end: 0 };

/** x → a = exp(x) → b = a · 2 → out = b + (x or a), in a graph with an unrelated branch. */
function diamond(bypass: boolean) {
  const g = new GraphBuilder();
  const t = { dtype: 'f32' as const, axes: [] };
  const x = g.input('x', t, span);
  const other = g.input('other', t, span);
  const a = g.add({ op: 'unary', fn: 'exp' }, [x]);
  const unrelated = g.add({ op: 'unary', fn: 'exp' }, [other]);
  const b = g.add({ op: 'binary', fn: 'mul' }, [a, g.constant(2)]);
  const out = g.add({ op: 'binary', fn: 'add' }, [b, bypass ? x : unrelated]);
  return { graph: g.graph, x, a, b, out, other };
}

describe('pathAvoiding', () => {
  it('finds no path when every path passes through the avoided node', () => {
    const d = diamond(false);
    expect(pathAvoiding(d.graph, d.x, d.out, d.a)).toBeUndefined();
    expect(pathAvoiding(d.graph, d.x, d.out, d.b)).toBeUndefined();
  });

  it('returns a bypass as the path of node ids from start to end', () => {
    const d = diamond(true);
    expect(pathAvoiding(d.graph, d.x, d.out, d.a)).toEqual([d.x, d.out]);
    // Avoiding a node off every path leaves the first path found.
    expect(pathAvoiding(d.graph, d.x, d.out, d.other)).toEqual([d.x, d.a, d.b, d.out]);
  });

  it('is undefined when the end does not depend on the start at all, or the avoided node is an end', () => {
    const d = diamond(false);
    expect(pathAvoiding(d.graph, d.other, d.b, d.a)).toBeUndefined();
    expect(pathAvoiding(d.graph, d.x, d.out, d.x)).toBeUndefined();
    expect(pathAvoiding(d.graph, d.x, d.out, d.out)).toBeUndefined();
  });
});

const autoencoder = readFileSync('models/autoencoder.mdl', 'utf8');

/** The model, checked: with no diagnostics but those `expected` (codes). */
function compile(text: string, expected: string[] = []): ElaboratedModel {
  const r = compileSource({ path: 'autoencoder.mdl', text }, { data: { vocab: 65 }, overrides: new Map([['layers', 1]]) });
  expect(r.diagnostics.map((d) => d.code)).toEqual(expected);
  return r.model!;
}

/** The autoencoder's input tokens, its code `c` and its logits. */
function ends(m: ElaboratedModel) {
  const tokens = m.graph.inputs.find((i) => i.name === 'tokens')!.node;
  const codes = m.graph.nodes.filter((n) => n.name === 'c');
  expect(codes).toHaveLength(1);
  expect(codes[0].type.axes.map((a) => `${a.name}=${a.size}`).sort()).toEqual(['batch=16', 'code=16', 'latent=8']);
  return { tokens, code: codes[0].id, logits: m.logits };
}

describe('the autoencoder bottleneck', () => {
  it('every path from the input tokens to the logits passes through the code', () => {
    const m = compile(autoencoder);
    const { tokens, code, logits } = ends(m);
    // The logits do depend on the tokens, and on the code: the check is not vacuous.
    expect(pathAvoiding(m.graph, tokens, logits, -1)).toBeDefined();
    expect(pathAvoiding(m.graph, code, logits, -1)).toBeDefined();
    expect(pathAvoiding(m.graph, tokens, code, -1)).toBeDefined();
    expect(pathAvoiding(m.graph, tokens, logits, code)).toBeUndefined();
  });

  // A bypass that hands each position its own character is also an information leak the
  // checker reports (E1201); one through a mean over the window is not position-preserving.
  it.each([
    ['the encoded window added to the decoder', '  y = c . wup over (latent, code) + dec_pe', '  y = c . wup over (latent, code) + dec_pe + x', ['E1201']],
    ['the token embeddings added to the decoder', '  y = c . wup over (latent, code) + dec_pe', '  y = c . wup over (latent, code) + dec_pe + wte[tokens]', ['E1201']],
    ['the window leaking into the slots', '  z = layernorm(c . wslot over code + slot_pe)', '  z = layernorm(c . wslot over code + slot_pe + mean(x, over: seq))', []],
  ])('a mutated model with %s fails the check', (_, from, to, codes) => {
    expect(autoencoder).toContain(from);
    const m = compile(autoencoder.replace(from, to), codes as string[]);
    const { tokens, code, logits } = ends(m);
    const bypass = pathAvoiding(m.graph, tokens, logits, code);
    expect(bypass).toBeDefined();
    expect(bypass![0]).toBe(tokens);
    expect(bypass!.at(-1)).toBe(logits);
    expect(bypass).not.toContain(code);
  });
});
