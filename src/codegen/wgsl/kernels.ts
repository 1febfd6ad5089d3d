/**
 * WGSL for the non-GEMM kernel kinds: map (fused elementwise), reduce, softmax, per-row
 * cross-entropy and deterministic scatter-add. All are one invocation per output element or
 * row, with loops for the reduced axes: barrier-free, which is what lavapipe runs fast, and
 * correct (if not optimal) on GPUs.
 */
import { REDUCE } from '../../ir/ops/index.js';
import type { Axis, ReduceFn } from '../../ir/types.js';
import { exprType, mapExpr, subexpressions, variesAlong } from '../kernel-ir/expr.js';
import { exprsOf, iterationAxes, segmentRowWidth } from '../kernel-ir/kernel.js';
import type { Access, CrossEntropyRowsKernel, Kernel, KExpr, MapKernel, MultiMapKernel, ReduceKernel, RowKernel, ScatterKernel, SegmentedMapKernel, SoftmaxKernel, SumSquaresKernel } from '../kernel-ir/types.js';
import { OFFSETS_DECLARATION, offsetTerm, RUNTIME_ZERO } from '../offsets.js';
import type { Target } from '../target.js';
import { accessIndex, axisNames, emitExpr, emitExpr4, extraHelpers, f32Literal, F32_VIEW, PRELUDE, store4, storeValue, vec4Readable, VEC4_VIEW, type ArenaView, type EmitContext } from './expr.js';
import { gemmWgsl } from './gemm.js';

const MAX_GROUPS = 65535;

export interface RenderedKernel {
  code: string;
  workgroupSize: [number, number, number];
  dispatch: [number, number, number];
  /** Bytes of workgroup memory the kernel declares (checked against the device's limit). */
  workgroupBytes: number;
}

/** Names of the position variables (see axisNames). */
type Names = (a: Axis) => string;
const cxFor = (ix: Names, view: ArenaView, extra: Partial<EmitContext> = {}): EmitContext => ({ index: ix, view, ...extra });

function count(axes: readonly Axis[]): number {
  return axes.reduce((n, a) => n * a.size, 1);
}

/** Declarations of the position variables of `axes` from a flat index `f` (last axis fastest). */
function decompose(ix: Names, axes: readonly Axis[], f = 'f'): string {
  const lines: string[] = [];
  let stride = 1;
  const strides: number[] = [];
  for (let i = axes.length - 1; i >= 0; i--) {
    strides[i] = stride;
    stride *= axes[i].size;
  }
  axes.forEach((a, i) => {
    const q = strides[i] === 1 ? f : `(${f} / ${strides[i]}u)`;
    lines.push(`  let ${ix(a)} = ${i === 0 ? q : `${q} % ${a.size}u`};`);
  });
  return lines.join('\n');
}

function loops(ix: Names, axes: readonly Axis[], body: string, indent = '  '): string {
  let open = '';
  let close = '';
  axes.forEach((a, d) => {
    const pad = indent + '  '.repeat(d);
    open += `${pad}for (var ${ix(a)}: u32 = 0u; ${ix(a)} < ${a.size}u; ${ix(a)} = ${ix(a)} + 1u) {\n`;
    close = `${pad}}\n` + close;
  });
  const pad = indent + '  '.repeat(axes.length);
  return open + body.split('\n').map((l) => pad + l).join('\n') + '\n' + close;
}

function grid(invocations: number, workgroup: number): [number, number, number] {
  const groups = Math.max(1, Math.ceil(invocations / workgroup));
  const x = Math.min(groups, MAX_GROUPS);
  return [x, Math.ceil(groups / x), 1];
}

/**
 * A kernel of `total` invocations, one per element or row, numbered by the flat index `f`:
 * the bindings of `view`, the helper functions, and the entry point, which returns past
 * `total` and then runs `body`. Workgroups are the target's size for `total` invocations.
 */
function flatKernel(t: Target, total: number, view: ArenaView, body: string, helpers?: string): RenderedKernel {
  const wg = t.workgroupSize(total);
  const code = `${view.declarations}${PRELUDE}${helpers ? `\n${helpers}\n` : ''}
@compute @workgroup_size(${wg})
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let f = gid.x + gid.y * nwg.x * ${wg}u;
  if (f >= ${total}u) { return; }
${body}}
`;
  return { code, workgroupSize: [wg, 1, 1], dispatch: grid(total, wg), workgroupBytes: 0 };
}

/** A map's work: invocations, the arena view it needs, and its statements (from the flat index `f`) in a given view. */
interface MapPart {
  invocations: number;
  view: ArenaView;
  body(view: ArenaView): string;
}

function mapKernel(k: MapKernel, t: Target, ix: Names): RenderedKernel {
  const part = mapPart(k, t, ix);
  return flatKernel(t, part.invocations, part.view, `${part.body(part.view)}\n`);
}

function mapPart(k: MapKernel, t: Target, ix: Names): MapPart {
  const vec = vec4MapPart(k, t, ix);
  if (vec) return vec;
  return {
    invocations: count(k.axes),
    view: F32_VIEW,
    body: (view) => {
      const cx = cxFor(ix, view);
      const stores = k.stores.map((s) => {
        const dtype = s.access.arena === 'f32' ? 'f32' : exprDtype(s.value);
        const value = storeValue(s.value, dtype, cx);
        if (s.access.arena !== 'f32') return `  iarena[${accessIndex(s.access, cx)}] = ${value};`;
        return `  ${view.store(accessIndex(s.access, cx), value)}`;
      });
      return `${decompose(ix, k.axes)}\n${stores.join('\n')}`;
    },
  };
}

/**
 * Four elements per invocation along the last axis, read and written as vec4s where the
 * layout allows: when every store is f32 and at least one is contiguous along that axis, and
 * there are at most the target's `vec4MaxStores` stores (vec4 bodies compile slower).
 */
function vec4MapPart(k: MapKernel, t: Target, ix: Names): MapPart | undefined {
  const lane = k.axes.at(-1);
  // Every store f32, at least one contiguous along the lane (others are written per component).
  if (!lane || lane.size % 4 !== 0 || k.stores.length > t.vec4MaxStores || !k.stores.every((s) => s.access.arena === 'f32') || !k.stores.some((s) => vec4Readable(s.access, lane))) return undefined;
  const cx = cxFor(ix, VEC4_VIEW);
  const body = k.stores.map((s) => `  ${store4(s.access, emitExpr4(s.value, cx, { lane }), cx, lane)}`);
  return { invocations: count(k.axes) / 4, view: VEC4_VIEW, body: () => `${lanePositions(ix, k.axes)}\n${body.join('\n')}` };
}

/**
 * Independent maps over different axes in one dispatch: invocation f runs part j when f falls
 * in its range (the optimizer's updates of parameters of every shape).
 */
function multiMapKernel(k: MultiMapKernel, t: Target, ix: Names): RenderedKernel {
  const parts = k.parts.map((p) => mapPart(p, t, ix));
  const view = parts.some((p) => p.view === VEC4_VIEW) ? VEC4_VIEW : F32_VIEW;
  const total = parts.reduce((n, p) => n + p.invocations, 0);
  const fns = parts.map((p, j) => `fn part${j}(f: u32) {\n${p.body(view)}\n}`);
  let start = 0;
  const branches = parts.map((p, j) => {
    const from = start;
    start += p.invocations;
    return `${j === 0 ? '  if' : ' else if'} (f < ${start}u) { part${j}(f${from ? ` - ${from}u` : ''}); }`;
  });
  return flatKernel(t, total, view, `${branches.join('')}\n`, fns.join('\n\n'));
}

/**
 * A segmented map: invocation f finds its segment by binary search over the table's first
 * invocations (uniform reads, the same path for a whole workgroup but at segment edges), then
 * runs the body with that segment's offsets and constants. The table is the dispatch's
 * offsets uniform `off` (declared by the program), row s at s × width.
 */
function segmentedKernel(k: SegmentedMapKernel, t: Target, ix: Names): RenderedKernel {
  const width = segmentRowWidth(k);
  const slots = k.segments[0].slots.length;
  const consts = k.segments[0].consts.length;
  const total = k.segments.reduce((n, s) => n + s.size / k.lanes, 0);
  const e = ix(k.flat);
  const L: string[] = [];
  L.push('  var seg = 0u;');
  for (let h = 1 << Math.floor(Math.log2(Math.max(1, k.segments.length - 1))); h >= 1 && k.segments.length > 1; h >>= 1) {
    L.push(`  if (seg + ${h}u < ${k.segments.length}u && tab((seg + ${h}u) * ${width}u) <= f) { seg = seg + ${h}u; }`);
  }
  L.push(`  let row = seg * ${width}u;`);
  L.push(`  let ${e} = (f - tab(row))${k.lanes === 4 ? ' * 4u' : ''};`);
  for (let j = 0; j < slots; j++) L.push(`  let o${j} = tab(row + ${1 + j}u);`);
  for (let j = 0; j < consts; j++) L.push(`  let c${j} = bitcast<f32>(tab(row + ${1 + slots + j}u));`);
  const stored = k.stores.map((_, n) => `v${n}`);
  const view = k.lanes === 4 ? VEC4_VIEW : F32_VIEW;
  const cx = cxFor(ix, view, { locals: new Map([...Array.from({ length: consts }, (_, j) => [`c${j}`, `c${j}`] as const), ...stored.map((v) => [v, v] as const)]) });
  const at = (j: number) => `o${j} + ${e}`;
  // Every value first, then every store: a later value that reads an element an earlier store
  // wrote (AdamW's update reads the new m and v) uses the local instead, and with no store in
  // between LLVM can share the loads (the gradient is read three times). Measured 10–20 %
  // faster for the optimizer's kernel. Slots are regions, so a load of slot j at the element
  // after store j to slot j reads exactly that store's value.
  const written = new Map<number, string>();
  k.stores.forEach((st, n) => {
    const value = mapExpr(st.value, (x) => {
      if (x.k !== 'load') return undefined;
      const slot = [...written.keys()].find((j) => x.access.base?.in === 'segment' && x.access.base.slot === j && x.access.strides.get(k.flat.id) === 1);
      return slot === undefined ? undefined : { k: 'local', name: written.get(slot)! };
    });
    L.push(k.lanes === 4 ? `  let v${n} = ${emitExpr4(value, cx, { lane: k.flat, vectors: new Set(stored) })};` : `  let v${n} = ${emitExpr(value, cx)};`);
    written.set(st.slot, `v${n}`);
  });
  k.stores.forEach((st, n) => L.push(k.lanes === 4 ? `  arena[(${at(st.slot)}) >> 2u] = v${n};` : `  arena[${at(st.slot)}] = v${n};`));
  if (k.transposedCopy) {
    // Element x = r·cols + c of the rows × cols view goes to c·rows + r of the copy.
    const { of, slot } = k.transposedCopy;
    L.push(`  let rows = tab(row + ${width - 2}u);`);
    L.push(`  let cols = tab(row + ${width - 1}u);`);
    L.push('  if (cols != 0u) {');
    const put = (x: string, v: string) => (k.lanes === 4 ? `{ let t = o${slot} + (${x} % cols) * rows + ${x} / cols; arena[t >> 2u][t & 3u] = ${v}; }` : `arena[o${slot} + (${x} % cols) * rows + ${x} / cols] = ${v};`);
    if (k.lanes === 4) for (let c = 0; c < 4; c++) L.push(`    ${put(`(${e} + ${c}u)`, `v${of}[${c}]`)}`);
    else L.push(`    ${put(e, `v${of}`)}`);
    L.push('  }');
  }
  const tab = 'fn tab(j: u32) -> u32 { return off[j >> 2u][j & 3u]; }';
  return flatKernel(t, total, view, `${L.join('\n')}\n`, tab);
}

/** Whether an i32-arena store holds a boolean (comparisons) or an integer. */
function exprDtype(e: KExpr): 'i32' | 'bool' {
  return exprType(e) === 'bool' ? 'bool' : 'i32';
}

/** What follows a reduction's accumulator to make its result: the mean's scale by 1 / the count of `over`. */
function finish(fn: ReduceFn, over: readonly Axis[]): string {
  return REDUCE[fn].averages ? ` * ${f32Literal(1 / count(over))}` : '';
}

function reduceKernel(k: ReduceKernel, t: Target, ix: Names): RenderedKernel {
  const vec = vec4Reduce(k, t, ix);
  if (vec) return vec;
  const cx = cxFor(ix, F32_VIEW);
  // One accumulator per reduction (siblings share the loop and its position variables).
  const parts = [{ fn: k.fn, value: k.value, out: k.out }, ...(k.siblings ?? [])];
  const acc = (j: number) => (parts.length === 1 ? 'acc' : `acc${j}`);
  const inits = parts.map((p, j) => `  var ${acc(j)}: f32 = ${REDUCE[p.fn].wgsl.init};`).join('\n');
  const steps = parts.map((p, j) => `${acc(j)} = ${REDUCE[p.fn].wgsl.combine(acc(j), emitExpr(p.value, cx))};`).join('\n');
  const stores = parts.map((p, j) => `  arena[${accessIndex(p.out, cx)}] = ${acc(j)}${finish(p.fn, k.over)};`).join('\n');
  return flatKernel(t, count(k.axes), F32_VIEW, `${decompose(ix, k.axes)}\n${inits}\n${loops(ix, k.over, steps)}${stores}\n`);
}

/**
 * Four consecutive outputs along the last axis per invocation, when every output is contiguous
 * there (bias and layernorm gradients: sums over (batch, seq) of rows read as vec4s).
 */
function vec4Reduce(k: ReduceKernel, t: Target, ix: Names): RenderedKernel | undefined {
  const lane = k.axes.at(-1);
  const parts = [{ fn: k.fn, value: k.value, out: k.out }, ...(k.siblings ?? [])];
  if (!lane || lane.size % 4 !== 0 || !parts.every((p) => vec4Readable(p.out, lane) && exprType(p.value) === 'f32')) return undefined;
  const cx = cxFor(ix, VEC4_VIEW);
  const acc = (j: number) => `acc${j}`;
  const inits = parts.map((p, j) => `  var ${acc(j)} = vec4f(${REDUCE[p.fn].wgsl.init});`).join('\n');
  const value = (e: KExpr) => emitExpr4(e, cx, { lane });
  const steps = parts.map((p, j) => `${acc(j)} = ${REDUCE[p.fn].wgsl.combine(acc(j), value(p.value))};`).join('\n');
  const stores = parts.map((p, j) => `  arena[(${accessIndex(p.out, cx)}) >> 2u] = ${acc(j)}${finish(p.fn, k.over)};`).join('\n');
  return flatKernel(t, count(k.axes) / 4, VEC4_VIEW, `${lanePositions(ix, k.axes)}\n${inits}\n${loops(ix, k.over, steps)}${stores}\n`);
}

/** Positions of `axes` from a flat index over (axes..., last / 4): the last axis's position times 4. */
function lanePositions(ix: Names, axes: readonly Axis[]): string {
  const lane = axes[axes.length - 1];
  const lines: string[] = [`  let ${ix(lane)} = 4u * (f % ${lane.size / 4}u);`];
  let stride = lane.size / 4;
  for (let i = axes.length - 2; i >= 0; i--) {
    lines.unshift(`  let ${ix(axes[i])} = ${i === 0 ? `(f / ${stride}u)` : `(f / ${stride}u) % ${axes[i].size}u`};`);
    stride *= axes[i].size;
  }
  return lines.join('\n');
}

/** A loop over the positions of one row along `axis`. */
function rowLoop(ix: Names, axis: Axis): (body: string) => string {
  const a = ix(axis);
  return (body) => `  for (var ${a}: u32 = 0u; ${a} < ${axis.size}u; ${a} = ${a} + 1u) {\n    ${body}\n  }\n`;
}

/** The row's maximum `m` and the sum `s` of exp(v - m): the two passes of a stable softmax. */
function rowMaxAndSum(v: string, loop: (body: string) => string): string {
  return `  var m: f32 = ${f32Literal(-Infinity)};
${loop(`m = max(m, ${v});`)}  var s: f32 = 0.0;
${loop(`s = s + exp(${v} - m);`)}`;
}

function softmaxKernel(k: SoftmaxKernel, t: Target, ix: Names): RenderedKernel {
  const cx = cxFor(ix, F32_VIEW);
  const v = emitExpr(k.value, cx);
  const loop = rowLoop(ix, k.axis);
  const write = [`let y = exp(${v} - m) * r;`, `arena[${accessIndex(k.out, cx)}] = y;`, ...(k.extra ?? []).map((x) => `arena[${accessIndex(x.access, cx)}] = ${emitExpr(x.value, { ...cx, acc: 'y' })};`)];
  return flatKernel(t, count(k.axes), F32_VIEW, `${decompose(ix, k.axes)}\n${rowMaxAndSum(v, loop)}  let r = 1.0 / s;\n${loop(write.join('\n    '))}`);
}

function crossEntropyRows(k: CrossEntropyRowsKernel, t: Target, ix: Names): RenderedKernel {
  const cx = cxFor(ix, F32_VIEW);
  const v = emitExpr(k.logits, cx);
  const a = ix(k.axis);
  return flatKernel(
    t,
    count(k.axes),
    F32_VIEW,
    `${decompose(ix, k.axes)}
${rowMaxAndSum(v, rowLoop(ix, k.axis))}  var picked: f32;
  {
    let ${a} = u32(${emitExpr(k.target, cx)});
    picked = ${v};
  }
  arena[${accessIndex(k.out, cx)}] = m + log(s) - picked;
`,
  );
}

function scatterKernel(k: ScatterKernel, t: Target, ix: Names): RenderedKernel {
  const vec = vec4Scatter(k, t, ix);
  if (vec) return vec;
  const cx = cxFor(ix, F32_VIEW);
  const idx = emitExpr(k.index, cx);
  const v = emitExpr(k.value, cx);
  return flatKernel(
    t,
    count(k.axes),
    F32_VIEW,
    `${decompose(ix, k.axes)}
  let row = i32(${ix(k.axis)});
  var acc: f32 = 0.0;
${loops(ix, k.positions, `if (${idx} == row) { acc = acc + ${v}; }`)}  arena[${accessIndex(k.out, cx)}] = acc;
`,
  );
}

/**
 * Four consecutive output elements along the last axis per invocation, when the output is
 * contiguous there and the index does not vary along it (an embedding's gradient: each
 * position's index is read once for four columns, and the values are read as vec4s).
 */
function vec4Scatter(k: ScatterKernel, t: Target, ix: Names): RenderedKernel | undefined {
  const lane = k.axes.at(-1)!;
  if (lane === k.axis || lane.size % 4 !== 0 || !vec4Readable(k.out, lane) || variesAlong(k.index, lane) || exprType(k.value) !== 'f32') return undefined;
  const cx = cxFor(ix, VEC4_VIEW);
  const idx = emitExpr(k.index, cx);
  const v = emitExpr4(k.value, cx, { lane });
  return flatKernel(
    t,
    count(k.axes) / 4,
    VEC4_VIEW,
    `${lanePositions(ix, k.axes)}
  let row = i32(${ix(k.axis)});
  var acc = vec4f(0.0);
${loops(ix, k.positions, `if (${idx} == row) { acc = acc + ${v}; }`)}  arena[(${accessIndex(k.out, cx)}) >> 2u] = acc;
`,
  );
}

/** Invocation i sums the squares of region i, read as a flat range (tables give offsets and sizes). */
function sumSquaresKernel(k: SumSquaresKernel, t: Target, ix: Names): RenderedKernel {
  const n = k.parts.length;
  const table = (xs: string[]) => `array<u32, ${n}>(${xs.join(', ')})`;
  return flatKernel(
    t,
    n,
    F32_VIEW,
    `  var inputs = ${table(k.parts.map((p) => offsetTerm(p.input)))};
  var outputs = ${table(k.parts.map((p) => offsetTerm(p.out)))};
  var sizes = ${table(k.parts.map((p) => `${p.size}u`))};
  let base = inputs[f];
  let count = sizes[f];
  var acc: f32 = 0.0;
  for (var i: u32 = 0u; i < count; i = i + 1u) {
    let x = arena[base + i];
    acc = acc + x * x;
  }
  arena[outputs[f]] = acc;
`,
  );
}

/** One invocation per row; each phase a loop over the row's axis (a reduction, or the row's stores). */
function rowKernel(k: RowKernel, t: Target, ix: Names): RenderedKernel {
  const locals = new Map<string, string>();
  const cx = cxFor(ix, F32_VIEW, { locals });
  // Per-row values computed by earlier phases, by the access they were stored through.
  const rowValues = new Map<string, string>();
  let hoisted = 0;
  /**
   * `e` ready for a loop over the row: reads of an earlier phase's per-row value use its local,
   * and what does not vary along the row (a row's mean, rsqrt(var + eps)) is computed once
   * before the loop. Lanes are rows, so such a read
   * is a gather per lane; and LLVM cannot hoist it itself, since the loop stores into the
   * same arena.
   */
  const prepare = (e: KExpr, before: string[]): KExpr => {
    const withRows = mapExpr(e, (x) => (x.k === 'load' && rowValues.has(accessKey(x.access)) ? { k: 'local', name: rowValues.get(accessKey(x.access))! } : undefined));
    const seen = new Map<string, string>();
    return mapExpr(withRows, (x) => {
      if (x.k === 'const' || x.k === 'local' || x.k === 'iota' || exprType(x) !== 'f32' || variesAlong(x, k.axis)) return undefined;
      const text = emitExpr(x, cx);
      let name = seen.get(text);
      if (!name) {
        name = `h${hoisted++}`;
        seen.set(text, name);
        locals.set(name, name);
        before.push(`  let ${name} = ${text};`);
      }
      return { k: 'local', name };
    });
  };
  const phases = k.phases.map((p, j) => {
    const before: string[] = [];
    if (p.kind === 'reduce') {
      const r = REDUCE[p.fn].wgsl;
      const value = prepare(p.value, before);
      const name = `row${j}`;
      locals.set(name, name);
      rowValues.set(accessKey(p.out), name);
      return `${before.join('\n')}${before.length ? '\n' : ''}  var acc${j}: f32 = ${r.init};\n${loops(ix, [k.axis], `acc${j} = ${r.combine(`acc${j}`, emitExpr(value, cx))};`)}  let ${name} = acc${j}${finish(p.fn, [k.axis])};\n  arena[${accessIndex(p.out, cx)}] = ${name};`;
    }
    const stores = p.stores.map((st) => {
      const arena = st.access.arena === 'f32' ? 'arena' : 'iarena';
      const dtype = st.access.arena === 'f32' ? 'f32' : exprDtype(st.value);
      return `${arena}[${accessIndex(st.access, cx)}] = ${storeValue(prepare(st.value, before), dtype, cx)};`;
    });
    return `${before.join('\n')}${before.length ? '\n' : ''}${loops(ix, [k.axis], stores.join('\n')).replace(/\n$/, '')}`;
  });
  return flatKernel(t, count(k.rows), F32_VIEW, `${decompose(ix, k.rows)}\n${phases.join('\n')}\n`);
}

/** A key for "the same element of the same region": value, offset and strides. */
function accessKey(a: Access): string {
  return `${a.arena}:${a.value}:${a.offset}:${[...a.strides].filter(([, st]) => st !== 0).sort((x, y) => x[0] - y[0]).join(';')}`;
}

/**
 * Render any kernel for a target. With `offsetsUniform`, the kernel declares the per-dispatch
 * offsets uniform that its run-time offsets (offsets.ts) and segment tables read.
 */
export function renderKernel(k: Kernel, target: Target, options: { offsetsUniform?: boolean } = {}): RenderedKernel {
  const r = render(k, target, axisNames(iterationAxes(k)), options.offsetsUniform ? RUNTIME_ZERO : undefined);
  // Helper functions beyond the prelude's, for the unary functions the kernel applies.
  const fns = new Set(exprsOf(k).flatMap(subexpressions).flatMap((e) => (e.k === 'unary' ? [e.fn] : [])));
  const helpers = extraHelpers(fns);
  const code = `${options.offsetsUniform ? OFFSETS_DECLARATION : ''}${r.code}${helpers ? `\n${helpers}` : ''}`;
  return { ...r, code };
}

function render(k: Kernel, t: Target, ix: Names, runtimeZero: string | undefined): RenderedKernel {
  switch (k.kind) {
    case 'map':
      return mapKernel(k, t, ix);
    case 'maps':
      return multiMapKernel(k, t, ix);
    case 'reduce':
      return reduceKernel(k, t, ix);
    case 'softmax':
      return softmaxKernel(k, t, ix);
    case 'ce_rows':
      return crossEntropyRows(k, t, ix);
    case 'scatter':
      return scatterKernel(k, t, ix);
    case 'gemm':
      return gemmWgsl(k, t.gemm, { rules: t.register, ...(runtimeZero ? { runtimeZero } : {}) });
    case 'sum_squares':
      return sumSquaresKernel(k, t, ix);
    case 'rows':
      return rowKernel(k, t, ix);
    case 'segmented':
      return segmentedKernel(k, t, ix);
  }
}
