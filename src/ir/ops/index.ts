/**
 * The registry of IR primitives: one entry per op, keyed by name, and what the stages ask of
 * an op through it (its inputs that carry gradient, the .mdl functions that make it).
 */
import type { IRNode, OpName } from '../types.js';
import type { OpDef } from './def.js';
import { binaryOp, BINARY } from './binary/index.js';
import { castOp } from './cast.js';
import { compareOp } from './compare.js';
import { contractOp } from './contract.js';
import { crossEntropyOp } from './cross-entropy.js';
import { expandOp } from './expand.js';
import { gatherOp } from './gather.js';
import { iotaOp } from './iota.js';
import { constOp, inputOp, paramOp } from './leaf.js';
import { reduceOp, REDUCE } from './reduce/index.js';
import { renameOp } from './rename.js';
import { scatterAddOp } from './scatter-add.js';
import { softmaxOp } from './softmax.js';
import { unaryOp, UNARY } from './unary/index.js';
import { whereOp } from './where.js';

export const OPS: { [K in OpName]: OpDef<K> } = {
  const: constOp,
  param: paramOp,
  input: inputOp,
  iota: iotaOp,
  unary: unaryOp,
  cast: castOp,
  binary: binaryOp,
  compare: compareOp,
  where: whereOp,
  reduce: reduceOp,
  expand: expandOp,
  contract: contractOp,
  gather: gatherOp,
  scatter_add: scatterAddOp,
  rename: renameOp,
  softmax: softmaxOp,
  cross_entropy: crossEntropyOp,
};

/** The op of a node with its attributes typed (a dispatch over OPS). */
export function opOf<K extends OpName>(n: IRNode & { attrs: { op: K } }): OpDef<K> {
  return OPS[n.attrs.op] as OpDef<K>;
}

/** Which inputs of a node carry gradient (by position). */
export function differentiableInputs(n: IRNode): readonly number[] {
  return (OPS[n.attrs.op] as OpDef<OpName>).differentiable(n.attrs as never);
}

/**
 * The functions of the forward pass's language, by name (`exp`, `sum`, `softmax`, `float`):
 * every op's, and its unary functions' and reductions' (`max` and `min` also take two
 * operands: binary/). The elaborator resolves calls through it; the editor grammar lists it.
 */
export function forwardFunctions(): string[] {
  const names = new Set<string>();
  for (const op of Object.values(OPS)) for (const s of op.surface) names.add(s);
  for (const p of Object.values(UNARY)) if (p.surface) names.add(p.surface);
  for (const p of Object.values(REDUCE)) names.add(p.surface);
  for (const p of Object.values(BINARY)) if ('call' in p.surface) names.add(p.surface.call);
  return [...names].sort();
}

export type { OpDef, TypeResult, NodeFacts, OpFacts, Builder, Fusion } from './def.js';
export { UNARY, keepsNonFinite, preservesZero, type UnaryFn, type UnaryPrim } from './unary/index.js';
export { BINARY, type BinaryFn, type BinaryPrim } from './binary/index.js';
export { COMPARE, type CompareFn, type ComparePrim } from './compare.js';
export { REDUCE, reducesZerosToZero, type ReduceFn, type ReducePrim } from './reduce/index.js';
