/**
 * The typed AST of a .mdl file. Every node carries the source span it came from.
 * The parser builds it; later stages only read it (they never mutate the AST).
 */
import type { Span } from '../diagnostics/span.js';

export interface Node {
  span: Span;
}

export interface Ident extends Node {
  kind: 'Ident';
  name: string;
}

// ---------------------------------------------------------------- file

export interface ModelFile extends Node {
  kind: 'ModelFile';
  /** `model NAME`; undefined when the header is missing (a diagnostic is reported). */
  name?: Ident;
  items: TopItem[];
}

export type TopItem = DimDecl | AxisDecl | ParamDecl | BlockDecl | ForwardDecl | LossDecl | TrainSection;

/** `dim NAME = dimExpr` */
export interface DimDecl extends Node {
  kind: 'DimDecl';
  name: Ident;
  value: DimExpr;
}

/** `axis NAME = dimName`: a new axis of the same size as `dimName` but a distinct identity. */
export interface AxisDecl extends Node {
  kind: 'AxisDecl';
  name: Ident;
  /** The dim (or axis) whose size it takes. */
  sizeOf: Ident;
}

/** `param NAME[axis, ...] init INIT` (top level or inside a block). */
export interface ParamDecl extends Node {
  kind: 'ParamDecl';
  name: Ident;
  shape: Ident[];
  init: Initializer;
}

/** `zeros`, `ones`, `normal(0.02)`, `uniform(-0.1, 0.1)`: a name and numeric arguments. */
export interface Initializer extends Node {
  kind: 'Initializer';
  name: Ident;
  args: Expr[];
}

/** `block NAME(x[.., embed], y[batch, seq]) { body }` */
export interface BlockDecl extends Node {
  kind: 'BlockDecl';
  name: Ident;
  inputs: BlockInput[];
  body: Stmt[];
}

export interface BlockInput extends Node {
  kind: 'BlockInput';
  name: Ident;
  /** Required axes; `rest` true when the pattern has `..` (any further axes allowed). */
  shape?: ShapePattern;
}

export interface ShapePattern extends Node {
  kind: 'ShapePattern';
  axes: Ident[];
  rest: boolean;
}

/** `forward(tokens: index[batch, seq] of vocab, x: f32[batch, embed]) -> logits { body }` */
export interface ForwardDecl extends Node {
  kind: 'ForwardDecl';
  inputs: ForwardInput[];
  output: Ident;
  body: Stmt[];
}

export interface ForwardInput extends Node {
  kind: 'ForwardInput';
  name: Ident;
  type: TensorTypeExpr;
}

/** `index[batch, seq] of vocab` or `f32[batch, embed]` */
export interface TensorTypeExpr extends Node {
  kind: 'TensorTypeExpr';
  dtype: 'index' | 'f32';
  axes: Ident[];
  /** For `index` types: the axis whose positions the values are. */
  of?: Ident;
}

/** `loss = expr` */
export interface LossDecl extends Node {
  kind: 'LossDecl';
  value: Expr;
}

/** `train { entries }` */
export interface TrainSection extends Node {
  kind: 'TrainSection';
  entries: TrainEntry[];
}

export type TrainEntry = TrainSetting | TrainGroupSetting;

/** `key = expr` or `targets: index[batch, seq] of vocab = data[1 .. seq + 1]` */
export interface TrainSetting extends Node {
  kind: 'TrainSetting';
  name: Ident;
  type?: TensorTypeExpr;
  value: Expr;
}

/** `lr wte = 0.5 * lr`, `weight_decay blocks.*.ln* = 0`: a setting for the parameters a pattern names. */
export interface TrainGroupSetting extends Node {
  kind: 'TrainGroupSetting';
  setting: Ident;
  pattern: ParamPattern;
  value: Expr;
}

/** Dotted parameter name with `*` wildcards in any segment: `blocks.*.attention.wq`, `wte`, `*.g`. */
export interface ParamPattern extends Node {
  kind: 'ParamPattern';
  /** The pattern text as written, e.g. `blocks.*.attention.wq`. */
  text: string;
}

// ---------------------------------------------------------------- statements

export type Stmt = ParamDecl | AssignStmt | RepeatStmt | ReturnStmt;

/** `NAME = expr` */
export interface AssignStmt extends Node {
  kind: 'AssignStmt';
  name: Ident;
  value: Expr;
}

/** `repeat N { body }` or `repeat N as blocks { body }` (the name prefixes the parameters). */
export interface RepeatStmt extends Node {
  kind: 'RepeatStmt';
  count: DimExpr;
  name?: Ident;
  body: Stmt[];
}

export interface ReturnStmt extends Node {
  kind: 'ReturnStmt';
  value: Expr;
}

// ---------------------------------------------------------------- dim expressions

/** Integer expressions of `dim` declarations and `repeat` counts. */
export type DimExpr = DimNumber | DimRef | DataRef | DimBinary | DimParen;

export interface DimNumber extends Node {
  kind: 'DimNumber';
  value: number;
}
export interface DimRef extends Node {
  kind: 'DimRef';
  name: Ident;
}
/** `data.vocab`: bound from the dataset at build time. */
export interface DataRef extends Node {
  kind: 'DataRef';
  field: Ident;
}
export interface DimBinary extends Node {
  kind: 'DimBinary';
  op: '+' | '-' | '*' | '/';
  left: DimExpr;
  right: DimExpr;
}
export interface DimParen extends Node {
  kind: 'DimParen';
  inner: DimExpr;
}

// ---------------------------------------------------------------- tensor expressions

export type Expr =
  | NumberLit
  | StringLit
  | BoolLit
  | InfLit
  | NameRef
  | Unary
  | Binary
  | Compare
  | Contract
  | Call
  | Index
  | Rename
  | Range
  | Tuple
  | Paren;

export interface NumberLit extends Node {
  kind: 'NumberLit';
  value: number;
  /** The literal as written (`1e-5`, `64`); integers have no `.` or exponent. */
  text: string;
}
export interface StringLit extends Node {
  kind: 'StringLit';
  value: string;
}
export interface BoolLit extends Node {
  kind: 'BoolLit';
  value: boolean;
}
/** `inf` (use unary minus for `-inf`). */
export interface InfLit extends Node {
  kind: 'InfLit';
}
/** A value, parameter, dim or axis name; `data.x`-style dotted names are not expressions. */
export interface NameRef extends Node {
  kind: 'NameRef';
  name: Ident;
}
export interface Unary extends Node {
  kind: 'Unary';
  op: '-';
  operand: Expr;
}
export interface Binary extends Node {
  kind: 'Binary';
  op: '+' | '-' | '*' | '/' | '^';
  left: Expr;
  right: Expr;
}
export interface Compare extends Node {
  kind: 'Compare';
  op: '<' | '<=' | '>' | '>=' | '==' | '!=';
  left: Expr;
  right: Expr;
}
/** `a . b over embed` or `a . b over (heads, head)`: sum of products over the named axes. */
export interface Contract extends Node {
  kind: 'Contract';
  left: Expr;
  right: Expr;
  over: Ident[];
}
/** `f(a, b, over: embed)`: a builtin function or a block call. */
export interface Call extends Node {
  kind: 'Call';
  callee: Ident;
  args: Expr[];
  named: NamedArg[];
}
/** `over: embed`, `over: (heads, head)`, `lr: 1e-3`, `betas: (0.9, 0.99)` */
export interface NamedArg extends Node {
  kind: 'NamedArg';
  name: Ident;
  value: Expr;
}
/** `table[index]` (gather) or `data[0 .. seq]` (slice: the index is a Range). */
export interface Index extends Node {
  kind: 'Index';
  target: Expr;
  index: Expr;
}
/** `x as [seq -> key, a -> b]` */
export interface Rename extends Node {
  kind: 'Rename';
  target: Expr;
  pairs: { from: Ident; to: Ident; span: Span }[];
}
/** `a .. b` (half-open), only inside `[ ]`. */
export interface Range extends Node {
  kind: 'Range';
  start: Expr;
  end: Expr;
}
/** `(a, b, ...)` with at least two elements (or `()`). */
export interface Tuple extends Node {
  kind: 'Tuple';
  items: Expr[];
}
/** `( expr )`: kept so spans and printing stay faithful. */
export interface Paren extends Node {
  kind: 'Paren';
  inner: Expr;
}
