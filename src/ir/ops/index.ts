/** The registry of IR primitives: one entry per op, keyed by name. */
import type { OpName } from '../types.js';
import type { OpDef } from './def.js';
import { constOp, inputOp, iotaOp, paramOp } from './leaf.js';
import { binaryOp, castOp, compareOp, unaryOp, whereOp } from './elementwise.js';
import { expandOp, reduceOp } from './reduce.js';
import { contractOp } from './contract.js';
import { gatherOp, scatterAddOp } from './gather.js';
import { renameOp } from './rename.js';
import { crossEntropyOp, softmaxOp } from './softmax.js';

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

export type { OpDef, TypeResult } from './def.js';
