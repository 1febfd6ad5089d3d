/**
 * train.py: the template in pytorch/train.py (data, mdlc's random numbers, AdamW, checkpoints,
 * torchrun) with the model's recipe written in: its data and window slices, vocabulary,
 * optimizer settings, schedule, clipping, and AdamW's parameter groups with the learning
 * rate and weight decay mdlc gives each parameter.
 */
import type { ElaboratedModel } from '../ir/elaborate/model.js';
import type { TrainStep } from '../ir/optimizer/index.js';
import { matchPattern as matches } from '../ir/elaborate/patterns.js';
import { reach } from '../ir/graph.js';
import { DATASETS } from '../../runtime/data.js';
import { pyNumber } from './python.js';

export interface TrainPyOptions {
  /** The vocabulary's characters, token i first. */
  vocab: readonly string[];
  overrides: ReadonlyMap<string, number>;
  modelHash: string;
  forwardInputs: string[];
  lossInputs: string[];
  sourceLines: readonly string[];
}

type PyValue = string | number | boolean | PyValue[] | { tuple: PyValue[] } | { [k: string]: PyValue };

/** A Python literal (strings as JSON, which Python reads the same; numbers that parse to the same double). */
export function pyLiteral(v: PyValue): string {
  if (typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'number') return pyNumber(v, Number.isInteger(v) ? 'i32' : 'f32').text;
  if (typeof v === 'boolean') return v ? 'True' : 'False';
  if (Array.isArray(v)) return `[${v.map(pyLiteral).join(', ')}]`;
  if ('tuple' in v && Array.isArray(v.tuple)) return `(${v.tuple.map(pyLiteral).join(', ')}${v.tuple.length === 1 ? ',' : ''})`;
  return `{${Object.entries(v).map(([k, x]) => `${JSON.stringify(k)}: ${pyLiteral(x)}`).join(', ')}}`;
}

/** A JavaScript expression of `base` (the train section's `lr PATTERN = ...`, as elaborated) in Python. */
export function pyRate(js: string): string {
  return js.replace(/Math\.(sqrt|exp|log)/g, 'math.$1').replace(/\bInfinity\b/g, 'math.inf').replace(/\bNaN\b/g, 'math.nan');
}

/**
 * Whether each batch row's loss depends on that row alone and the loss is their mean: then N
 * processes may each take a share of the rows and average their gradients (DDP) and train
 * what one process trains. Nothing before the loss may sum, contract or normalise over `batch`.
 */
export function rowsIndependent(model: ElaboratedModel): boolean {
  const batch = model.batch?.axis;
  if (!batch || model.loss === undefined) return false;
  const g = model.graph;
  const has = (axes: readonly { id: number }[]) => axes.some((a) => a.id === batch.id);
  const loss = g.nodes[model.loss];
  const meanOverRows = loss.attrs.op === 'cross_entropy' || (loss.attrs.op === 'reduce' && loss.attrs.fn === 'mean' && has(loss.attrs.axes));
  if (!meanOverRows || !has(g.nodes[loss.inputs[0]].type.axes)) return false;
  for (const id of reach(g, loss.inputs)) {
    const a = g.nodes[id].attrs;
    if ((a.op === 'reduce' && has(a.axes)) || (a.op === 'contract' && has(a.over)) || (a.op === 'softmax' && a.axis.id === batch.id) || a.op === 'cross_entropy') return false;
  }
  return true;
}

export function emitTrainPy(template: string, model: ElaboratedModel, step: TrainStep, o: TrainPyOptions): string {
  const cfg = model.train;
  const data = cfg.data!;
  const batch = model.batch!.size;
  const quote = (line: number) => (o.sourceLines[line - 1] ?? '').replace(/\s+#.*$/, '').trim();
  const schedule: PyValue = cfg.schedule.kind === 'constant' ? { kind: 'constant' } : { kind: 'warmup_cosine', warmup: cfg.schedule.warmup, min_lr: cfg.schedule.minLr };
  const entries: [string, PyValue, string?][] = [
    ['model_hash', o.modelHash, 'SHA-256 of the .mdl source and the --set overrides'],
    ['overrides', Object.fromEntries(o.overrides)],
    ['data', { name: data.name, named: Object.hasOwn(DATASETS, data.name) }, quote(data.span.line)],
    ['vocab', o.vocab.join(''), "the text's characters sorted by code point: token i is vocab[i]"],
    ['window', data.window],
    ['slices', Object.fromEntries(cfg.slices.map((s) => [s.name, { tuple: [s.start, s.end] }])), cfg.slices.map((s) => quote(s.span.line)).join('; ')],
    ['forward_inputs', o.forwardInputs],
    ['loss_inputs', o.lossInputs],
    ['rows_independent', rowsIndependent(model), "each row's loss depends on that row alone (so processes can split the batch)"],
    ['batch', batch],
    ['val_fraction', cfg.valFraction],
    ['steps', cfg.steps],
    ['seed', cfg.seed],
    ['lr', cfg.optimizer.lr],
    ['betas', { tuple: [cfg.optimizer.beta1, cfg.optimizer.beta2] }],
    ['eps', cfg.optimizer.eps],
    ['schedule', schedule],
    ['clip', cfg.clip, 'clip gradients to this global norm (0: off)'],
    ['eval_every', cfg.evalEvery],
    ['eval_batches', cfg.evalBatches],
  ];
  const recipe = entries.map(([k, v, note]) => `    ${JSON.stringify(k)}: ${pyLiteral(v)},${note ? `  # ${note}` : ''}`);

  // AdamW's groups: parameters with the same learning-rate rule and weight decay.
  const lrLines = cfg.groups.filter((g) => g.setting === 'lr');
  const wdLines = cfg.groups.filter((g) => g.setting === 'weight_decay');
  const groups: { lrGroup: number; wd: number; params: string[] }[] = [];
  for (const p of step.params) {
    let g = groups.find((x) => x.lrGroup === p.lrGroup && x.wd === p.weightDecay);
    if (!g) groups.push((g = { lrGroup: p.lrGroup, wd: p.weightDecay, params: [] }));
    g.params.push(p.param.name);
  }
  const groupText = groups.map((g) => {
    const lr = step.lrGroups[g.lrGroup];
    const line = lr.pattern === undefined ? undefined : lrLines.filter((x) => x.pattern === lr.pattern).at(-1);
    const why: string[] = [line ? quote(line.span.line) : 'the base learning rate'];
    const wdLine = wdLines.filter((x) => g.params.some((p) => matches(x.pattern, p))).at(-1);
    why.push(wdLine ? quote(wdLine.span.line) : g.wd > 0 ? 'weight decay: weights of linear maps' : 'no weight decay: gains, biases, embeddings');
    return [
      `    # ${why.join('; ')}`,
      `    {"lr": lambda base: ${line ? pyRate(line.js) : 'base'}, "weight_decay": ${pyNumber(g.wd).text}, "params": ${pyLiteral(g.params)}},`,
    ].join('\n');
  });
  const trainLine = cfg.data ? model.train.data!.span.line : 0;
  const block = [
    `# ---- recipe: written by mdlc export from the train section of the .mdl (line ${trainLine} on), after --set ----`,
    'RECIPE = {',
    ...recipe,
    '}',
    "# AdamW's parameter groups: each one's learning rate as a function of the scheduled base rate, and its weight decay.",
    'PARAM_GROUPS = [',
    ...groupText,
    ']',
    '# ---- end of recipe ----',
  ].join('\n');
  const start = template.indexOf('# ---- recipe');
  const end = template.indexOf('# ---- end of recipe ----');
  if (start < 0 || end < 0) throw new Error('internal: the train.py template has no recipe block');
  return template.slice(0, start) + block + template.slice(end + '# ---- end of recipe ----'.length);
}
