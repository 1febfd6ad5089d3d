/**
 * Layering, checked on every `npm test`: parser → ir → codegen → emit, the runtime below all
 * of them, nothing importing upward and no import cycles. The rules run on the real sources
 * and, to show they can fail, on small graphs made up to break them.
 */
import { describe, expect, it } from 'vitest';
import { cycles, importGraph, importsOf, moduleOf, sourceFiles, stageOf, upwardImports, type Import, type Layers } from './imports.js';

/**
 * The stages, lowest first. `src/driver` is the front end (parse, elaborate, check) that code
 * generation, the exports and training start from; `src/export` emits programs for other
 * frameworks (PyTorch) from the IR; `src/train`, the CLI, the browser entry and the web page
 * are applications on top.
 */
const LAYERS: Layers = [
  ['runtime'],
  ['src/diagnostics'],
  ['src/parser'],
  ['src/ir'],
  ['src/driver'],
  ['src/codegen'],
  ['src/export'],
  ['src/train'],
  ['src/cli', 'src/browser.ts'],
  ['web/src'],
];

const ROOT = '.';
const graph = importGraph(ROOT, sourceFiles(ROOT, ['src', 'runtime', 'web/src']));
const show = (i: Import) => `${i.from}:${i.line} imports ${i.to}`;
const valueEdges = (imports: readonly Import[]) => imports.filter((i) => !i.typeOnly);

describe('the import graph', () => {
  it('is read from the sources: every kind of import, type-only ones told apart', () => {
    const text = [
      "import { a } from './a.js';",
      "import type { B } from '../b.js';",
      "import { type C, type D } from './c.js';",
      "import { type E, f } from './e.js';",
      "import g from './g.js';",
      "import './side.js';",
      "export { h } from './h.js';",
      "export type { I } from './i.js';",
      "export * from './all.js';",
      "const j = await import('./lazy.js');",
      'let k: import("./k.js").K;',
      "import ts from 'typescript';",
      "import { readFileSync } from 'node:fs';",
    ].join('\n');
    const got = importsOf('src/x/y.ts', text).map((i) => `${i.to}${i.typeOnly ? ' (type)' : ''}@${i.line}`);
    expect(got).toEqual([
      'src/x/a.ts@1',
      'src/b.ts (type)@2',
      'src/x/c.ts (type)@3',
      'src/x/e.ts@4',
      'src/x/g.ts@5',
      'src/x/side.ts@6',
      'src/x/h.ts@7',
      'src/x/i.ts (type)@8',
      'src/x/all.ts@9',
      'src/x/lazy.ts@10',
      'src/x/k.ts (type)@11',
    ]);
  });

  it('covers the compiler, the runtime and the page', () => {
    const files = new Set(graph.map((i) => i.from));
    for (const f of ['src/parser/parse.ts', 'src/ir/ops/index.ts', 'src/codegen/program.ts', 'src/export/index.ts', 'runtime/plan.ts', 'web/src/page/editor.ts']) expect(files, f).toContain(f);
    expect(graph.length).toBeGreaterThan(500);
    for (const i of graph.filter((i) => i.to.endsWith('.ts'))) expect(stageOf(i.to, LAYERS), show(i)).toBeDefined();
  });
});

describe('layers', () => {
  it('no stage imports a stage above it (or beside it)', () => {
    expect(upwardImports(graph, LAYERS).map(show)).toEqual([]);
  });

  it('the elaborator is handed the dataset registry: nothing of ir/elaborate imports the runtime', () => {
    expect(graph.filter((i) => i.from.startsWith('src/ir/elaborate/') && i.to.startsWith('runtime/')).map(show)).toEqual([]);
  });

  it('the rule finds upward and sideways imports in a made-up graph, and only those', () => {
    const edge = (from: string, to: string, typeOnly = false): Import => ({ from, to, typeOnly, line: 1 });
    const bad = [
      edge('src/parser/parse.ts', 'src/codegen/program.ts'), // parser → codegen: upward
      edge('runtime/plan.ts', 'src/ir/types.ts', true), // the runtime below everything, types too
      edge('src/cli/main.ts', 'src/browser.ts'), // two applications of one layer
      edge('src/ir/ops/index.ts', 'src/driver/compile.ts'),
    ];
    const good = [
      edge('src/codegen/program.ts', 'src/ir/types.ts'),
      edge('src/ir/ops/index.ts', 'src/ir/types.ts'), // within a stage
      edge('src/train/session.ts', 'runtime/text.ts'),
      edge('web/src/check.ts', 'src/browser.ts'),
      edge('tests/x.test.ts', 'src/cli/main.ts'), // outside every stage
    ];
    expect(upwardImports([...good, ...bad], LAYERS)).toEqual(bad);
  });

  it('the longest stage wins, and a stage matches whole path segments only', () => {
    expect(stageOf('src/browser.ts', LAYERS)).toEqual({ layer: 8, stage: 'src/browser.ts' });
    expect(stageOf('src/irony/x.ts', LAYERS)).toBeUndefined();
    expect(stageOf('runtime/plan.ts', LAYERS)).toEqual({ layer: 0, stage: 'runtime' });
  });
});

describe('cycles', () => {
  it('no file imports itself through others (imports that exist at run time)', () => {
    expect(cycles(valueEdges(graph))).toEqual([]);
  });

  it('no folder of a stage imports itself through others (src/codegen/wgsl and passes, src/ir/ops and interpret)', () => {
    const folders = valueEdges(graph)
      .map((i) => ({ from: moduleOf(i.from, LAYERS), to: moduleOf(i.to, LAYERS) }))
      .filter((e) => e.from !== e.to);
    expect(cycles(folders)).toEqual([]);
  });

  it('finds the cycles of a made-up graph, self-loops included, and nothing in a chain', () => {
    const e = (from: string, to: string) => ({ from, to });
    expect(cycles([e('a', 'b'), e('b', 'c'), e('c', 'd')])).toEqual([]);
    const found = cycles([e('a', 'b'), e('b', 'c'), e('c', 'a'), e('c', 'd'), e('d', 'd'), e('x', 'y'), e('y', 'x'), e('z', 'a')]);
    expect(found.sort((p, q) => p[0].localeCompare(q[0]))).toEqual([['a', 'b', 'c'], ['d'], ['x', 'y']]);
  });

  it('a long chain closed at its end is one cycle (no recursion limit)', () => {
    const n = 20_000;
    const edges = Array.from({ length: n }, (_, i) => ({ from: `f${i}`, to: `f${(i + 1) % n}` }));
    const found = cycles(edges);
    expect(found).toHaveLength(1);
    expect(found[0]).toHaveLength(n);
  });

  it('folders are the first level under a stage', () => {
    expect(moduleOf('src/codegen/passes/lower.ts', LAYERS)).toBe('src/codegen/passes');
    expect(moduleOf('src/codegen/program.ts', LAYERS)).toBe('src/codegen/program');
    expect(moduleOf('runtime/plan.ts', LAYERS)).toBe('runtime/plan');
    expect(moduleOf('src/browser.ts', LAYERS)).toBe('src/browser.ts');
  });
});
