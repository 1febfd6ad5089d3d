/**
 * What `mdlc train` prints before the first step: the run (model, backend and adapter, data,
 * dims and settings) and a table of the parameters, so a person sees what will be trained.
 */
import type { TrainSpec } from '../../runtime/backend.js';
import type { TrainSession } from '../train/session.js';
import { mdlcVersion } from './version.js';

const int = (n: number) => n.toLocaleString('en-US');

export function describeRun(s: TrainSession, o: { backend: string; adapter: string; runDir: string; overfit: boolean; resumedFrom?: { dir: string; step: number } }): string {
  const spec = s.spec;
  const opt = spec.optimizer;
  const sched = spec.schedule.kind === 'warmup_cosine' ? `warmup_cosine(warmup: ${spec.schedule.warmup}, min_lr: ${spec.schedule.minLr})` : 'constant';
  const dims = [...s.model.dims.values()].map((d) => `${d.name} ${int(d.value)}`).join(' · ');
  const tokens = s.split.train.length + s.split.val.length;
  const slices = spec.slices.map((x) => `${x.name} = data[${x.start} .. ${x.end}]`).join(', ');
  const lines = [
    `mdlc ${mdlcVersion()} · training \`${s.model.name}\` (${s.source.path}) on ${o.backend}: ${o.adapter}`,
    `  dims       ${dims}`,
    `  data       ${spec.dataset}: ${int(tokens)} characters, vocabulary ${spec.vocab}; train ${int(s.split.train.length)}, validation ${int(s.split.val.length)}; windows of ${spec.window} (${slices})`,
    `  optimizer  adamw(lr: ${opt.lr}, betas: (${opt.beta1}, ${opt.beta2}), eps: ${opt.eps}, weight_decay: ${opt.weightDecay}), schedule ${sched}, clip ${spec.clip || 'off'}`,
    `  steps      ${int(spec.steps)} of batch ${spec.batch} (${int(spec.batch * (spec.slices[0] ? spec.slices[0].end - spec.slices[0].start : spec.window))} tokens each); evaluation every ${spec.evalEvery} on ${spec.evalBatches} batches; seed ${spec.seed}`,
    `  run        ${o.runDir}${o.resumedFrom ? ` (resumed from ${o.resumedFrom.dir}, step ${o.resumedFrom.step})` : ''}`,
  ];
  return lines.join('\n');
}

/**
 * The parameters as a table: name, axes, shape, count, learning rate and weight decay.
 * Parameters of repeated blocks that agree in all but their index share a row (`blocks.{0-3}.mlp.w1`).
 */
export function paramTable(spec: TrainSpec): string {
  interface Row {
    name: string;
    indices: Set<number>;
    axes: string;
    shape: string;
    count: number;
    lr: string;
    wd: string;
  }
  const rows = new Map<string, Row>();
  for (const p of spec.params) {
    const index = /\.(\d+)\./.exec(p.name);
    const pattern = index ? p.name.replace(/\.(\d+)\./, '.#.') : p.name;
    const axes = `[${p.axes.map((a) => a.name).join(', ')}]`;
    const shape = p.axes.map((a) => a.size).join('×') || 'scalar';
    const lr = p.lr.toPrecision(3).replace(/\.?0+(e|$)/, '$1');
    const wd = String(p.weightDecay);
    const key = [pattern, axes, shape, lr, wd].join('|');
    const row = rows.get(key) ?? { name: pattern, indices: new Set<number>(), axes, shape, count: p.axes.reduce((n, a) => n * a.size, 1), lr, wd };
    if (index) row.indices.add(Number(index[1]));
    rows.set(key, row);
  }
  const span = (ix: Set<number>) => {
    const sorted = [...ix].sort((a, b) => a - b);
    const contiguous = sorted.every((v, i) => i === 0 || v === sorted[i - 1] + 1);
    return contiguous && sorted.length > 1 ? `{${sorted[0]}-${sorted.at(-1)}}` : sorted.length === 1 ? String(sorted[0]) : `{${sorted.join(',')}}`;
  };
  const table = [...rows.values()].map((r) => {
    const copies = Math.max(1, r.indices.size);
    return [r.indices.size ? r.name.replace('#', span(r.indices)) : r.name, r.axes, r.shape, copies > 1 ? `${copies} × ${int(r.count)}` : int(r.count), r.lr, r.wd];
  });
  const head = ['parameter', 'axes', 'shape', 'count', 'lr', 'weight decay'];
  const widths = head.map((h, i) => Math.max(h.length, ...table.map((r) => r[i].length)));
  const fmt = (r: string[]) => '  ' + r.map((c, i) => (i === 3 ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join('  ').trimEnd();
  const total = spec.params.reduce((n, p) => n + p.axes.reduce((m, a) => m * a.size, 1), 0);
  return [fmt(head), ...table.map(fmt), `  total: ${int(total)} parameters in ${spec.params.length} tensors (${(total * 4 / 2 ** 20).toFixed(2)} MiB as f32)`].join('\n');
}
