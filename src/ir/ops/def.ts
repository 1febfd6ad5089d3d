/**
 * How an IR primitive is declared (after JAX): its type rule, its interpreter semantics and
 * its backward rule live together in one file under src/ir/ops/.
 */
import type { DiagnosticCode } from '../../diagnostics/catalog.js';
import type { Axis, OpAttrs, OpName, TensorType } from '../types.js';
import type { EvalContext, Tensor } from '../interpret/tensor.js';

export type { EvalContext, Tensor } from '../interpret/tensor.js';

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
