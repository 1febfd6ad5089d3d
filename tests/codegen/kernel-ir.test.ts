/**
 * The kernel IR's shared pieces (src/codegen/kernel-ir/): the expression module, folding a
 * kernel into another, the hazard rule, the value table and the listing of kernels.
 */
import { describe, expect, it } from 'vitest';
import type { Axis, Graph } from '../../src/ir/types.js';
import { accCount, children, foldExpr, gathersFrom, iotaAxes, loadsOf, mapExpr, subexpressions, variesAlong, withChildren } from '../../src/codegen/kernel-ir/expr.js';
import { absorb, accessesOf, canMove, conflicts, exprsOf, iterationAxes } from '../../src/codegen/kernel-ir/kernel.js';
import { groupAxis, isGroupAxis, segmentAxis, ValueTable } from '../../src/codegen/kernel-ir/ids.js';
import { kernelText } from '../../src/codegen/kernel-ir/print.js';
import { Groups } from '../../src/codegen/buffers.js';
import { axisNames } from '../../src/codegen/wgsl/expr.js';
import type { Access, Kernel, KExpr, MapKernel } from '../../src/codegen/kernel-ir/types.js';

const row: Axis = { id: 1, name: 'row', size: 3 };
const col: Axis = { id: 2, name: 'col', size: 8 };
const access = (value: number, strides: [number, number][]): Access => ({ arena: 'f32', value, offset: 0, strides: new Map(strides) });
const load = (value: number, strides: [number, number][] = [[1, 8], [2, 1]]): KExpr => ({ k: 'load', access: access(value, strides), dtype: 'f32' });
const add = (a: KExpr, b: KExpr): KExpr => ({ k: 'binary', fn: 'add', a, b, dtype: 'f32' });
const emptyGraph = (): Graph => ({ nodes: [], params: [], inputs: [], outputs: new Map() });
const map = (name: string, reads: number[], writes: number[]): MapKernel => ({ kind: 'map', name, nodes: [], lines: [], reads, writes, axes: [row, col], stores: [] });

describe('kernel expressions', () => {
  // where(pos(col) > pos(row), x[5] gathered at row by idx[6], y[7] + acc)
  const gather: KExpr = { k: 'gather', access: access(5, [[2, 1]]), dtype: 'f32', axis: row, index: { k: 'load', access: access(6, [[2, 1]]), dtype: 'i32' } };
  const cond: KExpr = { k: 'compare', fn: 'gt', a: { k: 'iota', axis: col }, b: { k: 'iota', axis: row } };
  const e: KExpr = { k: 'where', c: cond, a: gather, b: add(load(7), { k: 'acc' }) };

  it('lists subexpressions in evaluation order, and rebuilds a node from new children', () => {
    expect(children(e)).toEqual([cond, gather, add(load(7), { k: 'acc' })]);
    expect(children(gather)).toEqual([gather.k === 'gather' && gather.index]);
    expect(subexpressions(e).map((x) => x.k)).toEqual(['where', 'compare', 'iota', 'iota', 'gather', 'load', 'binary', 'load', 'acc']);
    const swapped = withChildren(cond, [{ k: 'iota', axis: row }, { k: 'iota', axis: col }]);
    expect(swapped).toEqual({ k: 'compare', fn: 'gt', a: { k: 'iota', axis: row }, b: { k: 'iota', axis: col } });
  });

  it('maps from the root down (a replaced subtree is not entered) and folds from the leaves up', () => {
    const noAcc = mapExpr(e, (x) => (x.k === 'acc' ? { k: 'const', value: 0, dtype: 'f32' } : undefined));
    expect(accCount(e)).toBe(1);
    expect(accCount(noAcc)).toBe(0);
    // Replacing the gather whole: its index is never visited.
    let visited = 0;
    mapExpr(e, (x) => (x.k === 'gather' ? { k: 'const', value: 1, dtype: 'f32' } : x.k === 'load' && x.dtype === 'i32' ? (visited++, undefined) : undefined));
    expect(visited).toBe(0);
    expect(foldExpr<number>(e, (_, kids) => 1 + kids.reduce((a, b) => a + b, 0))).toBe(9);
  });

  it('finds loads (pre-order, a gather before its index), gathers by region, positions and variation along an axis', () => {
    expect(loadsOf(e).map((a) => a.value)).toEqual([5, 6, 7]);
    expect(gathersFrom(e, 5)).toBe(true);
    expect(gathersFrom(e, 7)).toBe(false);
    expect(gathersFrom(e, 50, (v) => v * 10)).toBe(true); // regions: value 5 lives in region 50
    expect([...iotaAxes(e).keys()]).toEqual([col.id, row.id]);
    expect(variesAlong(load(7, [[1, 8]]), col)).toBe(false);
    expect(variesAlong(load(7, [[1, 8]]), row)).toBe(true);
    expect(variesAlong(cond, col)).toBe(true);
  });
});

describe('kernels', () => {
  it('folds one kernel into another: nodes sorted, lines and reads once each, writes appended, a dropped read left out', () => {
    const a: Kernel = { ...map('a', [1, 2], [3]), nodes: [7, 3], lines: ['m.mdl:2'] };
    const b: Kernel = { ...map('b', [2, 3, 4], [5]), nodes: [5], lines: ['m.mdl:2', 'm.mdl:4'], temps: [{ node: 9, arena: 'f32', axes: [], size: 1 }] };
    absorb(a, b, (r) => r === 3);
    expect(a.nodes).toEqual([3, 5, 7]);
    expect(a.lines).toEqual(['m.mdl:2', 'm.mdl:4']);
    expect(a.reads).toEqual([1, 2, 4]);
    expect(a.writes).toEqual([3, 5]);
    expect(a.temps?.map((t) => t.node)).toEqual([9]);
  });

  it('conflicts when one writes what the other reads or writes, through in-place regions too', () => {
    const region = (v: number) => (v === 10 ? 1 : v); // 10 is written over 1
    expect(conflicts({ reads: [1], writes: [2] }, { reads: [3], writes: [4] }, region)).toBe(false);
    expect(conflicts({ reads: [1], writes: [2] }, { reads: [2], writes: [4] }, region)).toBe(true); // read after write
    expect(conflicts({ reads: [1], writes: [2] }, { reads: [3], writes: [1] }, region)).toBe(true); // write after read
    expect(conflicts({ reads: [], writes: [2] }, { reads: [], writes: [2] }, region)).toBe(true); // write after write
    expect(conflicts({ reads: [1], writes: [] }, { reads: [], writes: [10] }, region)).toBe(true); // in place over what the first reads
    expect(conflicts({ reads: [1], writes: [] }, { reads: [1], writes: [] }, region)).toBe(false); // reads never conflict
  });

  it('moves a kernel past those in between only when none conflicts (ends excluded, skipped ones ignored)', () => {
    const ks = [map('k0', [], [1]), map('k1', [1], [2]), map('k2', [], [3]), map('k3', [2], [4])];
    const mover = { reads: [3], writes: [5] };
    expect(canMove(ks, 3, 1, mover, (v) => v)).toBe(false); // k2 writes 3, which it reads
    expect(canMove(ks, 3, 2, mover, (v) => v)).toBe(true); // nothing strictly between 2 and 3
    expect(canMove(ks, 3, 1, mover, (v) => v, (t) => t === 2)).toBe(true); // k2 moves along
    expect(canMove(ks, 0, 3, { reads: [], writes: [9] }, (v) => v)).toBe(true);
  });

  it('lists every access and every iteration axis of a kernel once', () => {
    const k: MapKernel = { ...map('m', [], []), stores: [{ access: access(3, [[1, 8], [2, 1]]), value: add(load(1), load(2, [[2, 1]])), nodes: [3] }] };
    expect(accessesOf(k).map((a) => a.value)).toEqual([3, 1, 2]);
    expect(iterationAxes({ kind: 'maps', name: '', nodes: [], lines: [], reads: [], writes: [], parts: [k, { ...k, axes: [col] }] })).toEqual([row, col]);
  });

  it('lists the expressions of a kernel, those of the kernels fused into it too', () => {
    const a = add(load(1), load(2));
    const b = load(4);
    const k: MapKernel = { ...map('m', [], []), stores: [{ access: access(3, [[1, 8], [2, 1]]), value: a, nodes: [3] }] };
    const other: MapKernel = { ...map('n', [], []), stores: [{ access: access(5, [[2, 1]]), value: b, nodes: [5] }] };
    expect(exprsOf(k)).toEqual([a]);
    expect(exprsOf({ kind: 'maps', name: '', nodes: [], lines: [], reads: [], writes: [], parts: [k, other] })).toEqual([a, b]);
  });
});

describe('ids', () => {
  it('gives compiler-made values ids above every node, the same id to the same copy, and says what each is', () => {
    const g: Graph = { ...emptyGraph(), nodes: [{ id: 0, attrs: { op: 'param', name: 'w' }, inputs: [], type: { dtype: 'f32', axes: [row, col] } }] };
    const values = new ValueTable(g);
    expect(values.get(0)).toEqual({ node: 0, arena: 'f32', axes: [row, col], size: 24 });
    const t = values.temporary([row]);
    const u = values.temporary([row]);
    expect(t.node).toBeGreaterThanOrEqual(1);
    expect(u.node).not.toBe(t.node);
    const c = values.copy('transposed', 0, [col, row]);
    expect(values.copy('transposed', 0, [col, row]).node).toBe(c.node);
    expect(values.copy('relayout', 0, [col, row]).node).not.toBe(c.node);
    expect([values.kind(0), values.kind(t.node), values.kind(c.node)]).toEqual(['node', 'temporary', 'transposed']);
    expect(values.original(c.node)).toBe(0);
    expect([values.label(0), values.label(c.node), values.label(t.node)]).toEqual(['%0', '%0ᵀ', `tmp#${t.node}`]);
    expect(() => values.get(999)).toThrow(/unknown value/);
  });

  it('gives the compiler\'s axes ids below every IR axis', () => {
    expect(isGroupAxis(groupAxis(3).id)).toBe(true);
    expect(groupAxis(3).id).toBeLessThan(0);
    expect(segmentAxis(8).id).toBeLessThan(0);
    expect(segmentAxis(8).id).not.toBe(groupAxis(3).id);
  });

  it('keeps each value in at most one group, and a group once', () => {
    const groups = new Groups();
    groups.add([1, 2, 3]);
    groups.add([1, 2, 3]);
    expect(groups.all()).toEqual([[1, 2, 3]]);
    expect(groups.groupOf(2)).toEqual([1, 2, 3]);
    expect(groups.fits([1, 2, 3])).toBe(true);
    expect(groups.fits([3, 2, 1])).toBe(false);
    expect(groups.fits([4, 5])).toBe(true);
    expect(() => groups.add([3, 4])).toThrow(/already grouped/);
  });
});

describe('names and listings', () => {
  it('names position variables after their axes, numbered when two share a name, and rejects foreign axes', () => {
    const seq2: Axis = { id: 7, name: 'seq', size: 4 };
    const name = axisNames([{ id: 5, name: 'seq', size: 4 }, row, seq2]);
    expect([name({ id: 5, name: '', size: 0 }), name(row), name(seq2)]).toEqual(['i_seq', 'i_row', 'i_seq_2']);
    expect(() => name(col)).toThrow(/not one the kernel iterates over/);
  });

  it('lists a kernel with its iteration space, reads and writes, and its stores over named axes', () => {
    const values = new ValueTable(emptyGraph());
    const t = values.temporary([row, col]).node;
    const k: MapKernel = { ...map('k001_map', [t], [t]), stores: [{ access: access(t, [[1, 8], [2, 1]]), value: { k: 'unary', fn: 'exp', x: { k: 'load', access: access(t, [[2, 1]]), dtype: 'f32' } }, nodes: [] }] };
    expect(kernelText(k, values)).toBe(`k001_map: map over [row=3, col=8]; reads tmp#${t}; writes tmp#${t}\n  tmp#${t}[row, col] = exp(tmp#${t}[col])\n`);
  });
});
