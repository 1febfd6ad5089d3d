/**
 * The reference interpreter: evaluates an IR graph on the CPU with each op's `evaluate`
 * (src/ir/ops), the semantic oracle for the WGSL kernels and the gradient checks, and the
 * `cpu` backend.
 *
 *   const params = initParams(graph, 1234, 'f32');
 *   const out = interpret(graph, { params, inputs: new Map([['tokens', tokens]]) }, { precision: 'f32' });
 *   out.get(graph.outputs.get('loss')!)
 */
import { OPS } from '../ops/index.js';
import { formatAxes, formatType, numElements, type Axis, type Graph, type IRNode, type TensorType } from '../types.js';
import { allocFloat, atPrecision, permute, type EvalContext, type Precision, type Tensor } from '../tensor/index.js';
import { initValues } from '../../../runtime/init.js';

export * from '../tensor/index.js';
export { makeRng, hashString, type Rng } from './random.js';

export interface Feeds {
  /** Parameter values by ParamInfo name. */
  params: ReadonlyMap<string, Tensor>;
  /** Input values by InputInfo name. */
  inputs: ReadonlyMap<string, Tensor>;
}

export interface InterpretOptions {
  precision: Precision;
  /** Node ids to compute (default: every node in graph.outputs). */
  outputs?: readonly number[];
  /** Sees every value as it is computed, in id order (to find where a NaN first appears). */
  onValue?: (id: number, value: Tensor) => void;
}

/**
 * Evaluates the nodes the requested outputs depend on, in id order (ids are topological), and
 * returns the requested outputs by node id. Feeds are checked against the declared types
 * (same dtype, same axes by identity in any order: they are permuted into the declared
 * order; floats are converted to the evaluation precision). Intermediate values are dropped
 * after their last use.
 */
export function interpret(graph: Graph, feeds: Feeds, options: InterpretOptions): Map<number, Tensor> {
  const ctx: EvalContext = { precision: options.precision };
  const nodes = graph.nodes;
  const wanted = options.outputs ?? [...new Set(graph.outputs.values())];
  for (const id of wanted) {
    if (!Number.isInteger(id) || id < 0 || id >= nodes.length) throw new Error(`interpret: no node ${id} in the graph (it has ${nodes.length} nodes)`);
  }

  const { needed, lastUse } = liveness(graph, wanted);
  const keep = new Set(wanted);

  const values: (Tensor | undefined)[] = new Array(nodes.length);
  const args: Tensor[] = [];
  for (let id = 0; id < nodes.length; id++) {
    if (!needed[id]) continue;
    const node = nodes[id];
    let value: Tensor;
    if (node.attrs.op === 'param') value = feed('parameter', node.attrs.name, feeds.params, node, ctx.precision);
    else if (node.attrs.op === 'input') value = feed('input', node.attrs.name, feeds.inputs, node, ctx.precision);
    else {
      args.length = 0;
      for (const i of node.inputs) {
        const v = values[i];
        if (!v) throw new Error(`internal: node ${id} (${node.attrs.op}) reads node ${i}, which has no value (graph not in topological order?)`);
        args.push(v);
      }
      value = OPS[node.attrs.op].evaluate(args, node.attrs as never, node.type, ctx);
      if (value.data.length !== numElements(node.type))
        throw new Error(`internal: ${node.attrs.op} (node ${id}) produced ${value.data.length} elements for ${formatType(node.type)}`);
    }
    values[id] = value;
    options.onValue?.(id, value);
    for (const i of node.inputs) if (lastUse[i] === id && !keep.has(i)) values[i] = undefined;
  }

  const result = new Map<number, Tensor>();
  for (const id of wanted) result.set(id, values[id]!);
  return result;
}

/**
 * Which nodes computing `wanted` needs (1 in `needed`), and the last node that reads each
 * one (`lastUse`, -1 for none): the interpreter frees a value after its last use.
 */
export function liveness(graph: Graph, wanted: readonly number[]): { needed: Uint8Array; lastUse: Int32Array } {
  const nodes = graph.nodes;
  const needed = new Uint8Array(nodes.length);
  const lastUse = new Int32Array(nodes.length).fill(-1);
  for (const id of wanted) needed[id] = 1;
  for (let id = nodes.length - 1; id >= 0; id--) {
    if (!needed[id]) continue;
    for (const i of nodes[id].inputs) {
      needed[i] = 1;
      if (lastUse[i] < id) lastUse[i] = id;
    }
  }
  return { needed, lastUse };
}

/** Checks a fed tensor against a leaf's declared type and brings it to the declared layout. */
function feed(kind: 'parameter' | 'input', name: string, from: ReadonlyMap<string, Tensor>, node: IRNode, precision: Precision): Tensor {
  const t = from.get(name);
  const declared = node.type;
  const what = `${kind} \`${name}\``;
  if (!t) {
    const known = [...from.keys()];
    throw new Error(`interpret: no value fed for ${what} (declared ${formatType(declared)}); fed ${kind}s: ${known.length ? known.join(', ') : 'none'}`);
  }
  if (t.type.dtype !== declared.dtype) throw new Error(`interpret: ${what} must be ${formatType(declared)}, got ${formatType(t.type)}`);
  const mismatch = axisMismatch(declared.axes, t.type.axes);
  if (mismatch) throw new Error(`interpret: ${what} must have axes ${formatAxes(declared.axes)}, got ${formatAxes(t.type.axes)}: ${mismatch}`);
  if (t.data.length !== numElements(declared))
    throw new Error(`interpret: ${what} has ${t.data.length} elements, but ${formatType(declared)} has ${numElements(declared)}`);
  const laid = permute(t, declared.axes);
  return atPrecision({ type: declared, data: laid.data }, precision);
}

function axisMismatch(declared: readonly Axis[], got: readonly Axis[]): string | undefined {
  const problems: string[] = [];
  for (const a of declared) {
    const same = got.find((g) => g.id === a.id);
    if (same) {
      if (same.size !== a.size) problems.push(`\`${a.name}\` has size ${same.size}, expected ${a.size}`);
      continue;
    }
    const namesake = got.find((g) => g.name === a.name);
    problems.push(namesake ? `\`${a.name}\` is a different axis of the same name (id ${namesake.id}, expected id ${a.id})` : `missing axis \`${a.name}\``);
  }
  for (const g of got) {
    if (!declared.some((a) => a.id === g.id) && !declared.some((a) => a.name === g.name)) problems.push(`unexpected axis \`${g.name}\``);
  }
  return problems.length ? problems.join('; ') : undefined;
}

/**
 * Initial values of every parameter from its `init`, reproducibly: parameter `p` draws from
 * the stream makeRng(seed, p.name), so its values depend only on the seed and its name
 * (adding or reordering parameters does not change the others). Values are filled in the
 * layout order of the parameter's declared axes.
 */
export function initParams(graph: Graph, seed: number, precision: Precision): Map<string, Tensor> {
  const out = new Map<string, Tensor>();
  for (const p of graph.params) out.set(p.name, initTensor(p.type, p.init, seed, p.name, precision));
  return out;
}

function initTensor(type: TensorType, init: Graph['params'][number]['init'], seed: number, name: string, precision: Precision): Tensor {
  const data = allocFloat(numElements(type), precision) as Float32Array<ArrayBuffer> | Float64Array<ArrayBuffer>;
  // The same values as generated programs get (runtime/init.ts), at the evaluation precision.
  return { type, data: initValues(init, data.length, seed, name, data) };
}
