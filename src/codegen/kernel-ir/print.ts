/**
 * The kernel IR as text, for `mdlc build --emit kernels`: each kernel's kind, iteration space,
 * what it reads and writes, and its stores as expressions over stored values (`%12` is IR
 * node 12, `%12ᵀ` a parameter's transposed copy, `%12'` an activation in another layout,
 * `tmp#40` a temporary).
 */
import { BINARY, COMPARE } from '../../ir/ops/index.js';
import type { Axis, Graph } from '../../ir/types.js';
import { foldExpr } from './expr.js';
import type { ValueTable } from './ids.js';
import { iterationAxes } from './kernel.js';
import type { Access, Kernel, KExpr, Schedule, ValueId } from './types.js';

const axes = (xs: readonly Axis[]) => `[${xs.map((a) => `${a.name}=${a.size}`).join(', ')}]`;

/** An access as `value[axes it steps along, outermost first]` (axis names from the kernel's iteration axes; `skip`: a gather's axis). */
function accessText(a: Access, values: ValueTable, names: ReadonlyMap<number, string>, skip?: number): string {
  const along = [...a.strides]
    .filter(([id, s]) => s !== 0 && id !== skip)
    .sort((x, y) => y[1] - x[1])
    .map(([id]) => names.get(id) ?? `#${id}`);
  return `${values.label(a.value)}[${along.join(', ')}]`;
}

export function exprText(e: KExpr, values: ValueTable, names: ReadonlyMap<number, string>): string {
  return foldExpr<string>(e, (x, kids) => {
    switch (x.k) {
      case 'load':
        return accessText(x.access, values, names);
      case 'gather':
        return `${accessText(x.access, values, names, x.axis.id)} at ${x.axis.name} = ${kids[0]}`;
      case 'const':
        return String(x.value);
      case 'iota':
        return `pos(${x.axis.name})`;
      case 'acc':
        return 'acc';
      case 'local':
        return x.name;
      case 'unary':
        return x.fn === 'neg' ? `-${kids[0]}` : `${x.fn}(${kids[0]})`;
      case 'binary': {
        // As .mdl writes it: `(a + b)`, `max(a, b)`.
        const s = BINARY[x.fn].surface;
        return 'operator' in s ? `(${kids[0]} ${s.operator} ${kids[1]})` : `${s.call}(${kids.join(', ')})`;
      }
      case 'compare':
        return `(${kids[0]} ${COMPARE[x.fn].operator} ${kids[1]})`;
      case 'where':
        return `where(${kids.join(', ')})`;
      case 'cast':
        return `${x.to}(${kids[0]})`;
    }
  });
}

/** One kernel: a header line (name, kind, iteration space, reads and writes), then its body indented. */
export function kernelText(k: Kernel, values: ValueTable, indent = ''): string {
  const names = new Map(iterationAxes(k).map((a) => [a.id, a.name]));
  const e = (x: KExpr) => exprText(x, values, names);
  const at = (a: Access) => accessText(a, values, names);
  const list = (ids: readonly ValueId[]) => (ids.length ? ids.map((v) => values.label(v)).join(' ') : '-');
  const head = `${indent}${k.name || k.kind}: ${k.kind}`;
  const io = `reads ${list(k.reads)}; writes ${list(k.writes)}`;
  const body: string[] = [];
  let space = '';
  switch (k.kind) {
    case 'map':
      space = ` over ${axes(k.axes)}`;
      for (const st of k.stores) body.push(`${at(st.access)} = ${e(st.value)}`);
      break;
    case 'reduce':
      space = ` to ${axes(k.axes)} over ${axes(k.over)}`;
      for (const r of [k, ...(k.siblings ?? [])]) body.push(`${at(r.out)} = ${r.fn}(${e(r.value)})`);
      break;
    case 'softmax':
      space = ` of rows ${axes(k.axes)} along ${k.axis.name}`;
      body.push(`${at(k.out)} = softmax(${e(k.value)})`);
      for (const x of k.extra ?? []) body.push(`${at(x.access)} = ${e(x.value)}   (acc: the softmax)`);
      break;
    case 'ce_rows':
      space = ` of rows ${axes(k.axes)} along ${k.axis.name}`;
      body.push(`${at(k.out)} = logsumexp(${e(k.logits)}) - (that at ${k.axis.name} = ${e(k.target)})`);
      break;
    case 'scatter':
      space = ` to ${axes(k.axes)} over positions ${axes(k.positions)}`;
      body.push(`${at(k.out)} = Σ ${e(k.value)} where ${e(k.index)} = pos(${k.axis.name})`);
      break;
    case 'gemm':
      space = ` batch ${axes(k.batch)} m ${axes(k.m)} n ${axes(k.n)} k ${axes(k.k)}${k.kRange ? ` (k ${k.kRange.keep === 'le' ? '≤' : '≥'} ${names.get(k.kRange.row) ?? '?'})` : ''}`;
      body.push(`acc = ${at(k.a)} · ${at(k.b)}`);
      body.push(`${at(k.out)} = ${e(k.epilogue)}`);
      for (const x of k.extra ?? []) body.push(`${at(x.access)} = ${e(x.value)}   (acc: the stored output)`);
      break;
    case 'sum_squares':
      for (const p of k.parts) body.push(`${at(p.out)} = Σ ${values.label(p.input.value)}²`);
      break;
    case 'rows':
      space = ` of rows ${axes(k.rows)} along ${k.axis.name}, ${k.phases.length} phases`;
      for (const p of k.phases) body.push(kernelText(p, values).trimEnd());
      break;
    case 'maps':
      space = `, ${k.parts.length} parts`;
      for (const p of k.parts) body.push(kernelText(p, values).trimEnd());
      break;
    case 'segmented':
      space = ` of ${k.segments.length} segments, ${k.lanes} elements per invocation`;
      for (const st of k.stores) body.push(`slot ${st.slot} = ${e(st.value)}`);
      if (k.transposedCopy) body.push(`slot ${k.transposedCopy.slot} = transpose(store ${k.transposedCopy.of})`);
      for (const [i, s] of k.segments.entries()) body.push(`segment ${i}: ${s.size} elements, slots ${s.slots.map((a) => values.label(a.value)).join(' ')}${s.consts.length ? `, constants ${s.consts.join(' ')}` : ''}`);
      break;
  }
  return [`${head}${space}; ${io}`, ...body.flatMap((b) => b.split('\n').map((l) => `${indent}  ${l}`))].join('\n') + '\n';
}

/** The kernels of one schedule. */
export function scheduleText(s: Schedule): string {
  return s.kernels.map((k) => kernelText(k, s.values)).join('');
}

/** Names of IR nodes for a listing's legend: `%12 = q (transformer.mdl:32)`, for the nodes that have a name. */
export function legend(graph: Graph, ids: Iterable<ValueId>): string[] {
  const out: string[] = [];
  for (const id of new Set(ids)) {
    const n = graph.nodes[id];
    if (n?.name) out.push(`${`%${id}`} = ${n.name}${n.span ? ` (${n.span.file.split('/').pop()}:${n.span.line})` : ''}`);
  }
  return out;
}
