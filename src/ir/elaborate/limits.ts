/**
 * The sizes mdlc compiles, checked at elaboration so that an impossible model is a
 * diagnostic (E0211) at its source instead of a crash in a later stage.
 */
import { diagnostic, type Diagnostic, type Span } from '../../diagnostics/index.js';
import { numElements, type Graph, type TensorType } from '../types.js';

/** The largest dim: positions along an axis (`iota`, index tensors) are 32-bit integers. */
export const MAX_DIM = 2 ** 31 - 1;

/**
 * Elements of one tensor: 4 GiB of f32. WGSL addresses buffers with 32-bit indices, WebGPU
 * binds at most 4 GiB, and the interpreter's typed arrays stop at 2^32 elements.
 */
export const MAX_TENSOR_ELEMENTS = 2 ** 30;

/** Repetitions of one `repeat` (each one is a copy of its body in the graph). */
export const MAX_REPEAT = 10_000;

/** Nodes of the forward graph once blocks are inlined and repeats unrolled. */
export const MAX_GRAPH_NODES = 100_000;

/** Blocks calling blocks, deepest (blocks are inlined). */
export const MAX_BLOCK_DEPTH = 64;

/** A whole number for messages: 1,000,000 up to 2^53, then 1.0e+20. */
export function formatCount(n: number): string {
  return Number.isSafeInteger(n) ? n.toLocaleString('en-US') : n.toExponential(1);
}

/**
 * E0211 at the first value (in graph order) with more elements than MAX_TENSOR_ELEMENTS: the
 * values computed from it are as large, and one diagnostic says what to change.
 */
export function checkTensorSizes(graph: Graph): Diagnostic[] {
  const over = graph.nodes.filter((n) => numElements(n.type) > MAX_TENSOR_ELEMENTS);
  const first = over.find((n) => n.span);
  if (!first) return [];
  return [tensorTooLarge(first.type, numElements(first.type), first.span!, first.name, over.length - 1)];
}

function tensorTooLarge(t: TensorType, count: number, span: Span, name: string | undefined, others: number): Diagnostic {
  const sizes = t.axes.map((a) => `${a.name} ${formatCount(a.size)}`).join(' × ');
  const largest = [...t.axes].sort((a, b) => b.size - a.size)[0];
  const more = others > 0 ? ` (${others} more value${others === 1 ? ' is' : 's are'} too large as well)` : '';
  return diagnostic(
    'E0211',
    `${name ? `\`${name}\`` : 'this expression'} would hold ${formatCount(count)} elements (${sizes}); a tensor holds at most ${formatCount(MAX_TENSOR_ELEMENTS)} (4 GiB of f32)${more}`,
    span,
    { help: largest ? `make \`${largest.name}\` (${formatCount(largest.size)}) or the other dims smaller` : 'make the dims smaller' },
  );
}
