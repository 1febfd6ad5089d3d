/**
 * Tensors of the reference semantics: the data the op rules' `evaluate` functions (src/ir/ops)
 * read and write, their strided iteration and the matmul under contractions. Below both the
 * ops and the interpreter that runs them.
 */
export * from './tensor.js';
export { broadcastRows, contiguousStrides, copyStrided, Rows, sizesOf, stridesAlong, zipBroadcast } from './strided.js';
export { matmulAccumulate } from './matmul.js';
