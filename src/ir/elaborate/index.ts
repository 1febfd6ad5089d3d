/**
 * Elaboration: AST → typed IR. Dims are evaluated (data.* bound from the dataset, `--set`
 * overrides applied), axes resolved to identities, blocks inlined with hierarchical
 * parameter names, repeats unrolled, the forward pass, loss and train section elaborated.
 * Type rules of every op run as nodes are added, so shape and axis errors are reported here.
 */
import { diagnostic, fileSpan, type Diagnostic } from '../../diagnostics/index.js';
import type { BlockDecl, DimDecl, DimExpr, ForwardDecl, LossDecl, ModelFile, ParamDecl, TrainSection, TensorTypeExpr } from '../../parser/ast.js';
import { GraphBuilder } from '../graph.js';
import { AxisTable, formatType, type Axis, type Graph, type TensorType } from '../types.js';
import { dimRefs, evaluateDims, formatDim, resetSuggestions, suggest, type DataBindings } from './dims.js';
import { declareParam, elabBody, elabExpr, resolveAxis, resolveShape, Scope, type ElabContext } from './expr.js';
import type { ElaboratedModel } from './model.js';
import { elaborateTrain, OVERRIDABLE_TRAIN_SETTINGS } from './train.js';
import { matchPattern } from './patterns.js';
import { checkTensorSizes } from './limits.js';
import { resolveFanIn } from './init.js';

export * from './model.js';
export { PLACEHOLDER_DATA_SIZE, type DataBindings } from './dims.js';
export { OVERRIDABLE_TRAIN_SETTINGS } from './train.js';
export { matchPattern } from './patterns.js';
export { MAX_BLOCK_DEPTH, MAX_DIM, MAX_GRAPH_NODES, MAX_REPEAT, MAX_TENSOR_ELEMENTS } from './limits.js';

export interface ElaborateOptions {
  /** Values from the dataset (`data.vocab`); without them a placeholder size is used. */
  data?: DataBindings;
  /** `--set NAME=VALUE`: dims and scalar train settings. */
  overrides?: ReadonlyMap<string, number>;
  /**
   * The datasets `text("NAME", ...)` can name (the runtime's registry, which the driver hands
   * over): a bare name a letter or two from one of them is a typo (E0703). None: no such check.
   */
  datasets?: readonly string[];
}

export interface ElaborateResult {
  model?: ElaboratedModel;
  /** The graph built so far, also when errors left the model incomplete (for further checks). */
  graph?: Graph;
  /** Parameter nodes referenced by name, also in expressions that failed to elaborate. */
  referencedParams?: ReadonlySet<number>;
  diagnostics: Diagnostic[];
}

export function elaborate(ast: ModelFile, options: ElaborateOptions = {}): ElaborateResult {
  resetSuggestions();
  const diags: Diagnostic[] = [];
  const file = ast.span.file;
  const overrides = options.overrides ?? new Map<string, number>();

  const dimDecls = ast.items.filter((i) => i.kind === 'DimDecl');
  const dimNames = new Set(dimDecls.map((d) => d.name.name));
  const trainOverrides = new Map<string, number>();
  const dimOverrides = new Map<string, number>();
  for (const [k, v] of overrides) {
    if (dimNames.has(k)) {
      const refused = refusedDimOverride(dimDecls.find((d) => d.name.name === k)!, v);
      if (refused) diags.push(refused);
      else dimOverrides.set(k, v);
      continue;
    }
    if ((OVERRIDABLE_TRAIN_SETTINGS as readonly string[]).includes(k)) trainOverrides.set(k, v);
    else
      diags.push(diagnostic('E1004', `--set ${k}: the model has no dim or train setting \`${k}\``, fileSpan(file), {
        help: suggest(k, [...dimNames, ...OVERRIDABLE_TRAIN_SETTINGS], `dims are ${[...dimNames].join(', ')}; settings are ${OVERRIDABLE_TRAIN_SETTINGS.join(', ')}`),
      }));
  }
  const dims = evaluateDims(dimDecls, options.data, dimOverrides, diags);

  // One axis per dim, then aliases. Dims and aliases that failed are already reported:
  // their uses stay silent.
  const axisTable = new AxisTable();
  const axes = new Map<string, Axis>();
  const failedAxes = new Set([...dimNames].filter((n) => !dims.has(n)));
  const aliasRoot = new Map<number, number>();
  for (const [name, d] of dims) axes.set(name, axisTable.create(name, d.value));
  for (const item of ast.items) {
    if (item.kind !== 'AxisDecl') continue;
    if (axes.has(item.name.name) || dimNames.has(item.name.name)) {
      diags.push(diagnostic('E0202', `\`${item.name.name}\` is already declared`, item.name.span, { help: 'axis aliases need a new name' }));
      continue;
    }
    const base = axes.get(item.sizeOf.name);
    if (!base) {
      failedAxes.add(item.name.name);
      if (!dimNames.has(item.sizeOf.name) && !failedAxes.has(item.sizeOf.name))
        diags.push(diagnostic('E0201', `unknown dim \`${item.sizeOf.name}\``, item.sizeOf.span, { help: suggest(item.sizeOf.name, axes.keys(), 'an axis alias takes the size of a dim: `axis key = seq`') }));
      continue;
    }
    const alias = axisTable.create(item.name.name, base.size);
    axes.set(item.name.name, alias);
    aliasRoot.set(alias.id, aliasRoot.get(base.id) ?? base.id);
  }

  const dataDim = dimDecls.find((d) => d.value.kind === 'DataRef' && d.value.field.name === 'vocab');
  const dataAxis = dataDim ? axes.get(dataDim.name.name) : undefined;

  const blocks = new Map<string, BlockDecl>();
  for (const item of ast.items) {
    if (item.kind !== 'BlockDecl') continue;
    if (blocks.has(item.name.name)) {
      diags.push(diagnostic('E0202', `block \`${item.name.name}\` is declared twice`, item.name.span, { labels: [{ span: blocks.get(item.name.name)!.name.span, message: 'first declared here' }] }));
      continue;
    }
    blocks.set(item.name.name, item);
  }

  const b = new GraphBuilder();
  const globals = new Map<string, number>();
  const cx: ElabContext = {
    b,
    diags,
    dims,
    axes,
    blocks,
    globals,
    stack: [],
    unused: new Map(),
    usedSpans: new Set(),
    intLiterals: new Map(),
    poisoned: new Set(),
    failedAxes,
    referencedParams: new Set(),
    aliasRoot,
    blockResults: new Map(),
    pendingInits: [],
  };
  const top = new Scope('');
  for (const item of ast.items) {
    if (item.kind !== 'ParamDecl') continue;
    if (globals.has(item.name.name) || axes.has(item.name.name) || blocks.has(item.name.name)) {
      diags.push(diagnostic('E0202', `\`${item.name.name}\` is already declared`, item.name.span, { help: 'give the parameter another name' }));
      continue;
    }
    const id = declareParam(cx, top, item as ParamDecl);
    if (id !== undefined) globals.set(item.name.name, id);
  }

  const forwards = ast.items.filter((i): i is ForwardDecl => i.kind === 'ForwardDecl');
  const losses = ast.items.filter((i): i is LossDecl => i.kind === 'LossDecl');
  const trains = ast.items.filter((i): i is TrainSection => i.kind === 'TrainSection');
  for (const [what, list] of [['forward', forwards], ['loss', losses], ['train', trains]] as const) {
    for (const extra of list.slice(1)) diags.push(diagnostic('E0202', `a model has one \`${what}\``, extra.span, { labels: [{ span: list[0].span, message: 'first here' }] }));
  }
  const forward = forwards[0];
  if (!forward) {
    diags.push(diagnostic('E0208', 'the model has no `forward`', ast.name?.span ?? fileSpan(file), { help: 'add `forward(tokens: index[batch, seq] of vocab) -> logits { ... }`' }));
    return { diagnostics: diags };
  }

  const train = elaborateTrain(trains[0], dims, trainOverrides, diags, file, options.datasets ?? []);

  // Forward inputs.
  const fscope = new Scope('');
  const inputTypes = new Map<string, TensorType>();
  for (const input of forward.inputs) {
    const t = elabTensorType(cx, input.type);
    if (!t) {
      cx.poisoned.add(input.name.name); // reported; its uses stay silent
      continue;
    }
    if (fscope.values.has(input.name.name)) {
      diags.push(diagnostic('E0202', `input \`${input.name.name}\` is declared twice`, input.name.span));
      continue;
    }
    const id = b.input(input.name.name, t, input.span);
    inputTypes.set(input.name.name, t);
    fscope.values.set(input.name.name, { id, span: input.name.span, used: false, user: false });
  }
  const body = elabBody(cx, fscope, forward.body);
  // Too large to finish (reported): the partial graph would only mislead the later checks.
  if (cx.tooLarge) return { diagnostics: dedupe(diags) };
  if (!body.returned) {
    diags.push(diagnostic('E0208', '`forward` has no `return`', forward.span, { help: `end it with \`return EXPR\` (the value named \`${forward.output.name}\`)` }));
  }
  for (const input of forward.inputs) {
    const v = fscope.values.get(input.name.name);
    if (v && !v.used) diags.push(diagnostic('W0802', `input \`${input.name.name}\` is never used`, input.name.span, { help: 'remove it, or use it in the forward pass' }));
  }
  let logits = body.ret;
  if (logits !== undefined && b.type(logits).dtype !== 'f32') {
    // The forward output is what the loss and sampling read: a float tensor of logits.
    const ret = forward.body.find((s) => s.kind === 'ReturnStmt');
    diags.push(diagnostic('E0308', `the forward output \`${forward.output.name}\` must be a float tensor (logits), but it is ${formatType(b.type(logits))}`, ret?.value.span ?? forward.span, {
      help: b.type(logits).dtype === 'bool' ? 'return the scores themselves; a comparison is a mask' : 'return float scores, e.g. `layernorm(x) . wte over embed`',
    }));
    logits = undefined;
  }
  if (logits !== undefined) {
    b.output(forward.output.name, logits);
    b.node(logits).name ??= forward.output.name;
  }

  // The loss sees the forward output and the train section's window slices.
  let loss: number | undefined;
  /** Window slices the model reads: bound to a forward input, or used by the loss. */
  const usedSlices = new Set(forward.inputs.map((i) => i.name.name));
  const loss0 = losses[0];
  if (!loss0) {
    diags.push(diagnostic('E0208', 'the model has no `loss`', forward.span, { help: `add \`loss = cross_entropy(${forward.output.name}, targets, over: vocab)\`` }));
  } else if (logits !== undefined) {
    const lscope = new Scope('');
    lscope.values.set(forward.output.name, { id: logits, span: forward.output.span, used: false, user: false });
    const firstIndexInput = forward.inputs.map((i) => inputTypes.get(i.name.name)).find((t) => t?.dtype === 'i32');
    const dataBound = new Set<string>();
    for (const slice of train.config.slices) {
      if (inputTypes.has(slice.name)) continue;
      const typed = train.typed.get(slice.name);
      const t = typed?.type ? elabTensorType(cx, typed.type) : firstIndexInput;
      if (!t) {
        cx.poisoned.add(slice.name);
        continue;
      }
      const id = b.input(slice.name, t, slice.span);
      dataBound.add(slice.name);
      lscope.values.set(slice.name, { id, span: slice.span, used: false, user: false });
    }
    const before = diags.length;
    loss = elabExpr(cx, lscope, loss0.value, false);
    for (const name of dataBound) if (lscope.values.get(name)?.used) usedSlices.add(name);
    // A cross-entropy whose targets come from the data is a data-contract error (E0702).
    for (let i = before; i < diags.length; i++) {
      const d = diags[i];
      if (d.code !== 'E0503' || loss0.value.kind !== 'Call') continue;
      const targets = loss0.value.args[1];
      if (targets?.kind === 'NameRef' && dataBound.has(targets.name.name)) {
        const over = loss0.value.named.find((n) => n.name.name === 'over');
        diags[i] = diagnostic('E0702', `the targets come from the data, whose characters are positions of \`${dataAxis?.name ?? 'vocab'}\`, but the loss is taken over \`${over && over.value.kind === 'NameRef' ? over.value.name.name : '?'}\``, d.span, {
          labels: d.labels,
          help: `take the loss \`over: ${dataAxis?.name ?? 'vocab'}\``,
        });
      }
    }
    if (loss !== undefined) {
      const lt = b.type(loss);
      if (lt.axes.length !== 0 || lt.dtype !== 'f32') {
        diags.push(diagnostic('E0309', `the loss must be a float scalar, but it is ${formatType(lt)}`, loss0.value.span, { help: 'reduce it, e.g. `mean(x, over: (batch, seq))`; cross_entropy already averages over positions' }));
        loss = undefined;
      } else {
        b.output('loss', loss);
        b.node(loss).name ??= 'loss';
      }
    }
  }

  resolveFanIn(b.graph, cx.pendingInits, dims, diags);

  const batchDim = train.config.data?.batch?.dim;
  const batch = batchDim !== undefined && dims.has(batchDim) && axes.has(batchDim) ? { name: batchDim, size: dims.get(batchDim)!.value, axis: axes.get(batchDim)! } : undefined;
  checkDataContract(cx, train.config, forward, inputTypes, dataAxis, batch?.axis, loss !== undefined, usedSlices);

  // Parameter-group patterns must name something.
  for (const g of train.config.groups) {
    if (!b.graph.params.some((p) => matchPattern(g.pattern, p.name)))
      diags.push(diagnostic('E1003', `\`${g.setting} ${g.pattern}\` matches no parameter`, g.span, {
        help: suggest(g.pattern, b.graph.params.map((p) => p.name), `parameters are named like ${b.graph.params.slice(0, 3).map((p) => `\`${p.name}\``).join(', ')}`),
      }));
  }

  for (const d of checkTensorSizes(b.graph)) diags.push(d);

  for (const u of cx.unused.values()) {
    diags.push(diagnostic('W0802', `\`${u.name}\` is assigned but never used`, u.span, { help: `remove the assignment, or use \`${u.name}\`` }));
  }

  const model: ElaboratedModel | undefined =
    logits === undefined
      ? undefined
      : {
          name: ast.name?.name ?? 'model',
          dims,
          axes,
          dataAxis,
          ...(batch ? { batch } : {}),
          graph: b.graph,
          logits,
          loss,
          outputName: forward.output.name,
          train: train.config,
          source: { file },
        };
  return { model, graph: b.graph, referencedParams: cx.referencedParams, diagnostics: dedupe(diags) };
}

/**
 * `--set` only replaces dims the file gives a number: a dim bound from the data is the
 * data's (`--set vocab=10` made gathers read past the table), and a dim computed from
 * others would silently stop following them (`--set head=7` against `embed / heads`).
 */
function refusedDimOverride(decl: DimDecl, v: number): Diagnostic | undefined {
  const name = decl.name.name;
  const span = fileSpan(decl.span.file);
  if (usesData(decl.value)) {
    return diagnostic('E1004', `--set ${name}=${v}: \`${name}\` is bound from the data (\`${formatDim(decl.value)}\`), so it cannot be set`, span, {
      help: `the text's characters decide \`${name}\`; to check the model at another size, use \`mdlc check --vocab N\``,
    });
  }
  const refs = [...new Set(dimRefs(decl.value))];
  if (refs.length) {
    return diagnostic('E1004', `--set ${name}=${v}: \`${name}\` is computed from other dims (\`${name} = ${formatDim(decl.value)}\`), so it cannot be set`, span, {
      help: `set ${refs.map((r) => `\`${r}\``).join(' or ')} instead`,
    });
  }
  return undefined;
}

function usesData(e: DimExpr): boolean {
  return e.kind === 'DataRef' || (e.kind === 'DimParen' && usesData(e.inner)) || (e.kind === 'DimBinary' && (usesData(e.left) || usesData(e.right)));
}


function elabTensorType(cx: ElabContext, t: TensorTypeExpr): TensorType | undefined {
  const axes = resolveShape(cx, t.axes);
  if (!axes) return undefined;
  if (t.dtype === 'f32') return { dtype: 'f32', axes };
  if (!t.of) {
    cx.diags.push(diagnostic('E0310', 'an index type names the axis it indexes', t.span, { help: 'write `index[batch, seq] of vocab`' }));
    return undefined;
  }
  const of = resolveAxis(cx, t.of);
  if (!of) return undefined;
  return { dtype: 'i32', axes, indexOf: of };
}

/** Windows long enough for every slice; every index input bound by a slice of matching length. */
function checkDataContract(
  cx: ElabContext,
  cfg: ElaboratedModel['train'],
  forward: ForwardDecl,
  inputTypes: Map<string, TensorType>,
  dataAxis: Axis | undefined,
  batchAxis: Axis | undefined,
  /** False when the loss is missing or failed: its slices were never bound, so are not "unused". */
  lossOk: boolean,
  usedSlices: ReadonlySet<string>,
) {
  const { diags, b } = cx;
  const data = cfg.data;
  if (!data) return;
  for (const s of cfg.slices) {
    if (s.end > data.window) {
      diags.push(diagnostic('E0701', `\`${s.name} = data[${s.start} .. ${s.end}]\` needs windows of ${s.end} characters, but \`window:\` is ${data.window}`, s.span, {
        labels: [{ span: data.span, message: `windows of ${data.window}` }],
        help: `make the window at least ${s.end} long, e.g. \`window: ${s.end === data.window + 1 ? 'seq + 1' : s.end}\``,
      }));
    }
  }
  const sliceNames = new Set(cfg.slices.map((s) => s.name));
  for (const input of forward.inputs) {
    const t = inputTypes.get(input.name.name);
    if (!t) continue;
    if (!sliceNames.has(input.name.name)) {
      diags.push(diagnostic('E0704', `forward input \`${input.name.name}\` is not bound to the data`, input.span, { help: `add \`${input.name.name} = data[0 .. seq]\` to the train section` }));
    }
  }
  // Every slice bound to an input (forward input or a loss input) must match its type.
  for (const s of cfg.slices) {
    const info = b.graph.inputs.find((i) => i.name === s.name);
    if (!info || !usedSlices.has(s.name)) {
      if (lossOk)
        diags.push(diagnostic('W0802', `window slice \`${s.name}\` is not used by the model`, s.span, { help: `forward inputs are ${forward.inputs.map((i) => `\`${i.name.name}\``).join(', ')}` }));
      continue;
    }
    const t = info.type;
    if (t.dtype !== 'i32' || (dataAxis && t.indexOf?.id !== dataAxis.id)) {
      diags.push(diagnostic('E0704', `\`${s.name}\` is bound to data windows (positions of \`${dataAxis?.name ?? 'vocab'}\`) but declared ${formatType(t)}`, s.span, {
        labels: [{ span: info.span, message: 'declared here' }],
        help: `declare it \`index[...] of ${dataAxis?.name ?? 'vocab'}\``,
      }));
      continue;
    }
    const time = t.axes.filter((a) => a.id !== batchAxis?.id);
    const len = s.end - s.start;
    if (time.length !== 1 || time[0].size !== len || (batchAxis && !t.axes.some((a) => a.id === batchAxis.id))) {
      diags.push(diagnostic('E0704', `\`${s.name} = data[${s.start} .. ${s.end}]\` gives windows of ${len} positions per batch row, but \`${s.name}\` is ${formatType(t)}`, s.span, {
        labels: [{ span: info.span, message: 'declared here' }],
        help: time.length === 1 ? `slice ${time[0].size} positions, e.g. \`data[${s.start} .. ${s.start + time[0].size}]\`` : 'inputs bound to data have axes [batch, TIME]',
      }));
    } else if (batchAxis && t.axes[0].id !== batchAxis.id) {
      // A batch of windows is laid out one window after another: the batch axis comes first.
      diags.push(diagnostic('E0704', `\`${s.name}\` is bound to a batch of windows, stored one window after another, but its first axis is \`${t.axes[0].name}\`, not the batch axis \`${batchAxis.name}\``, info.span, {
        labels: [{ span: s.span, message: 'bound here' }],
        help: `declare it \`index[${batchAxis.name}, ${time[0].name}] of ${t.indexOf?.name ?? 'vocab'}\``,
      }));
    }
  }
}

function dedupe(diags: Diagnostic[]): Diagnostic[] {
  const seen = new Set<string>();
  return diags.filter((d) => {
    const k = `${d.code}|${d.span.file}|${d.span.start}|${d.span.end}|${d.message}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}
