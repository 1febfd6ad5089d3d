/**
 * How an IR primitive is declared (after JAX's primitives): everything the compiler knows
 * about an op sits in the op's own file under src/ir/ops/ — its type rule, its interpreter
 * semantics, which inputs carry gradient and its backward rule, the facts the checker
 * derives from it, and how code generation fuses it. Functions of the elementwise and
 * reduction ops (`exp`, `add`, `sum`, ...) are primitives of their own, one file each under
 * unary/, binary/ and reduce/, with their lowerings (WGSL, PyTorch) besides.
 *
 * Every table of ops is typed by the op names (`{ [K in OpName]: OpDef<K> }`), so an op or a
 * field left out is a type error, never a silent default.
 */
import type { DiagnosticCode } from '../../diagnostics/catalog.js';
import type { Span } from '../../diagnostics/span.js';
import type { Axis, BinaryFn, IRNode, OpAttrs, OpName, TensorType, UnaryFn } from '../types.js';
import type { EvalContext, Tensor } from '../tensor/index.js';

export type { EvalContext, Tensor } from '../tensor/index.js';

export type TypeResult =
  | { ok: true; type: TensorType }
  | { ok: false; code: DiagnosticCode; message: string; help?: string; /** which input the error is about */ input?: number };

export function ok(type: TensorType): TypeResult {
  return { ok: true, type };
}

export function fail(code: DiagnosticCode, message: string, help?: string, input?: number): TypeResult {
  return { ok: false, code, message, help, input };
}

export type AttrsOf<K extends OpName> = Extract<OpAttrs, { op: K }>;

/** A node of op K. */
export type NodeOf<K extends OpName> = IRNode & { attrs: AttrsOf<K> };

/** What a backward rule builds the gradient graph with (src/ir/graph.ts's GraphBuilder has it). */
export interface Builder {
  /** Add a node; the op's type rule checks it (an ill-typed node is a compiler bug). */
  add(attrs: OpAttrs, inputs: readonly number[]): number;
  constant(value: number, dtype?: 'f32' | 'i32'): number;
  type(id: number): TensorType;
}

/**
 * What the checker's rules know of a value (src/ir/check/facts.ts computes them over a graph,
 * asking each node's op).
 */
export interface NodeFacts {
  /** Axis ids the value depends on (a broadcast axis does not count). */
  varies: Set<number>;
  /** A distribution over `axis` (a softmax output, or what keeps that meaning). */
  distribution?: { axis: Axis; span?: Span; softmax: number };
  /** May hold an infinity written in the model (an `inf` literal, e.g. `where(mask, -inf, s)`). */
  mayBeInfinite: boolean;
  /** Provably never exactly zero. */
  nonZero: boolean;
  /** Depends on a parameter or an input (not only on constants and axis positions). */
  live: boolean;
}

/** The facts an op derives for its output from its inputs' (`live` is the same for every op). */
export type OpFacts = Omit<NodeFacts, 'live'>;

/**
 * How an op takes part in fusion (src/codegen/passes/lower.ts): a `leaf` is stored by the host
 * (parameters, inputs); a `free` value costs no memory (a constant, an axis position); a
 * `view` is other strides over its input's storage (renames, broadcasts); `elementwise` ops
 * are inlined into the kernels that read them; a `kernel` op is a kernel of its own.
 */
export type Fusion = 'leaf' | 'free' | 'view' | 'elementwise' | 'kernel';

/** A backward rule: the cotangent of each input in `wanted` (undefined: zero), given the cotangent `g` of the output. */
export type Vjp<K extends OpName> = (b: Builder, n: NodeOf<K>, g: number, wanted: readonly number[]) => (number | undefined)[];

export interface OpDef<K extends OpName> {
  op: K;
  /** Number of inputs. */
  arity: number;
  /** The type rule: checks the inputs and computes the output type (never throws). */
  type(inputs: readonly TensorType[], attrs: AttrsOf<K>): TypeResult;
  /**
   * The reference semantics (src/ir/interpret): the output tensor, of type `out` (the type
   * rule's result, whose axis order is the output layout), for inputs of the types the rule
   * accepted. Throws an Error for data-dependent failures (an index out of range).
   */
  evaluate(inputs: readonly Tensor[], attrs: AttrsOf<K>, out: TensorType, ctx: EvalContext): Tensor;
  /** The inputs that carry gradient (not conditions, indices, or inputs of a piecewise-constant function). */
  differentiable(attrs: AttrsOf<K>): readonly number[];
  /**
   * The backward rule (vector-Jacobian product), for the inputs `differentiable` names, or
   * `none` for an op without differentiable inputs. Broadcast axes are summed away by the
   * caller (src/ir/autodiff). Every rule is tested against finite differences.
   */
  vjp: Vjp<K> | 'none';
  /** The facts the checker knows of the output, from the inputs' (src/ir/check/facts.ts). */
  facts(n: NodeOf<K>, inputs: readonly NodeFacts[]): OpFacts;
  fusion: Fusion;
  /** The work of one element when inlined into a kernel (elementwise ops): 1 per arithmetic operation, more for transcendental functions. */
  cost(attrs: AttrsOf<K>): number;
  /** The .mdl functions that elaborate to this op, besides those its functions (unary/, reduce/) declare. */
  surface: readonly string[];
}

/** Axes of `types` in order of first appearance (broadcasting by name). */
export function unionAxes(...types: readonly { axes: readonly Axis[] }[]): Axis[] {
  const out: Axis[] = [];
  for (const t of types) for (const a of t.axes) if (!out.some((b) => b.id === a.id)) out.push(a);
  return out;
}

export function duplicateAxis(axes: readonly Axis[]): Axis | undefined {
  const seen = new Set<number>();
  for (const a of axes) {
    if (seen.has(a.id)) return a;
    seen.add(a.id);
  }
  return undefined;
}

export function describeDtype(t: TensorType): string {
  if (t.dtype === 'i32') return t.indexOf ? `an index tensor (positions of \`${t.indexOf.name}\`)` : 'an integer tensor';
  if (t.dtype === 'bool') return 'a boolean (mask) tensor';
  return 'a float tensor';
}

/** Builders for backward rules: `fn(x)` and `x fn y`. */
export const un = (b: Builder, fn: UnaryFn, x: number): number => b.add({ op: 'unary', fn }, [x]);
export const bin = (b: Builder, fn: BinaryFn, x: number, y: number): number => b.add({ op: 'binary', fn }, [x, y]);

/** The facts of an op whose output varies as its inputs do and keeps no other fact. */
export function plainFacts(inputs: readonly NodeFacts[]): OpFacts {
  return { varies: new Set(inputs.flatMap((x) => [...x.varies])), mayBeInfinite: false, nonZero: false };
}

/** Every input index of an op of `arity` inputs (all differentiable). */
export const allInputs = (arity: number) => (): readonly number[] => Array.from({ length: arity }, (_, i) => i);
export const noInputs = (): readonly number[] => [];
export const unitCost = (): number => 1;
