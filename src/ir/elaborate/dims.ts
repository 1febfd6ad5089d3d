/** Evaluating `dim` declarations (integer expressions) and constant numeric expressions. */
import { diagnostic, type Diagnostic } from '../../diagnostics/index.js';
import type { DimDecl, DimExpr, Expr } from '../../parser/ast.js';
import type { DimValue } from './model.js';
import { formatCount, MAX_DIM } from './limits.js';

/** Values bound from the dataset (`data.vocab`); absent fields get a placeholder at check time. */
export interface DataBindings {
  vocab?: number;
}

/** Placeholder for `data.*` when no dataset is known (mdlc check): any positive size type-checks. */
export const PLACEHOLDER_DATA_SIZE = 128;

/** Evaluated dims by name, and the names of those that failed (already reported). */
export type DimTable = ReadonlyMap<string, DimValue> & { readonly failed?: ReadonlySet<string> };

/**
 * Evaluate all dims, in dependency order (declaration order does not matter).
 * `overrides` replace a dim's value (`--set embed=32`) before dependants are computed.
 */
export function evaluateDims(
  decls: readonly DimDecl[],
  data: DataBindings | undefined,
  overrides: ReadonlyMap<string, number>,
  diags: Diagnostic[],
): Map<string, DimValue> & { failed: ReadonlySet<string> } {
  const byName = new Map<string, DimDecl>();
  for (const d of decls) {
    if (byName.has(d.name.name)) {
      diags.push(diagnostic('E0202', `dim \`${d.name.name}\` is declared twice`, d.name.span, {
        labels: [{ span: byName.get(d.name.name)!.name.span, message: 'first declared here' }],
        help: 'rename or remove one of them',
      }));
      continue;
    }
    byName.set(d.name.name, d);
  }
  const values = new Map<string, DimValue>();
  const failed = new Set<string>();

  // Dims name other dims: evaluate them in dependency order, found without recursion (a file
  // may chain thousands of dims). A name met again while its own dependencies are being
  // followed closes a cycle, reported at that dim.
  const refsOf = (name: string): string[] => (overrides.has(name) ? [] : dimRefs(byName.get(name)!.value).filter((r) => byName.has(r)));
  const order: string[] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  for (const root of byName.keys()) {
    if (state.has(root)) continue;
    state.set(root, 'visiting');
    const stack = [{ name: root, refs: refsOf(root), next: 0 }];
    while (stack.length) {
      const top = stack[stack.length - 1];
      if (top.next < top.refs.length) {
        const r = top.refs[top.next++];
        const st = state.get(r);
        if (st === undefined) {
          state.set(r, 'visiting');
          stack.push({ name: r, refs: refsOf(r), next: 0 });
        } else if (st === 'visiting' && !failed.has(r)) {
          diags.push(diagnostic('E0201', `dim \`${r}\` is defined in terms of itself`, byName.get(r)!.value.span, { help: 'give one of the dims in the cycle a number' }));
          failed.add(r);
        }
        continue;
      }
      state.set(top.name, 'done');
      order.push(top.name);
      stack.pop();
    }
  }

  const evalDim = (name: string): DimValue | undefined => {
    if (failed.has(name)) return undefined;
    const decl = byName.get(name)!;
    const o = overrides.get(name);
    const result = o !== undefined ? { value: o, fromData: false } : evalDimExpr(decl.value);
    if (!result) {
      failed.add(name);
      return undefined;
    }
    if (!Number.isInteger(result.value) || result.value <= 0) {
      diags.push(diagnostic('E0205', `dim \`${name}\` is ${result.value}, but a dim must be a positive integer`, decl.value.span, {
        help: o !== undefined ? `pass a positive integer to --set ${name}=...` : 'sizes are counts of positions; use a positive integer',
      }));
      failed.add(name);
      return undefined;
    }
    if (result.value > MAX_DIM) {
      diags.push(diagnostic('E0211', `dim \`${name}\` is ${formatCount(result.value)}, more than the largest dim mdlc compiles, ${formatCount(MAX_DIM)} (positions along an axis are 32-bit integers)`, decl.value.span, {
        help: o !== undefined ? `pass a smaller value to --set ${name}=...` : 'use a smaller size',
      }));
      failed.add(name);
      return undefined;
    }
    const v: DimValue = { name, value: result.value, span: decl.name.span, fromData: result.fromData };
    values.set(name, v);
    return v;
  };

  const evalDimExpr = (e: DimExpr): { value: number; fromData: boolean } | undefined => {
    switch (e.kind) {
      case 'DimNumber':
        return { value: e.value, fromData: false };
      case 'DimParen':
        return evalDimExpr(e.inner);
      case 'DataRef': {
        if (e.field.name !== 'vocab') {
          diags.push(diagnostic('E0206', `the dataset provides no \`data.${e.field.name}\``, e.span, { help: 'text datasets provide `data.vocab` (the number of distinct characters)' }));
          return undefined;
        }
        if (data?.vocab !== undefined) return { value: data.vocab, fromData: false };
        return { value: PLACEHOLDER_DATA_SIZE, fromData: true };
      }
      case 'DimRef': {
        const n = e.name.name;
        if (!byName.has(n)) {
          diags.push(diagnostic('E0201', `unknown dim \`${n}\``, e.span, { help: suggest(n, byName.keys(), 'declare it with `dim ' + n + ' = ...`') }));
          return undefined;
        }
        // Evaluated before this dim in dependency order; missing when it failed or closes a cycle.
        const v = values.get(n);
        return v && { value: v.value, fromData: v.fromData };
      }
      case 'DimBinary': {
        const l = evalDimExpr(e.left);
        const r = evalDimExpr(e.right);
        if (!l || !r) return undefined;
        const fromData = l.fromData || r.fromData;
        switch (e.op) {
          case '+':
            return { value: l.value + r.value, fromData };
          case '-':
            return { value: l.value - r.value, fromData };
          case '*':
            return { value: l.value * r.value, fromData };
          case '/':
            if (r.value === 0) {
              diags.push(diagnostic('E0204', 'division by zero in a dim expression', e.span));
              return undefined;
            }
            if (l.value % r.value !== 0) {
              // A placeholder size cannot prove a division wrong: it is checked again at build time.
              if (fromData) return { value: Math.max(1, Math.floor(l.value / r.value)), fromData };
              diags.push(diagnostic('E0204', `${describe(e.left, l.value)} is not divisible by ${describe(e.right, r.value)}`, e.span, {
                help: `choose sizes so that ${l.value} is a multiple of ${r.value} (for example ${nearestMultiple(l.value, r.value)})`,
              }));
              return undefined;
            }
            return { value: l.value / r.value, fromData };
        }
      }
    }
  };

  // In the order dependencies finish: axes are numbered in this order.
  for (const name of order) evalDim(name);
  return Object.assign(values, { failed: failed as ReadonlySet<string> });
}

/** The dims an expression names, left to right. */
export function dimRefs(e: DimExpr): string[] {
  switch (e.kind) {
    case 'DimRef':
      return [e.name.name];
    case 'DimParen':
      return dimRefs(e.inner);
    case 'DimBinary':
      return [...dimRefs(e.left), ...dimRefs(e.right)];
    default:
      return [];
  }
}

/** A side of a division in a message: `embed` = 128, `4 * embed` = 512, or 3. */
function describe(e: DimExpr, value: number): string {
  return e.kind === 'DimNumber' ? String(value) : `\`${formatDim(e)}\` = ${value}`;
}

export function formatDim(e: DimExpr): string {
  switch (e.kind) {
    case 'DimNumber':
      return String(e.value);
    case 'DimRef':
      return e.name.name;
    case 'DataRef':
      return `data.${e.field.name}`;
    case 'DimParen':
      return `(${formatDim(e.inner)})`;
    case 'DimBinary':
      return `${formatDim(e.left)} ${e.op} ${formatDim(e.right)}`;
  }
}

function nearestMultiple(n: number, d: number): number {
  return Math.max(d, Math.round(n / d) * d);
}

/**
 * Comparisons "did you mean" may still make in this elaboration. A file with thousands of
 * unknown names among thousands of declared ones would otherwise spend minutes on
 * suggestions nobody reads (only the first diagnostics of a file are printed).
 */
const SUGGESTION_BUDGET = 1_000_000;
let suggestionBudget = SUGGESTION_BUDGET;

/** Start a new elaboration's budget of suggestion work. */
export function resetSuggestions(): void {
  suggestionBudget = SUGGESTION_BUDGET;
}

/** "did you mean `x`?" for the closest name within edit distance 2, else the fallback. */
export function suggest(name: string, candidates: Iterable<string>, fallback: string): string {
  let best: string | undefined;
  let bestD = 3;
  for (const c of candidates) {
    if (--suggestionBudget < 0) break;
    if (Math.abs(c.length - name.length) >= bestD) continue;
    const d = editDistance(name, c, bestD);
    if (d < bestD) {
      bestD = d;
      best = c;
    }
  }
  return best !== undefined ? `did you mean \`${best}\`?` : fallback;
}

/** Levenshtein distance; once it is certain to reach `limit`, returns `limit` early. */
export function editDistance(a: string, b: string, limit = Infinity): number {
  const m = a.length;
  const n = b.length;
  let prev = Array.from({ length: n + 1 }, (_, j) => j);
  for (let i = 1; i <= m; i++) {
    const cur = [i];
    let rowMin = i;
    for (let j = 1; j <= n; j++) {
      cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
      if (cur[j] < rowMin) rowMin = cur[j];
    }
    if (rowMin >= limit) return limit;
    prev = cur;
  }
  return Math.min(prev[n], limit);
}

/**
 * Evaluate a constant numeric expression (initializer arguments, train settings, window
 * lengths): numbers, dims, `inf`, + - * / ^, sqrt/exp/log, and names from `extra`.
 * Returns undefined and reports a diagnostic when the expression is not constant.
 */
export function evalConstExpr(
  e: Expr,
  dims: DimTable,
  diags: Diagnostic[],
  extra: ReadonlyMap<string, number> = new Map(),
): number | undefined {
  const rec = (x: Expr): number | undefined => {
    switch (x.kind) {
      case 'NumberLit':
        return x.value;
      case 'InfLit':
        return Infinity;
      case 'Paren':
        return rec(x.inner);
      case 'Unary': {
        const v = rec(x.operand);
        return v === undefined ? undefined : -v;
      }
      case 'NameRef': {
        const n = x.name.name;
        const ex = extra.get(n);
        if (ex !== undefined) return ex;
        const d = dims.get(n);
        if (d) return d.value;
        // A dim whose declaration failed (`--set seq=0`) is reported there once.
        if (dims.failed?.has(n)) return undefined;
        diags.push(diagnostic('E0201', `\`${n}\` is not a constant here`, x.span, { help: 'use numbers and dims in this expression' }));
        return undefined;
      }
      case 'Binary': {
        const l = rec(x.left);
        const r = rec(x.right);
        if (l === undefined || r === undefined) return undefined;
        switch (x.op) {
          case '+':
            return l + r;
          case '-':
            return l - r;
          case '*':
            return l * r;
          case '/':
            return l / r;
          case '^':
            return l ** r;
        }
        return undefined;
      }
      case 'Call': {
        const f = x.callee.name;
        const fns: Record<string, (v: number) => number> = { sqrt: Math.sqrt, exp: Math.exp, log: Math.log, rsqrt: (v) => 1 / Math.sqrt(v) };
        if (fns[f] && x.args.length === 1 && x.named.length === 0) {
          const v = rec(x.args[0]);
          return v === undefined ? undefined : fns[f](v);
        }
        diags.push(diagnostic('E0207', `\`${f}(...)\` is not a constant expression`, x.span, { help: 'only sqrt, rsqrt, exp and log of constants are allowed here' }));
        return undefined;
      }
      default:
        diags.push(diagnostic('E0201', 'expected a constant number here', x.span));
        return undefined;
    }
  };
  return rec(e);
}
