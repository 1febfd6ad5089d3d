/**
 * Every backward rule of src/ir/autodiff/rules.ts against finite differences, in float64 at
 * tiny sizes, with operands whose axes come in different orders (broadcasting by name).
 * See gradcheck.ts for the helper, the stencil and the error measure.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { AxisTable, type Axis, type UnaryFn, type BinaryFn } from '../../../src/ir/types.js';
import { awayFromZero, Case, checkGradients, uniform, type CheckResult, type Values } from './gradcheck.js';

const table = new AxisTable();
function axes<K extends string>(sizes: Record<K, number>): Record<K, Axis> {
  const out = {} as Record<K, Axis>;
  for (const name of Object.keys(sizes) as K[]) out[name] = table.create(name, sizes[name]);
  return out;
}

/** Max error per case, printed at the end (the report quotes these). */
const observed = new Map<string, CheckResult>();
function record(name: string, r: CheckResult): void {
  observed.set(name, r);
  // Not vacuous: some gradient element is of a size where a wrong rule would show.
  expect(r.maxAbsGrad, `${name}: every gradient is ~0, the check proves nothing`).toBeGreaterThan(1e-2);
  expect(r.checked).toBeGreaterThan(0);
}
afterAll(() => {
  const rows = [...observed].map(([k, r]) => `${k.padEnd(44)} max err ${r.maxErr.toExponential(2)}  (${r.checked} elements, ${r.belowFloor} ~0, max |grad| ${r.maxAbsGrad.toFixed(3)})`);
  console.log(`finite-difference checks (f64):\n${rows.join('\n')}`);
});

describe('unary rules', () => {
  const domains: Record<Exclude<UnaryFn, 'step' | 'gelu_grad'>, Values> = {
    neg: uniform(-1.5, 1.5),
    exp: uniform(-1.5, 1.5),
    log: uniform(0.3, 2.5),
    sqrt: uniform(0.3, 2.5),
    rsqrt: uniform(0.3, 2.5),
    tanh: uniform(-2, 2),
    gelu: uniform(-3, 3),
    relu: awayFromZero(0.05, 2),
    sigmoid: uniform(-3, 3),
    abs: awayFromZero(0.05, 2),
    square: uniform(-1.5, 1.5),
    recip: awayFromZero(0.4, 2),
    silu: uniform(-4, 4),
  };
  for (const [fn, values] of Object.entries(domains) as [UnaryFn, Values][]) {
    it(fn, () => {
      const { a, b } = axes({ a: 3, b: 4 });
      const c = new Case(fn.length * 7 + 1);
      const x = c.param('x', [a, b], values);
      record(`unary ${fn}`, checkGradients(c, c.add({ op: 'unary', fn }, [x])));
    });
  }

  it('relu and abs: negative and positive elements both present', () => {
    // The awayFromZero domain above must really cover both sides of the kink.
    const { a } = axes({ a: 6 });
    const c = new Case(3);
    const x = c.param('x', [a], [-1.2, -0.3, -0.05, 0.05, 0.4, 1.7]);
    const r = c.add({ op: 'unary', fn: 'relu' }, [x]);
    const s = c.add({ op: 'unary', fn: 'abs' }, [x]);
    record('unary relu+abs (fixed signs)', checkGradients(c, c.add({ op: 'binary', fn: 'add' }, [r, c.add({ op: 'binary', fn: 'mul' }, [s, s])])));
  });

  it('a chain of unaries (gradients through several rules)', () => {
    const { a, b } = axes({ a: 2, b: 3 });
    const c = new Case(11);
    const x = c.param('x', [a, b], uniform(0.3, 1.5));
    const y = c.add({ op: 'unary', fn: 'tanh' }, [c.add({ op: 'unary', fn: 'log' }, [c.add({ op: 'unary', fn: 'sqrt' }, [x])])]);
    record('unary chain tanh∘log∘sqrt', checkGradients(c, c.add({ op: 'unary', fn: 'gelu' }, [y])));
  });
});

describe('binary rules (both operands broadcast, axes in different orders)', () => {
  const domains: Record<BinaryFn, [Values, Values]> = {
    add: [uniform(-1, 1), uniform(-1, 1)],
    sub: [uniform(-1, 1), uniform(-1, 1)],
    mul: [uniform(-1.5, 1.5), uniform(-1.5, 1.5)],
    div: [uniform(-1.5, 1.5), awayFromZero(0.5, 2)],
    pow: [uniform(0.4, 2), uniform(-1.5, 1.5)],
    // max/min: the two operands live in disjoint ranges per element parity, so no ties;
    // overwritten per case below with values that interleave but never tie.
    max: [uniform(-1, 1), uniform(-1, 1)],
    min: [uniform(-1, 1), uniform(-1, 1)],
  };

  /** Values for x[a, b] and y[c, b] such that x[a,b] and y[c,b] differ by >= 0.05 for every a, c. */
  function untied(c: Case, na: number, nb: number, nc: number): [number[], number[]] {
    for (;;) {
      const x = Array.from({ length: na * nb }, () => -1 + 2 * c.random());
      const y = Array.from({ length: nc * nb }, () => -1 + 2 * c.random());
      let ok = true;
      for (let i = 0; i < na && ok; i++)
        for (let k = 0; k < nc && ok; k++) for (let j = 0; j < nb && ok; j++) if (Math.abs(x[i * nb + j] - y[k * nb + j]) < 0.05) ok = false;
      if (ok) return [x, y];
    }
  }

  for (const [fn, [dx, dy]] of Object.entries(domains) as [BinaryFn, [Values, Values]][]) {
    it(`${fn}: x[a, b] ∘ y[c, b] → [a, b, c]`, () => {
      const { a, b, c: cc } = axes({ a: 2, b: 3, c: 4 });
      const c = new Case(fn.length * 13 + fn.charCodeAt(0));
      let xv = dx;
      let yv = dy;
      if (fn === 'max' || fn === 'min') [xv, yv] = untied(c, 2, 3, 4);
      const x = c.param('x', [a, b], xv);
      const y = c.param('y', [cc, b], yv);
      const out = c.add({ op: 'binary', fn }, [x, y]);
      if (fn === 'max' || fn === 'min') {
        // Both operands are selected somewhere, so both gradients are exercised.
        const xs = c.params.get('x')!.data;
        const ys = c.params.get('y')!.data;
        let xWins = 0;
        for (let i = 0; i < 2; i++) for (let k = 0; k < 4; k++) for (let j = 0; j < 3; j++) if (xs[i * 3 + j] > ys[k * 3 + j]) xWins++;
        expect(xWins).toBeGreaterThan(0);
        expect(xWins).toBeLessThan(24);
      }
      record(`binary ${fn} (broadcast both)`, checkGradients(c, out));
    });

    it(`${fn}: same axes in opposite orders, and a scalar operand`, () => {
      const { a, b } = axes({ a: 3, b: 2 });
      const c = new Case(fn.length * 17 + 5);
      let xv = dx;
      let yv = dy;
      if (fn === 'max' || fn === 'min') [xv, yv] = untied(c, 1, 6, 1);
      const x = c.param('x', [a, b], xv);
      // y is laid out [b, a]: permute the untied values so y[b, a] pairs with x[a, b] as chosen.
      if (Array.isArray(yv)) yv = Array.from({ length: 6 }, (_, i) => (yv as number[])[(i % 3) * 2 + Math.floor(i / 3)]);
      const y = c.param('y', [b, a], yv);
      const s = c.param('s', [], fn === 'pow' ? [0.7] : fn === 'max' || fn === 'min' ? [0.013] : fn === 'div' ? [1.3] : [-0.8]);
      const xy = c.add({ op: 'binary', fn }, [x, y]);
      // The scalar on the left for some ops, on the right for others (both positions of a broadcast operand).
      const out = fn === 'pow' || fn === 'div' ? c.add({ op: 'binary', fn }, [xy, s]) : c.add({ op: 'binary', fn }, [s, xy]);
      if (fn === 'max' || fn === 'min') {
        // s must not tie with any x∘y (it is chosen far from the 0.05-separated grid of values).
        const all = [...c.params.get('x')!.data, ...c.params.get('y')!.data];
        expect(all.every((v) => Math.abs(v - 0.013) > 1e-3)).toBe(true);
      }
      record(`binary ${fn} (transposed + scalar)`, checkGradients(c, out));
    });
  }

  it('mul of a value with itself accumulates both cotangents', () => {
    const { a, b } = axes({ a: 2, b: 3 });
    const c = new Case(21);
    const x = c.param('x', [a, b]);
    const xt = c.add({ op: 'binary', fn: 'mul' }, [x, x]);
    record('binary mul(x, x)', checkGradients(c, c.add({ op: 'binary', fn: 'div' }, [xt, c.add({ op: 'binary', fn: 'add' }, [x, c.b.constant(3)])])));
  });
});

describe('where', () => {
  it('both branches differentiated, condition and branches broadcast', () => {
    const { a, b, cc } = axes({ a: 3, b: 2, cc: 2 });
    const c = new Case(31);
    const m = c.floatInput('m', [b, a], [0.5, -0.5, 0.2, -0.1, 0.7, -0.3]);
    const cond = c.add({ op: 'compare', fn: 'gt' }, [m, c.b.constant(0)]);
    const x = c.param('x', [a, cc]);
    const y = c.param('y', [cc, b]);
    record('where (both branches)', checkGradients(c, c.add({ op: 'where' }, [cond, x, y])));
  });

  it('masked softmax: where(mask, -inf, s) then softmax', () => {
    const { q, kk } = axes({ q: 3, kk: 3 });
    const c = new Case(33);
    const s = c.param('s', [q, kk]);
    const mask = c.add({ op: 'compare', fn: 'gt' }, [c.add({ op: 'iota', axis: kk }, []), c.add({ op: 'iota', axis: q }, [])]);
    const masked = c.add({ op: 'where' }, [mask, c.b.constant(-Infinity), s]);
    record('where(-inf) + softmax (causal mask)', checkGradients(c, c.add({ op: 'softmax', axis: kk }, [masked])));
  });
});

describe('reduce and expand', () => {
  /** Distinct values, at least 0.05 apart, in random order: max has no ties. */
  const distinct = (n: number, c: Case) => {
    const v = Array.from({ length: n }, (_, i) => -1 + 0.1 * i + 0.02 * c.random());
    for (let i = n - 1; i > 0; i--) {
      const j = Math.floor(c.random() * (i + 1));
      [v[i], v[j]] = [v[j], v[i]];
    }
    return v;
  };
  for (const fn of ['sum', 'mean', 'max'] as const) {
    it(`${fn} over one axis (the middle one)`, () => {
      const { a, b, d } = axes({ a: 2, b: 3, d: 4 });
      const c = new Case(41);
      const x = c.param('x', [a, b, d], distinct(24, c));
      record(`reduce ${fn} over [b]`, checkGradients(c, c.add({ op: 'reduce', fn, axes: [b] }, [x])));
    });
    it(`${fn} over two axes (not adjacent, named out of order)`, () => {
      const { a, b, d } = axes({ a: 2, b: 3, d: 4 });
      const c = new Case(43);
      const x = c.param('x', [a, b, d], distinct(24, c));
      record(`reduce ${fn} over [d, a]`, checkGradients(c, c.add({ op: 'reduce', fn, axes: [d, a] }, [x])));
    });
    it(`${fn} over every axis (a scalar)`, () => {
      const { a, b } = axes({ a: 3, b: 2 });
      const c = new Case(45);
      const x = c.param('x', [a, b], distinct(6, c));
      record(`reduce ${fn} over all`, checkGradients(c, c.add({ op: 'reduce', fn, axes: [b, a] }, [x])));
    });
  }

  it('expand along two new axes', () => {
    const { a, b, d } = axes({ a: 3, b: 2, d: 4 });
    const c = new Case(47);
    const x = c.param('x', [a]);
    record('expand [a] → [a, b, d]', checkGradients(c, c.add({ op: 'expand', axes: [b, d] }, [x])));
  });

  it('expand of a scalar', () => {
    const { a, b } = axes({ a: 3, b: 2 });
    const c = new Case(49);
    const x = c.param('x', [], [0.7]);
    record('expand [] → [a, b]', checkGradients(c, c.add({ op: 'expand', axes: [a, b] }, [x])));
  });
});

describe('contract', () => {
  it('plain matmul: x[i, k] · y[k, j] over k', () => {
    const { i, k, j } = axes({ i: 2, k: 3, j: 4 });
    const c = new Case(51);
    const x = c.param('x', [i, k]);
    const y = c.param('y', [k, j]);
    record('contract matmul', checkGradients(c, c.add({ op: 'contract', over: [k] }, [x, y])));
  });

  it('with a batch axis, operands in different layouts: x[n, i, k] · y[j, k, n] over k', () => {
    const { n, i, k, j } = axes({ n: 2, i: 3, k: 2, j: 3 });
    const c = new Case(53);
    const x = c.param('x', [n, i, k]);
    const y = c.param('y', [j, k, n]);
    record('contract batched', checkGradients(c, c.add({ op: 'contract', over: [k] }, [x, y])));
  });

  it('over two axes: x[i, k1, k2] · y[k2, j, k1] over (k1, k2)', () => {
    const { i, k1, k2, j } = axes({ i: 2, k1: 3, k2: 2, j: 3 });
    const c = new Case(55);
    const x = c.param('x', [i, k1, k2]);
    const y = c.param('y', [k2, j, k1]);
    record('contract over two axes', checkGradients(c, c.add({ op: 'contract', over: [k1, k2] }, [x, y])));
  });

  it('vector · vector (no free axes on either side) → scalar', () => {
    const { k } = axes({ k: 4 });
    const c = new Case(57);
    const x = c.param('x', [k]);
    const y = c.param('y', [k]);
    record('contract vector·vector', checkGradients(c, c.add({ op: 'contract', over: [k] }, [x, y])));
  });

  it('one operand without free axes: x[k] · y[k, j]', () => {
    const { k, j } = axes({ k: 3, j: 4 });
    const c = new Case(59);
    const x = c.param('x', [k]);
    const y = c.param('y', [k, j]);
    record('contract vector·matrix', checkGradients(c, c.add({ op: 'contract', over: [k] }, [x, y])));
  });

  it('attention-shaped: q[b, s, h, d] · k[b, t, h, d] over d, then · v over t', () => {
    const { bt, s, t, h, d } = axes({ bt: 2, s: 3, t: 3, h: 2, d: 2 });
    const c = new Case(61);
    const q = c.param('q', [bt, s, h, d]);
    const k = c.param('k', [bt, t, h, d]);
    const v = c.param('v', [h, t, d, bt]);
    const scores = c.add({ op: 'contract', over: [d] }, [q, k]);
    const p = c.add({ op: 'softmax', axis: t }, [scores]);
    record('contract attention (with softmax)', checkGradients(c, c.add({ op: 'contract', over: [t] }, [p, v])));
  });
});

describe('gather and scatter_add', () => {
  it('gather rows with repeated indices (gradient to the table)', () => {
    const { v, e, n, s } = axes({ v: 4, e: 3, n: 2, s: 3 });
    const c = new Case(71);
    const t = c.param('table', [v, e]);
    // Row 2 is used three times, row 0 twice, row 3 never (its gradient must be exactly 0).
    const idx = c.index('idx', [n, s], v, [2, 0, 2, 1, 2, 0]);
    record('gather (repeated indices)', checkGradients(c, c.add({ op: 'gather', axis: v }, [t, idx])));
  });

  it('gather along an axis that is not the table’s first', () => {
    const { v, e, n } = axes({ v: 3, e: 2, n: 4 });
    const c = new Case(73);
    const t = c.param('table', [e, v]);
    const idx = c.index('idx', [n], v, [1, 1, 0, 1]);
    record('gather (table [e, v])', checkGradients(c, c.add({ op: 'gather', axis: v }, [t, idx])));
  });

  it('scatter_add with repeated indices (gradient to the values)', () => {
    const { v, e, n, s } = axes({ v: 4, e: 3, n: 2, s: 3 });
    const c = new Case(75);
    // The values are laid out [e, s, n]: not the index's order.
    const vals = c.param('values', [e, s, n]);
    const idx = c.index('idx', [n, s], v, [3, 1, 3, 3, 0, 1]);
    record('scatter_add (repeated indices)', checkGradients(c, c.add({ op: 'scatter_add', axis: v }, [vals, idx])));
  });
});

describe('rename', () => {
  it('rename then combine with the original (seq → key, as attention does)', () => {
    const { sq, key, e } = axes({ sq: 3, key: 3, e: 2 });
    const c = new Case(81);
    const x = c.param('x', [sq, e]);
    const k = c.add({ op: 'rename', pairs: [[sq, key]] }, [x]);
    record('rename (seq → key) ∘ contract', checkGradients(c, c.add({ op: 'contract', over: [e] }, [x, k])));
  });

  it('several pairs, applied in order (a → b, then b → c)', () => {
    const { a, b, cc, e, f } = axes({ a: 2, b: 2, cc: 2, e: 3, f: 3 });
    const c = new Case(83);
    const x = c.param('x', [e, a]);
    record('rename (chained pairs)', checkGradients(c, c.add({ op: 'rename', pairs: [[a, b], [b, cc], [e, f]] }, [x])));
  });
});

describe('softmax and cross_entropy', () => {
  it('softmax over the middle axis', () => {
    const { a, b, d } = axes({ a: 2, b: 4, d: 3 });
    const c = new Case(91);
    const x = c.param('x', [a, b, d], uniform(-2, 2));
    record('softmax (middle axis)', checkGradients(c, c.add({ op: 'softmax', axis: b }, [x])));
  });

  it('softmax over the first axis', () => {
    const { a, b } = axes({ a: 3, b: 2 });
    const c = new Case(93);
    const x = c.param('x', [a, b], uniform(-2, 2));
    record('softmax (first axis)', checkGradients(c, c.add({ op: 'softmax', axis: a }, [x])));
  });

  it('cross_entropy: logits [n, s, vocab], targets laid out [s, n]', () => {
    const { n, s, vocab } = axes({ n: 2, s: 3, vocab: 4 });
    const c = new Case(95);
    const x = c.param('logits', [n, s, vocab], uniform(-2, 2));
    const t = c.index('targets', [s, n], vocab, [3, 0, 1, 1, 3, 2]);
    record('cross_entropy (vocab last)', checkGradients(c, c.add({ op: 'cross_entropy', axis: vocab }, [x, t])));
  });

  it('cross_entropy: the vocab axis first', () => {
    const { n, vocab } = axes({ n: 3, vocab: 4 });
    const c = new Case(97);
    const x = c.param('logits', [vocab, n], uniform(-2, 2));
    const t = c.index('targets', [n], vocab, [2, 2, 0]);
    record('cross_entropy (vocab first)', checkGradients(c, c.add({ op: 'cross_entropy', axis: vocab }, [x, t])));
  });
});
