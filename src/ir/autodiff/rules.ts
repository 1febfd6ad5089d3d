/**
 * Backward rules (vector-Jacobian products) of the IR primitives. A rule receives the node,
 * the cotangent `g` of its output and the indices of the inputs that need gradients, and
 * returns a cotangent per input index (broadcast axes are summed away by the caller).
 * Every rule is tested against finite differences in tests/ir/autodiff.
 */
import type { GraphBuilder } from '../graph.js';
import type { AttrsOf } from '../ops/def.js';
import { hasAxis, numElements, type IRNode, type OpAttrs, type OpName } from '../types.js';

type Rule<K extends OpName> = (b: GraphBuilder, n: IRNode & { attrs: AttrsOf<K> }, g: number, wanted: readonly number[]) => (number | undefined)[];

const bin = (b: GraphBuilder, fn: 'add' | 'sub' | 'mul' | 'div' | 'pow' | 'max' | 'min', x: number, y: number) => b.add({ op: 'binary', fn }, [x, y]);
const un = (b: GraphBuilder, fn: Extract<OpAttrs, { op: 'unary' }>['fn'], x: number) => b.add({ op: 'unary', fn }, [x]);
const k = (b: GraphBuilder, v: number) => b.constant(v);

const unaryRule: Rule<'unary'> = (b, n, g) => {
  const x = n.inputs[0];
  const y = n.id;
  switch (n.attrs.fn) {
    case 'neg':
      return [un(b, 'neg', g)];
    case 'exp':
      return [bin(b, 'mul', g, y)];
    case 'log':
      return [bin(b, 'div', g, x)];
    case 'sqrt':
      // d sqrt(x) = 1 / (2 sqrt(x))
      return [bin(b, 'div', bin(b, 'mul', g, k(b, 0.5)), y)];
    case 'rsqrt':
      // d x^-1/2 = -1/2 x^-3/2 = -1/2 y^3
      return [bin(b, 'mul', g, bin(b, 'mul', k(b, -0.5), bin(b, 'mul', y, un(b, 'square', y))))];
    case 'tanh':
      return [bin(b, 'mul', g, bin(b, 'sub', k(b, 1), un(b, 'square', y)))];
    case 'gelu':
      return [bin(b, 'mul', g, un(b, 'gelu_grad', x))];
    case 'relu':
      return [bin(b, 'mul', g, un(b, 'step', x))];
    case 'sigmoid':
      return [bin(b, 'mul', g, bin(b, 'mul', y, bin(b, 'sub', k(b, 1), y)))];
    case 'abs':
      return [bin(b, 'mul', g, bin(b, 'sub', un(b, 'step', x), un(b, 'step', un(b, 'neg', x))))];
    case 'square':
      return [bin(b, 'mul', g, bin(b, 'mul', k(b, 2), x))];
    case 'recip':
      return [un(b, 'neg', bin(b, 'mul', g, un(b, 'square', y)))];
    case 'step':
      return [undefined];
    case 'gelu_grad':
      throw new Error('internal: second derivatives of gelu are not supported');
  }
};

const binaryRule: Rule<'binary'> = (b, n, g, wanted) => {
  const [x, y] = n.inputs;
  const want = (i: number) => wanted.includes(i);
  switch (n.attrs.fn) {
    case 'add':
      return [g, g];
    case 'sub':
      return [g, want(1) ? un(b, 'neg', g) : undefined];
    case 'mul':
      return [want(0) ? bin(b, 'mul', g, y) : undefined, want(1) ? bin(b, 'mul', g, x) : undefined];
    case 'div':
      // d(x/y)/dy = -x/y^2 = -(x/y)/y
      return [want(0) ? bin(b, 'div', g, y) : undefined, want(1) ? un(b, 'neg', bin(b, 'div', bin(b, 'mul', g, n.id), y)) : undefined];
    case 'pow': {
      // d x^y/dx = y x^(y-1); d x^y/dy = x^y log x
      const dx = want(0) ? bin(b, 'mul', g, bin(b, 'mul', y, bin(b, 'pow', x, bin(b, 'sub', y, k(b, 1))))) : undefined;
      const dy = want(1) ? bin(b, 'mul', g, bin(b, 'mul', n.id, un(b, 'log', x))) : undefined;
      return [dx, dy];
    }
    case 'max':
    case 'min': {
      // The gradient goes to the operand that was selected (to x on ties).
      const pickX = b.add({ op: 'compare', fn: n.attrs.fn === 'max' ? 'ge' : 'le' }, [x, y]);
      const zero = k(b, 0);
      return [
        want(0) ? b.add({ op: 'where' }, [pickX, g, zero]) : undefined,
        want(1) ? b.add({ op: 'where' }, [pickX, zero, g]) : undefined,
      ];
    }
  }
};

const whereRule: Rule<'where'> = (b, n, g, wanted) => {
  const c = n.inputs[0];
  const zero = k(b, 0);
  return [undefined, wanted.includes(1) ? b.add({ op: 'where' }, [c, g, zero]) : undefined, wanted.includes(2) ? b.add({ op: 'where' }, [c, zero, g]) : undefined];
};

const reduceRule: Rule<'reduce'> = (b, n, g) => {
  const x = n.inputs[0];
  const axes = n.attrs.axes;
  switch (n.attrs.fn) {
    case 'sum':
      return [b.add({ op: 'expand', axes }, [g])];
    case 'mean':
      return [b.add({ op: 'expand', axes }, [bin(b, 'mul', g, k(b, 1 / numElements({ axes })))])];
    case 'max': {
      // Routed to the maximal entries (all of them on ties, as XLA does).
      const isMax = b.add({ op: 'compare', fn: 'eq' }, [x, n.id]);
      return [b.add({ op: 'where' }, [isMax, g, k(b, 0)])];
    }
  }
};

const expandRule: Rule<'expand'> = (b, n, g) => [b.add({ op: 'reduce', fn: 'sum', axes: n.attrs.axes }, [g])];

/**
 * out = Σ_over a·b. The gradient of a is g contracted with b over b's axes that a lacks
 * (or a plain product when there are none); likewise for b.
 */
const contractRule: Rule<'contract'> = (b, n, g, wanted) => {
  const [x, y] = n.inputs;
  const side = (other: number, self: number) => {
    const ot = b.type(other);
    const st = b.type(self);
    const free = ot.axes.filter((a) => !hasAxis(st, a));
    // The gradient comes out in its primal's layout, so updates read it element by element.
    if (!free.length) return bin(b, 'mul', g, other);
    const isFree = (a: { id: number }) => free.some((f) => f.id === a.id);
    const axes = [...b.type(g).axes, ...ot.axes].filter((a, i, all) => !isFree(a) && all.findIndex((x) => x.id === a.id) === i);
    const order = axes.length === st.axes.length && st.axes.every((a) => hasAxis({ axes }, a)) ? st.axes : undefined;
    return b.add({ op: 'contract', over: free, order }, [g, other]);
  };
  return [wanted.includes(0) ? side(y, x) : undefined, wanted.includes(1) ? side(x, y) : undefined];
};

const gatherRule: Rule<'gather'> = (b, n, g) => [b.add({ op: 'scatter_add', axis: n.attrs.axis }, [g, n.inputs[1]])];

const scatterAddRule: Rule<'scatter_add'> = (b, n, g) => [b.add({ op: 'gather', axis: n.attrs.axis }, [g, n.inputs[1]])];

/**
 * The pairs apply in order (`[a -> b, b -> c]` renames a to c), so the inverse undoes them in
 * reverse order: `[c -> b, b -> a]`.
 */
const renameRule: Rule<'rename'> = (b, n, g) => [b.add({ op: 'rename', pairs: n.attrs.pairs.map(([from, to]) => [to, from] as const).reverse() }, [g])];

/** dx = y ⊙ (g − Σ_axis g ⊙ y) */
const softmaxRule: Rule<'softmax'> = (b, n, g) => {
  const y = n.id;
  const s = b.add({ op: 'reduce', fn: 'sum', axes: [n.attrs.axis] }, [bin(b, 'mul', g, y)]);
  return [bin(b, 'mul', y, bin(b, 'sub', g, s))];
};

/** d mean(CE)/d logits = (softmax(logits) − onehot(targets)) · g / positions */
const crossEntropyRule: Rule<'cross_entropy'> = (b, n, g) => {
  const [logits, targets] = n.inputs;
  const axis = n.attrs.axis;
  const p = b.add({ op: 'softmax', axis }, [logits]);
  const hit = b.add({ op: 'compare', fn: 'eq' }, [b.add({ op: 'iota', axis }, []), targets]);
  const onehot = b.add({ op: 'cast', to: 'f32' }, [hit]);
  const positions = numElements(b.type(targets));
  return [bin(b, 'mul', bin(b, 'sub', p, onehot), bin(b, 'mul', g, k(b, 1 / positions)))];
};

export const VJP: { [K in OpName]?: Rule<K> } = {
  unary: unaryRule,
  binary: binaryRule,
  where: whereRule,
  reduce: reduceRule,
  expand: expandRule,
  contract: contractRule,
  gather: gatherRule,
  scatter_add: scatterAddRule,
  rename: renameRule,
  softmax: softmaxRule,
  cross_entropy: crossEntropyRule,
};
