/**
 * The import graph of the sources, read with the TypeScript compiler's parser, and the two
 * rules the layering test enforces over it: no stage imports a stage above it, and no
 * imports go round in a cycle.
 *
 * An import is type-only when TypeScript erases it (`import type`, or every name imported
 * marked `type`). Type-only imports count for layering (a type from a higher stage is still a
 * dependency on it) but not for cycles: they do not exist at run time, and tables typed by
 * their own names (`UnaryFn = keyof typeof UNARY`) need a type to go back to the file that
 * uses it.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';
import ts from 'typescript';

export interface Import {
  /** The importing file, relative to the repository root, with forward slashes. */
  from: string;
  /** The imported file, resolved the same way (`.js` specifiers name `.ts` sources). */
  to: string;
  typeOnly: boolean;
  /** 1-based line of the import in `from`. */
  line: number;
}

/** The relative imports of one file (packages and `node:` modules are no part of the graph). */
export function importsOf(from: string, text: string): Import[] {
  const sf = ts.createSourceFile(from, text, ts.ScriptTarget.Latest, false, ts.ScriptKind.TS);
  const out: Import[] = [];
  const add = (spec: ts.Expression, typeOnly: boolean, node: ts.Node) => {
    if (!ts.isStringLiteralLike(spec) || !spec.text.startsWith('.')) return;
    const to = normalize(join(dirname(from), spec.text)).split('\\').join('/').replace(/\.js$/, '.ts');
    out.push({ from, to, typeOnly, line: sf.getLineAndCharacterOfPosition(node.getStart(sf)).line + 1 });
  };
  const visit = (node: ts.Node) => {
    if (ts.isImportDeclaration(node)) {
      const c = node.importClause;
      const named = c?.namedBindings && ts.isNamedImports(c.namedBindings) ? c.namedBindings.elements : undefined;
      const erased = !!c && (c.isTypeOnly || (!c.name && !!named && named.length > 0 && named.every((e) => e.isTypeOnly)));
      add(node.moduleSpecifier, erased, node);
    } else if (ts.isExportDeclaration(node) && node.moduleSpecifier) {
      const named = node.exportClause && ts.isNamedExports(node.exportClause) ? node.exportClause.elements : undefined;
      add(node.moduleSpecifier, node.isTypeOnly || (!!named && named.length > 0 && named.every((e) => e.isTypeOnly)), node);
    } else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword && node.arguments.length === 1) {
      add(node.arguments[0], false, node);
    } else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument)) {
      add(node.argument.literal, true, node);
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return out;
}

/** Every .ts source (not .d.ts) under `dirs`, relative to `root`. */
export function sourceFiles(root: string, dirs: readonly string[]): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const name of readdirSync(d).sort()) {
      const p = join(d, name);
      if (statSync(p).isDirectory()) walk(p);
      else if (p.endsWith('.ts') && !p.endsWith('.d.ts')) out.push(relative(root, p).split('\\').join('/'));
    }
  };
  for (const d of dirs) walk(join(root, d));
  return out;
}

/** The import graph of `files` (paths relative to `root`). */
export function importGraph(root: string, files: readonly string[]): Import[] {
  return files.flatMap((f) => importsOf(f, readFileSync(join(root, f), 'utf8')));
}

/**
 * The stages, lowest first: a file may import its own stage and the stages listed before it.
 * Each stage is a folder or file prefix; a file in none of them is outside the rule.
 */
export type Layers = readonly (readonly string[])[];

/** The layer index of `path` (the stage with the longest matching prefix), and that stage. */
export function stageOf(path: string, layers: Layers): { layer: number; stage: string } | undefined {
  let best: { layer: number; stage: string } | undefined;
  layers.forEach((stages, layer) => {
    for (const stage of stages) {
      if ((path === stage || path.startsWith(`${stage}/`)) && (!best || stage.length > best.stage.length)) best = { layer, stage };
    }
  });
  return best;
}

/** Imports from a stage into one that is not below it (a higher layer, or another stage of the same layer). */
export function upwardImports(imports: readonly Import[], layers: Layers): Import[] {
  return imports.filter((i) => {
    const a = stageOf(i.from, layers);
    const b = stageOf(i.to, layers);
    return !!a && !!b && a.stage !== b.stage && b.layer >= a.layer;
  });
}

/** The cycles of a directed graph: its strongly connected components of more than one node, or of one node with an edge to itself. */
export function cycles(edges: readonly { from: string; to: string }[]): string[][] {
  const next = new Map<string, string[]>();
  for (const e of edges) {
    if (!next.has(e.from)) next.set(e.from, []);
    if (!next.has(e.to)) next.set(e.to, []);
    next.get(e.from)!.push(e.to);
  }
  // Tarjan's algorithm, iteratively (import chains are long enough to matter for recursion).
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const out: string[][] = [];
  let counter = 0;
  for (const start of next.keys()) {
    if (index.has(start)) continue;
    const work: { v: string; i: number }[] = [{ v: start, i: 0 }];
    index.set(start, counter);
    low.set(start, counter++);
    stack.push(start);
    onStack.add(start);
    while (work.length) {
      const top = work[work.length - 1];
      const succ = next.get(top.v)!;
      if (top.i < succ.length) {
        const w = succ[top.i++];
        if (!index.has(w)) {
          index.set(w, counter);
          low.set(w, counter++);
          stack.push(w);
          onStack.add(w);
          work.push({ v: w, i: 0 });
        } else if (onStack.has(w)) low.set(top.v, Math.min(low.get(top.v)!, index.get(w)!));
        continue;
      }
      work.pop();
      if (work.length) low.set(work[work.length - 1].v, Math.min(low.get(work[work.length - 1].v)!, low.get(top.v)!));
      if (low.get(top.v) === index.get(top.v)) {
        const scc: string[] = [];
        let w: string;
        do {
          w = stack.pop()!;
          onStack.delete(w);
          scc.push(w);
        } while (w !== top.v);
        if (scc.length > 1 || succ.includes(top.v)) out.push(scc.sort());
      }
    }
  }
  return out;
}

/**
 * The module a file belongs to, for cycles between folders: the folder right under its stage
 * (src/codegen/passes/lower.ts → src/codegen/passes), or the file itself when it sits
 * directly in the stage (src/codegen/program.ts).
 */
export function moduleOf(path: string, layers: Layers): string {
  const s = stageOf(path, layers);
  if (!s || path === s.stage) return path;
  const rest = path.slice(s.stage.length + 1).split('/');
  return rest.length > 1 ? `${s.stage}/${rest[0]}` : path.replace(/\.ts$/, '');
}
