/**
 * How much memory the interpreter backend needs for a training step,
 * estimated before anything is allocated, so that a model too large for this machine is
 * refused with the figure and what to change (E0904) instead of running out of memory
 * after minutes, or dying in a typed-array constructor.
 */
import { freemem, totalmem } from 'node:os';
import { diagnostic, fileSpan, type Diagnostic } from '../diagnostics/index.js';
import { liveness } from '../ir/interpret/index.js';
import type { TrainStep } from '../ir/optimizer/index.js';
import { formatType, numElements, type IRNode, type TensorType } from '../ir/types.js';
import { formatBytes } from '../../runtime/files.js';

export interface MemoryEstimate {
  /** Bytes of a step at its peak: held state plus live intermediate values. */
  bytes: number;
  /** Parameters and both Adam moments, held between steps (3 × the parameters). */
  state: number;
  /** The largest single value the step computes, and its size. */
  largest?: { node: IRNode; bytes: number };
  /** The largest value that comes from a line of the model (gradients have none). */
  largestInSource?: { node: IRNode; bytes: number };
}

/**
 * Freed values are returned to the system only when the garbage collector runs: measured
 * peaks (tinyshakespeare, batch 12 to 64, window 65 to 129) were 1.2 times the live bytes.
 */
const GC_SLACK = 1.25;

/** Bytes of a value as the interpreter stores it at f32 precision. */
function bytesOf(t: TensorType): number {
  return numElements(t) * (t.dtype === 'bool' ? 1 : 4);
}

/**
 * Simulates the interpreter's allocation over one training step (src/ir/interpret): values
 * computed in node order, each freed after its last use, the step's outputs kept; a
 * contraction also copies its operands into matmul layout and may copy its result once
 * more. Parameters, Adam's moments and the new values of all three are counted as the
 * interpreter backend holds them (the old ones until the step ends).
 */
export function estimateStepMemory(step: TrainStep): MemoryEstimate {
  const nodes = step.graph.nodes;
  const wanted = [step.loss, step.gradNorm, ...step.params.flatMap((p) => [p.newParam, p.newM, p.newV])];
  const { needed, lastUse } = liveness(step.graph, wanted);
  const keep = new Set(wanted);
  const isLeaf = (n: IRNode) => n.attrs.op === 'param' || n.attrs.op === 'input' || n.attrs.op === 'const';
  let live = 0;
  let peak = 0;
  let largest: MemoryEstimate['largest'];
  let largestInSource: MemoryEstimate['largestInSource'];
  for (let id = 0; id < nodes.length; id++) {
    if (!needed[id]) continue;
    const n = nodes[id];
    // Leaves are the caller's buffers (fed as they are), counted in `state`.
    if (isLeaf(n)) continue;
    const out = bytesOf(n.type);
    const copies = n.attrs.op === 'contract' ? n.inputs.reduce((s, i) => s + bytesOf(nodes[i].type), 0) + out : 0;
    peak = Math.max(peak, live + out + copies);
    live += out;
    if (!largest || out > largest.bytes) largest = { node: n, bytes: out };
    if (n.span && (!largestInSource || out > largestInSource.bytes)) largestInSource = { node: n, bytes: out };
    for (const i of new Set(n.inputs)) if (lastUse[i] === id && !keep.has(i) && !isLeaf(nodes[i])) live -= bytesOf(nodes[i].type);
  }
  const state = 3 * step.params.reduce((s, p) => s + bytesOf(p.param.type), 0);
  return { bytes: Math.round(state + peak * GC_SLACK), state, largest, largestInSource };
}

/**
 * Memory this process can still take: what the system reports available, within a cgroup's
 * limit when there is one, and within MDLC_CPU_MEMORY (bytes) when that is set.
 */
export function availableMemory(env: NodeJS.ProcessEnv = process.env): number {
  const constrained = typeof process.constrainedMemory === 'function' ? process.constrainedMemory() : 0;
  const total = constrained && constrained > 0 && constrained < totalmem() ? constrained : totalmem();
  const used = process.memoryUsage().rss;
  const cap = Number(env.MDLC_CPU_MEMORY);
  return Math.max(0, Math.min(freemem(), total - used, cap > 0 ? cap : Infinity));
}

/**
 * E0904 when a training step on the interpreter backend needs more memory than is available: the
 * figure, the largest value and its source line, and what to make smaller.
 */
export function checkCpuMemory(step: TrainStep, file: string, available = availableMemory()): Diagnostic | undefined {
  const est = estimateStepMemory(step);
  if (est.bytes <= available) return undefined;
  const big = est.largest;
  const what = big ? `; the largest value is ${formatType(big.node.type)}, ${formatBytes(big.bytes)}` : '';
  const axes = big ? big.node.type.axes.map((a) => `\`${a.name}\``) : [];
  return diagnostic(
    'E0904',
    `a training step on the interpreter backend needs about ${formatBytes(est.bytes)} (parameters and Adam state ${formatBytes(est.state)}${what}), but ${formatBytes(available)} of memory is available`,
    est.largestInSource?.node.span ?? fileSpan(file),
    {
      help: `make the model or the batch smaller (--batch N, or --set NAME=N for the dims behind ${axes.length ? axes.join(', ') : 'its values'}), or train with --backend wasm (its buffers are planned by liveness) or on a GPU with --backend webgpu`,
    },
  );
}

/** WebAssembly's 32-bit memory: 4 GiB at most. */
export const WASM_MAX_MEMORY = 2 ** 32;

/**
 * E0904 when the wasm program's memory (its arenas and tables, and each thread's scratch)
 * is over WebAssembly's 4 GiB or over the memory available.
 */
export function checkWasmMemory(bytes: number, threads: number, file: string, available = availableMemory()): Diagnostic | undefined {
  const limit = Math.min(WASM_MAX_MEMORY, available);
  if (bytes <= limit) return undefined;
  return diagnostic(
    'E0904',
    `a training step on the wasm backend with ${threads} thread${threads === 1 ? '' : 's'} needs ${formatBytes(bytes)} of memory, but ${bytes > WASM_MAX_MEMORY ? `WebAssembly's memory holds at most ${formatBytes(WASM_MAX_MEMORY)}` : `${formatBytes(available)} is available`}`,
    fileSpan(file),
    { help: 'make the model or the batch smaller (--batch N, or --set NAME=N), use fewer threads (--threads N), or train on a GPU with --backend webgpu' },
  );
}
