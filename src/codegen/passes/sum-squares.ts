/**
 * Sums of squares: a run of consecutive reductions that each sum the squares of a whole
 * stored value (one per parameter's gradient, the terms of the global gradient norm) becomes
 * one `sum_squares` kernel, invocation i summing region i. One small loop serves any number
 * of parameters, so the clipping norm costs one dispatch and compiles fast.
 */
import type { ValueTable } from '../kernel-ir/ids.js';
import { absorb, conflicts } from '../kernel-ir/kernel.js';
import type { Access, Kernel, Schedule, SumSquaresKernel, ValueId } from '../kernel-ir/types.js';

export function mergeSumSquares(s: Schedule, region: (v: ValueId) => ValueId): Schedule {
  const out: Kernel[] = [];
  for (const k of s.kernels) {
    const part = sumOfSquaresOf(k, s.values);
    const prev = out.at(-1);
    const prevPart = prev && (prev.kind === 'sum_squares' ? prev.parts[0] : sumOfSquaresOf(prev, s.values));
    if (part && prev && prevPart && !conflicts(prev, k, region)) {
      const group: SumSquaresKernel =
        prev.kind === 'sum_squares' ? prev : { kind: 'sum_squares', name: prev.name, nodes: [...prev.nodes], lines: [...prev.lines], reads: [...prev.reads], writes: [...prev.writes], parts: [prevPart] };
      group.parts.push(part);
      absorb(group, k);
      out[out.length - 1] = group;
      continue;
    }
    out.push(k);
  }
  return { kernels: out, values: s.values };
}

/** A reduction that sums the squares of a whole stored value, in any order: the value's region read as a flat range. */
function sumOfSquaresOf(k: Kernel, values: ValueTable): { input: Access; size: number; out: Access } | undefined {
  if (k.kind !== 'reduce' || k.fn !== 'sum' || k.axes.length !== 0) return undefined;
  const v = k.value;
  if (v.k !== 'unary' || v.fn !== 'square' || v.x.k !== 'load' || v.x.dtype !== 'f32') return undefined;
  const load = v.x.access;
  const stored = values.get(load.value);
  const over = new Set(k.over.map((a) => a.id));
  const covers = load.strides.size === over.size && [...load.strides.keys()].every((id) => over.has(id)) && k.over.reduce((n, a) => n * a.size, 1) === stored.size;
  return covers ? { input: load, size: stored.size, out: k.out } : undefined;
}
