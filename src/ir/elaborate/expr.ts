/**
 * Elaborating statements and expressions of forward passes and blocks into IR nodes:
 * names resolved, blocks inlined with hierarchical parameter names, repeats unrolled.
 */
import { diagnostic, type Diagnostic, type Span } from '../../diagnostics/index.js';
import type { BlockDecl, Call, Expr, Ident, ParamDecl, Stmt } from '../../parser/ast.js';
import type { GraphBuilder } from '../graph.js';
import { BINARY, COMPARE, forwardFunctions, OPS, REDUCE, UNARY, type BinaryPrim, type ComparePrim, type ReducePrim, type TypeResult, type UnaryPrim } from '../ops/index.js';
import { formatAxes, formatType, hasAxis, type Axis, type BinaryFn, type CompareFn, type OpAttrs, type ReduceFn, type ScopeInfo, type UnaryFn } from '../types.js';
import { findGrowth, growthDiagnostic, maskBrings } from './broadcasts.js';
import { renameSuggestion } from './contractions.js';
import { suggest } from './dims.js';
import { formatCount, MAX_BLOCK_DEPTH, MAX_GRAPH_NODES, MAX_REPEAT } from './limits.js';
import { elabInit, type PendingInit } from './init.js';
import type { DimValue } from './model.js';

/** A local value binding, tracked for the unused-value warning. */
interface Binding {
  id: number;
  span: Span;
  used: boolean;
  /** Declared by the user (assignment, input), as opposed to internal. */
  user: boolean;
}

export class Scope {
  readonly values = new Map<string, Binding>();
  /** Parameters declared in this block instance, by their short name. */
  readonly params = new Map<string, number>();
  /** Instance counters: how many times each block was called under a prefix. */
  readonly instances = new Map<string, number>();
  constructor(
    /** Name prefix of parameters created here: `blocks.2.attention.`. */
    readonly prefix: string,
  ) {}
}

export interface ElabContext {
  b: GraphBuilder;
  diags: Diagnostic[];
  dims: ReadonlyMap<string, DimValue>;
  axes: ReadonlyMap<string, Axis>;
  blocks: ReadonlyMap<string, BlockDecl>;
  /** Top-level parameters by name. */
  globals: ReadonlyMap<string, number>;
  /** Blocks being inlined (recursion guard). */
  stack: string[];
  /** Assignments never read, by span start (deduplicated over repeats). */
  unused: Map<number, { name: string; span: Span }>;
  /** Assignments read at least once in some repeat iteration. */
  usedSpans: Set<number>;
  /** Nodes that are integer literals, so `seq + 2` can stay integer. */
  intLiterals: Map<number, number>;
  /** Names whose definition failed: later uses stay silent instead of cascading "unknown name". */
  poisoned: Set<string>;
  /** Dims and axis aliases whose declaration failed (already reported): later uses stay silent. */
  failedAxes: ReadonlySet<string>;
  /** Parameter nodes referenced by name anywhere, also in expressions that failed. */
  referencedParams: Set<number>;
  /** Axis id → the id of the dim it is an alias of (`axis key = seq`: key → seq; a dim → itself). */
  aliasRoot: ReadonlyMap<number, number>;
  /** Block results: node id → the block's name (for messages about what a call returned). */
  blockResults: Map<number, string>;
  /** Set once the graph outgrew MAX_GRAPH_NODES (reported): elaboration stops adding to it. */
  tooLarge?: boolean;
  /** Spans of the repeats being unrolled, outermost first: where a graph too large is reported. */
  unrolling?: Span[];
  /** The block calls and repeat iterations being elaborated, innermost last (recorded on nodes). */
  scopes?: ScopeInfo[];
  /** Parameters whose initializer mentions `fan_in`, evaluated once the forward pass is built. */
  pendingInits: PendingInit[];
}

/**
 * Elaborate `body` as scope `info`: the nodes it adds that no inner scope claimed are tagged
 * with it (constants are shared between scopes and stay untagged).
 */
function inScope<T>(cx: ElabContext, info: Omit<ScopeInfo, 'parent'>, body: () => T): { result: T; info: ScopeInfo } {
  const stack = (cx.scopes ??= []);
  const full: ScopeInfo = { ...info, parent: stack.at(-1) };
  const first = cx.b.graph.nodes.length;
  stack.push(full);
  try {
    const result = body();
    const nodes = cx.b.graph.nodes;
    for (let i = first; i < nodes.length; i++) if (!nodes[i].scope && nodes[i].attrs.op !== 'const') nodes[i].scope = full;
    return { result, info: full };
  } finally {
    stack.pop();
  }
}

/** The .mdl functions and operators, by name, from the op tables (src/ir/ops). */
const UNARY_CALLS = new Map((Object.entries(UNARY) as [UnaryFn, UnaryPrim][]).flatMap(([fn, p]) => (p.surface ? [[p.surface, fn] as const] : [])));
const REDUCE_CALLS = new Map((Object.entries(REDUCE) as [ReduceFn, ReducePrim][]).map(([fn, p]) => [p.surface, fn] as const));
const BINARY_CALLS = new Map((Object.entries(BINARY) as [BinaryFn, BinaryPrim][]).flatMap(([fn, p]) => ('call' in p.surface ? [[p.surface.call, fn] as const] : [])));
const BINARY_OPERATORS = new Map((Object.entries(BINARY) as [BinaryFn, BinaryPrim][]).flatMap(([fn, p]) => ('operator' in p.surface ? [[p.surface.operator as string, fn] as const] : [])));
const COMPARE_OPERATORS = new Map((Object.entries(COMPARE) as [CompareFn, ComparePrim][]).map(([fn, p]) => [p.operator as string, fn] as const));
const OP_CALLS = new Map(Object.values(OPS).flatMap((d) => d.surface.map((name) => [name, d.op] as const)));

/** Every function of the forward pass's language. */
export const BUILTINS: ReadonlySet<string> = new Set(forwardFunctions());

/** Elaborate a body; returns the node of its `return` (undefined if none or on error). */
export function elabBody(cx: ElabContext, scope: Scope, body: readonly Stmt[]): { ret?: number; returned: boolean } {
  for (const stmt of body) {
    if (graphTooLarge(cx, stmt.span)) return { returned: false };
    switch (stmt.kind) {
      case 'ParamDecl':
        declareParam(cx, scope, stmt);
        break;
      case 'AssignStmt': {
        const firstNew = cx.b.graph.nodes.length;
        let id = elabExpr(cx, scope, stmt.value, false);
        const prev = scope.values.get(stmt.name.name);
        if (prev && prev.user && !prev.used) noteUnused(cx, stmt.name.name, prev.span);
        const growth = id !== undefined && prev ? grewByBroadcast(cx, stmt.name.name, prev.id, id, firstNew) : undefined;
        // Keep checking the rest against the value the code expects, except where a mask made
        // the growth: the softmax after it needs the mask's axes (and its rules explain more).
        if (growth === 'arithmetic') id = prev!.id;
        if (id !== undefined) {
          bindName(cx, id, stmt.name.name);
          scope.values.set(stmt.name.name, { id, span: stmt.name.span, used: false, user: true });
        } else {
          scope.values.delete(stmt.name.name);
          cx.poisoned.add(scopeKey(scope, stmt.name.name));
        }
        break;
      }
      case 'RepeatStmt': {
        const count = evalRepeatCount(cx, stmt);
        if (count === undefined) {
          // The body is never elaborated: what it names still counts as referenced.
          markStatements(cx, scope, stmt.body);
          break;
        }
        const name = stmt.name?.name ?? 'repeat';
        (cx.unrolling ??= []).push(stmt.count.span);
        for (let i = 0; i < count; i++) {
          if (graphTooLarge(cx, stmt.span)) break;
          // Parameters of each repetition get their own names: blocks.0.…, blocks.1.…
          const saved = { prefix: scope.prefix };
          const inner = new Scope(`${saved.prefix}${name}.${i}.`);
          for (const [k, v] of scope.values) inner.values.set(k, v);
          for (const [k, v] of scope.params) inner.params.set(k, v);
          const { result: r } = inScope(cx, { path: `${saved.prefix}${name}.${i}`, kind: 'repeat', name, index: i, span: stmt.span }, () => elabBody(cx, inner, stmt.body));
          // Values assigned in the body flow to the next repetition and after the loop.
          for (const [k, v] of inner.values) scope.values.set(k, v);
          if (r.returned) {
            cx.diags.push(diagnostic('E0101', '`return` inside `repeat` is not allowed', stmt.span, { help: 'assign the value and return it after the loop' }));
            cx.unrolling.pop();
            return r;
          }
        }
        cx.unrolling.pop();
        if (cx.tooLarge) return { returned: false };
        break;
      }
      case 'ReturnStmt': {
        const id = elabExpr(cx, scope, stmt.value, false);
        flushUnused(cx, scope);
        return { ret: id, returned: true };
      }
    }
  }
  flushUnused(cx, scope);
  return { returned: false };
}

/**
 * E0311: rebinding `name` to a value with axes the old value lacked, brought in by an
 * implicit broadcast (an explicit `broadcast(...)`, a contraction or a scalar start is fine).
 */
function grewByBroadcast(cx: ElabContext, name: string, prev: number, id: number, firstNew: number): 'mask' | 'arithmetic' | undefined {
  const before = cx.b.type(prev).axes;
  if (before.length === 0) return undefined;
  const grown = cx.b.type(id).axes.filter((a) => !hasAxis({ axes: before }, a));
  if (grown.length === 0) return undefined;
  const g = findGrowth(cx.b, id, prev, grown, firstNew);
  if (!g) return undefined;
  cx.diags.push(growthDiagnostic(cx.b, name, before, g, grown, cx.blockResults));
  return maskBrings(cx.b, g, grown) ? 'mask' : 'arithmetic';
}

/**
 * True once the graph has more than MAX_GRAPH_NODES nodes, reported once at the statement
 * that was about to add more: a repeat count or a --set that unrolls the model too far.
 */
function graphTooLarge(cx: ElabContext, span: Span): boolean {
  if (cx.tooLarge) return true;
  if (cx.b.graph.nodes.length <= MAX_GRAPH_NODES) return false;
  cx.diags.push(diagnostic('E0211', `the model unrolls to more than ${formatCount(MAX_GRAPH_NODES)} operations here`, cx.unrolling?.[0] ?? span, {
    help: 'repeat fewer times (fewer layers), or call fewer blocks; mdlc compiles graphs of at most that many operations',
  }));
  cx.tooLarge = true;
  return true;
}

// Keyed by name alone: a repeat's iterations and blocks see the same failed name.
function scopeKey(_scope: Scope, name: string) {
  return name;
}

function bindName(cx: ElabContext, id: number, name: string) {
  const n = cx.b.node(id);
  if (n.name === undefined && n.attrs.op !== 'param' && n.attrs.op !== 'input' && n.attrs.op !== 'const') n.name = name;
}

function noteUnused(cx: ElabContext, name: string, span: Span) {
  if (!cx.usedSpans.has(span.start)) cx.unused.set(span.start, { name, span });
}

function flushUnused(cx: ElabContext, scope: Scope) {
  for (const [name, v] of scope.values) if (v.user && !v.used) noteUnused(cx, name, v.span);
}

function evalRepeatCount(cx: ElabContext, stmt: Extract<Stmt, { kind: 'RepeatStmt' }>): number | undefined {
  const e = stmt.count;
  const rec = (x: typeof e): number | undefined => {
    switch (x.kind) {
      case 'DimNumber':
        return x.value;
      case 'DimParen':
        return rec(x.inner);
      case 'DimRef': {
        const d = cx.dims.get(x.name.name);
        if (!d) {
          cx.diags.push(diagnostic('E0201', `unknown dim \`${x.name.name}\``, x.span, { help: suggest(x.name.name, cx.dims.keys(), 'declare it with `dim`') }));
          return undefined;
        }
        return d.value;
      }
      case 'DataRef':
        cx.diags.push(diagnostic('E0206', 'a repeat count cannot come from the dataset', x.span));
        return undefined;
      case 'DimBinary': {
        const l = rec(x.left);
        const r = rec(x.right);
        if (l === undefined || r === undefined) return undefined;
        return x.op === '+' ? l + r : x.op === '-' ? l - r : x.op === '*' ? l * r : l / r;
      }
    }
  };
  const n = rec(e);
  if (n === undefined) return undefined;
  if (!Number.isInteger(n) || n < 0) {
    cx.diags.push(diagnostic('E0205', `a repeat count must be a non-negative integer, found ${n}`, e.span));
    return undefined;
  }
  if (n > MAX_REPEAT) {
    cx.diags.push(diagnostic('E0211', `a repeat count of ${formatCount(n)} is more than mdlc unrolls, ${formatCount(MAX_REPEAT)}`, e.span, { help: 'use fewer repetitions (fewer layers)' }));
    return undefined;
  }
  return n;
}

export function resolveAxis(cx: ElabContext, id: Ident): Axis | undefined {
  const a = cx.axes.get(id.name);
  if (!a && !cx.failedAxes.has(id.name)) {
    cx.diags.push(diagnostic('E0310', `\`${id.name}\` is not an axis`, id.span, {
      help: suggest(id.name, cx.axes.keys(), `declare it with \`dim ${id.name} = ...\` or \`axis ${id.name} = ...\``),
    }));
  }
  return a;
}

/** Resolve a shape's axis names; reports unknown and repeated axes. */
export function resolveShape(cx: ElabContext, shape: readonly Ident[]): Axis[] | undefined {
  const out: Axis[] = [];
  let ok = true;
  for (const id of shape) {
    const a = resolveAxis(cx, id);
    if (!a) {
      ok = false;
      continue;
    }
    const first = shape.find((s) => s.name === id.name);
    if (out.some((x) => x.id === a.id)) {
      cx.diags.push(diagnostic('E0303', `axis \`${id.name}\` appears twice in one shape`, id.span, {
        labels: first ? [{ span: first.span, message: 'first here' }] : [],
        help: `declare \`axis ${id.name}2 = ${id.name}\` for a second axis of the same size`,
      }));
      ok = false;
      continue;
    }
    out.push(a);
  }
  return ok ? out : undefined;
}

export function declareParam(cx: ElabContext, scope: Scope, p: ParamDecl): number | undefined {
  if (scope.params.has(p.name.name) && scope.prefix !== '') {
    cx.diags.push(diagnostic('E0202', `parameter \`${p.name.name}\` is declared twice in this block`, p.name.span, { help: 'rename one of them' }));
    return undefined;
  }
  const axes = resolveShape(cx, p.shape);
  const init = elabInit(cx.dims, cx.diags, p);
  if (!axes || !init) {
    // Reported above; uses of the parameter stay silent.
    cx.poisoned.add(scopeKey(scope, p.name.name));
    return undefined;
  }
  const id = cx.b.param(`${scope.prefix}${p.name.name}`, { dtype: 'f32', axes }, init.init, p.span);
  if (init.deferred) cx.pendingInits.push({ node: id, decl: p });
  scope.params.set(p.name.name, id);
  return id;
}

/** Report a failed type rule at the expression, pointing a label at the operand at fault. */
function report(cx: ElabContext, r: Extract<TypeResult, { ok: false }>, span: Span, operands: readonly (Expr | undefined)[], operandIds: readonly number[]) {
  const labels = [];
  if (r.input !== undefined && operands[r.input]) {
    const t = cx.b.type(operandIds[r.input]);
    labels.push({ span: operands[r.input]!.span, message: `this is ${formatType(t)}` });
  }
  cx.diags.push(diagnostic(r.code, r.message, span, { labels, help: r.help }));
}

function add(cx: ElabContext, attrs: OpAttrs, inputs: number[], span: Span, operands: readonly (Expr | undefined)[] = []): number | undefined {
  const folded = foldConstant(cx, attrs, inputs);
  if (folded !== undefined) return folded;
  const r = cx.b.tryAdd(attrs, inputs, span);
  if ('id' in r) return r.id;
  report(cx, r, span, operands, inputs);
  return undefined;
}

/** Fold operations on scalar constants (`sqrt(head)`, `-inf`, `0.5 * 2`). */
function foldConstant(cx: ElabContext, attrs: OpAttrs, inputs: number[]): number | undefined {
  const nodes = inputs.map((i) => cx.b.node(i));
  if (nodes.length === 0 || !nodes.every((n) => n.attrs.op === 'const')) return undefined;
  const vals = nodes.map((n) => (n.attrs as { value: number }).value);
  const dtype = nodes[0].type.dtype;
  if (dtype !== 'f32') return undefined;
  if (!nodes.every((n) => n.type.dtype === 'f32')) return undefined;
  if (attrs.op === 'unary') return cx.b.constant(UNARY[attrs.fn].scalar(vals[0]));
  if (attrs.op === 'binary') return cx.b.constant(BINARY[attrs.fn].scalar(vals[0], vals[1]));
  return undefined;
}

/**
 * Elaborate an expression. `positions` is true inside comparisons, where axis names denote
 * positions along the axis (`key > seq`); elsewhere a dim name denotes its size.
 */
export function elabExpr(cx: ElabContext, scope: Scope, e: Expr, positions: boolean): number | undefined {
  switch (e.kind) {
    case 'NumberLit': {
      const isInt = Number.isInteger(e.value) && !/[.eE]/.test(e.text);
      const id = cx.b.constant(e.value);
      if (isInt) cx.intLiterals.set(id, e.value);
      return id;
    }
    case 'InfLit':
      return cx.b.constant(Infinity);
    case 'Paren':
      return elabExpr(cx, scope, e.inner, positions);
    case 'StringLit':
    case 'BoolLit':
      cx.diags.push(diagnostic('E0304', `a ${e.kind === 'StringLit' ? 'string' : 'boolean'} is not a tensor`, e.span, { help: 'strings and booleans only appear in the train section' }));
      return undefined;
    case 'Tuple':
      cx.diags.push(diagnostic('E0203', 'a tuple is not a tensor', e.span, { help: 'tuples only name axes, as in `over: (heads, head)`' }));
      return undefined;
    case 'Range':
      cx.diags.push(diagnostic('E0203', 'a range `a .. b` only slices the data windows in the train section', e.span));
      return undefined;
    case 'NameRef':
      return elabName(cx, scope, e.name, positions);
    case 'Unary': {
      const x = elabExpr(cx, scope, e.operand, positions);
      if (x === undefined) return undefined;
      return add(cx, { op: 'unary', fn: 'neg' }, [x], e.span, [e.operand]);
    }
    case 'Binary': {
      const l = elabExpr(cx, scope, e.left, positions);
      const r = elabExpr(cx, scope, e.right, positions);
      if (l === undefined || r === undefined) return undefined;
      const [li, ri] = matchIntLiterals(cx, l, r);
      if (e.op === '^' && cx.b.node(ri).attrs.op === 'const' && (cx.b.node(ri).attrs as { value: number }).value === 2 && cx.b.type(li).dtype === 'f32')
        return add(cx, { op: 'unary', fn: 'square' }, [li], e.span, [e.left]);
      return add(cx, { op: 'binary', fn: BINARY_OPERATORS.get(e.op)! }, [li, ri], e.span, [e.left, e.right]);
    }
    case 'Compare': {
      const l = elabExpr(cx, scope, e.left, true);
      const r = elabExpr(cx, scope, e.right, true);
      if (l === undefined || r === undefined) return undefined;
      const [li, ri] = matchIntLiterals(cx, l, r);
      return add(cx, { op: 'compare', fn: COMPARE_OPERATORS.get(e.op)! }, [li, ri], e.span, [e.left, e.right]);
    }
    case 'Contract': {
      const l = elabExpr(cx, scope, e.left, false);
      const r = elabExpr(cx, scope, e.right, false);
      const over = e.over.map((o) => resolveAxis(cx, o));
      if (l === undefined || r === undefined || over.some((a) => !a)) return undefined;
      const added = cx.b.tryAdd({ op: 'contract', over: over as Axis[] }, [l, r], e.span);
      if ('id' in added) return added.id;
      const better = added.code === 'E0302' ? renameSuggestion(cx, l, r, over as Axis[], [e.left, e.right], e.span) : undefined;
      if (better) cx.diags.push(better);
      else report(cx, added, e.span, [e.left, e.right], [l, r]);
      return undefined;
    }
    case 'Rename': {
      const x = elabExpr(cx, scope, e.target, false);
      const pairs = e.pairs.map((p) => [resolveAxis(cx, p.from), resolveAxis(cx, p.to)] as const);
      if (x === undefined || pairs.some(([a, b]) => !a || !b)) return undefined;
      return add(cx, { op: 'rename', pairs: pairs as [Axis, Axis][] }, [x], e.span, [e.target]);
    }
    case 'Index': {
      if (e.index.kind === 'Range') {
        cx.diags.push(diagnostic('E0203', 'slicing `a .. b` only applies to the data windows in the train section', e.index.span));
        return undefined;
      }
      const table = elabExpr(cx, scope, e.target, false);
      const index = elabExpr(cx, scope, e.index, false);
      if (table === undefined || index === undefined) return undefined;
      const it = cx.b.type(index);
      if (it.dtype !== 'i32' || !it.indexOf) {
        cx.diags.push(diagnostic('E0401', `only an index tensor can index a table; this is ${formatType(it)}`, e.index.span, {
          help: 'declare the input as `index[...] of AXIS`, e.g. `tokens: index[batch, seq] of vocab`',
        }));
        return undefined;
      }
      return add(cx, { op: 'gather', axis: it.indexOf }, [table, index], e.span, [e.target, e.index]);
    }
    case 'Call':
      return elabCall(cx, scope, e, positions);
  }
}

/** An integer literal next to an integer operand becomes an integer constant (`seq + 1`). */
function matchIntLiterals(cx: ElabContext, l: number, r: number): [number, number] {
  const lt = cx.b.type(l);
  const rt = cx.b.type(r);
  if (lt.dtype === 'i32' && rt.dtype === 'f32' && cx.intLiterals.has(r)) return [l, cx.b.constant(cx.intLiterals.get(r)!, 'i32')];
  if (rt.dtype === 'i32' && lt.dtype === 'f32' && cx.intLiterals.has(l)) return [cx.b.constant(cx.intLiterals.get(l)!, 'i32'), r];
  return [l, r];
}

function elabName(cx: ElabContext, scope: Scope, id: Ident, positions: boolean): number | undefined {
  const n = id.name;
  const local = scope.values.get(n);
  if (local) {
    local.used = true;
    cx.usedSpans.add(local.span.start);
    cx.unused.delete(local.span.start);
    return local.id;
  }
  if (cx.poisoned.has(scopeKey(scope, n))) return undefined;
  const p = scope.params.get(n) ?? cx.globals.get(n);
  if (p !== undefined) {
    cx.referencedParams.add(p);
    return p;
  }
  const axis = cx.axes.get(n);
  if (axis) {
    if (positions) return cx.b.add({ op: 'iota', axis }, [], id.span);
    return cx.b.constant(axis.size);
  }
  if (cx.failedAxes.has(n)) return undefined;
  if (cx.blocks.has(n) || BUILTINS.has(n)) {
    cx.diags.push(diagnostic('E0203', `\`${n}\` is a ${cx.blocks.has(n) ? 'block' : 'function'}; call it with arguments`, id.span, { help: `write \`${n}(...)\`` }));
    return undefined;
  }
  // Iterated lazily (no copies): a file may have thousands of unknown names among thousands of values.
  const candidates = chain(scope.values.keys(), scope.params.keys(), cx.globals.keys(), cx.axes.keys());
  cx.diags.push(diagnostic('E0201', `unknown name \`${n}\``, id.span, { help: suggest(n, candidates, `assign it first (\`${n} = ...\`) or declare it as a param or dim`) }));
  return undefined;
}

function* chain<T>(...iterables: Iterable<T>[]): Iterable<T> {
  for (const it of iterables) yield* it;
}

/** Axes named by `over:` (a name or a tuple of names). */
function overAxes(cx: ElabContext, call: Call): Axis[] | undefined {
  const arg = call.named.find((a) => a.name.name === 'over');
  if (!arg) {
    cx.diags.push(diagnostic('E0203', `\`${call.callee.name}\` needs \`over:\` naming the axis it acts on`, call.span, {
      help: `write \`${call.callee.name}(x, over: AXIS)\``,
    }));
    return undefined;
  }
  const items = arg.value.kind === 'Tuple' ? arg.value.items : [arg.value.kind === 'Paren' ? arg.value.inner : arg.value];
  const out: Axis[] = [];
  for (const it of items) {
    if (it.kind !== 'NameRef') {
      cx.diags.push(diagnostic('E0310', '`over:` takes axis names', it.span, { help: 'write `over: embed` or `over: (heads, head)`' }));
      return undefined;
    }
    const a = resolveAxis(cx, it.name);
    if (!a) return undefined;
    out.push(a);
  }
  return out;
}

/**
 * Mark the values an expression reads as used without elaborating it: for calls rejected before
 * their arguments are elaborated, so that the arguments are not also reported as unused. The
 * bodies of the blocks it calls (and of those they call) name global parameters too: they are
 * walked from a worklist, each once, since blocks may call blocks thousands deep.
 */
function markUsed(scope: Scope, e: Expr, cx: ElabContext): void {
  markReads(cx, scope, [e], []);
}

/** Mark what statements read as used and referenced, without elaborating them (for bodies an error skips). */
function markStatements(cx: ElabContext, scope: Scope, body: readonly Stmt[]): void {
  markReads(cx, scope, [], body);
}

function markReads(cx: ElabContext, scope: Scope, exprs: readonly Expr[], body: readonly Stmt[]): void {
  const pending: BlockDecl[] = [];
  const queued = new Set<BlockDecl>();
  const rec = (x: Expr, sc: Scope): void => {
    switch (x.kind) {
      case 'NameRef': {
        const local = sc.values.get(x.name.name);
        if (local) {
          local.used = true;
          cx.usedSpans.add(local.span.start);
          cx.unused.delete(local.span.start);
          return;
        }
        const p = sc.params.get(x.name.name) ?? cx.globals.get(x.name.name);
        if (p !== undefined) cx.referencedParams.add(p);
        return;
      }
      case 'Unary':
        return rec(x.operand, sc);
      case 'Binary':
      case 'Compare':
      case 'Contract':
        rec(x.left, sc);
        return rec(x.right, sc);
      case 'Call': {
        for (const a of x.args) rec(a, sc);
        for (const n of x.named) rec(n.value, sc);
        const block = cx.blocks.get(x.callee.name);
        if (block && !queued.has(block)) {
          queued.add(block);
          pending.push(block);
        }
        return;
      }
      case 'Index':
        rec(x.target, sc);
        return rec(x.index, sc);
      case 'Rename':
        return rec(x.target, sc);
      case 'Range':
        rec(x.start, sc);
        return rec(x.end, sc);
      case 'Tuple':
        return x.items.forEach((i) => rec(i, sc));
      case 'Paren':
        return rec(x.inner, sc);
      default:
        return;
    }
  };
  const statements = (body: readonly Stmt[], sc: Scope): void => {
    for (const st of body) {
      if (st.kind === 'AssignStmt' || st.kind === 'ReturnStmt') rec(st.value, sc);
      else if (st.kind === 'RepeatStmt') statements(st.body, sc);
    }
  };
  for (const e of exprs) rec(e, scope);
  statements(body, scope);
  while (pending.length) statements(pending.pop()!.body, new Scope(''));
}

function checkArgs(cx: ElabContext, scope: Scope, call: Call, positional: number, named: readonly string[]): boolean {
  let ok = true;
  if (call.args.length !== positional) {
    cx.diags.push(diagnostic('E0203', `\`${call.callee.name}\` takes ${positional} argument${positional === 1 ? '' : 's'}, found ${call.args.length}`, call.span));
    ok = false;
  }
  for (const a of call.named) {
    if (!named.includes(a.name.name)) {
      cx.diags.push(diagnostic('E0203', `\`${call.callee.name}\` has no argument \`${a.name.name}\``, a.span, {
        help: named.length ? `it takes ${named.map((n) => `\`${n}:\``).join(', ')}` : 'remove it',
      }));
      ok = false;
    }
  }
  if (!ok) markUsed(scope, call, cx);
  return ok;
}

function elabCall(cx: ElabContext, scope: Scope, call: Call, positions: boolean): number | undefined {
  const f = call.callee.name;
  const block = cx.blocks.get(f);
  if (block) return inlineBlock(cx, scope, block, call);
  const arg = (i: number) => elabExpr(cx, scope, call.args[i], positions);
  const unary = UNARY_CALLS.get(f);
  if (unary) {
    if (!checkArgs(cx, scope, call, 1, [])) return undefined;
    const x = arg(0);
    return x === undefined ? undefined : add(cx, { op: 'unary', fn: unary }, [x], call.span, call.args);
  }
  const reduce = REDUCE_CALLS.get(f);
  const binary = BINARY_CALLS.get(f);
  if (reduce || binary) {
    // `max(a, b)` of two values, `max(x, over: A)` a reduction; `min(x, over: A)` is -max(-x).
    const overMin = f === 'min';
    const hasOver = call.named.some((a) => a.name.name === 'over');
    if (binary && !(hasOver && (reduce || overMin))) {
      if (!checkArgs(cx, scope, call, 2, [])) return undefined;
      const a = arg(0);
      const b = arg(1);
      if (a === undefined || b === undefined) return undefined;
      return add(cx, { op: 'binary', fn: binary }, [a, b], call.span, call.args);
    }
    if (!checkArgs(cx, scope, call, 1, ['over'])) return undefined;
    const x = arg(0);
    const axes = overAxes(cx, call);
    if (x === undefined || !axes) return undefined;
    if (!reduce) {
      // min over axes = -max(-x)
      const neg = add(cx, { op: 'unary', fn: 'neg' }, [x], call.span, call.args);
      if (neg === undefined) return undefined;
      const m = add(cx, { op: 'reduce', fn: 'max', axes }, [neg], call.span, call.args);
      return m === undefined ? undefined : add(cx, { op: 'unary', fn: 'neg' }, [m], call.span);
    }
    return add(cx, { op: 'reduce', fn: reduce, axes }, [x], call.span, call.args);
  }
  const op = OP_CALLS.get(f);
  switch (op) {
    case 'cast': {
      // `float(x)`.
      if (!checkArgs(cx, scope, call, 1, [])) return undefined;
      const x = arg(0);
      if (x === undefined) return undefined;
      const t = cx.b.type(x);
      // float of a float is the value itself (a cast node would cut its gradient).
      if (t.dtype === 'f32') return x;
      if (t.dtype === 'i32' && t.indexOf && !positions && cx.b.node(x).attrs.op !== 'iota')
        cx.diags.push(diagnostic('E0402', `\`float\` of ${formatType(t)} treats token ids as numbers`, call.span, { help: 'gather with the index instead: `table[index]`' }));
      return add(cx, { op: 'cast', to: 'f32' }, [x], call.span, call.args);
    }
    case 'expand': {
      // `broadcast(x, over: A)`: the explicit form of what `+` does implicitly, the same value along more axes.
      if (!checkArgs(cx, scope, call, 1, ['over'])) return undefined;
      const x = arg(0);
      const axes = overAxes(cx, call);
      if (x === undefined || !axes) return undefined;
      return add(cx, { op: 'expand', axes }, [x], call.span, call.args);
    }
    case 'softmax': {
      if (!checkArgs(cx, scope, call, 1, ['over'])) return undefined;
      const x = arg(0);
      const axes = overAxes(cx, call);
      if (x === undefined || !axes) return undefined;
      if (axes.length !== 1) {
        cx.diags.push(diagnostic('E0203', 'softmax is taken over exactly one axis', call.span, { help: 'merge the axes into one, or name the one the distribution is over' }));
        return undefined;
      }
      return add(cx, { op: 'softmax', axis: axes[0] }, [x], call.span, call.args);
    }
    case 'where': {
      if (!checkArgs(cx, scope, call, 3, [])) return undefined;
      const c = elabExpr(cx, scope, call.args[0], true);
      const a = arg(1);
      const b = arg(2);
      if (c === undefined || a === undefined || b === undefined) return undefined;
      return add(cx, { op: 'where' }, [c, a, b], call.span, call.args);
    }
    case 'cross_entropy': {
      if (!checkArgs(cx, scope, call, 2, ['over'])) return undefined;
      const logits = arg(0);
      const targets = arg(1);
      const axes = overAxes(cx, call);
      if (logits === undefined || targets === undefined || !axes) return undefined;
      if (axes.length !== 1) {
        cx.diags.push(diagnostic('E0203', 'cross-entropy is taken over exactly one axis', call.span));
        return undefined;
      }
      return add(cx, { op: 'cross_entropy', axis: axes[0] }, [logits, targets], call.span, call.args);
    }
    case undefined:
      break;
    default:
      // An op that declares a function name (OpDef.surface) needs its case above.
      throw new Error(`internal: the elaborator has no case for \`${f}\` (op ${op})`);
  }
  const candidates = chain(cx.blocks.keys(), BUILTINS);
  markUsed(scope, call, cx);
  cx.diags.push(diagnostic('E0207', `unknown function or block \`${f}\``, call.callee.span, { help: suggest(f, candidates, 'declare it with `block ' + f + '(...) { ... }`') }));
  return undefined;
}

function inlineBlock(cx: ElabContext, scope: Scope, block: BlockDecl, call: Call): number | undefined {
  // Any early return leaves the body unelaborated: the global parameters it names are referenced.
  const r = inlineBlockBody(cx, scope, block, call);
  if (r === 'skipped') {
    markStatements(cx, new Scope(''), block.body);
    return undefined;
  }
  return r;
}

function inlineBlockBody(cx: ElabContext, scope: Scope, block: BlockDecl, call: Call): number | undefined | 'skipped' {
  const f = block.name.name;
  if (cx.stack.includes(f)) {
    cx.diags.push(diagnostic('E0209', `block \`${f}\` calls itself`, call.span, { help: 'blocks are inlined; use `repeat N { ... }` for repetition' }));
    markUsed(scope, call, cx);
    return 'skipped';
  }
  if (cx.stack.length >= MAX_BLOCK_DEPTH) {
    cx.diags.push(diagnostic('E0211', `blocks call blocks more than ${MAX_BLOCK_DEPTH} deep here (\`${cx.stack.slice(0, 3).join('` → `')}\` → … → \`${f}\`)`, call.span, {
      help: 'blocks are inlined; call fewer blocks inside one another',
    }));
    markUsed(scope, call, cx);
    return undefined;
  }
  if (call.named.length > 0) {
    cx.diags.push(diagnostic('E0203', `block \`${f}\` takes only positional arguments`, call.named[0].span));
    markUsed(scope, call, cx);
    return 'skipped';
  }
  if (call.args.length !== block.inputs.length) {
    cx.diags.push(diagnostic('E0203', `block \`${f}\` takes ${block.inputs.length} argument(s), found ${call.args.length}`, call.span, {
      labels: [{ span: block.name.span, message: 'declared here' }],
    }));
    markUsed(scope, call, cx);
    return 'skipped';
  }
  const args = call.args.map((a) => elabExpr(cx, scope, a, false));
  if (args.some((a) => a === undefined)) return 'skipped';
  const count = (scope.instances.get(f) ?? 0) + 1;
  scope.instances.set(f, count);
  const inner = new Scope(`${scope.prefix}${count === 1 ? f : `${f}_${count}`}.`);
  let ok = true;
  block.inputs.forEach((input, i) => {
    const id = args[i]!;
    const t = cx.b.type(id);
    if (input.shape) {
      const want = resolveShape(cx, input.shape.axes);
      if (!want) {
        ok = false;
        return;
      }
      const missing = want.filter((a) => !hasAxis(t, a));
      const extra = input.shape.rest ? [] : t.axes.filter((a) => !want.some((w) => w.id === a.id));
      if (missing.length || extra.length) {
        const why = missing.length
          ? `it lacks ${missing.map((a) => `\`${a.name}\``).join(', ')}`
          : `it has ${extra.map((a) => `\`${a.name}\``).join(', ')} which the signature does not allow`;
        // Extra axes usually arrive by an implicit broadcast somewhere upstream: show where.
        const joined = extra.length ? findGrowth(cx.b, id, undefined, extra) : undefined;
        const joinSpan = joined && cx.b.node(joined.node).span;
        const labels = [{ span: input.span, message: 'the signature' }];
        if (joinSpan) labels.push({ span: joinSpan, message: `${extra.map((a) => `\`${a.name}\``).join(', ')} ${extra.length === 1 ? 'comes' : 'come'} in here, by an implicit broadcast` });
        cx.diags.push(diagnostic('E0306', `argument \`${input.name.name}\` of \`${f}\` must have axes ${formatAxes(want)}${input.shape.rest ? ' (and any others)' : ''}, but it is ${formatType(t)}: ${why}`, call.args[i].span, {
          labels,
          help: missing.length
            ? 'pass a value with those axes, or rename one with `as [a -> b]`'
            : `reduce or contract ${extra.map((a) => `\`${a.name}\``).join(', ')} away before the call; only if \`${f}\` is meant for values with more axes, declare \`${input.name.name}[.., ${input.shape.axes.map((a) => a.name).join(', ')}]\``,
        }));
        ok = false;
        return;
      }
    }
    inner.values.set(input.name.name, { id, span: input.name.span, used: false, user: false });
  });
  if (!ok) return 'skipped';
  cx.stack.push(f);
  const inputs = block.inputs.map((input, i) => ({ name: input.name.name, node: args[i]! }));
  const path = inner.prefix.slice(0, -1);
  const { result: r, info } = inScope(cx, { path, kind: 'block', name: f, span: call.span, decl: block.span, inputs }, () => elabBody(cx, inner, block.body));
  if (r.ret !== undefined) info.output = r.ret;
  cx.stack.pop();
  if (cx.tooLarge) return undefined; // stopped part-way (reported)
  if (!r.returned) {
    cx.diags.push(diagnostic('E0208', `block \`${f}\` has no \`return\``, block.name.span, { help: 'end the block with `return EXPR`' }));
    return undefined;
  }
  if (r.ret !== undefined && !cx.blockResults.has(r.ret)) cx.blockResults.set(r.ret, f);
  return r.ret;
}

