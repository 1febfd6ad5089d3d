/**
 * The code generator's passes, in the order they run. Each file of this folder is one pass
 * and says what it does and why. A pass rewrites the program's schedules: the kernel IR of
 * each entry point (training step, evaluation, forward pass). `mdlc build --emit kernels`
 * prints the kernel IR after every pass.
 */
import type { Graph } from '../../ir/types.js';
import type { TrainStep } from '../../ir/optimizer/index.js';
import { Groups } from '../buffers.js';
import { ValueTable } from '../kernel-ir/ids.js';
import { legend, scheduleText } from '../kernel-ir/print.js';
import type { Schedule, Value, ValueId } from '../kernel-ir/types.js';
import { ASSIGNABLE_OFFSET_SLOTS } from '../offsets.js';
import { CPU_TARGET, type Target } from '../target.js';
import { absorbMaps } from './absorb-maps.js';
import { planActivationCopies } from './activation-copies.js';
import { markCausalGemms } from './causal-gemms.js';
import { checkInPlace } from './check-in-place.js';
import { combineMaps } from './combine-maps.js';
import { lower } from './lower.js';
import { mergeMaps } from './merge-maps.js';
import { mergeReductions } from './merge-reductions.js';
import { mergeRows } from './merge-rows.js';
import { segmentUpdates, type ParamUpdate } from './segment-updates.js';
import { fuseSiblingGemms } from './sibling-gemms.js';
import { fuseSummedGemms } from './summed-gemms.js';
import { mergeSumSquares } from './sum-squares.js';
import { planTransposedParams, type TransposedParam } from './transposed-params.js';

export type EntryName = 'train' | 'eval' | 'forward';

/** The program the passes compile: the IR, its entry points and what the passes found so far. */
export interface ProgramIR {
  graph: Graph;
  /** The training step (absent when only kernels of a plain graph are wanted, as in `schedule`). */
  step?: TrainStep;
  target: Target;
  /** In-place updates: a value written over another's region (new parameter over parameter, new m over m). */
  aliases: ReadonlyMap<ValueId, ValueId>;
  /** Values the host reads back after a call (loss, gradient norm, logits): they keep their regions. */
  hostOutputs: readonly ValueId[];
  values: ValueTable;
  /** Values placed one after another, read by fused GEMMs as one tensor. */
  groups: Groups;
  entries: { name: EntryName; outputs: readonly ValueId[]; schedule: Schedule }[];
  /** Parameters' transposed copies, by parameter node (transposed-params). */
  transposed: Map<ValueId, TransposedParam>;
}

export interface Pass {
  /** The pass's file name, as --emit kernels prints it. */
  name: string;
  run(p: ProgramIR): void;
}

/** A pass that rewrites each entry point's schedule on its own. */
function eachEntry(name: string, f: (s: Schedule, p: ProgramIR, entry: EntryName) => Schedule | void): Pass {
  return {
    name,
    run(p) {
      for (const e of p.entries) e.schedule = f(e.schedule, p, e.name) ?? e.schedule;
    },
  };
}

const regionOf = (p: ProgramIR) => (v: ValueId) => p.aliases.get(v) ?? v;

/** Values that live for the whole program: parameters, optimizer state, inputs, what the host reads back, the transposed copies. */
export function persistentValues(p: ProgramIR): Value[] {
  const g = p.graph;
  const nodes = new Set<ValueId>([...g.params.map((x) => x.node), ...g.inputs.map((x) => x.node), ...p.hostOutputs]);
  return [...[...nodes].map((id) => p.values.get(id)), ...[...p.transposed.values()].map((t) => t.value)];
}

/** Each parameter's update: the values the optimizer stores for it (segment-updates). */
function paramUpdates(p: ProgramIR): ParamUpdate[] {
  return (p.step?.params ?? []).map((x) => {
    const t = p.transposed.get(x.param.node);
    return { axes: p.graph.nodes[x.param.node].type.axes, values: [x.newM, x.newV, x.newParam], ...(t ? { copy: { value: t.value.node, of: x.newParam } } : {}) };
  });
}

/** Lowering and the fusions that need nothing but the IR: one entry point at a time. */
export const KERNEL_PASSES: readonly Pass[] = [
  eachEntry('lower', (_s, p, entry) => lower(p.graph, p.entries.find((e) => e.name === entry)!.outputs, p.values)),
  eachEntry('merge-maps', (s, p) => mergeMaps(s, regionOf(p))),
  eachEntry('absorb-maps', (s) => absorbMaps(s)),
  eachEntry('merge-rows', (s, p) => mergeRows(s, p.aliases)),
  eachEntry('sum-squares', (s, p) => mergeSumSquares(s, regionOf(p))),
  eachEntry('merge-reductions', (s, p) => mergeReductions(s, regionOf(p))),
];

/** Then the passes that use what the whole program stores (persistent values, groups) and the target. */
export const PROGRAM_PASSES: readonly Pass[] = [
  {
    name: 'transposed-params',
    run(p) {
      if (p.target.gemm === 'register' && p.step) p.transposed = planTransposedParams(p.graph, p.step, p.entries.map((e) => e.schedule), p.values);
    },
  },
  eachEntry('sibling-gemms', (s, p) => fuseSiblingGemms(s, new Set(persistentValues(p).map((v) => v.node)), p.aliases, p.groups)),
  eachEntry('summed-gemms', (s, p) => fuseSummedGemms(s, p.aliases, p.groups)),
  eachEntry('segment-updates', (s, p, entry) => (entry === 'train' ? segmentUpdates(s, paramUpdates(p), p.aliases, ASSIGNABLE_OFFSET_SLOTS) : s)),
  eachEntry('combine-maps', (s, p) => combineMaps(s, regionOf(p), p.target.combineMaxStores)),
  eachEntry('causal-gemms', (s, p) => markCausalGemms(s, p.graph)),
  eachEntry('activation-copies', (s, p) => {
    if (p.target.gemm !== 'register') return;
    // Never a copy of a persistent or in-place value.
    const keep = new Set([...persistentValues(p).map((v) => v.node), ...p.aliases.keys(), ...p.aliases.values()]);
    planActivationCopies(s, p.groups, keep, p.target.register);
  }),
  eachEntry('check-in-place', (s, p) => checkInPlace(s, p.aliases)),
];

export const PASSES: readonly Pass[] = [...KERNEL_PASSES, ...PROGRAM_PASSES];

/** Run `passes` over `p` in order; `trace` sees the program after each. */
export function runPasses(p: ProgramIR, passes: readonly Pass[], trace?: (pass: string, p: ProgramIR) => void): void {
  for (const pass of passes) {
    pass.run(p);
    trace?.(pass.name, p);
  }
}

/** A program of one entry point computing `outputs` of `graph` (for schedules of plain graphs). */
export function programOf(graph: Graph, outputs: readonly ValueId[], options: { aliases?: ReadonlyMap<ValueId, ValueId>; target?: Target } = {}): ProgramIR {
  const values = new ValueTable(graph);
  return {
    graph,
    target: options.target ?? CPU_TARGET,
    aliases: options.aliases ?? new Map(),
    hostOutputs: outputs,
    values,
    groups: new Groups(),
    entries: [{ name: 'train', outputs, schedule: { kernels: [], values } }],
    transposed: new Map(),
  };
}

/** The kernels computing `outputs` of `graph` after the kernel passes (lowering and fusion). */
export function schedule(graph: Graph, options: { outputs: readonly ValueId[]; aliases?: ReadonlyMap<ValueId, ValueId> }): Schedule {
  const p = programOf(graph, options.outputs, options);
  runPasses(p, KERNEL_PASSES);
  return p.entries[0].schedule;
}

/**
 * The program after pass `pass`, as text (`mdlc build --emit kernels`): every entry point's
 * kernels; after lowering, also which IR node each named stored value is.
 */
export function programText(pass: string, p: ProgramIR): string {
  const out = [`== after ${pass}`];
  for (const e of p.entries) out.push(`-- ${e.name}: ${e.schedule.kernels.length} kernels`, scheduleText(e.schedule).trimEnd());
  if (pass === 'lower') out.push('-- named values', ...legend(p.graph, p.entries.flatMap((e) => e.schedule.kernels.flatMap((k) => k.writes))));
  return out.join('\n') + '\n';
}
