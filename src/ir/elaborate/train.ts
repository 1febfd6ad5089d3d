/** Elaborating the `train { }` section: data contract, optimizer, schedule, parameter groups. */
import { diagnostic, fileSpan, type Diagnostic } from '../../diagnostics/index.js';
import type { Call, Expr, TrainSection, TrainSetting } from '../../parser/ast.js';
import { editDistance, evalConstExpr, suggest } from './dims.js';
import { DEFAULT_TRAIN, type DataSource, type DimValue, type TrainConfig, type WindowSlice } from './model.js';

/** Scalar train settings that `--set NAME=VALUE` may override, and where they live. */
export const OVERRIDABLE_TRAIN_SETTINGS = ['steps', 'clip', 'lr', 'seed', 'eval_every', 'eval_batches', 'warmup', 'min_lr', 'weight_decay', 'val_fraction'] as const;

interface SettingRule {
  ok: (v: number) => boolean;
  /** What it must be, completing "`NAME` must be ...". */
  what: string;
}

const wholeNumber = (min: number, of: string): SettingRule => ({ ok: (v) => Number.isSafeInteger(v) && v >= min, what: `a whole number of ${of}, at least ${min}` });
const finiteAtLeast = (min: number, what: string): SettingRule => ({ ok: (v) => Number.isFinite(v) && v >= min, what });

/**
 * What every scalar train setting accepts: one table for the train section (E1002), for
 * `--set` and the CLI's shorthands `--steps`/`--seed` (E1004). Settings that depend on each
 * other (`min_lr` at most `lr`) are checked after both are known.
 */
export const SETTING_RULES: Record<(typeof OVERRIDABLE_TRAIN_SETTINGS)[number] | 'eps' | 'beta', SettingRule> = {
  steps: wholeNumber(1, 'steps'),
  eval_every: wholeNumber(1, 'steps'),
  eval_batches: wholeNumber(1, 'batches'),
  warmup: wholeNumber(0, 'steps'),
  seed: { ok: (v) => Number.isSafeInteger(v) && v >= 0, what: 'a whole number >= 0' },
  clip: finiteAtLeast(0, 'a gradient norm >= 0 (0 turns clipping off)'),
  lr: { ok: (v) => Number.isFinite(v) && v > 0, what: 'a positive learning rate' },
  min_lr: finiteAtLeast(0, 'a learning rate >= 0'),
  weight_decay: finiteAtLeast(0, 'a number >= 0'),
  val_fraction: { ok: (v) => v > 0 && v < 1, what: 'a fraction between 0 and 1 (exclusive)' },
  eps: { ok: (v) => Number.isFinite(v) && v > 0, what: 'a positive number' },
  beta: { ok: (v) => v >= 0 && v < 1, what: 'in [0, 1)' },
};

const SETTINGS = ['data', 'optimizer', 'schedule', 'clip', 'steps', 'eval_every', 'eval_batches', 'seed', 'val_fraction'];

export interface TrainElaboration {
  config: TrainConfig;
  /** Typed slice bindings (`targets: index[...] of vocab = ...`), by name. */
  typed: Map<string, TrainSetting>;
}

function cloneDefault(): TrainConfig {
  return { ...DEFAULT_TRAIN, optimizer: { ...DEFAULT_TRAIN.optimizer }, schedule: { ...DEFAULT_TRAIN.schedule }, slices: [], groups: [] };
}

export function elaborateTrain(
  section: TrainSection | undefined,
  dims: ReadonlyMap<string, DimValue>,
  overrides: ReadonlyMap<string, number>,
  diags: Diagnostic[],
  /** The model file, where invalid `--set` values are reported. */
  file: string = section?.span.file ?? '',
  /** The datasets `text(NAME)` can name (ElaborateOptions.datasets). */
  datasets: readonly string[] = [],
): TrainElaboration {
  const cfg = cloneDefault();
  const typed = new Map<string, TrainSetting>();
  const num = (e: Expr, extra?: ReadonlyMap<string, number>) => evalConstExpr(e, dims, diags, extra);
  const seen = new Map<string, TrainSetting>();

  /** The value of a scalar setting, if its rule accepts it (else E1002 at the value). */
  const setting = (s: TrainSetting, rule: SettingRule): number | undefined => {
    const v = num(s.value);
    if (v === undefined) return undefined;
    if (!rule.ok(v)) {
      diags.push(diagnostic('E1002', `\`${s.name.name}\` must be ${rule.what}, found ${v}`, s.value.span));
      return undefined;
    }
    return v;
  };

  for (const entry of section?.entries ?? []) {
    if (entry.kind === 'TrainGroupSetting') continue;
    const s = entry;
    const name = s.name.name;
    if (seen.has(name)) {
      diags.push(diagnostic('E0202', `train setting \`${name}\` is set twice`, s.name.span, { labels: [{ span: seen.get(name)!.name.span, message: 'first set here' }] }));
      continue;
    }
    seen.set(name, s);
    if (s.value.kind === 'Index' && s.value.index.kind === 'Range') {
      const slice = elabSlice(s, dims, diags);
      if (slice) cfg.slices.push(slice);
      if (s.type) typed.set(name, s);
      continue;
    }
    if (s.type) {
      diags.push(diagnostic('E1002', `only window slices (\`${name} = data[a .. b]\`) take a type`, s.type.span));
      continue;
    }
    switch (name) {
      case 'data': {
        const d = elabData(s.value, dims, diags, datasets);
        if (d) cfg.data = d;
        break;
      }
      case 'optimizer':
        elabOptimizer(s.value, cfg, dims, diags);
        break;
      case 'schedule':
        elabSchedule(s.value, cfg, dims, diags);
        break;
      case 'clip':
        cfg.clip = setting(s, SETTING_RULES.clip) ?? cfg.clip;
        break;
      case 'steps':
        cfg.steps = setting(s, SETTING_RULES.steps) ?? cfg.steps;
        break;
      case 'eval_every':
        cfg.evalEvery = setting(s, SETTING_RULES.eval_every) ?? cfg.evalEvery;
        break;
      case 'eval_batches':
        cfg.evalBatches = setting(s, SETTING_RULES.eval_batches) ?? cfg.evalBatches;
        break;
      case 'seed':
        cfg.seed = setting(s, SETTING_RULES.seed) ?? cfg.seed;
        break;
      case 'val_fraction':
        cfg.valFraction = setting(s, SETTING_RULES.val_fraction) ?? cfg.valFraction;
        break;
      default:
        diags.push(diagnostic('E1001', `unknown train setting \`${name}\``, s.name.span, {
          help: suggest(name, SETTINGS, `settings are ${SETTINGS.map((x) => `\`${x}\``).join(', ')}, window slices \`NAME = data[a .. b]\`, and \`lr PATTERN = ...\``),
        }));
    }
  }

  const fromFile = { lr: cfg.optimizer.lr, minLr: cfg.schedule.kind === 'warmup_cosine' ? cfg.schedule.minLr : 0 };
  applyOverrides(cfg, overrides, diags, file);
  checkTogether(cfg, section, fromFile, diags, file);

  for (const entry of section?.entries ?? []) {
    if (entry.kind !== 'TrainGroupSetting') continue;
    const setting = entry.setting.name;
    if (setting !== 'lr' && setting !== 'weight_decay') {
      diags.push(diagnostic('E1001', `\`${setting}\` cannot be set per parameter`, entry.setting.span, { help: 'per-parameter settings are `lr PATTERN = ...` and `weight_decay PATTERN = ...`' }));
      continue;
    }
    // Check the expression once with a stand-in base, then keep it as a function of the base.
    const probe = evalConstExpr(entry.value, dims, diags, new Map([[setting, 1]]));
    if (probe === undefined) continue;
    const value = (base: number) => evalConstExpr(entry.value, dims, [], new Map([[setting, base]]))!;
    cfg.groups.push({ setting, pattern: entry.pattern.text, value, js: constExprJs(entry.value, dims, setting), span: entry.span });
  }
  return { config: cfg, typed };
}

function applyOverrides(cfg: TrainConfig, overrides: ReadonlyMap<string, number>, diags: Diagnostic[], file: string) {
  for (const [k, v] of overrides) {
    const rule = SETTING_RULES[k as keyof typeof SETTING_RULES];
    if (rule && !rule.ok(v)) {
      diags.push(diagnostic('E1004', `--set ${k}=${v}: \`${k}\` must be ${rule.what}`, fileSpan(file)));
      continue;
    }
    if ((k === 'warmup' || k === 'min_lr') && cfg.schedule.kind !== 'warmup_cosine') {
      diags.push(diagnostic('E1004', `--set ${k}=${v}: the schedule is \`${cfg.schedule.kind}\`, which has no \`${k}\``, fileSpan(file), {
        help: 'set `schedule = warmup_cosine(warmup: STEPS, min_lr: LR)` in the train section',
      }));
      continue;
    }
    switch (k) {
      case 'steps':
        cfg.steps = v;
        break;
      case 'clip':
        cfg.clip = v;
        break;
      case 'lr':
        cfg.optimizer.lr = v;
        break;
      case 'seed':
        cfg.seed = v;
        break;
      case 'eval_every':
        cfg.evalEvery = v;
        break;
      case 'eval_batches':
        cfg.evalBatches = v;
        break;
      case 'weight_decay':
        cfg.optimizer.weightDecay = v;
        break;
      case 'val_fraction':
        cfg.valFraction = v;
        break;
      case 'warmup':
        if (cfg.schedule.kind === 'warmup_cosine') cfg.schedule.warmup = v;
        break;
      case 'min_lr':
        if (cfg.schedule.kind === 'warmup_cosine') cfg.schedule.minLr = v;
        break;
    }
  }
}

/**
 * Rules between settings, once the file and `--set` have both spoken: the cosine schedule
 * decays from `lr` down to `min_lr`, so `min_lr` above `lr` would raise the rate instead.
 */
function checkTogether(cfg: TrainConfig, section: TrainSection | undefined, fromFile: { lr: number; minLr: number }, diags: Diagnostic[], file: string) {
  const s = cfg.schedule;
  if (s.kind !== 'warmup_cosine' || s.minLr <= cfg.optimizer.lr) return;
  const message = `\`min_lr\` (${s.minLr}) is above \`lr\` (${cfg.optimizer.lr}): the schedule decays from lr down to min_lr`;
  const help = 'make min_lr at most lr (often lr / 10)';
  if (fromFile.minLr === s.minLr && fromFile.lr === cfg.optimizer.lr) {
    const at = section?.entries.find((e) => e.kind === 'TrainSetting' && e.name.name === 'schedule');
    diags.push(diagnostic('E1002', message, at?.value.span ?? section?.span ?? fileSpan(file), { help }));
  } else {
    diags.push(diagnostic('E1004', `--set: ${message}`, fileSpan(file), { help }));
  }
}

function elabSlice(s: TrainSetting, dims: ReadonlyMap<string, DimValue>, diags: Diagnostic[]): WindowSlice | undefined {
  const idx = s.value as Extract<Expr, { kind: 'Index' }>;
  const range = idx.index as Extract<Expr, { kind: 'Range' }>;
  if (idx.target.kind !== 'NameRef' || idx.target.name.name !== 'data') {
    diags.push(diagnostic('E1002', 'window slices are taken of `data`', idx.target.span, { help: `write \`${s.name.name} = data[a .. b]\`` }));
    return undefined;
  }
  const start = evalConstExpr(range.start, dims, diags);
  const end = evalConstExpr(range.end, dims, diags);
  if (start === undefined || end === undefined) return undefined;
  if (!Number.isInteger(start) || !Number.isInteger(end) || start < 0 || end <= start) {
    diags.push(diagnostic('E1002', `\`data[${start} .. ${end}]\` is not a valid slice`, range.span, { help: 'slices are half-open `a .. b` with 0 <= a < b' }));
    return undefined;
  }
  return { name: s.name.name, start, end, span: s.span };
}

function elabData(e: Expr, dims: ReadonlyMap<string, DimValue>, diags: Diagnostic[], datasets: readonly string[]): TrainConfig['data'] {
  if (e.kind !== 'Call' || e.callee.name !== 'text') {
    diags.push(diagnostic('E1002', '`data` must be a dataset such as `text("tinyshakespeare", window: seq + 1)`', e.span));
    return undefined;
  }
  const [src] = e.args;
  if (e.args.length !== 1 || src.kind !== 'StringLit') {
    diags.push(diagnostic('E1002', '`text(...)` takes the dataset name or a file path as a string', e.span, { help: 'write `text("tinyshakespeare", window: seq + 1)`' }));
    return undefined;
  }
  // A bare name (no path separator or extension) a letter or two from a known dataset is a typo:
  // it would otherwise be read as a file of that name when training starts.
  const known = datasets;
  if (!known.includes(src.value) && !/[./\\]/.test(src.value) && known.some((k) => editDistance(src.value, k) <= 2)) {
    diags.push(diagnostic('E0703', `unknown dataset \`${src.value}\``, src.span, {
      help: `${suggest(src.value, known, '')} (known datasets: ${known.join(', ')}; a file needs a path such as \`./${src.value}.txt\`)`,
    }));
    return undefined;
  }
  const w = e.named.find((n) => n.name.name === 'window');
  for (const n of e.named) if (n.name.name !== 'window' && n.name.name !== 'batch') diags.push(diagnostic('E1002', `\`text\` has no argument \`${n.name.name}\``, n.span, { help: 'it takes `window:` and `batch:`' }));
  if (!w) {
    diags.push(diagnostic('E1002', '`text(...)` needs `window:`, the characters per training window', e.span, { help: 'for next-character prediction use `window: seq + 1`' }));
    return undefined;
  }
  const window = evalConstExpr(w.value, dims, diags);
  if (window === undefined) return undefined;
  if (!Number.isInteger(window) || window < 1) {
    diags.push(diagnostic('E1002', `the window must be a positive integer, found ${window}`, w.value.span));
    return undefined;
  }
  // The batch dim: declared with `batch: DIM`, else the dim named `batch` (documented default).
  const b = e.named.find((n) => n.name.name === 'batch');
  let batch: DataSource['batch'];
  if (b) {
    if (b.value.kind !== 'NameRef' || !dims.has(b.value.name.name)) {
      diags.push(diagnostic('E1002', '`batch:` names the dim that counts windows per training step', b.value.span, { help: `write \`batch: ${dims.has('batch') ? 'batch' : 'DIM'}\`, a dim declared with \`dim\`` }));
      return undefined;
    }
    batch = { dim: b.value.name.name, span: b.value.span };
  } else if (dims.has('batch')) batch = { dim: 'batch', span: e.span };
  return { kind: 'text', name: src.value, window, ...(batch ? { batch } : {}), span: e.span };
}

function namedNumbers(call: Call, allowed: readonly string[], dims: ReadonlyMap<string, DimValue>, diags: Diagnostic[]): Map<string, number | number[]> {
  const out = new Map<string, number | number[]>();
  for (const a of call.args) diags.push(diagnostic('E1002', `\`${call.callee.name}\` takes named arguments only`, a.span, { help: `it takes ${allowed.map((x) => `\`${x}:\``).join(', ')}` }));
  for (const n of call.named) {
    if (!allowed.includes(n.name.name)) {
      diags.push(diagnostic('E1002', `\`${call.callee.name}\` has no argument \`${n.name.name}\``, n.span, { help: suggest(n.name.name, allowed, `it takes ${allowed.map((x) => `\`${x}:\``).join(', ')}`) }));
      continue;
    }
    if (n.value.kind === 'Tuple') {
      const vs = n.value.items.map((x) => evalConstExpr(x, dims, diags));
      if (vs.every((v) => v !== undefined)) out.set(n.name.name, vs as number[]);
    } else {
      const v = evalConstExpr(n.value, dims, diags);
      if (v !== undefined) out.set(n.name.name, v);
    }
  }
  return out;
}

function elabOptimizer(e: Expr, cfg: TrainConfig, dims: ReadonlyMap<string, DimValue>, diags: Diagnostic[]) {
  if (e.kind !== 'Call' || e.callee.name !== 'adamw') {
    diags.push(diagnostic('E1002', 'the optimizer must be `adamw(...)`', e.span, { help: 'write `optimizer = adamw(lr: 1e-3, betas: (0.9, 0.99), weight_decay: 0.1)`' }));
    return;
  }
  const args = namedNumbers(e, ['lr', 'betas', 'eps', 'weight_decay'], dims, diags);
  const o = cfg.optimizer;
  const bad = (msg: string) => diags.push(diagnostic('E1002', msg, e.span));
  const scalar = (name: 'lr' | 'eps' | 'weight_decay'): number | undefined => {
    const v = args.get(name);
    if (v === undefined) return undefined;
    if (typeof v === 'number' && SETTING_RULES[name].ok(v)) return v;
    bad(`\`${name}:\` must be ${SETTING_RULES[name].what}, found ${Array.isArray(v) ? `(${v.join(', ')})` : v}`);
    return undefined;
  };
  o.lr = scalar('lr') ?? o.lr;
  const betas = args.get('betas');
  if (betas !== undefined) {
    if (!Array.isArray(betas) || betas.length !== 2 || !betas.every(SETTING_RULES.beta.ok)) bad(`\`betas:\` must be a pair \`(beta1, beta2)\` of numbers ${SETTING_RULES.beta.what}`);
    else [o.beta1, o.beta2] = betas;
  }
  o.eps = scalar('eps') ?? o.eps;
  o.weightDecay = scalar('weight_decay') ?? o.weightDecay;
}

function elabSchedule(e: Expr, cfg: TrainConfig, dims: ReadonlyMap<string, DimValue>, diags: Diagnostic[]) {
  const name = e.kind === 'Call' ? e.callee.name : e.kind === 'NameRef' ? e.name.name : '';
  if (name === 'constant') {
    cfg.schedule = { kind: 'constant' };
    return;
  }
  if (name === 'warmup_cosine' && e.kind === 'Call') {
    const args = namedNumbers(e, ['warmup', 'min_lr'], dims, diags);
    const warmup = args.get('warmup') ?? 0;
    const minLr = args.get('min_lr') ?? 0;
    if (typeof warmup !== 'number' || !SETTING_RULES.warmup.ok(warmup)) {
      diags.push(diagnostic('E1002', `\`warmup:\` must be ${SETTING_RULES.warmup.what}, found ${warmup}`, e.span));
      return;
    }
    if (typeof minLr !== 'number' || !SETTING_RULES.min_lr.ok(minLr)) {
      diags.push(diagnostic('E1002', `\`min_lr:\` must be ${SETTING_RULES.min_lr.what}, found ${minLr}`, e.span));
      return;
    }
    cfg.schedule = { kind: 'warmup_cosine', warmup, minLr };
    return;
  }
  diags.push(diagnostic('E1002', 'unknown schedule', e.span, { help: 'schedules are `constant` and `warmup_cosine(warmup: STEPS, min_lr: LR)`' }));
}

/** A checked constant expression as JavaScript, with `base` standing for the setting's base value. */
function constExprJs(e: Expr, dims: ReadonlyMap<string, DimValue>, baseName: string): string {
  const rec = (x: Expr): string => {
    switch (x.kind) {
      case 'NumberLit':
        return String(x.value);
      case 'InfLit':
        return 'Infinity';
      case 'Paren':
        return `(${rec(x.inner)})`;
      case 'Unary':
        return `(-${rec(x.operand)})`;
      case 'NameRef':
        return x.name.name === baseName ? 'base' : String(dims.get(x.name.name)?.value ?? NaN);
      case 'Binary':
        return `(${rec(x.left)} ${x.op === '^' ? '**' : x.op} ${rec(x.right)})`;
      case 'Call': {
        const f = { sqrt: 'Math.sqrt', exp: 'Math.exp', log: 'Math.log' }[x.callee.name as 'sqrt' | 'exp' | 'log'];
        if (f) return `${f}(${rec(x.args[0])})`;
        if (x.callee.name === 'rsqrt') return `(1 / Math.sqrt(${rec(x.args[0])}))`;
        return 'NaN';
      }
      default:
        return 'NaN';
    }
  };
  return rec(e);
}
