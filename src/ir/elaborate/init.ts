/**
 * Parameter initializers: `zeros`, `ones`, `normal(std[, mean])` and `uniform(low, high)`.
 * Their arguments are constant expressions of numbers and dims, plus `fan_in`: the number of
 * terms that each output of the contraction reading the parameter sums (`embed` for
 * `x . wq over embed`, heads × head for `o . wo over (heads, head)`). `normal(1 / sqrt(fan_in))`
 * keeps a linear map's outputs at the scale of its inputs whatever the widths are.
 *
 * A parameter's fan-in is known only once the forward pass that reads it is elaborated, so
 * an initializer that mentions `fan_in` is checked for names when it is declared and
 * evaluated after the forward pass (`resolveFanIn`).
 */
import { diagnostic, hasErrors, type Diagnostic, type Span } from '../../diagnostics/index.js';
import type { Expr, ParamDecl } from '../../parser/ast.js';
import type { Axis, Graph, Init } from '../types.js';
import { evalConstExpr } from './dims.js';
import type { DimValue } from './model.js';

/** The name an initializer's arguments may use for the parameter's fan-in. */
export const FAN_IN = 'fan_in';

/** A parameter whose initializer waits for its fan-in. */
export interface PendingInit {
  /** The parameter's node. */
  node: number;
  decl: ParamDecl;
}

/**
 * The initializer of `p`, or undefined after reporting why it is invalid. `deferred` is true
 * when it mentions `fan_in`: `init` is then a placeholder until `resolveFanIn` replaces it.
 */
export function elabInit(dims: ReadonlyMap<string, DimValue>, diags: Diagnostic[], p: ParamDecl): { init: Init; deferred: boolean } | undefined {
  if (!p.init.args.some(mentionsFanIn)) {
    const init = evalInit(dims, diags, p, new Map());
    return init && { init, deferred: false };
  }
  // Report unknown names now; the values wait for the fan-in.
  const args = p.init.args.map((a) => evalConstExpr(a, dims, diags, new Map([[FAN_IN, 1]])));
  if (args.some((a) => a === undefined)) return undefined;
  return { init: { kind: 'zeros' }, deferred: true };
}

function evalInit(dims: ReadonlyMap<string, DimValue>, diags: Diagnostic[], p: ParamDecl, extra: ReadonlyMap<string, number>): Init | undefined {
  const name = p.init.name.name;
  const args = p.init.args.map((a) => evalConstExpr(a, dims, diags, extra));
  if (args.some((a) => a === undefined)) return undefined;
  const nums = args as number[];
  const bad = (help: string) => {
    diags.push(diagnostic('E0210', `invalid initializer \`${name}\` with ${nums.length} argument(s)`, p.init.span, { help }));
    return undefined;
  };
  switch (name) {
    case 'zeros':
      return nums.length === 0 ? { kind: 'zeros' } : bad('write `init zeros`');
    case 'ones':
      return nums.length === 0 ? { kind: 'ones' } : bad('write `init ones`');
    case 'normal':
      if (nums.length < 1 || nums.length > 2 || !(nums[0] >= 0)) return bad('write `init normal(STD)` or `init normal(STD, MEAN)` with STD >= 0');
      return { kind: 'normal', std: nums[0], mean: nums[1] ?? 0 };
    case 'uniform':
      if (nums.length !== 2 || !(nums[0] < nums[1])) return bad('write `init uniform(LOW, HIGH)` with LOW < HIGH');
      return { kind: 'uniform', low: nums[0], high: nums[1] };
    default:
      return bad('initializers are `zeros`, `ones`, `normal(std)`, `normal(std, mean)` and `uniform(low, high)`');
  }
}

function mentionsFanIn(e: Expr): boolean {
  switch (e.kind) {
    case 'NameRef':
      return e.name.name === FAN_IN;
    case 'Paren':
      return mentionsFanIn(e.inner);
    case 'Unary':
      return mentionsFanIn(e.operand);
    case 'Binary':
      return mentionsFanIn(e.left) || mentionsFanIn(e.right);
    case 'Call':
      return e.args.some(mentionsFanIn);
    default:
      return false;
  }
}

/** A contraction that reads a parameter: the axes it sums over, and where it is written. */
export interface ParamContraction {
  over: readonly Axis[];
  /** The product of the summed axes' sizes. */
  fanIn: number;
  span?: Span;
}

/**
 * The contractions that read parameter node `param`, directly or through axis renames (which
 * keep sizes), in graph order.
 */
export function contractionsOf(g: Graph, param: number): ParamContraction[] {
  const seen = new Set([param]);
  const out: ParamContraction[] = [];
  // Nodes only read earlier nodes, so one pass in id order follows every chain of renames.
  for (const n of g.nodes) {
    if (n.id <= param || !n.inputs.some((i) => seen.has(i))) continue;
    if (n.attrs.op === 'rename') seen.add(n.id);
    else if (n.attrs.op === 'contract') out.push({ over: n.attrs.over, fanIn: n.attrs.over.reduce((p, a) => p * a.size, 1), span: n.span });
  }
  return out;
}

/**
 * Evaluate the initializers that wait for `fan_in`, now that the graph reads the parameters,
 * and store them in the graph's parameter table. A parameter that is read but never
 * contracted, or contracted over axes of different sizes in different places, has no single
 * fan-in (E0212). One that nothing reads takes fan_in = 1: its values are never used.
 */
export function resolveFanIn(g: Graph, pending: readonly PendingInit[], dims: ReadonlyMap<string, DimValue>, diags: Diagnostic[]): void {
  // Block parameters are declared once per call; report each declaration once. After other
  // errors the graph lacks the nodes that failed, so a missing contraction proves nothing.
  const reported = new Set<number>();
  const partial = hasErrors(diags);
  for (const { node, decl } of pending) {
    const info = g.params.find((p) => p.node === node);
    if (!info) continue;
    const uses = contractionsOf(g, node);
    const read = g.nodes.some((n) => n.inputs.includes(node));
    const fans = [...new Set(uses.map((u) => u.fanIn))];
    const name = decl.name.name;
    const report = (message: string, help: string, labels: { span: Span; message: string }[] = []) => {
      if (!reported.has(decl.span.start) && !partial) diags.push(diagnostic('E0212', message, decl.init.span, { help, labels }));
      reported.add(decl.span.start);
    };
    if (read && fans.length === 0) {
      report(`\`fan_in\` of \`${name}\` is undefined: \`${name}\` is never contracted (\`x . ${name} over AXES\`)`, 'give the scale as a number, e.g. `init normal(0.02)`');
      continue;
    }
    if (fans.length > 1) {
      const labels = uses.filter((u) => u.span).map((u) => ({ span: u.span!, message: `sums ${u.fanIn} terms (over ${u.over.map((a) => `\`${a.name}\``).join(', ')})` }));
      report(`\`fan_in\` of \`${name}\` is ambiguous: it is contracted over ${fans.join(' and ')} terms in different places`, 'write the scale with dims instead, e.g. `init normal(1 / sqrt(embed))`', labels);
      continue;
    }
    const init = evalInit(dims, reported.has(decl.span.start) ? [] : diags, decl, new Map([[FAN_IN, fans[0] ?? 1]]));
    if (init) info.init = init;
    else reported.add(decl.span.start);
  }
}
