/**
 * Finite-difference checks of reverse-mode gradients, in float64 on the reference interpreter.
 *
 * A case is a small graph whose parameters are the differentiated leaves. `checkGradients`
 * reduces the output to a scalar by contracting it with a fixed random tensor of the output's
 * type (so every output element influences the scalar with its own weight), asks
 * `gradients` for d scalar / d param, evaluates everything in f64 and compares every
 * gradient element with a central difference of the scalar.
 *
 * The central difference is the fourth-order stencil
 *   f'(x) ≈ (f(x-2h) - 8 f(x-h) + 8 f(x+h) - f(x+2h)) / 12h,   h = 1e-4 · max(1, |x|):
 * its truncation error is O(h^4) ≈ 1e-16 · f^(5) and its rounding error about
 * 1.5 · eps · |f| / h ≈ 1e-11 for the O(1) scalars these cases build, so the numerical
 * derivative is good to ~1e-11 absolute. (The plain two-point difference with h = 1e-6 has a
 * rounding error of ~1e-9 absolute, i.e. 1e-9 relative to O(1) gradients: too close to the
 * 1e-6 bound to tell a small bug from noise.)
 *
 * Error measure: |a - n| / max(FLOOR, |a| + |n|) with FLOOR = 1e-4. The floor only matters
 * for gradient elements that are (exactly) zero or tiny, such as relu below 0 or the operand
 * of max that was not selected: there the numerical derivative is rounding noise of ~1e-11,
 * and the floor accepts it while still failing any absolute discrepancy above 1e-10 (the
 * gradients the cases set up are O(0.1..10)).
 */
import { makeRng } from '../../../runtime/random.js';
import { expect } from 'vitest';
import { gradients } from '../../../src/ir/autodiff/index.js';
import { GraphBuilder } from '../../../src/ir/graph.js';
import { interpret, permute, tensor, type Tensor } from '../../../src/ir/interpret/index.js';
import { formatType, numElements, type Axis, type Graph, type TensorType } from '../../../src/ir/types.js';
import type { Span } from '../../../src/diagnostics/span.js';

export const SPAN: Span = { file: 'gradcheck.mdl', line: 1, column: 1, endLine: 1, endColumn: 1, start: 0, end: 0 };

export const REL_TOL = 1e-6;
export const FLOOR = 1e-4;

/** A deterministic uniform [0, 1) stream so every case has fixed data. */
export function rng(seed: number): () => number {
  const r = makeRng(seed, 'gradcheck');
  return () => r.next();
}

export type Values = readonly number[] | ((i: number, r: () => number) => number);

/** Uniform in [lo, hi]. */
export const uniform =
  (lo: number, hi: number): Values =>
  (_i, r) =>
    lo + (hi - lo) * r();

/** |x| uniform in [lo, hi] with a random sign: values away from 0 (kinks of relu and abs). */
export const awayFromZero =
  (lo: number, hi: number): Values =>
  (_i, r) =>
    (r() < 0.5 ? -1 : 1) * (lo + (hi - lo) * r());

/** A graph under construction with its parameter and input values. */
export class Case {
  readonly b = new GraphBuilder();
  readonly params = new Map<string, Tensor>();
  readonly inputs = new Map<string, Tensor>();
  private readonly r: () => number;

  constructor(seed = 1) {
    this.r = rng(seed);
  }

  random(): number {
    return this.r();
  }

  /** A differentiated leaf of float type over `axes` (values in layout order). */
  param(name: string, axes: readonly Axis[], values: Values = uniform(-1, 1)): number {
    const type: TensorType = { dtype: 'f32', axes };
    const n = numElements(type);
    const data = typeof values === 'function' ? Array.from({ length: n }, (_, i) => values(i, this.r)) : values;
    this.params.set(name, tensor(type, Float64Array.from(data)));
    return this.b.param(name, type, { kind: 'zeros' }, SPAN);
  }

  /** A float input (not differentiated). */
  floatInput(name: string, axes: readonly Axis[], values: Values = uniform(-1, 1)): number {
    const type: TensorType = { dtype: 'f32', axes };
    const n = numElements(type);
    const data = typeof values === 'function' ? Array.from({ length: n }, (_, i) => values(i, this.r)) : values;
    this.inputs.set(name, tensor(type, Float64Array.from(data)));
    return this.b.input(name, type, SPAN);
  }

  /** An index input: positions of `of`. */
  index(name: string, axes: readonly Axis[], of: Axis, values: readonly number[]): number {
    const type: TensorType = { dtype: 'i32', axes, indexOf: of };
    this.inputs.set(name, tensor(type, Int32Array.from(values)));
    return this.b.input(name, type, SPAN);
  }

  add(...args: Parameters<GraphBuilder['add']>): number {
    return this.b.add(...args);
  }
}

export interface CheckResult {
  /** Largest error measure over all checked elements. */
  maxErr: number;
  /** Largest |analytic| gradient element (to show the check is not vacuous). */
  maxAbsGrad: number;
  checked: number;
  /** Elements whose |analytic| + |numeric| is under FLOOR (judged by the absolute bound). */
  belowFloor: number;
  /** Largest error |a - n| / (|a| + |n|) among elements above the floor (the pure relative error). */
  maxRelAboveFloor: number;
}

/**
 * Contract `out` with a fixed random tensor of its type (axes in reverse order, to exercise
 * layout permutation) into a scalar, differentiate with respect to every parameter of the
 * case and compare with finite differences. Fails the test on the first element over the
 * tolerance, with the element, both values and the error.
 */
export function checkGradients(c: Case, out: number, options: { only?: readonly string[] } = {}): CheckResult {
  const b = c.b;
  const outType = b.type(out);
  expect(outType.dtype, 'output must be float').toBe('f32');
  const wAxes = [...outType.axes].reverse();
  const w = c.floatInput('__cotangent', wAxes, (_i, r) => (r() < 0.5 ? -1 : 1) * (0.5 + r()));
  const scalar = wAxes.length ? b.add({ op: 'contract', over: outType.axes }, [out, w]) : b.add({ op: 'binary', fn: 'mul' }, [out, w]);
  return checkScalarGradients(b.graph, b, scalar, c.params, c.inputs, options);
}

/** Gradients of an existing scalar node `loss` of `b` against finite differences. */
export function checkScalarGradients(
  graph: Graph,
  b: GraphBuilder,
  loss: number,
  params: ReadonlyMap<string, Tensor>,
  inputs: ReadonlyMap<string, Tensor>,
  options: { only?: readonly string[]; elements?: ReadonlyMap<string, readonly number[]> } = {},
): CheckResult {
  const infos = graph.params.filter((p) => !options.only || options.only.includes(p.name));
  const grads = gradients(
    b,
    loss,
    infos.map((p) => p.node),
  );
  const gradNodes = infos.map((p) => grads.get(p.node)!);
  const evaluated = interpret(graph, { params, inputs }, { precision: 'f64', outputs: [loss, ...gradNodes] });
  const f = (ps: ReadonlyMap<string, Tensor>) => interpret(graph, { params: ps, inputs }, { precision: 'f64', outputs: [loss] }).get(loss)!.data[0];
  const f0 = evaluated.get(loss)!.data[0];
  expect(Number.isFinite(f0), `scalar is ${f0}`).toBe(true);

  let maxErr = 0;
  let maxAbsGrad = 0;
  let checked = 0;
  let belowFloor = 0;
  let maxRelAboveFloor = 0;
  infos.forEach((p, k) => {
    const g = evaluated.get(gradNodes[k])!;
    // Same axes as the parameter, possibly in another order.
    expect(
      g.type.axes.map((a) => a.id).sort(),
      `gradient of ${p.name} has type ${formatType(g.type)}, the parameter ${formatType(p.type)}`,
    ).toEqual(p.type.axes.map((a) => a.id).sort());
    const ga = permute(g, p.type.axes).data;
    const base = params.get(p.name)!;
    const baseData = permute(base, p.type.axes).data;
    const elements = options.elements?.get(p.name) ?? Array.from({ length: ga.length }, (_, i) => i);
    for (const i of elements) {
      const x = baseData[i];
      const h = 1e-4 * Math.max(1, Math.abs(x));
      const at = (delta: number) => {
        const data = Float64Array.from(baseData);
        data[i] = x + delta;
        const ps = new Map(params);
        ps.set(p.name, { type: { ...base.type, axes: p.type.axes }, data });
        return f(ps);
      };
      const numeric = (at(-2 * h) - 8 * at(-h) + 8 * at(h) - at(2 * h)) / (12 * h);
      const analytic = ga[i];
      const err = Math.abs(analytic - numeric) / Math.max(FLOOR, Math.abs(analytic) + Math.abs(numeric));
      if (!(err < REL_TOL)) {
        throw new Error(`d/d ${p.name}[${i}]: autodiff ${analytic}, finite difference ${numeric}, error ${err.toExponential(2)} (bound ${REL_TOL})`);
      }
      maxErr = Math.max(maxErr, err);
      if (Math.abs(analytic) + Math.abs(numeric) < FLOOR) belowFloor++;
      else maxRelAboveFloor = Math.max(maxRelAboveFloor, err);
      maxAbsGrad = Math.max(maxAbsGrad, Math.abs(analytic));
      checked++;
    }
  });
  return { maxErr, maxAbsGrad, checked, belowFloor, maxRelAboveFloor };
}
