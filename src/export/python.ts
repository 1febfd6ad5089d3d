/**
 * Python expressions for IR nodes: PyTorch tensors whose dimensions are the node's named
 * axes in the order of its type. Broadcasting by axis name becomes a permute and `None`
 * indexing; contractions become torch.einsum with one letter per axis.
 */
import { BINARY, COMPARE, REDUCE, UNARY } from '../ir/ops/index.js';
import type { Axis, IRNode, TensorType } from '../ir/types.js';

/** A Python expression and how tightly it binds (to know when it needs parentheses). */
export interface PyExpr {
  text: string;
  prec: Prec;
}

/** Python precedence, loosest first. */
export const enum Prec {
  Compare = 1,
  Add = 2,
  Mul = 3,
  Unary = 4,
  Power = 5,
  Atom = 6,
}

export function atom(text: string): PyExpr {
  return { text, prec: Prec.Atom };
}

/** `e` as an operand that needs at least precedence `min`. */
export function operand(e: PyExpr, min: Prec): string {
  return e.prec >= min ? e.text : `(${e.text})`;
}

/** A number as Python source that parses to the same double (floats keep a decimal point). */
export function pyNumber(v: number, dtype: 'f32' | 'i32' | 'bool' = 'f32'): PyExpr {
  if (Number.isNaN(v)) return atom('math.nan');
  if (v === Infinity) return atom('math.inf');
  if (v === -Infinity) return { text: '-math.inf', prec: Prec.Unary };
  let text = String(v);
  if (dtype === 'bool') return atom(v !== 0 ? 'True' : 'False');
  if (dtype === 'f32' && /^-?\d+$/.test(text)) text += '.0';
  return v < 0 || Object.is(v, -0) ? { text: Object.is(v, -0) ? '-0.0' : text, prec: Prec.Unary } : atom(text);
}

const PY_KEYWORDS = new Set(
  'False None True and as assert async await break class continue def del elif else except finally for from global if import in is lambda nonlocal not or pass raise return try while with yield match case type'.split(' '),
);

/** Names the generated code uses itself. */
const RESERVED = new Set(['self', 'torch', 'nn', 'F', 'math', 'super', 'layer', 'print', 'range', 'len', 'object']);

/** A .mdl identifier as a Python local name (keywords and the code's own names get a `_`). */
export function pyIdent(name: string): string {
  const safe = name.replace(/[^A-Za-z0-9_]/g, '_');
  return PY_KEYWORDS.has(safe) || RESERVED.has(safe) ? `${safe}_` : safe;
}

/** A .mdl block or model name as a Python class name: `self_attention` → `SelfAttention`. */
export function className(name: string): string {
  const parts = name.split(/[_\W]+/).filter(Boolean);
  const c = parts.map((p) => p[0].toUpperCase() + p.slice(1)).join('') || 'Module';
  return /^\d/.test(c) ? `M${c}` : c;
}

/**
 * One einsum letter per axis, stable for a model: the axis name's first letter that is
 * still free (`batch` b, `seq` s, `embed` e, `heads` h, `head` a), else any free letter.
 */
export function einsumLetters(axes: readonly Axis[]): Map<number, string> {
  const out = new Map<number, string>();
  const used = new Set<string>();
  const pool = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ';
  for (const a of axes) {
    const candidates = [...a.name.toLowerCase()].filter((c) => /[a-z]/.test(c));
    const pick = candidates.find((c) => !used.has(c)) ?? [...pool].find((c) => !used.has(c));
    if (!pick) throw new Error(`a model with more than ${pool.length} axes cannot be written as einsum subscripts`);
    used.add(pick);
    out.set(a.id, pick);
  }
  return out;
}

export function axisList(axes: readonly Axis[]): string {
  return `[${axes.map((a) => a.name).join(', ')}]`;
}

/**
 * `e` (a tensor with axes `from`, or a Python scalar when `from` is empty) laid out to
 * broadcast against axes `to` (a superset): permuted into `to`'s order, with `None` where an
 * axis is missing. Missing leading axes need nothing: broadcasting aligns from the right.
 */
export function align(e: PyExpr, from: readonly Axis[], to: readonly Axis[]): PyExpr {
  if (from.length === 0) return e;
  const pos = (a: Axis) => to.findIndex((t) => t.id === a.id);
  for (const a of from) if (pos(a) < 0) throw new Error(`internal: cannot broadcast ${axisList(from)} to ${axisList(to)}`);
  const ordered = [...from].sort((a, b) => pos(a) - pos(b));
  let text = operand(e, Prec.Atom);
  let changed = false;
  if (ordered.some((a, i) => a.id !== from[i].id)) {
    const perm = ordered.map((a) => from.findIndex((f) => f.id === a.id));
    text += `.permute(${perm.join(', ')})`;
    changed = true;
  }
  const first = pos(ordered[0]);
  const index: string[] = [];
  for (let i = first; i < to.length; i++) index.push(from.some((a) => a.id === to[i].id) ? ':' : 'None');
  while (index.length && index[index.length - 1] === ':') index.pop();
  if (index.length) {
    text += `[${index.join(', ')}]`;
    changed = true;
  }
  return changed ? atom(text) : e;
}

/** Dimension positions of `axes` within `type`. */
export function dims(type: TensorType, axes: readonly Axis[]): number[] {
  return axes.map((a) => type.axes.findIndex((t) => t.id === a.id));
}

export function dimArg(ds: readonly number[]): string {
  return ds.length === 1 ? String(ds[0]) : `(${ds.join(', ')})`;
}

/** Precedence of the Python operators the op tables name (src/ir/ops: each function's `torch`). */
const OPERATOR_PREC: Record<'+' | '-' | '*' | '/', Prec> = { '+': Prec.Add, '-': Prec.Add, '*': Prec.Mul, '/': Prec.Mul };

/** An input of a node as the emitter has it: its expression, its type, and whether it is a Python number. */
export interface Operand {
  expr: PyExpr;
  type: TensorType;
  literal: boolean;
}

/**
 * The expression computing `node` from its inputs (aligned with `node.inputs`). Leaves
 * (param, input, iota, const) are resolved by the caller. `letters` maps axes to einsum
 * subscripts.
 */
export function opExpr(node: IRNode, inputs: readonly Operand[], letters: ReadonlyMap<number, string>): PyExpr {
  const a = node.attrs;
  const out = node.type.axes;
  const args = inputs.map((i) => i.expr);
  const types = inputs.map((i) => i.type);
  const aligned = (i: number) => align(args[i], types[i].axes, out);
  switch (a.op) {
    case 'unary': {
      const t = UNARY[a.fn].torch;
      if (t === 'gradient only') throw new Error(`internal: \`${a.fn}\` appears only in gradients, not in a forward pass`);
      if ('operator' in t) return { text: `-${operand(args[0], Prec.Unary)}`, prec: Prec.Unary };
      return atom(`${t.call}(${args[0].text}${t.args ? `, ${t.args}` : ''})`);
    }
    case 'cast':
      if (a.to === 'f32') return atom(`${operand(args[0], Prec.Atom)}.to(torch.get_default_dtype())`);
      if (a.to === 'i32') return atom(`${operand(args[0], Prec.Atom)}.long()`);
      return { text: `${operand(args[0], Prec.Compare + 1)} != 0`, prec: Prec.Compare };
    case 'binary': {
      const [l, r] = [aligned(0), aligned(1)];
      const t = BINARY[a.fn].torch;
      if ('call' in t) {
        // A number for a bound is a clamp; two tensors take the elementwise function (both propagate NaN).
        if (inputs[1].literal) return atom(`torch.clamp(${l.text}, ${t.clamp}=${r.text})`);
        if (inputs[0].literal) return atom(`torch.clamp(${r.text}, ${t.clamp}=${l.text})`);
        return atom(`${t.call}(${l.text}, ${r.text})`);
      }
      if (t.operator === '**') return { text: `${operand(l, Prec.Atom)} ** ${operand(r, Prec.Unary)}`, prec: Prec.Power };
      const p = OPERATOR_PREC[t.operator];
      return { text: `${operand(l, p)} ${t.operator} ${operand(r, p + 1)}`, prec: p };
    }
    case 'compare': {
      const [l, r] = [aligned(0), aligned(1)];
      return { text: `${operand(l, Prec.Add)} ${COMPARE[a.fn].operator} ${operand(r, Prec.Add)}`, prec: Prec.Compare };
    }
    case 'where':
      return atom(`torch.where(${aligned(0).text}, ${aligned(1).text}, ${aligned(2).text})`);
    case 'reduce': {
      const t = REDUCE[a.fn].torch;
      const ds = dims(types[0], a.axes);
      if (!t.oneDim) return atom(`${operand(args[0], Prec.Atom)}.${t.method}(dim=${dimArg(ds)})`);
      // One dim at a time, the last first, so that the others keep their positions.
      return atom([...ds].sort((x, y) => y - x).reduce((text, d) => `${text}.${t.method}(dim=${d})`, operand(args[0], Prec.Atom)));
    }
    case 'contract': {
      const sub = (axes: readonly Axis[]) => axes.map((x) => letters.get(x.id)!).join('');
      return atom(`torch.einsum('${sub(types[0].axes)},${sub(types[1].axes)}->${sub(out)}', ${args[0].text}, ${args[1].text})`);
    }
    case 'gather': {
      const k = types[0].axes.findIndex((x) => x.id === a.axis.id);
      const table = k === 0 ? operand(args[0], Prec.Atom) : `${operand(args[0], Prec.Atom)}.movedim(${k}, 0)`;
      return atom(`${table}[${args[1].text}]`);
    }
    case 'rename':
      return args[0];
    case 'softmax':
      return atom(`torch.softmax(${args[0].text}, dim=${dims(types[0], [a.axis])[0]})`);
    case 'cross_entropy': {
      // F.cross_entropy wants [rows, classes] and [rows]: the class axis last, the other axes
      // flattened in the logits' order (the targets permuted to match).
      const lt = types[0];
      const k = lt.axes.findIndex((x) => x.id === a.axis.id);
      const rest = lt.axes.filter((x) => x.id !== a.axis.id);
      let logits = operand(args[0], Prec.Atom);
      if (k !== lt.axes.length - 1) logits += `.movedim(${k}, -1)`;
      if (rest.length === 0) return atom(`F.cross_entropy(${logits}[None], ${operand(args[1], Prec.Atom)}.reshape(1))`);
      const targets = align(args[1], types[1].axes, rest);
      return atom(`F.cross_entropy(${logits}.flatten(0, -2), ${operand(targets, Prec.Atom)}.flatten())`);
    }
    case 'const':
    case 'param':
    case 'input':
    case 'iota':
      throw new Error(`internal: the caller resolves the leaf \`${a.op}\``);
    case 'expand': {
      // `broadcast(x, over: A)`: the new axes after x's own.
      const sizes = a.axes.map((x) => x.size).join(', ');
      if (inputs[0].literal) return atom(`torch.full((${sizes},), ${args[0].text})`);
      const index = [...types[0].axes.map(() => ':'), ...a.axes.map(() => 'None')].join(', ');
      return atom(`${operand(args[0], Prec.Atom)}[${index}].expand(${[...types[0].axes.map(() => '-1'), sizes].join(', ')})`);
    }
    case 'scatter_add':
      throw new Error(`internal: \`${a.op}\` does not appear in a forward pass`);
    default:
      return a satisfies never;
  }
}
