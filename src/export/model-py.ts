/**
 * model.py: the checked model as PyTorch modules. One nn.Module class per .mdl block (calls
 * with the same code share it), repeats as nn.ModuleList, parameters under their .mdl names
 * (so state_dict keys are mdlc's parameter names) with their declared axis order. Every
 * statement is preceded by the .mdl line it computes.
 */
import type { ElaboratedModel } from '../ir/elaborate/model.js';
import { reach } from '../ir/graph.js';
import type { Axis, Graph, Init, IRNode, ParamInfo } from '../ir/types.js';
import { atom, axisList, className, einsumLetters, opExpr, pyIdent, pyNumber, type Operand, type PyExpr } from './python.js';
import { itemsOf, moduleTree, readersOf, type Item, type ModuleInstance, type RepeatLoop } from './structure.js';

/** A model that cannot be written as PyTorch: a one-line error for the user. */
export class ExportError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ExportError';
  }
}

export interface ModelPy {
  text: string;
  /** The model's class. */
  className: string;
  /** Arguments of `forward` and of `loss` (after the forward output), by .mdl input name. */
  forwardInputs: string[];
  lossInputs: string[];
}

export interface ModelPyOptions {
  /** The .mdl source text, quoted beside the code it became. */
  sourceText: string;
  /** The .mdl path as the user named it (for comments). */
  sourcePath: string;
  version: string;
}

/** nn.Module attributes a parameter or submodule must not shadow. */
const MODULE_ATTRS = new Set(
  (
    'training forward loss to cpu cuda eval train float double half bfloat16 type apply parameters buffers children modules ' +
    'named_parameters named_buffers named_children named_modules state_dict load_state_dict zero_grad register_buffer ' +
    'register_parameter register_module add_module get_parameter get_buffer get_submodule requires_grad_ share_memory ' +
    'extra_repr dump_patches call_super_init to_empty ipu xpu register_forward_hook register_forward_pre_hook ' +
    'register_backward_hook register_full_backward_hook set_extra_state get_extra_state'
  ).split(' '),
);

interface Context {
  graph: Graph;
  model: ElaboratedModel;
  readers: number[][];
  letters: Map<number, string>;
  /** Python name of each axis size constant, by axis id. */
  sizeNames: Map<number, string>;
  lines: string[];
  /** Class text (without its name) → class name, and names taken. */
  classes: Map<string, string>;
  taken: Set<string>;
  out: string[];
}

export function emitModelPy(model: ElaboratedModel, options: ModelPyOptions): ModelPy {
  const graph = model.graph;
  const axes = [...model.axes.values()];
  const cx: Context = {
    graph,
    model,
    readers: readersOf(graph),
    letters: einsumLetters(axes),
    sizeNames: sizeConstantNames(axes),
    lines: options.sourceText.split(/\r?\n/),
    classes: new Map(),
    taken: new Set(),
    out: [],
  };
  const root = moduleTree(graph);
  const rootClass = className(model.name);
  cx.taken.add(rootClass);

  // The model class: forward (the inputs to the forward output) and loss.
  const logits = model.logits;
  const loss = model.loss;
  const forwardNeeds = reach(graph, [logits]);
  const lossNeeds = loss === undefined ? new Set<number>() : reach(graph, [loss]);
  const inputsIn = (needs: Set<number>) => graph.inputs.filter((i) => needs.has(i.node));
  const forwardInputs = inputsIn(forwardNeeds);
  const lossInputs = inputsIn(lossNeeds).filter((i) => !forwardNeeds.has(i.node));
  const items = itemsOf(graph, root, cx.readers);
  const defines = (it: Item) => (it.kind === 'node' ? [it.id] : it.kind === 'call' ? [...it.outputs, ...it.child.subtree] : [...it.loop.outputs.flat(), ...it.loop.iterations.flatMap((x) => x.subtree)]);
  const forwardItems = items.filter((it) => defines(it).some((id) => forwardNeeds.has(id)));
  const lossItems = items.filter((it) => !forwardItems.includes(it) && defines(it).some((id) => lossNeeds.has(id)));
  const body = moduleBody(cx, root, [
    { name: 'forward', args: forwardInputs.map((i) => ({ name: i.name, node: i.node })), items: forwardItems, returns: [logits], doc: `The forward pass: ${forwardInputs.map((i) => `${i.name} ${describe(i.type)}`).join(', ')} → ${model.outputName} ${axisList(graph.nodes[logits].type.axes)}.` },
    ...(loss === undefined
      ? []
      : [{ name: 'loss', args: [{ name: model.outputName, node: logits }, ...lossInputs.map((i) => ({ name: i.name, node: i.node }))], items: lossItems, returns: [loss], doc: 'The training loss (a scalar), from the forward output.' }]),
  ]);

  const text = [
    header(cx, options),
    ...cx.out,
    `class ${rootClass}(nn.Module):\n    """model ${model.name} (${options.sourcePath})"""\n\n${body}`,
    metadata(cx, rootClass),
  ].join('\n\n\n');
  return { text: text.trimEnd() + '\n', className: rootClass, forwardInputs: forwardInputs.map((i) => i.name), lossInputs: lossInputs.map((i) => i.name) };
}

function describe(t: { dtype: string; axes: readonly Axis[]; indexOf?: Axis }): string {
  return t.dtype === 'i32' && t.indexOf ? `(positions of ${t.indexOf.name}) ${axisList(t.axes)}` : axisList(t.axes);
}

/** VOCAB, SEQ, ...: the upper-cased axis names, made unique. */
function sizeConstantNames(axes: readonly Axis[]): Map<number, string> {
  const used = new Set<string>();
  const out = new Map<number, string>();
  for (const a of axes) {
    let n = a.name.toUpperCase().replace(/[^A-Z0-9_]/g, '_');
    if (/^\d/.test(n)) n = `D_${n}`;
    let k = n;
    for (let i = 2; used.has(k); i++) k = `${n}_${i}`;
    used.add(k);
    out.set(a.id, k);
  }
  return out;
}

function header(cx: Context, o: ModelPyOptions): string {
  const legend = [...cx.model.axes.values()].map((a) => `${cx.letters.get(a.id)} = ${a.name}`).join(', ');
  const sizes = [...cx.model.axes.values()].map((a) => {
    const dim = cx.model.dims.get(a.name);
    const aliasLine = cx.lines.findIndex((l) => new RegExp(`^\\s*axis\\s+${a.name}\\b`).test(l));
    const src = dim ? quote(cx, dim.span.line) : aliasLine >= 0 ? quote(cx, aliasLine + 1) : undefined;
    return `${cx.sizeNames.get(a.id)} = ${a.size}${src ? `  # ${src}` : ''}`;
  });
  return [
    `"""${cx.model.name} as PyTorch modules: exported by \`mdlc export --target pytorch\` (mdlc ${o.version})`,
    `from ${o.sourcePath}. Generated code: change the .mdl and export again.`,
    '',
    "Every tensor's dimensions are the .mdl's named axes, in the order the comment beside it",
    'gives. Parameters keep their .mdl names and declared axis order: the state_dict keys are',
    "mdlc's parameter names. A comment `# N: ...` quotes line N of the .mdl that the code",
    'below it computes.',
    '',
    `einsum letters: ${legend}.`,
    '"""',
    'import math',
    '',
    'import torch',
    'import torch.nn.functional as F',
    'from torch import nn',
    '',
    '# Sizes of the axes, as exported (dims, then axis aliases).',
    ...sizes,
  ].join('\n');
}

function metadata(cx: Context, rootClass: string): string {
  const g = cx.graph;
  const py = (s: string) => JSON.stringify(s);
  const axes = g.params.map((p) => `    ${py(p.name)}: (${p.type.axes.map((a) => py(a.name)).join(', ')}${p.type.axes.length === 1 ? ',' : ''}),`);
  const inits = g.params.map((p) => `    ${py(p.name)}: ${initTuple(p.init)},`);
  const inputs = g.inputs.map((i) => `    ${py(i.name)}: (${i.type.axes.map((a) => py(a.name)).join(', ')}${i.type.axes.length === 1 ? ',' : ''}),`);
  const dims = [...cx.model.axes.values()].map((a) => `${py(a.name)}: ${a.size}`).join(', ');
  return [
    '# What train.py and checkpoints need to know about the model.',
    `MODEL = ${rootClass}`,
    `MODEL_NAME = ${py(cx.model.name)}`,
    `DIMS = {${dims}}`,
    '# Each parameter\'s axes, in the order of its dimensions.',
    'PARAM_AXES = {',
    ...axes,
    '}',
    "# Each parameter's .mdl initializer: ('normal', std, mean), ('uniform', low, high), ('zeros',) or ('ones',).",
    'PARAM_INIT = {',
    ...inits,
    '}',
    '# Inputs of the forward pass and the loss, and their axes.',
    'INPUTS = {',
    ...inputs,
    '}',
  ].join('\n');
}

function initTuple(init: Init): string {
  switch (init.kind) {
    case 'zeros':
    case 'ones':
      return `('${init.kind}',)`;
    case 'normal':
      return `('normal', ${pyNumber(init.std).text}, ${pyNumber(init.mean).text})`;
    case 'uniform':
      return `('uniform', ${pyNumber(init.low).text}, ${pyNumber(init.high).text})`;
  }
}

/** Line `n` of the .mdl, trimmed, without its comment, as `n: text`. */
function quote(cx: Context, n: number): string {
  const text = (cx.lines[n - 1] ?? '').replace(/\s+#.*$/, '').replace(/^#.*$/, '').trim();
  return `${n}: ${text}`;
}

/** The class of a block call, or of a repeat iteration called on its own (its children's classes first). */
function classOf(cx: Context, m: ModuleInstance): string {
  const s = m.scope!;
  const fn = s.kind === 'block' ? blockFunction(cx, m, blockArgNames(cx, m)) : iterationFunction(cx, m);
  const base = s.kind === 'block' ? className(s.name) : `${className(s.name)}Layer`;
  const doc = s.kind === 'block' ? quoteDecl(cx, s.decl!.line) : `one iteration of \`${quoteDecl(cx, s.span.line)}\``;
  return defineClass(cx, base, doc, moduleBody(cx, m, [fn]));
}

/** The class with this code: an existing one, or a new one named `base` (made unique). */
function defineClass(cx: Context, base: string, doc: string, body: string): string {
  const key = `${base}\n${doc}\n${body}`;
  const hit = cx.classes.get(key);
  if (hit) return hit;
  let name = base;
  for (let i = 2; cx.taken.has(name); i++) name = `${base}${i}`;
  cx.taken.add(name);
  cx.classes.set(key, name);
  cx.out.push(`class ${name}(nn.Module):\n    """${doc}"""\n\n${body}`);
  return name;
}

function quoteDecl(cx: Context, line: number): string {
  return quote(cx, line).replace(/\s*\{\s*$/, '');
}

interface FunctionSpec {
  name: string;
  args: { name: string; node: number }[];
  items: Item[];
  returns: number[];
  doc?: string;
}

function blockArgNames(cx: Context, m: ModuleInstance): { name: string; node: number }[] {
  const s = m.scope!;
  const declared = (s.inputs ?? []).map((i) => ({ name: i.name, node: i.node }));
  const extra = itemsArgs(cx, m).filter((id) => !declared.some((d) => d.node === id));
  return [...declared, ...extra.map((id) => ({ name: paramArgName(cx.graph.nodes[id]), node: id }))];
}

/** Values a block reads from outside other than its declared inputs: top-level parameters. */
function itemsArgs(cx: Context, m: ModuleInstance): number[] {
  const inside = new Set(m.subtree);
  const out: number[] = [];
  for (const id of m.subtree)
    for (const i of cx.graph.nodes[id].inputs) if (!inside.has(i) && cx.graph.nodes[i].attrs.op !== 'const' && !out.includes(i)) out.push(i);
  return out;
}

function paramArgName(n: IRNode): string {
  return pyIdent((n.name ?? `v${n.id}`).replace(/\./g, '_'));
}

function blockFunction(cx: Context, m: ModuleInstance, args: { name: string; node: number }[]): FunctionSpec {
  const out = m.scope!.output;
  return { name: 'forward', args, items: itemsOf(cx.graph, m, cx.readers), returns: out === undefined ? [] : [out] };
}

/** A repeat iteration called on its own (when the iterations do not form a loop). */
function iterationFunction(cx: Context, m: ModuleInstance): FunctionSpec {
  const args = itemsArgs(cx, m);
  const inside = new Set(m.subtree);
  const outputs = new Set(cx.graph.outputs.values());
  const returns = m.subtree.filter((id) => outputs.has(id) || cx.readers[id].some((r) => !inside.has(r)));
  return { name: 'forward', args: uniqueArgNames(cx, args), items: itemsOf(cx.graph, m, cx.readers), returns };
}

function uniqueArgNames(cx: Context, nodes: readonly number[], preferred?: readonly (string | undefined)[]): { name: string; node: number }[] {
  const used = new Set<string>();
  return nodes.map((node, j) => {
    const n = cx.graph.nodes[node];
    const base = pyIdent(preferred?.[j] ?? (n.attrs.op === 'param' ? paramArgName(n) : n.name ?? `arg${j}`));
    let name = base;
    for (let i = 2; used.has(name); i++) name = `${base}_${i}`;
    used.add(name);
    return { name, node };
  });
}

/** The function an iteration runs inside a loop: the loop's argument slots in, its returned positions out. */
function loopFunction(cx: Context, loop: RepeatLoop, k: number): FunctionSpec {
  const it = loop.iterations[k];
  const names = loop.carriedFrom.map((q, j) => {
    const node = q >= 0 && loop.iterations.length > 1 ? loop.args[1][j] : loop.args[0][j];
    return cx.graph.nodes[node].attrs.op === 'param' ? paramArgName(cx.graph.nodes[node]) : cx.graph.nodes[node].name;
  });
  return { name: 'forward', args: uniqueArgNames(cx, loop.args[k], names), items: itemsOf(cx.graph, it, cx.readers), returns: loop.outputs[k] };
}

/** The class of the iterations of a loop (they must all have the same code). */
function loopClass(cx: Context, loop: RepeatLoop): string {
  const doc = `one iteration of \`${quoteDecl(cx, loop.iterations[0].scope!.span.line)}\``;
  const names = new Set(loop.iterations.map((it, k) => defineClass(cx, `${className(loop.name)}Layer`, doc, moduleBody(cx, it, [loopFunction(cx, loop, k)]))));
  if (names.size !== 1) throw new ExportError(`the iterations of \`repeat … as ${loop.name}\` do not have the same code`);
  return [...names][0];
}

/** A module's __init__ (parameters, submodules, position buffers) and its functions. */
function moduleBody(cx: Context, m: ModuleInstance, fns: FunctionSpec[]): string {
  const init: string[] = ['    def __init__(self):', '        super().__init__()'];
  const initComment = (line: number) => {
    const c = `        # ${quote(cx, line)}`;
    if (init.at(-2) !== c) init.push(c); // not when the statement above quotes the same line
  };
  const attrs = new Map<string, string>();
  const claim = (attr: string, what: string) => {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(attr) || MODULE_ATTRS.has(attr) || pyIdent(attr) !== attr)
      throw new ExportError(`${what} is named \`${attr}\`, which a PyTorch module cannot have as an attribute; rename it in the .mdl`);
    const prev = attrs.get(attr);
    if (prev) throw new ExportError(`${what} and ${prev} would both be the attribute \`${attr}\` of one PyTorch module; rename one in the .mdl`);
    attrs.set(attr, what);
  };
  for (const p of m.params) {
    const short = p.name.slice(m.path ? m.path.length + 1 : 0);
    claim(short, `parameter \`${p.name}\``);
    initComment(p.span.line);
    init.push(`        self.${short} = nn.Parameter(${initExpr(cx, p)})  # ${axisList(p.type.axes)}`);
  }
  // Submodules: one per block call, one nn.ModuleList per repeat.
  const bodies: string[] = [];
  const buffers = new Set<number>();
  const fnTexts = fns.map((f) => functionText(cx, m, f, buffers));
  const listed = new Set<ModuleInstance>();
  for (const c of m.children) {
    if (listed.has(c)) continue;
    const s = c.scope!;
    if (s.kind === 'block') {
      const attr = c.path.slice(m.path ? m.path.length + 1 : 0);
      claim(attr, `block call \`${s.name}\``);
      initComment(s.span.line);
      init.push(`        self.${attr} = ${classOf(cx, c)}()`);
      listed.add(c);
      continue;
    }
    const iterations = m.children.filter((x) => x.scope?.kind === 'repeat' && x.scope.span.start === s.span.start);
    iterations.forEach((x) => listed.add(x));
    claim(s.name, `repeat \`${s.name}\``);
    initComment(s.span.line);
    const item = itemsOf(cx.graph, m, cx.readers).find((it) => it.kind === 'loop' && it.loop.iterations[0] === iterations[0]);
    if (item && item.kind === 'loop') init.push(`        self.${s.name} = nn.ModuleList(${loopClass(cx, item.loop)}() for _ in range(${iterations.length}))`);
    else init.push(`        self.${s.name} = nn.ModuleList([${iterations.map((x) => `${classOf(cx, x)}()`).join(', ')}])`);
  }
  for (const id of [...buffers].sort((a, b) => a - b)) {
    const axis = (cx.graph.nodes[id].attrs as { axis: Axis }).axis;
    const attr = `${axis.name}_positions`;
    if (attrs.get(attr) === 'buffer') continue;
    claim(attr, `the positions along \`${axis.name}\``);
    attrs.set(attr, 'buffer');
    init.push(`        self.register_buffer('${attr}', torch.arange(${cx.sizeNames.get(axis.id)}), persistent=False)  # positions along ${axis.name}`);
  }
  bodies.push(init.join('\n'), ...fnTexts);
  return bodies.join('\n\n');
}

function initExpr(cx: Context, p: ParamInfo): string {
  const shape = p.type.axes.length ? p.type.axes.map((a) => cx.sizeNames.get(a.id)).join(', ') : '()';
  switch (p.init.kind) {
    case 'zeros':
      return `torch.zeros(${shape})`;
    case 'ones':
      return `torch.ones(${shape})`;
    case 'normal':
      return `torch.empty(${shape}).normal_(mean=${pyNumber(p.init.mean).text}, std=${pyNumber(p.init.std).text})`;
    case 'uniform':
      return `torch.empty(${shape}).uniform_(${pyNumber(p.init.low).text}, ${pyNumber(p.init.high).text})`;
  }
}

interface Value {
  expr: PyExpr;
  literal: boolean;
  /** The Python variable holding it, when it is one. */
  variable?: string;
}

/**
 * One function of a module: its statements in item order. A value used once is written
 * inline where it is used (unless it is a named .mdl value feeding more than its return);
 * a variable is never overwritten while a later statement still needs its value.
 */
function functionText(cx: Context, m: ModuleInstance, f: FunctionSpec, buffers: Set<number>): string {
  const g = cx.graph;
  const env = new Map<number, Value>();
  const defs = new Map<number, number>(); // value → item index that defines it
  f.items.forEach((it, i) => {
    if (it.kind === 'node') defs.set(it.id, i);
    else if (it.kind === 'call') it.outputs.forEach((o) => defs.set(o, i));
    else it.loop.outputs.at(-1)!.forEach((o) => defs.set(o, i));
  });
  const RETURN = f.items.length;
  // Reads of each value, by item index (RETURN for the return statement).
  const reads = new Map<number, number[]>();
  const addRead = (v: number, at: number) => {
    if (g.nodes[v].attrs.op === 'const') return;
    reads.set(v, [...(reads.get(v) ?? []), at]);
  };
  f.items.forEach((it, i) => {
    if (it.kind === 'node') g.nodes[it.id].inputs.forEach((v) => addRead(v, i));
    else if (it.kind === 'call') it.args.forEach((v) => addRead(v, i));
    else it.loop.args[0].forEach((v) => addRead(v, i));
  });
  f.returns.forEach((v) => addRead(v, RETURN));

  const isLeaf = (id: number) => ['param', 'input', 'iota'].includes(g.nodes[id].attrs.op);
  // Which values are written inline into their one reader.
  const inline = new Map<number, number>(); // value → reading item
  for (const [v, at] of reads) {
    const d = defs.get(v);
    if (d === undefined || at.length !== 1 || isLeaf(v)) continue;
    const reader = at[0];
    if (reader !== RETURN && f.items[reader].kind === 'loop') continue;
    const it = f.items[d];
    if (it.kind === 'loop' || (it.kind === 'call' && it.outputs.length !== 1)) continue;
    if (it.kind === 'node' && g.nodes[v].name !== undefined && reader !== RETURN) continue;
    inline.set(v, reader);
  }
  const evalAt = (i: number): number => {
    if (i === RETURN) return RETURN;
    const it = f.items[i];
    const v = it.kind === 'node' ? it.id : it.kind === 'call' && it.outputs.length === 1 ? it.outputs[0] : undefined;
    const r = v === undefined ? undefined : inline.get(v);
    return r === undefined ? i : evalAt(r);
  };
  const lastUse = (v: number) => Math.max(-1, ...(reads.get(v) ?? []).map(evalAt));

  // Variables: name → the value it holds.
  const holders = new Map<string, number>();
  let temporaries = 0;
  const nameFor = (preferred: string, at: number): string => {
    const base = pyIdent(preferred);
    for (let i = 1; ; i++) {
      const name = i === 1 ? base : `${base}_${i}`;
      const held = holders.get(name);
      if (held === undefined || lastUse(held) <= at) return name;
    }
  };
  const bind = (v: number, name: string) => {
    holders.set(name, v);
    env.set(v, { expr: atom(name), literal: false, variable: name });
  };

  // An argument passed twice (`mix(x, x)`) is one value in the IR: the body reads it by its first name.
  const firstName = new Map<number, string>();
  for (const a of f.args) if (!firstName.has(a.node)) firstName.set(a.node, a.name);
  for (const [node, name] of firstName) bind(node, name);
  const lines: string[] = [];
  const argNote = f.args.map((a) => `${a.name}: ${firstName.get(a.node) === a.name ? describe(g.nodes[a.node].type) : `the same value as ${firstName.get(a.node)} in this call`}`).join(', ');
  lines.push(`    def ${f.name}(self${f.args.map((a) => `, ${a.name}`).join('')}):`);
  if (f.doc) lines.push(`        """${f.doc}"""`);
  else if (argNote) lines.push(`        # ${argNote}`);
  let lastLine = -1;
  const comment = (line: number | undefined) => {
    if (line === undefined || line === lastLine) return;
    lastLine = line;
    lines.push(`        # ${quote(cx, line)}`);
  };

  const valueOf = (v: number): Value => {
    const n = g.nodes[v];
    if (n.attrs.op === 'const') return { expr: pyNumber(n.attrs.value, n.attrs.dtype), literal: true };
    const e = env.get(v);
    if (e) return e;
    if (n.attrs.op === 'param' && n.scope === m.scope) return { expr: atom(`self.${n.attrs.name.slice(m.path ? m.path.length + 1 : 0)}`), literal: false };
    if (n.attrs.op === 'iota') {
      buffers.add(v);
      return { expr: atom(`self.${n.attrs.axis.name}_positions`), literal: false };
    }
    throw new Error(`internal: node ${v} (${n.attrs.op}) has no value in ${m.path || 'the model'}.${f.name}`);
  };
  const operands = (n: IRNode): Operand[] => n.inputs.map((i) => ({ ...valueOf(i), type: g.nodes[i].type }));
  /** Contractions computed by a statement (its own node and the values inlined into it), for its comment. */
  const einsums = (v: number): string[] => {
    const n = g.nodes[v];
    const inner = n.inputs.filter((i) => inline.get(i) !== undefined && defs.get(i) !== undefined && f.items[defs.get(i)!].kind === 'node').flatMap(einsums);
    return n.attrs.op === 'contract' ? [...inner, `over ${n.attrs.over.map((a) => a.name).join(', ')} → ${axisList(n.type.axes)}`] : inner;
  };
  const note = (v: number) => {
    const axes = g.nodes[v].type.axes.length ? axisList(g.nodes[v].type.axes) : 'a scalar';
    // An einsum whose result has the statement's axes needs no arrow.
    const e = (g.nodes[v].attrs.op === 'contract' || g.nodes[v].inputs.some((i) => inline.has(i)) ? einsums(v) : []).map((x) => x.replace(` → ${axes}`, ''));
    return e.length ? `  # ${axes}${e.length === 1 && !e[0].includes('→') ? ':' : ';'} einsum ${e.join('; einsum ')}` : `  # ${axes}`;
  };

  f.items.forEach((it, i) => {
    if (it.kind === 'node') {
      const n = g.nodes[it.id];
      if (isLeaf(it.id)) {
        if (n.attrs.op !== 'input') env.set(it.id, valueOf(it.id));
        return;
      }
      const expr = opExpr(n, operands(n), cx.letters);
      if (inline.has(it.id)) {
        env.set(it.id, { expr, literal: false });
        return;
      }
      comment(n.span?.line);
      const name = nameFor(n.name ?? `t${++temporaries}`, i);
      lines.push(`        ${name} = ${expr.text}${note(it.id)}`);
      bind(it.id, name);
      return;
    }
    if (it.kind === 'call') {
      const s = it.child.scope!;
      const callee = s.kind === 'block' ? `self.${it.child.path.slice(m.path ? m.path.length + 1 : 0)}` : `self.${s.name}[${s.index}]`;
      const call = atom(`${callee}(${it.args.map((a) => valueOf(a).expr.text).join(', ')})`);
      if (it.outputs.length === 1 && inline.has(it.outputs[0])) {
        env.set(it.outputs[0], { expr: call, literal: false });
        return;
      }
      comment(s.span.line);
      const names = it.outputs.map((o) => nameFor(g.nodes[o].name ?? `${s.name}_out`, i));
      lines.push(`        ${names.join(', ') || '_'} = ${call.text}  # ${it.outputs.map((o) => axisList(g.nodes[o].type.axes)).join(', ')}`);
      it.outputs.forEach((o, k) => bind(o, names[k]));
      return;
    }
    // A repeat: one loop over the ModuleList, its carried values in variables.
    const loop = it.loop;
    comment(loop.iterations[0].scope!.span.line);
    const slotNames = loop.args[0].map((v, j) => {
      const val = valueOf(v);
      if (loop.carriedFrom[j] < 0) return val.expr.text;
      // Reuse the initial value's variable when nothing after the loop needs that value.
      if (val.variable && lastUse(v) <= i) return val.variable;
      const carried = g.nodes[loop.args[Math.min(1, loop.args.length - 1)][j]];
      const name = nameFor(carried.name ?? `carry${j}`, i);
      lines.push(`        ${name} = ${val.expr.text}`);
      holders.set(name, v);
      return name;
    });
    const last = loop.outputs.at(-1)!;
    const targets = loop.returns.map((q, r) => {
      const j = loop.carriedFrom.indexOf(q);
      return j >= 0 ? slotNames[j] : nameFor(g.nodes[last[r]].name ?? `${loop.name}_out`, i);
    });
    lines.push(`        for layer in self.${loop.name}:`);
    lines.push(`            ${targets.join(', ')} = layer(${slotNames.join(', ')})`);
    last.forEach((o, r) => bind(o, targets[r]));
  });

  if (f.returns.length) {
    const rets = f.returns.map((v) => valueOf(v));
    const retNode = f.returns.length === 1 ? g.nodes[f.returns[0]] : undefined;
    if (retNode && !rets[0].variable) comment(retNode.span?.line);
    lines.push(`        return ${rets.map((r) => r.expr.text).join(', ')}${retNode && !rets[0].variable && !rets[0].literal ? note(retNode.id) : ''}`);
  } else lines.push('        return None');
  return lines.join('\n');
}
