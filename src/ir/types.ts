/**
 * The named-axis IR: a dataflow graph whose values are tensors typed by a dtype and a list
 * of named axes. Axes are identities (an `axis key = seq` alias is a different Axis of the
 * same size); the order of `axes` in a type is the canonical layout the interpreter uses,
 * never something the .mdl author sees or depends on.
 */
import type { Span } from '../diagnostics/span.js';
// The functions of the elementwise and reduction ops are named by their tables (src/ir/ops):
// a new function is a file there, not an edit here.
import type { BinaryFn } from './ops/binary/index.js';
import type { CompareFn } from './ops/compare.js';
import type { ReduceFn } from './ops/reduce/index.js';
import type { UnaryFn } from './ops/unary/index.js';

export type { BinaryFn, CompareFn, ReduceFn, UnaryFn };

export interface Axis {
  /** Identity: two axes are the same axis iff their ids are equal. */
  readonly id: number;
  readonly name: string;
  readonly size: number;
}

export type DType = 'f32' | 'i32' | 'bool';

export interface TensorType {
  dtype: DType;
  axes: readonly Axis[];
  /** For index tensors (dtype i32): the axis whose positions the values are, e.g. `vocab`. */
  indexOf?: Axis;
}

/** Operation-specific attributes, discriminated by `op`. */
export type OpAttrs =
  | { op: 'const'; value: number; dtype: DType }
  | { op: 'param'; name: string }
  | { op: 'input'; name: string }
  | { op: 'iota'; axis: Axis }
  | { op: 'unary'; fn: UnaryFn }
  | { op: 'cast'; to: DType }
  | { op: 'binary'; fn: BinaryFn }
  | { op: 'compare'; fn: CompareFn }
  | { op: 'where' }
  | { op: 'reduce'; fn: ReduceFn; axes: readonly Axis[] }
  | { op: 'expand'; axes: readonly Axis[] }
  /** `order`: the result's axis order (a layout choice; by default a's remaining axes, then b's). */
  | { op: 'contract'; over: readonly Axis[]; order?: readonly Axis[] }
  | { op: 'gather'; axis: Axis }
  | { op: 'scatter_add'; axis: Axis }
  | { op: 'rename'; pairs: readonly (readonly [Axis, Axis])[] }
  | { op: 'softmax'; axis: Axis }
  | { op: 'cross_entropy'; axis: Axis };

export type OpName = OpAttrs['op'];

export interface IRNode {
  readonly id: number;
  readonly attrs: OpAttrs;
  readonly inputs: readonly number[];
  readonly type: TensorType;
  /** The .mdl expression this node computes (absent for compiler-made nodes such as gradients). */
  readonly span?: Span;
  /** The .mdl name bound to this value, if any (`q`, `blocks.0.attention.wq`). */
  name?: string;
  /** For a gradient node made by autodiff: the node it is the gradient of (labels such as `d q`). */
  gradOf?: number;
  /** The block call or repeat iteration the node was elaborated in (absent at the top level and for compiler-made nodes). */
  scope?: ScopeInfo;
}

/**
 * A block call or one iteration of a repeat, as elaborated: blocks are inlined and repeats
 * unrolled, and this records where each node came from, so that a stage that wants the
 * model's structure back (the PyTorch export) can find it.
 */
export interface ScopeInfo {
  /** The parameter-name prefix without its final dot: `blocks.0.attention`, `blocks.0`. */
  path: string;
  kind: 'block' | 'repeat';
  /** The block's name (`attention`), or the repeat's (`blocks`; `repeat` when unnamed). */
  name: string;
  /** Repeats: which iteration (0-based). */
  index?: number;
  /** The enclosing block call or iteration (absent at the top level). */
  parent?: ScopeInfo;
  /** The call (blocks) or the repeat statement. */
  span: Span;
  /** Blocks: the declaration, and its inputs in declared order with the nodes passed to them. */
  decl?: Span;
  inputs?: { name: string; node: number }[];
  /** Blocks: the node the block returns. */
  output?: number;
}

/** Initializer of a parameter, evaluated to numbers at elaboration. */
export type Init =
  | { kind: 'zeros' }
  | { kind: 'ones' }
  | { kind: 'normal'; std: number; mean: number }
  | { kind: 'uniform'; low: number; high: number };

export interface ParamInfo {
  /** Hierarchical name: `wte`, `blocks.2.attention.wq`. */
  name: string;
  node: number;
  type: TensorType;
  init: Init;
  span: Span;
}

export interface InputInfo {
  name: string;
  node: number;
  type: TensorType;
  span: Span;
}

export interface Graph {
  nodes: IRNode[];
  params: ParamInfo[];
  inputs: InputInfo[];
  /** Named outputs: `logits`, `loss`, gradients `grad:wte`, updated params, ... */
  outputs: Map<string, number>;
}

export function sameAxis(a: Axis, b: Axis): boolean {
  return a.id === b.id;
}

export function hasAxis(t: { axes: readonly Axis[] }, a: Axis): boolean {
  return t.axes.some((x) => x.id === a.id);
}

export function axisIndex(t: { axes: readonly Axis[] }, a: Axis): number {
  return t.axes.findIndex((x) => x.id === a.id);
}

export function numElements(t: { axes: readonly Axis[] }): number {
  let n = 1;
  for (const a of t.axes) n *= a.size;
  return n;
}

export function formatAxes(axes: readonly Axis[]): string {
  return `[${axes.map((a) => a.name).join(', ')}]`;
}

export function formatType(t: TensorType): string {
  if (t.dtype === 'i32' && t.indexOf) return `index${formatAxes(t.axes)} of ${t.indexOf.name}`;
  return `${t.dtype}${formatAxes(t.axes)}`;
}

/** Allocates axis identities; one per elaboration so ids are stable and readable. */
export class AxisTable {
  private next = 0;
  readonly all: Axis[] = [];
  create(name: string, size: number): Axis {
    const axis = { id: this.next++, name, size };
    this.all.push(axis);
    return axis;
  }
}
