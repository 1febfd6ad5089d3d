/**
 * When the loss goes non-finite: which IR value became NaN or infinite first. The failing
 * step is re-run on the reference interpreter from the state just before it, watching every
 * value in order; the first non-finite one (all its inputs finite) is the culprit, named with
 * the .mdl line it comes from.
 */
import type { IRNode } from '../ir/types.js';
import { interpret, type Tensor } from '../ir/interpret/index.js';
import type { Feeds, StepScalars } from '../../runtime/backend.js';
import type { CpuBackend } from './cpu.js';

export interface NonFiniteValue {
  node: IRNode;
  /** How many of its elements are NaN, +inf, -inf. */
  nan: number;
  inf: number;
  /** Where it comes from, e.g. `model.mdl:23:7`, or undefined for a value the compiler made. */
  at?: string;
  /** One line for a person: the value, its op and type, the .mdl line. */
  description: string;
}

class Found extends Error {
  constructor(readonly id: number) {
    super('found');
  }
}

/** Counts of NaN and infinite elements. */
export function nonFiniteCounts(data: ArrayLike<number>): { nan: number; inf: number } {
  let nan = 0;
  let inf = 0;
  for (let i = 0; i < data.length; i++) {
    const v = data[i];
    if (Number.isNaN(v)) nan++;
    else if (!Number.isFinite(v)) inf++;
  }
  return { nan, inf };
}

/**
 * Re-run one training step on `cpu` (holding the state before the step) with the same batch
 * and scalars, and find the first value that is not finite. Undefined when every value stays
 * finite (the failure did not reproduce on the interpreter).
 */
export function firstNonFinite(cpu: CpuBackend, feeds: Feeds, scalars: StepScalars, source: { path: string; text: string }): NonFiniteValue | undefined {
  const graph = cpu.graph;
  const { params } = cpu.snapshot();
  let found: number | undefined;
  let counts = { nan: 0, inf: 0 };
  try {
    interpret(graph, { params, inputs: cpu.stepInputs(feeds, scalars) }, {
      precision: 'f32',
      outputs: [...new Set(graph.outputs.values())],
      onValue: (id: number, value: Tensor) => {
        if (graph.nodes[id].type.dtype !== 'f32') return;
        const c = nonFiniteCounts(value.data as ArrayLike<number>);
        if (c.nan || c.inf) {
          counts = c;
          throw new Found(id);
        }
      },
    });
  } catch (e) {
    if (!(e instanceof Found)) throw e;
    found = e.id;
  }
  if (found === undefined) return undefined;
  const node = graph.nodes[found];
  const at = node.span ? `${source.path}:${node.span.line}:${node.span.column}` : undefined;
  const text = node.span ? source.text.slice(node.span.start, node.span.end).replace(/\s+/g, ' ') : '';
  const what = node.name ? `\`${node.name}\`` : text && text.length <= 60 ? `\`${text}\`` : node.span ? 'the value' : 'a value autodiff made (in the backward pass)';
  const op = node.attrs.op === 'unary' || node.attrs.op === 'binary' || node.attrs.op === 'reduce' ? `${node.attrs.op} ${(node.attrs as { fn: string }).fn}` : node.attrs.op;
  const parts = [c(counts.nan, 'NaN'), c(counts.inf, 'infinite')].filter(Boolean).join(' and ');
  const description = `${what} (${op} over [${node.type.axes.map((a) => a.name).join(', ')}]${at ? ` at ${at}` : ''}) is the first value that is not finite: ${parts} of ${node.type.axes.reduce((s, a) => s * a.size, 1)} elements`;
  return { node, ...counts, at, description };
}

function c(n: number, what: string): string {
  return n ? `${n} ${what}` : '';
}
