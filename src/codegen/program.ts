/**
 * From a checked model to a program plan: the training step, evaluation and forward pass
 * scheduled into kernels over one set of buffers, every kernel rendered to WGSL, and the
 * layout of parameters, optimizer state, inputs and outputs in the arenas. The TypeScript
 * emitter (emit.ts) turns the plan into `model.ts`; `report.json` is derived from it too.
 */
import type { ElaboratedModel } from '../ir/elaborate/model.js';
import { buildTrainStep, type TrainStep } from '../ir/optimizer/index.js';
import type { Axis, Graph, IRNode } from '../ir/types.js';
import { accessesOf, GROUP_AXIS, groupSpacing, planBuffers, resolveOffsets, type BufferPlan } from './buffers.js';
import { arenaOf, layoutStrides, schedule, type Schedule, type Value } from './schedule.js';
import { segmentTable, segmentUpdates, type ParamUpdate } from './segments.js';
import { planActivationCopies } from './copies.js';
import { markCausalGemms } from './zeros.js';
import type { Access, Arena, GemmKernel, Kernel, KExpr, MapKernel, Store } from './spec.js';
import { renderKernel, type GemmVariant } from './wgsl/kernels.js';
import type { Init } from '../ir/types.js';

export interface TensorSlot {
  name: string;
  arena: Arena;
  offset: number;
  size: number;
  /** Axis names and sizes of the layout (row-major). */
  axes: { name: string; size: number }[];
}

export interface ParamSlot extends TensorSlot {
  init: Init;
  m: number;
  v: number;
  lrGroup: number;
  weightDecay: number;
  /**
   * A second copy of the parameter in another axis order (`perm[j]` is the parameter axis that
   * is the copy's j-th), kept equal to it by the optimizer's update, for contractions that would
   * otherwise read it along the contracted axis (the slow case of the register GEMM).
   */
  transposed?: { offset: number; perm: number[] };
}

export interface KernelCall {
  /** The pipeline (distinct WGSL) this dispatch runs. */
  kernel: string;
  dispatch: [number, number, number];
  /** Arena offsets of the regions it accesses, in the kernel's offset slots (`off[...]`). */
  offsets: number[];
  /** What the dispatch computes, in .mdl terms (for the comment in model.ts). */
  what: string;
  /** An IR node it computes that has a source span (for diagnostics), if any. */
  node?: number;
}

export interface KernelSource {
  name: string;
  code: string;
  /** The comment that heads the .wgsl file: IR nodes and the .mdl lines they come from. */
  comment: string;
  kind: Kernel['kind'];
  /** Invocations per workgroup along x, y, z, and the bytes of workgroup memory it declares (device limits). */
  workgroupSize: [number, number, number];
  workgroupBytes: number;
  flops: number;
  bytes: number;
  /** Every dispatch that runs this kernel: its IR nodes and .mdl lines. */
  uses: string[];
}

export type EntryName = 'train' | 'eval' | 'forward';

export interface ProgramPlan {
  model: string;
  gemmVariant: GemmVariant;
  arenas: Record<Arena, number>;
  params: ParamSlot[];
  /** Inputs written by the host before a call: token windows and per-step scalars. */
  inputs: TensorSlot[];
  outputs: { loss: TensorSlot; gradNorm: TensorSlot; logits: TensorSlot };
  lrGroups: { input: string; pattern?: string }[];
  kernels: KernelSource[];
  entries: Record<EntryName, KernelCall[]>;
  peakBytes: number;
}

function slot(name: string, n: IRNode, offset: number): TensorSlot {
  return { name, arena: arenaOf(n), offset, size: n.type.axes.reduce((s, a) => s * a.size, 1), axes: n.type.axes.map((a) => ({ name: a.name, size: a.size })) };
}

function valueOf(n: IRNode): Value {
  return { node: n.id, arena: arenaOf(n), axes: n.type.axes, size: n.type.axes.reduce((s, a) => s * a.size, 1) };
}

export function planProgram(model: ElaboratedModel, options: { gemmVariant: GemmVariant; step?: TrainStep }): ProgramPlan {
  const step = options.step ?? buildTrainStep(model);
  const g = step.graph;
  const logits = model.logits;
  const trainOutputs = [step.loss, step.gradNorm, ...step.params.flatMap((p) => [p.newParam, p.newM, p.newV])];
  const entries: [EntryName, number[]][] = [
    ['train', trainOutputs],
    ['eval', [step.loss]],
    ['forward', [logits]],
  ];
  // In-place updates: new parameters and optimizer state overwrite the old.
  const aliases = new Map<number, number>();
  for (const p of step.params) {
    aliases.set(p.newParam, p.param.node);
    aliases.set(p.newM, p.m);
    aliases.set(p.newV, p.v);
  }
  const scheds: Schedule[] = entries.map(([, outs]) => schedule(g, { outputs: outs, aliases }));
  const transposed = options.gemmVariant === 'register' ? planTransposedParams(g, step, scheds) : new Map<number, TransposedParam>();

  // Persistent: parameters, optimizer state, inputs, and what the host reads back.
  const persistentNodes = new Set<number>([...g.params.map((p) => p.node), ...g.inputs.map((i) => i.node), step.loss, step.gradNorm, logits]);
  const persistent = [...[...persistentNodes].map((id) => valueOf(g.nodes[id])), ...[...transposed.values()].map((t) => t.value)];
  // Horizontal fusion: GEMMs that share their first operand run as one (q, k and v; their
  // weight gradients), their other operands and outputs placed one after another.
  const persistentIds = new Set(persistent.map((v) => v.node));
  // Ids are regions to the buffer planner: a temporary with a persistent value's id would share its region.
  for (const sc of scheds) for (const t of sc.temps.values()) if (persistentIds.has(t.node)) throw new Error(`internal: kernel temporary ${t.node} has the id of a persistent value`);
  const groups = new Map<string, number[]>();
  const persistentSize = new Map(persistent.map((v) => [v.node, v.size]));
  // Every parameter's update in one table-driven kernel (see segments.ts).
  const updates: ParamUpdate[] = step.params.map((p) => {
    const t = transposed.get(p.param.node);
    return { axes: g.nodes[p.param.node].type.axes, values: [p.newM, p.newV, p.newParam], ...(t ? { copy: { value: t.value.node, of: p.newParam } } : {}) };
  });
  // Activations that GEMMs read in another layout get a copy; never persistent or in-place values.
  const uncopied = new Set([...persistentIds, ...aliases.keys(), ...aliases.values()]);
  scheds.forEach((sc, i) => {
    const fused = fuseSummedGemms(fuseSiblingGemms(sc, persistentIds, aliases, groups), persistentSize, aliases, groups);
    scheds[i] = combineMaps(entries[i][0] === 'train' ? segmentUpdates(fused, updates, aliases, MAX_OFFSET_SLOTS) : fused, aliases);
    markCausalGemms(scheds[i], g);
    if (options.gemmVariant === 'register') planActivationCopies(scheds[i], groups, uncopied);
  });
  const plans = planBuffers(scheds, { persistent, aliases, groups: [...groups.values()] });
  scheds.forEach((s, i) => {
    resolveOffsets(s.kernels, plans[i]);
    checkInPlace(s, aliases);
  });

  const regionOf = (plan: BufferPlan, id: number) => plan.regions.get(id)!.offset;
  const trainPlan = plans[0];
  const kernels: KernelSource[] = [];
  const calls: Record<EntryName, KernelCall[]> = { train: [], eval: [], forward: [] };
  // Kernels read their regions' offsets from a uniform, so kernels that differ only in where
  // their data lives (the same op in every layer) share one WGSL module and one pipeline.
  const byCode = new Map<string, KernelSource>();
  entries.forEach(([entry], i) => {
    for (const k of scheds[i].kernels) {
      k.name = `${entry}_${k.name}`;
      const offsets = k.kind === 'segmented' ? segmentTable(k) : parameterizeOffsets(k);
      if (offsets.length > MAX_OFFSET_SLOTS) throw new Error(`internal: kernel ${k.name} needs ${offsets.length} offset slots`);
      const r = renderKernel(k, options.gemmVariant);
      const code = offsetsFromUniform(r.code, offsets.length);
      let source = byCode.get(code);
      if (!source) {
        source = { name: `${k.kind}_${byCode.size}`, code, comment: '', kind: k.kind, workgroupSize: r.workgroupSize, workgroupBytes: workgroupBytes(code), flops: flopsOf(k), bytes: bytesOf(k), uses: [] };
        byCode.set(code, source);
        kernels.push(source);
      }
      source.uses.push(kernelUse(k, g));
      const node = k.nodes.find((id) => g.nodes[id]?.span);
      calls[entry].push({ kernel: source.name, dispatch: r.dispatch, offsets, what: describe(k, g), ...(node === undefined ? {} : { node }) });
    }
  });
  for (const k of kernels) {
    k.comment = kernelComment(k);
    k.code = `${k.comment}\n${k.code}`;
  }

  const params: ParamSlot[] = step.params.map((p) => ({
    ...slot(p.param.name, g.nodes[p.param.node], regionOf(trainPlan, p.param.node)),
    init: p.param.init,
    m: regionOf(trainPlan, p.m),
    v: regionOf(trainPlan, p.v),
    lrGroup: p.lrGroup,
    weightDecay: p.weightDecay,
    ...(transposed.has(p.param.node) ? { transposed: { offset: regionOf(trainPlan, transposed.get(p.param.node)!.value.node), perm: transposed.get(p.param.node)!.perm } } : {}),
  }));
  const stateInputs = new Set(step.params.flatMap((p) => [p.m, p.v]));
  const inputs = g.inputs.filter((i) => !stateInputs.has(i.node)).map((i) => slot(i.name, g.nodes[i.node], regionOf(trainPlan, i.node)));
  return {
    model: model.name,
    gemmVariant: options.gemmVariant,
    arenas: trainPlan.arenaSize,
    params,
    inputs,
    outputs: {
      loss: slot('loss', g.nodes[step.loss], regionOf(trainPlan, step.loss)),
      gradNorm: slot('grad_norm', g.nodes[step.gradNorm], regionOf(trainPlan, step.gradNorm)),
      logits: slot(model.outputName, g.nodes[logits], regionOf(trainPlan, logits)),
    },
    lrGroups: step.lrGroups.map((l) => ({ input: l.input, pattern: l.pattern })),
    kernels,
    entries: calls,
    peakBytes: trainPlan.peakBytes,
  };
}

/**
 * Stores of all parts together at most, for maps combined into one dispatch. LLVM (lavapipe)
 * compiles a kernel that branches over large bodies very slowly: the optimizer's six update
 * maps of the nanoGPT configuration as one kernel took 198 s to compile, against about 1 s
 * each; small ones (the embeddings' updates) combine cheaply.
 */
export const COMBINE_MAX_STORES = 8;

/**
 * Runs of adjacent maps over different axes that share no data (the optimizer's updates of
 * parameters of different shapes) become one dispatch, each map on its own invocations, while
 * their stores number at most COMBINE_MAX_STORES.
 */
export function combineMaps(s: Schedule, aliases: ReadonlyMap<number, number>): Schedule {
  const region = (v: number) => aliases.get(v) ?? v;
  const out: Schedule = { kernels: [], values: s.values, reads: [], writes: [], temps: new Map() };
  const flush = (run: number[]) => {
    if (run.length === 1) {
      const i = run[0];
      if (s.temps.has(i)) out.temps.set(out.kernels.length, s.temps.get(i)!);
      out.kernels.push(s.kernels[i]);
      out.reads.push(s.reads[i]);
      out.writes.push(s.writes[i]);
      return;
    }
    const parts = run.map((i) => s.kernels[i] as MapKernel);
    out.kernels.push({ kind: 'maps', name: parts[0].name, nodes: [...new Set(parts.flatMap((p) => p.nodes))].sort((a, b) => a - b), lines: [...new Set(parts.flatMap((p) => p.lines))], parts });
    out.reads.push([...new Set(run.flatMap((i) => s.reads[i]))]);
    out.writes.push(run.flatMap((i) => s.writes[i]));
  };
  let run: number[] = [];
  let runReads = new Set<number>();
  let runWrites = new Set<number>();
  s.kernels.forEach((k, i) => {
    const reads = s.reads[i].map(region);
    const writes = [...writtenRegions(s, i, aliases)];
    const stores = (j: number) => (s.kernels[j] as MapKernel).stores.length;
    const independent =
      k.kind === 'map' &&
      !s.temps.has(i) &&
      run.length > 0 &&
      run.reduce((n, j) => n + stores(j), stores(i)) <= COMBINE_MAX_STORES &&
      !reads.some((r) => runWrites.has(r)) &&
      !writes.some((w) => runWrites.has(w) || runReads.has(w));
    if (!independent) {
      if (run.length) flush(run);
      run = [];
      runReads = new Set();
      runWrites = new Set();
      if (k.kind !== 'map' || s.temps.has(i)) {
        flush([i]);
        return;
      }
    }
    run.push(i);
    for (const r of reads) runReads.add(r);
    for (const w of writes) runWrites.add(w);
  });
  if (run.length) flush(run);
  return out;
}

/** The regions kernel t of `s` writes: its values (in-place updates: their target's) and any store added after scheduling. */
function writtenRegions(s: Schedule, t: number, aliases: ReadonlyMap<number, number>): Set<number> {
  const k = s.kernels[t];
  const out = new Set(s.writes[t].map((w) => aliases.get(w) ?? w));
  for (const m of k.kind === 'map' ? [k] : k.kind === 'maps' ? k.parts : []) for (const st of m.stores) out.add(aliases.get(st.access.value) ?? st.access.value);
  return out;
}

/** A kernel that takes another's place in a schedule, with what it reads and (if changed) writes. */
interface Replacement {
  kernel: Kernel;
  reads: number[];
  writes?: number[];
}

/** `s` without the kernels in `removed` and with `replaced` ones swapped in (temporaries follow their kernels). */
function rebuild(s: Schedule, removed: ReadonlySet<number>, replaced: ReadonlyMap<number, Replacement>): Schedule {
  if (!replaced.size && !removed.size) return s;
  const out: Schedule = { kernels: [], values: s.values, reads: [], writes: [], temps: new Map() };
  s.kernels.forEach((k, i) => {
    if (removed.has(i)) return;
    if (s.temps.has(i)) out.temps.set(out.kernels.length, s.temps.get(i)!);
    const r = replaced.get(i);
    out.kernels.push(r?.kernel ?? k);
    out.reads.push(r?.reads ?? s.reads[i]);
    out.writes.push(r?.writes ?? s.writes[i]);
  });
  return out;
}

/**
 * GEMMs with the same first operand and the same shapes and layouts (x·Wq, x·Wk, x·Wv; and
 * xᵀ·dQ, xᵀ·dK, xᵀ·dV) become one batched GEMM over a new `group` axis: the shared operand
 * has stride 0 along it, the second operands and the outputs are placed one after another
 * (`groups`, honoured by the buffer planner). A later member moves up to the first's place,
 * so nothing between them may write what it reads.
 */
function fuseSiblingGemms(s: Schedule, persistent: ReadonlySet<number>, aliases: ReadonlyMap<number, number>, groups: Map<string, number[]>): Schedule {
  // Each value is in at most one group (the same group in every schedule).
  const groupKey = new Map<number, string>();
  for (const [key, g] of groups) for (const v of g) groupKey.set(v, key);
  const fits = (g: number[]) => g.every((v) => (groupKey.get(v) ?? g.join(',')) === g.join(','));
  const aliased = new Set([...aliases.keys(), ...aliases.values()]);
  const region = (v: number) => aliases.get(v) ?? v;
  const strides = (a: Access, axes: readonly Axis[]) => axes.map((x) => a.strides.get(x.id) ?? 0).join(',');
  const sizes = (axes: readonly Axis[]) => axes.map((x) => x.size).join(',');
  /** Shapes and layouts, and the shared operand's value: equal for kernels that can fuse. */
  const signature = (k: GemmKernel, shared: 'a' | 'b') =>
    [
      shared,
      sizes(k.batch), sizes(k.m), sizes(k.n), sizes(k.k),
      strides(k.a, [...k.batch, ...k.m, ...k.k]),
      strides(k.b, [...k.batch, ...k.n, ...k.k]),
      strides(k.out, [...k.batch, ...k.m, ...k.n]),
      shared === 'a' ? k.a.value : k.b.value,
    ].join('|');
  const eligible = (k: Kernel): k is GemmKernel =>
    k.kind === 'gemm' && k.epilogue.k === 'acc' && !k.extra?.length && k.out.arena === 'f32' && !persistent.has(k.out.value) && !aliased.has(k.out.value);
  const removed = new Set<number>();
  const replaced = new Map<number, Replacement>();
  s.kernels.forEach((k, i) => {
    if (removed.has(i) || !eligible(k)) return;
    for (const shared of ['a', 'b'] as const) {
      const other = shared === 'a' ? 'b' : 'a';
      const sig = signature(k, shared);
      const otherPersistent = persistent.has(k[other].value);
      const members = [i];
      const used = new Set([k[other].value, k.out.value]);
      for (let j = i + 1; j < s.kernels.length; j++) {
        const c = s.kernels[j];
        if (removed.has(j) || !eligible(c) || signature(c, shared) !== sig || persistent.has(c[other].value) !== otherPersistent || used.has(c[other].value) || used.has(c.out.value)) continue;
        // It moves up to kernel i: nothing in between (but members) may write what it reads
        // (in-place updates write their target's region).
        const reads = s.reads[j].map(region);
        const writesRead = (t: number) => {
          const w = writtenRegions(s, t, aliases);
          return reads.some((r) => w.has(r));
        };
        let blocked = members.some(writesRead);
        for (let t = i + 1; t < j && !blocked; t++) if (!members.includes(t) && writesRead(t)) blocked = true;
        if (blocked) continue;
        members.push(j);
        used.add(c[other].value).add(c.out.value);
      }
      if (members.length < 2) continue;
      const kernels = members.map((m) => s.kernels[m] as GemmKernel);
      const operandGroup = kernels.map((x) => x[other].value);
      const outGroup = kernels.map((x) => x.out.value);
      const operandSize = s.values.get(k[other].value)?.size;
      const outSize = s.values.get(k.out.value)?.size;
      if (!operandSize || !outSize || !fits(operandGroup) || !fits(outGroup)) continue;
      const axis: Axis = { id: GROUP_AXIS, name: 'group', size: members.length };
      const fused: GemmKernel = {
        ...k,
        batch: [axis, ...k.batch],
        [other]: { ...k[other], strides: new Map([...k[other].strides, [axis.id, groupSpacing(operandSize)]]) },
        out: { ...k.out, strides: new Map([...k.out.strides, [axis.id, groupSpacing(outSize)]]) },
        nodes: [...new Set(kernels.flatMap((x) => x.nodes))].sort((a, b) => a - b),
        lines: [...new Set(kernels.flatMap((x) => x.lines))],
      };
      for (const g of [operandGroup, outGroup]) {
        groups.set(g.join(','), g);
        for (const v of g) groupKey.set(v, g.join(','));
      }
      for (const m of members.slice(1)) removed.add(m);
      replaced.set(i, { kernel: fused, reads: [...new Set(members.flatMap((m) => s.reads[m]))], writes: members.flatMap((m) => s.writes[m]) });
      return;
    }
  });
  return rebuild(s, removed, replaced);
}

/**
 * A GEMM whose epilogue adds the outputs of other GEMMs of the same shapes and layouts, read
 * nowhere else (the input gradient through q, k and v: dQ·Wqᵀ + dK·Wkᵀ + dV·Wvᵀ), becomes one
 * GEMM contracting over one more axis, `group`: the first operands and the second operands
 * are each placed one after another (in the order of a group they already form, if any).
 */
function fuseSummedGemms(s: Schedule, persistentSize: ReadonlyMap<number, number>, aliases: ReadonlyMap<number, number>, groups: Map<string, number[]>): Schedule {
  const groupOf = new Map<number, number[]>();
  for (const g of groups.values()) for (const v of g) groupOf.set(v, g);
  const fits = (g: number[]) => g.every((v) => (groupOf.get(v)?.join(',') ?? g.join(',')) === g.join(','));
  const aliased = new Set([...aliases.keys(), ...aliases.values()]);
  const writer = new Map<number, number>();
  s.writes.forEach((ws, i) => ws.forEach((w) => writer.set(w, i)));
  const readers = new Map<number, number>();
  s.reads.forEach((rs) => rs.forEach((r) => readers.set(r, (readers.get(r) ?? 0) + 1)));
  const strides = (a: Access, axes: readonly Axis[]) => axes.map((x) => a.strides.get(x.id) ?? 0).join(',');
  const sizes = (axes: readonly Axis[]) => axes.map((x) => x.size).join(',');
  const shape = (k: GemmKernel) =>
    [sizes(k.batch), sizes(k.m), sizes(k.n), sizes(k.k), strides(k.a, [...k.batch, ...k.m, ...k.k]), strides(k.b, [...k.batch, ...k.n, ...k.k]), strides(k.out, [...k.batch, ...k.m, ...k.n])].join('|');
  const sizeOf = (v: number) => s.values.get(v)?.size ?? persistentSize.get(v);
  const sameStrides = (a: ReadonlyMap<number, number>, b: ReadonlyMap<number, number>) => a.size === b.size && [...a].every(([id, st]) => b.get(id) === st);
  /** The leaves of a tree of f32 adds. */
  const addLeaves = (e: KExpr): KExpr[] => (e.k === 'binary' && e.fn === 'add' && e.dtype === 'f32' ? [...addLeaves(e.a), ...addLeaves(e.b)] : [e]);
  const removed = new Set<number>();
  const replaced = new Map<number, Replacement>();
  s.kernels.forEach((g, i) => {
    if (g.kind !== 'gemm' || g.extra?.length || g.batch.some((a) => a.id === GROUP_AXIS) || g.k.some((a) => a.id === GROUP_AXIS)) return;
    const leaves = addLeaves(g.epilogue);
    if (leaves.filter((l) => l.k === 'acc').length !== 1) return;
    const partners: number[] = [];
    const kept: KExpr[] = [];
    for (const l of leaves) {
      const j = l.k === 'load' ? writer.get(l.access.value) : undefined;
      const p = j !== undefined ? s.kernels[j] : undefined;
      const ok =
        l.k === 'load' && p?.kind === 'gemm' && j !== undefined && j < i && !removed.has(j) && p.epilogue.k === 'acc' && !p.extra?.length && p.out.value === l.access.value &&
        readers.get(l.access.value) === 1 && !aliased.has(l.access.value) && sameStrides(l.access.strides, g.out.strides) && shape(p) === shape(g) && !partners.includes(j);
      if (ok) partners.push(j!);
      else kept.push(l);
    }
    // The partners' reads move to kernel i: nothing from a partner to i may write them.
    for (const j of partners) {
      const reads = s.reads[j].map((r) => aliases.get(r) ?? r);
      for (let t = j + 1; t < i; t++) {
        const w = writtenRegions(s, t, aliases);
        if (reads.some((r) => w.has(r))) return;
      }
    }
    if (!partners.length) return;
    const members = [...partners, i].map((m) => s.kernels[m] as GemmKernel);
    // Order the group axis as an existing group of the first operands, else as the members.
    const aValues = members.map((m) => m.a.value);
    const existing = groupOf.get(aValues[0]);
    const order = existing && existing.length === aValues.length && aValues.every((v) => existing.includes(v)) ? existing.map((v) => aValues.indexOf(v)) : aValues.map((_, x) => x);
    const aGroup = order.map((x) => members[x].a.value);
    const bGroup = order.map((x) => members[x].b.value);
    const aSize = sizeOf(aGroup[0]);
    const bSize = sizeOf(bGroup[0]);
    if (!aSize || !bSize || new Set([...aGroup, ...bGroup]).size !== 2 * members.length || !fits(aGroup) || !fits(bGroup)) return;
    const first = members[order[0]];
    const axis: Axis = { id: GROUP_AXIS, name: 'group', size: members.length };
    const epilogue = kept.reduce((x, y) => ({ k: 'binary', fn: 'add', a: x, b: y, dtype: 'f32' }) as KExpr);
    const fused: GemmKernel = {
      ...g,
      k: [axis, ...g.k],
      a: { ...first.a, strides: new Map([...first.a.strides, [axis.id, groupSpacing(aSize)]]) },
      b: { ...first.b, strides: new Map([...first.b.strides, [axis.id, groupSpacing(bSize)]]) },
      epilogue,
      nodes: [...new Set(members.flatMap((x) => x.nodes))].sort((a, b) => a - b),
      lines: [...new Set(members.flatMap((x) => x.lines))],
    };
    for (const grp of [aGroup, bGroup]) {
      groups.set(grp.join(','), grp);
      for (const v of grp) groupOf.set(v, grp);
    }
    for (const j of partners) removed.add(j);
    const partnerOuts = new Set(partners.map((j) => (s.kernels[j] as GemmKernel).out.value));
    replaced.set(i, { kernel: fused, reads: [...new Set([...s.reads[i].filter((r) => !partnerOuts.has(r)), ...partners.flatMap((j) => s.reads[j])])] });
  });
  return rebuild(s, removed, replaced);
}

interface TransposedParam {
  /** The copy, as a persistent value (a synthetic id below every node id). */
  value: Value;
  perm: number[];
}

/**
 * Value ids of the transposed copies: below every kernel temporary's id (-1 - kernel index,
 * see schedule.ts), so a copy never shares a region with a temporary. (They once were
 * -1 - parameter id: with one layer, the cross-entropy rows' temporary took the wv copy's
 * region and overwrote it before the backward pass read it.)
 */
const TRANSPOSED_VALUE_BASE = -(1 << 24);

/**
 * Parameters that some GEMM reads with the contracted axes innermost (`dY · Wᵀ` in the
 * backward pass, a head tied to the embedding): the register GEMM reads such an operand
 * "along k", measured 0.5–0.7× as fast as reading it across columns. Those GEMMs read a copy
 * with the contracted axes outermost instead, and the optimizer's update kernel writes the
 * copy next to the parameter (one more store per element, no extra dispatch). Rewrites the
 * GEMMs' operands and the update kernel; returns the copies by parameter node.
 */
function planTransposedParams(g: Graph, step: TrainStep, scheds: readonly Schedule[]): Map<number, TransposedParam> {
  const out = new Map<number, TransposedParam>();
  const paramNodes = new Set(g.params.map((p) => p.node));
  const update = new Map(step.params.map((p) => [p.param.node, p.newParam]));
  // The update kernel of each parameter, and its store of the new value.
  const updateStore = new Map<number, { kernel: MapKernel; store: Store }>();
  for (const k of scheds[0].kernels) {
    if (k.kind !== 'map') continue;
    for (const st of k.stores) for (const [param, next] of update) if (st.access.value === next) updateStore.set(param, { kernel: k, store: st });
  }
  for (const sched of scheds) {
    for (const k of sched.kernels) {
      if (k.kind !== 'gemm') continue;
      for (const [operand, free] of [[k.a, k.m], [k.b, k.n]] as const) {
        if (!paramNodes.has(operand.value)) continue;
        const param = g.nodes[operand.value];
        const axes = param.type.axes;
        const kAxes = k.k.filter((a) => operand.strides.has(a.id));
        const freeAxes = free.filter((a) => operand.strides.has(a.id));
        // Only plain parameters read whole: every axis contracted or free, innermost contracted.
        if (kAxes.length + freeAxes.length !== axes.length || !axes.every((a) => operand.strides.has(a.id)) || !kAxes.length || !freeAxes.some((a) => a.size > 1)) continue;
        const inner = [...axes].reverse().find((a) => a.size > 1);
        if (!inner || !kAxes.some((a) => a.id === inner.id) || operand.strides.get(inner.id) !== 1) continue;
        const upd = updateStore.get(param.id);
        if (!upd || !axes.every((a) => upd.store.access.strides.has(a.id))) continue;
        const order = [...kAxes, ...freeAxes];
        const perm = order.map((a) => axes.findIndex((b) => b.id === a.id));
        let t = out.get(param.id);
        if (!t) {
          t = { value: { node: TRANSPOSED_VALUE_BASE - param.id, arena: 'f32', axes: order, size: param.type.axes.reduce((n, a) => n * a.size, 1) }, perm };
          out.set(param.id, t);
          upd.kernel.stores.push({
            access: { arena: 'f32', value: t.value.node, offset: 0, strides: layoutStrides(order) },
            value: { k: 'load', access: { ...upd.store.access, strides: new Map(upd.store.access.strides) }, dtype: 'f32' },
            nodes: [],
          });
        } else if (t.perm.join() !== perm.join()) continue; // another GEMM wants another order: it reads the parameter
        operand.value = t.value.node;
        operand.strides = new Map([...layoutStrides(t.value.axes)].filter(([id]) => operand.strides.has(id)));
      }
    }
  }
  return out;
}

/**
 * In-place updates (`param:x` written over `x`) are safe only in a map kernel that reads the
 * old value at exactly the element it writes.
 */
function checkInPlace(s: Schedule, aliases: ReadonlyMap<number, number>) {
  s.kernels.forEach((k, i) => {
    for (const w of s.writes[i]) {
      const target = aliases.get(w);
      if (target === undefined) continue;
      // Segmented kernels are built from updates at the stored element only (segments.ts).
      if (k.kind === 'segmented') continue;
      const maps = k.kind === 'map' ? [k] : k.kind === 'maps' ? k.parts : [];
      const owner = maps.find((m) => m.stores.some((st) => st.access.value === w));
      if (!owner) throw new Error(`internal: in-place update of ${w} by a ${k.kind} kernel`);
      const store = owner.stores.find((st) => st.access.value === w)!;
      const same = (a: ReadonlyMap<number, number>, b: ReadonlyMap<number, number>) => a.size === b.size && [...a].every(([id, st]) => b.get(id) === st);
      const check = (e: import('./spec.js').KExpr): void => {
        if (e.k === 'load' && (e.access.value === target || e.access.value === w) && !same(e.access.strides, store.access.strides))
          throw new Error(`internal: in-place update of ${w} reads ${target} at another element`);
        for (const c of children(e)) check(c);
      };
      check(store.value);
    }
  });
}

function children(e: import('./spec.js').KExpr): import('./spec.js').KExpr[] {
  switch (e.k) {
    case 'unary':
    case 'cast':
      return [e.x];
    case 'binary':
    case 'compare':
      return [e.a, e.b];
    case 'where':
      return [e.c, e.a, e.b];
    case 'gather':
      return [e.index];
    default:
      return [];
  }
}

function nodeLabel(n: IRNode): string {
  const a = n.attrs;
  const op = a.op === 'unary' || a.op === 'binary' || a.op === 'compare' || a.op === 'reduce' ? `${a.op === 'reduce' ? 'reduce ' : ''}${a.fn}` : a.op;
  return `%${n.id} ${op}${n.name ? ` (${n.name})` : ''}`;
}

function kernelUse(k: Kernel, g: Graph): string {
  const nodes = k.nodes.map((id) => g.nodes[id]).filter(Boolean);
  const from = k.lines.length ? k.lines.join(', ') : 'compiler-generated (gradients / optimizer)';
  return `${k.name}: ${nodes.map(nodeLabel).join(', ') || '(temporary)'} — from ${from}`;
}

/** The .wgsl header: what the kernel is and, for each dispatch running it, the IR nodes and .mdl lines. */
function kernelComment(k: KernelSource): string {
  const shown = k.uses.slice(0, 12).map((u) => `//   ${u}`);
  if (k.uses.length > 12) shown.push(`//   ... and ${k.uses.length - 12} more dispatches`);
  return [`// ${k.name}: ${k.kind} kernel, run by ${k.uses.length} dispatch${k.uses.length === 1 ? '' : 'es'}`, '// IR nodes and .mdl lines, per dispatch:', ...shown].join('\n');
}

/** Offsets stand-ins: multiples of 16 (as real regions), far above any real offset. */
const SENTINEL_BASE = 0x40000000;
const SENTINEL_STEP = 0x10000;
/** Offset slots a kernel may have: one uniform block of u32s per dispatch (OFFSETS_BLOCK bytes). */
export const MAX_OFFSET_SLOTS = 1024;
/** Bytes of each dispatch's offsets block: a multiple of WebGPU's 256-byte dynamic-offset alignment. */
export const OFFSETS_BLOCK = MAX_OFFSET_SLOTS * 4;

/**
 * Replace each distinct region offset in a kernel by a stand-in, in order of first access
 * (so structurally equal kernels get equal text); returns the real offsets by slot.
 */
function parameterizeOffsets(k: Kernel): number[] {
  const slots: number[] = [];
  for (const a of accessesOf(k)) {
    // Kernels read and write f32 regions as aligned vec4s (see vec4Readable): regions start at multiples of 4.
    if (a.arena === 'f32' && a.offset % 4 !== 0) throw new Error(`internal: kernel ${k.name} accesses an f32 region at ${a.offset}, not a multiple of 4`);
    let j = slots.indexOf(a.offset);
    if (j < 0) {
      j = slots.length;
      slots.push(a.offset);
    }
    a.offset = SENTINEL_BASE + j * SENTINEL_STEP;
  }
  if (slots.length > MAX_OFFSET_SLOTS) throw new Error(`internal: kernel ${k.name} accesses ${slots.length} regions`);
  return slots;
}

/** Turn the stand-in literals into reads of the per-dispatch offsets uniform. */
function offsetsFromUniform(code: string, slots: number): string {
  let out = code;
  for (let j = 0; j < slots; j++) out = out.split(`${SENTINEL_BASE + j * SENTINEL_STEP}u`).join(`off[${j >> 2}].${'xyzw'[j & 3]}`);
  if (/\b10737\d{5}u\b/.test(out)) throw new Error('internal: an offset stand-in was transformed by a kernel generator');
  return `@group(1) @binding(0) var<uniform> off: array<vec4<u32>, ${MAX_OFFSET_SLOTS / 4}>;\n${out}`;
}

/** Bytes of the `var<workgroup>` arrays a kernel declares. */
export function workgroupBytes(code: string): number {
  const bytes = { f32: 4, u32: 4, i32: 4, vec4f: 16, 'vec4<f32>': 16 } as Record<string, number>;
  let n = 0;
  for (const m of code.matchAll(/var<workgroup>\s+\w+\s*:\s*array<([\w<>]+),\s*(\d+)>/g)) {
    if (!(m[1] in bytes)) throw new Error(`internal: workgroup array of ${m[1]}`);
    n += bytes[m[1]] * Number(m[2]);
  }
  return n;
}

function describe(k: Kernel, g: Graph): string {
  const names = k.nodes.map((id) => g.nodes[id]?.name).filter((x): x is string => !!x);
  const where = k.lines.length ? ` (${k.lines.slice(0, 3).join(', ')}${k.lines.length > 3 ? ', …' : ''})` : '';
  return `${k.kind}${names.length ? ' ' + [...new Set(names)].slice(0, 4).join(', ') : ''}${where}`;
}

function size(axes: readonly Axis[]): number {
  return axes.reduce((s, a) => s * a.size, 1);
}

/** Floating-point operations of a kernel (2 per multiply-add in GEMMs; 1 per element otherwise). */
export function flopsOf(k: Kernel): number {
  switch (k.kind) {
    case 'gemm':
      return 2 * size(k.batch) * size(k.m) * size(k.n) * size(k.k);
    case 'map':
      return size(k.axes);
    case 'reduce':
      return size(k.axes) * size(k.over) * (1 + (k.siblings?.length ?? 0));
    case 'softmax':
    case 'ce_rows':
      return 4 * size(k.axes) * k.axis.size;
    case 'scatter':
      return size(k.axes) * size(k.positions);
    case 'sum_squares':
      return 2 * k.parts.reduce((s, p) => s + p.size, 0);
    case 'rows':
      return k.phases.reduce((s, p) => s + flopsOf(p), 0);
    case 'maps':
      return k.parts.reduce((s, p) => s + flopsOf(p), 0);
    case 'segmented':
      return k.segments.reduce((s, p) => s + p.size, 0) * k.stores.length;
  }
}

/** Bytes a kernel must move at least: its outputs written and inputs read once. */
export function bytesOf(k: Kernel): number {
  switch (k.kind) {
    case 'gemm':
      return 4 * (size(k.batch) * (size(k.m) * size(k.k) + size(k.n) * size(k.k) + size(k.m) * size(k.n) * (1 + (k.extra?.length ?? 0))));
    case 'map':
      return 4 * size(k.axes) * (1 + k.stores.length);
    case 'reduce':
      return 4 * (size(k.axes) * size(k.over) + size(k.axes)) * (1 + (k.siblings?.length ?? 0));
    case 'softmax':
      return 8 * size(k.axes) * k.axis.size;
    case 'ce_rows':
      return 4 * size(k.axes) * (k.axis.size + 2);
    case 'scatter':
      return 4 * (size(k.axes) + size(k.positions) * (1 + size(k.axes) / k.axis.size));
    case 'sum_squares':
      return 4 * k.parts.reduce((s, p) => s + p.size + 1, 0);
    case 'rows':
      return k.phases.reduce((s, p) => s + bytesOf(p), 0);
    case 'maps':
      return k.parts.reduce((s, p) => s + bytesOf(p), 0);
    case 'segmented':
      return 4 * k.segments.reduce((s, p) => s + p.size * (p.slots.length + k.stores.length + (p.cols ? 1 : 0)), 0);
  }
}
