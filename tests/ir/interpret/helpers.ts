/** Shared helpers for the interpreter tests: axes, running one op through its type rule and evaluate. */
import { OPS } from '../../../src/ir/ops/index.js';
import { AxisTable, type Axis, type DType, type OpAttrs, type TensorType } from '../../../src/ir/types.js';
import { tensor, type EvalContext, type Precision, type Tensor } from '../../../src/ir/tensor/tensor.js';
import type { Span } from '../../../src/diagnostics/span.js';

export const F64: EvalContext = { precision: 'f64' };
export const F32: EvalContext = { precision: 'f32' };

export const SPAN: Span = { file: 'test.mdl', line: 1, column: 1, endLine: 1, endColumn: 1, start: 0, end: 0 };

/** One table for the whole test file, so every call to `axes` makes distinct identities. */
const SHARED = new AxisTable();

/** Fresh axes with the given sizes, e.g. `const { x, y } = axes({ x: 2, y: 3 })`. */
export function axes<K extends string>(sizes: Record<K, number>, table = SHARED): Record<K, Axis> {
  const out = {} as Record<K, Axis>;
  for (const name of Object.keys(sizes) as K[]) out[name] = table.create(name, sizes[name]);
  return out;
}

export function f32(axesList: readonly Axis[], data: ArrayLike<number>, precision: Precision = 'f64'): Tensor {
  return tensor({ dtype: 'f32', axes: axesList }, data, precision);
}

export function i32(axesList: readonly Axis[], data: ArrayLike<number>, indexOf?: Axis): Tensor {
  return tensor({ dtype: 'i32', axes: axesList, indexOf }, data);
}

export function bool(axesList: readonly Axis[], data: ArrayLike<number | boolean>): Tensor {
  return tensor({ dtype: 'bool', axes: axesList }, data);
}

export function type(dtype: DType, axesList: readonly Axis[], indexOf?: Axis): TensorType {
  return { dtype, axes: axesList, indexOf };
}

/** Type-check `attrs` on the inputs' types (failing the test on a type error), then evaluate. */
export function run(attrs: OpAttrs, inputs: readonly Tensor[], ctx: EvalContext = F64): Tensor {
  const def = OPS[attrs.op];
  const r = def.type(
    inputs.map((t) => t.type),
    attrs as never,
  );
  if (!r.ok) throw new Error(`type error in test setup: ${r.message}`);
  return def.evaluate(inputs, attrs as never, r.type, ctx);
}

export function names(t: Tensor): string[] {
  return t.type.axes.map((a) => a.name);
}

export function values(t: Tensor): number[] {
  return Array.from(t.data);
}

/** Element-by-element check (layout order): NaN matches NaN, infinities match exactly, else |a - e| <= tol (1 + |e|). */
export function expectValues(t: Tensor | ArrayLike<number>, expected: readonly number[], tol = 1e-12): void {
  const got = Array.from('data' in t ? t.data : t);
  if (got.length !== expected.length) throw new Error(`expected ${expected.length} values, got ${got.length}: [${got.join(', ')}]`);
  for (let i = 0; i < got.length; i++) {
    const a = got[i];
    const e = expected[i];
    const good = Number.isNaN(e) ? Number.isNaN(a) : !Number.isFinite(e) ? a === e : Math.abs(a - e) <= tol * (1 + Math.abs(e));
    if (!good) throw new Error(`value ${i}: expected ${e}, got ${a} (all: [${got.join(', ')}])`);
  }
}
