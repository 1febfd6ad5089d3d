/**
 * The model's structure as the export recovers it: elaboration records each node's block
 * call or repeat iteration; from that, the tree of module instances, what flows into and out
 * of them, and which repeats run as one loop over an nn.ModuleList.
 */
import { describe, expect, it } from 'vitest';
import { compileFile } from '../../src/driver/index.js';
import { externalReads, itemsOf, moduleTree, readersOf, type ModuleInstance } from '../../src/export/structure.js';

const tiny = compileFile('models/transformer.mdl', { overrides: new Map(Object.entries({ layers: 2, embed: 16, heads: 2, seq: 8, batch: 3 })), data: { vocab: 13 } }).model!;
const g = tiny.graph;
const named = (name: string, path: string) => g.nodes.find((n) => n.name === name && (n.scope?.path ?? '') === path)!;

describe('elaboration records where each node came from', () => {
  it('a node in a block inside a repeat: the block call, its iteration, their names and spans', () => {
    const q = named('q', 'blocks.1.attention');
    const s = q.scope!;
    expect(s).toMatchObject({ kind: 'block', name: 'attention', path: 'blocks.1.attention' });
    expect(s.span.line).toBe(53); // x = x + attention(layernorm(x))
    expect(s.decl!.line).toBe(27); // block attention(x[batch, seq, embed]) {
    expect(s.parent).toMatchObject({ kind: 'repeat', name: 'blocks', index: 1, path: 'blocks.1' });
    expect(s.parent!.span.line).toBe(52);
    expect(s.parent!.parent).toBeUndefined();
    // The block's input is the layernorm's output, and its output what the block returns.
    const [input] = s.inputs!;
    expect(input.name).toBe('x');
    expect(g.nodes[input.node].scope?.path).toBe('blocks.1.layernorm');
    expect(g.nodes[s.output!].attrs.op).toBe('contract');
    expect(g.nodes[s.output!].scope).toBe(s);
  });

  it('parameters belong to the call that declares them; top-level nodes and constants to none', () => {
    for (const p of g.params) {
      const path = g.nodes[p.node].scope?.path ?? '';
      expect(p.name.startsWith(path ? `${path}.` : '')).toBe(true);
      expect(p.name.slice(path ? path.length + 1 : 0)).not.toContain('.');
    }
    expect(g.nodes.find((n) => n.attrs.op === 'gather')!.scope).toBeUndefined();
    expect(g.nodes.filter((n) => n.attrs.op === 'const').every((n) => n.scope === undefined)).toBe(true);
  });
});

describe('the module tree', () => {
  const root = moduleTree(g);
  const paths = (m: ModuleInstance) => m.children.map((c) => c.path);

  it('has the repeat iterations and block calls as children, in order, with their parameters', () => {
    expect(paths(root)).toEqual(['blocks.0', 'blocks.1', 'layernorm']);
    expect(paths(root.children[1])).toEqual(['blocks.1.layernorm', 'blocks.1.attention', 'blocks.1.layernorm_2', 'blocks.1.mlp']);
    expect(root.params.map((p) => p.name)).toEqual(['wte', 'wpe']);
    expect(root.children[1].children[1].params.map((p) => p.name)).toEqual(['blocks.1.attention.wq', 'blocks.1.attention.wk', 'blocks.1.attention.wv', 'blocks.1.attention.wo']);
    // Every non-constant node is in exactly one instance's own list.
    const all: number[] = [];
    const walk = (m: ModuleInstance) => {
      all.push(...m.own);
      m.children.forEach(walk);
    };
    walk(root);
    expect(all.sort((a, b) => a - b)).toEqual(g.nodes.filter((n) => n.attrs.op !== 'const').map((n) => n.id));
  });

  it('runs the repeat as a loop that carries x from each iteration to the next', () => {
    const items = itemsOf(g, root, readersOf(g));
    // wte, wpe, tokens, the gather, x; the loop; the last layernorm; the logits; targets and the loss.
    expect(items.map((i) => i.kind)).toEqual(['node', 'node', 'node', 'node', 'node', 'loop', 'call', 'node', 'node', 'node']);
    const loop = items.find((i) => i.kind === 'loop')!;
    if (loop.kind !== 'loop') throw new Error('no loop');
    const [first, second] = loop.loop.iterations;
    expect(loop.loop.args[0]).toEqual([named('x', '').id]);
    expect(loop.loop.carriedFrom).toHaveLength(1);
    // Iteration 1 reads what iteration 0 made at the carried position: its last x.
    expect(first.subtree[loop.loop.carriedFrom[0]]).toBe(loop.loop.args[1][0]);
    expect(g.nodes[loop.loop.args[1][0]]).toMatchObject({ name: 'x', scope: first.scope });
    expect(loop.loop.outputs[1]).toEqual([second.subtree[loop.loop.returns[0]]]);
    // The final layernorm is a call on the loop's last output.
    const call = items[6];
    expect(call.kind === 'call' && call.args).toEqual(loop.loop.outputs[1]);
  });

  it('calls iterations one by one when they do not agree (one reads a single value for two), and passes top-level parameters to blocks', () => {
    const ops = compileFile('tests/fixtures/export/ops.mdl', { data: { vocab: 11 } }).model!;
    const og = ops.graph;
    const root2 = moduleTree(og);
    const items = itemsOf(og, root2, readersOf(og));
    const loops = items.filter((i) => i.kind === 'loop');
    const calls = items.filter((i) => i.kind === 'call');
    expect(loops).toHaveLength(1);
    expect(calls.map((c) => c.kind === 'call' && c.child.path)).toEqual(['q.0', 'q.1', 'squash']);
    // `repeat layers as r` reads x (carried) and the parameters w and scale (the same for every iteration).
    const loop = loops[0].kind === 'loop' ? loops[0].loop : undefined;
    expect(loop!.args[0].map((id) => og.nodes[id].name)).toEqual(['x', 'w', 'scale']);
    expect(loop!.carriedFrom.map((q) => q >= 0)).toEqual([true, false, false]);
    // q.1 reads one value where q.0 read two (x and h are the same node after q.0).
    const [q0, q1] = calls.slice(0, 2).map((c) => (c.kind === 'call' ? c.child : undefined)!);
    expect(externalReads(og, q0)).toHaveLength(2);
    expect(externalReads(og, q1)).toHaveLength(1);
  });
});
