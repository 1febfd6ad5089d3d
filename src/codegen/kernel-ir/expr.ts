/**
 * Kernel expressions (KExpr): the one place that knows which parts of an expression are
 * subexpressions. Passes and generators walk, search and rewrite expressions with these
 * instead of a switch over every kind of their own.
 */
import type { Axis } from '../../ir/types.js';
import type { Access, KExpr, ValueId } from './types.js';

/** The subexpressions of `e`, in evaluation order (a gather's index; a where's condition, then its branches). */
export function children(e: KExpr): readonly KExpr[] {
  switch (e.k) {
    case 'unary':
    case 'cast':
      return [e.x];
    case 'binary':
    case 'compare':
      return [e.a, e.b];
    case 'where':
      return [e.c, e.a, e.b];
    case 'gather':
      return [e.index];
    case 'load':
    case 'const':
    case 'iota':
    case 'acc':
    case 'local':
      return [];
  }
}

/** `e` with its subexpressions replaced by `kids` (in the order of `children`). */
export function withChildren(e: KExpr, kids: readonly KExpr[]): KExpr {
  switch (e.k) {
    case 'unary':
    case 'cast':
      return { ...e, x: kids[0] };
    case 'binary':
    case 'compare':
      return { ...e, a: kids[0], b: kids[1] };
    case 'where':
      return { ...e, c: kids[0], a: kids[1], b: kids[2] };
    case 'gather':
      return { ...e, index: kids[0] };
    default:
      return e;
  }
}

/** `e` with every subexpression that `f` returns a replacement for replaced (tried from the root down). */
export function mapExpr(e: KExpr, f: (x: KExpr) => KExpr | undefined): KExpr {
  const r = f(e);
  if (r) return r;
  const kids = children(e);
  return kids.length ? withChildren(e, kids.map((c) => mapExpr(c, f))) : e;
}

/** Bottom-up: `f` of each expression given the results for its subexpressions. */
export function foldExpr<T>(e: KExpr, f: (x: KExpr, kids: T[]) => T): T {
  return f(
    e,
    children(e).map((c) => foldExpr(c, f)),
  );
}

/** Every subexpression of `e`, `e` first, then each child's in order (pre-order). */
export function subexpressions(e: KExpr): KExpr[] {
  const out: KExpr[] = [];
  const visit = (x: KExpr) => {
    out.push(x);
    for (const c of children(x)) visit(c);
  };
  visit(e);
  return out;
}

/** Whether some subexpression of `e` (or `e`) satisfies `test`. */
export function someExpr(e: KExpr, test: (x: KExpr) => boolean): boolean {
  return test(e) || children(e).some((c) => someExpr(c, test));
}

/** The accesses an expression reads, in pre-order: loads, and gathers (then their index's). */
export function loadsOf(e: KExpr): Access[] {
  return subexpressions(e).flatMap((x) => (x.k === 'load' || x.k === 'gather' ? [x.access] : []));
}

/** Whether `e` gathers (reads at data-dependent positions) from region `r` (`region` maps a value to its region). */
export function gathersFrom(e: KExpr, r: ValueId, region: (v: ValueId) => ValueId = (v) => v): boolean {
  return someExpr(e, (x) => x.k === 'gather' && region(x.access.value) === r);
}

/** Every axis whose position an expression reads (`iota`), by id. */
export function iotaAxes(e: KExpr): Map<number, Axis> {
  return new Map(subexpressions(e).flatMap((x) => (x.k === 'iota' ? [[x.axis.id, x.axis] as const] : [])));
}

/** How many times the GEMM accumulator occurs in `e`. */
export function accCount(e: KExpr): number {
  return foldExpr<number>(e, (x, kids) => (x.k === 'acc' ? 1 : kids.reduce((a, b) => a + b, 0)));
}

/** Whether `e` depends on the position along `axis`: a read through a stride along it, or its iota. */
export function variesAlong(e: KExpr, axis: Axis): boolean {
  return loadsOf(e).some((a) => (a.strides.get(axis.id) ?? 0) !== 0) || iotaAxes(e).has(axis.id);
}

/** The element type of a kernel expression. */
export function exprType(e: KExpr): 'f32' | 'i32' | 'bool' {
  switch (e.k) {
    case 'load':
    case 'gather':
    case 'const':
    case 'binary':
      return e.dtype;
    case 'iota':
      return 'i32';
    case 'unary':
    case 'acc':
    case 'local':
      return 'f32';
    case 'compare':
      return 'bool';
    case 'where':
      return exprType(e.a);
    case 'cast':
      return e.to;
  }
}
