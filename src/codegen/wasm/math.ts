/**
 * The transcendental functions WebAssembly lacks, as functions of the module on four f32
 * lanes (scalars call them through a splat): exp and log after Cephes' single-precision
 * polynomials (within 2 ulp on normal numbers; results below 2^-125 flush to zero), tanh as
 * the WGSL kernels compute it (from exp(-2|x|), so large arguments give ±1), GELU and its
 * derivative in GPT-2's tanh form, and `pow` imported from JavaScript (Math.pow: rare, and
 * exact as the interpreter's). NaN propagates through every one.
 */
import type { FunctionBuilder, ModuleBuilder } from './encoder.js';

export type MathFn = 'exp' | 'log' | 'tanh' | 'gelu' | 'gelu_grad' | 'pow';

/** Function indices of the helpers in a module (`pow` is scalar: (f32, f32) -> f32). */
export type MathFunctions = Record<MathFn, number>;

const LOG2E = 1.4426950408889634;
/** ln 2 split in two so that n·ln2 is exact in its high part (Cephes). */
const LN2_HI = 0.693359375;
const LN2_LO = -2.12194440e-4;
const EXP_POLY = [1.9875691500e-4, 1.3981999507e-3, 8.3334519073e-3, 4.1665795894e-2, 1.6666665459e-1, 5.0000001201e-1];
const LOG_POLY = [7.0376836292e-2, -1.1514610310e-1, 1.1676998740e-1, -1.2420140846e-1, 1.4249322787e-1, -1.6668057665e-1, 2.0000714765e-1, -2.4999993993e-1, 3.3333331174e-1];
/** exp overflows above this (to +inf), and is flushed to zero below EXP_LOW. */
const EXP_HIGH = 88.72283935546875;
const EXP_LOW = -86.5;
const GELU_C = 0.7978845608028654;
const GELU_A = 0.044715;

/** Horner's rule on the vector in local `x`: c0·x^(n-1) + … + c(n-1), left on the stack. */
function horner(f: FunctionBuilder, x: number, coeffs: readonly number[]): void {
  f.f32x4(coeffs[0]);
  for (const c of coeffs.slice(1)) f.get(x).op('f32x4_mul').f32x4(c).op('f32x4_add');
}

/** Adds the helpers to module `m` (before any function that calls them is encoded). */
export function addMath(m: ModuleBuilder, powImport: number): MathFunctions {
  const exp = m.declare(['v128'], ['v128']);
  const log = m.declare(['v128'], ['v128']);
  const tanh = m.declare(['v128'], ['v128']);
  const gelu = m.declare(['v128'], ['v128']);
  const geluGrad = m.declare(['v128'], ['v128']);

  {
    // exp(x) = 2^n · p(r), n = round(x·log2 e), r = x − n·ln 2; 2^n as 2^(n−1)·2 so n = 128 (x near the top) does not overflow the exponent field.
    const f = exp.body;
    const x = 0;
    const xc = f.local('v128');
    const fx = f.local('v128');
    const r = f.local('v128');
    const p = f.local('v128');
    f.get(x).f32x4(EXP_LOW).op('f32x4_max').f32x4(EXP_HIGH).op('f32x4_min').set(xc);
    f.get(xc).f32x4(LOG2E).op('f32x4_mul').op('f32x4_nearest').set(fx);
    f.get(xc).get(fx).f32x4(LN2_HI).op('f32x4_mul').op('f32x4_sub').get(fx).f32x4(LN2_LO).op('f32x4_mul').op('f32x4_sub').set(r);
    horner(f, r, EXP_POLY);
    // p = poly·r² + r + 1
    f.get(r).get(r).op('f32x4_mul').op('f32x4_mul').get(r).op('f32x4_add').f32x4(1).op('f32x4_add').set(p);
    f.get(p);
    f.get(fx).op('i32x4_trunc_sat_f32x4_s').i32x4(126).op('i32x4_add').i32(23).op('i32x4_shl');
    f.op('f32x4_mul').f32x4(2).op('f32x4_mul');
    // Below EXP_LOW: 0; above EXP_HIGH (and +inf): +inf.
    const y = f.local('v128');
    f.get(x).f32x4(EXP_LOW).op('f32x4_lt').op('v128_andnot').set(y);
    f.f32x4(Infinity).get(y).get(x).f32x4(EXP_HIGH).op('f32x4_gt').op('v128_bitselect');
  }
  {
    // log(x) = e·ln 2 + log(m), x = m·2^e with m in [√½, √2); Cephes' polynomial in m − 1.
    const f = log.body;
    const x = 0;
    const bits = f.local('v128');
    const e = f.local('v128');
    const mm = f.local('v128');
    const mask = f.local('v128');
    const z = f.local('v128');
    const y = f.local('v128');
    const ef = f.local('v128');
    f.get(x).set(bits);
    f.get(bits).i32(23).op('i32x4_shr_u').i32x4(126).op('i32x4_sub').set(e);
    f.get(bits).i32x4(0x807fffff).op('v128_and').i32x4(0x3f000000).op('v128_or').set(mm); // m in [0.5, 1)
    f.get(mm).f32x4(Math.SQRT1_2).op('f32x4_lt').set(mask);
    // m < √½: e − 1 and m + m − 1; else m − 1.
    f.get(e).get(mask).op('i32x4_add').set(e);
    f.get(mm).f32x4(1).op('f32x4_sub').get(mm).get(mask).op('v128_and').op('f32x4_add').set(mm);
    f.get(mm).get(mm).op('f32x4_mul').set(z);
    horner(f, mm, LOG_POLY);
    f.get(mm).op('f32x4_mul').get(z).op('f32x4_mul').set(y);
    f.get(e).op('f32x4_convert_i32x4_s').set(ef);
    f.get(y).get(ef).f32x4(LN2_LO).op('f32x4_mul').op('f32x4_add').get(z).f32x4(0.5).op('f32x4_mul').op('f32x4_sub');
    f.get(mm).op('f32x4_add').get(ef).f32x4(LN2_HI).op('f32x4_mul').op('f32x4_add').set(y);
    // Special values: 0 → −inf, negative → NaN, +inf → +inf, NaN → NaN.
    f.f32x4(-Infinity).get(y).get(x).f32x4(0).op('f32x4_eq').op('v128_bitselect').set(y);
    f.f32x4(NaN).get(y).get(x).f32x4(0).op('f32x4_lt').get(x).get(x).op('f32x4_ne').op('v128_or').op('v128_bitselect').set(y);
    f.f32x4(Infinity).get(y).get(x).f32x4(Infinity).op('f32x4_eq').op('v128_bitselect');
  }
  {
    // tanh(x) = sign(x)·(1 − e)/(1 + e), e = exp(−2|x|).
    const f = tanh.body;
    const x = 0;
    const e = f.local('v128');
    f.get(x).op('f32x4_abs').f32x4(-2).op('f32x4_mul').call(exp.index).set(e);
    f.f32x4(1).get(e).op('f32x4_sub').f32x4(1).get(e).op('f32x4_add').op('f32x4_div');
    // |result| with x's sign bit.
    f.get(x).i32x4(0x80000000 | 0).op('v128_and').op('v128_or');
  }
  {
    // gelu(x) = 0.5·x·(1 + tanh(c·(x + a·x³)))
    const f = gelu.body;
    const x = 0;
    f.f32x4(0.5).get(x).op('f32x4_mul');
    f.f32x4(1);
    f.get(x).get(x).get(x).op('f32x4_mul').get(x).op('f32x4_mul').f32x4(GELU_A).op('f32x4_mul').op('f32x4_add').f32x4(GELU_C).op('f32x4_mul').call(tanh.index);
    f.op('f32x4_add').op('f32x4_mul');
  }
  {
    // gelu'(x) = 0.5·(1 + t) + 0.5·x·(1 − t²)·c·(1 + 3a·x²), t = tanh(c·(x + a·x³))
    const f = geluGrad.body;
    const x = 0;
    const t = f.local('v128');
    const x2 = f.local('v128');
    f.get(x).get(x).op('f32x4_mul').set(x2);
    f.get(x2).f32x4(GELU_A).op('f32x4_mul').f32x4(1).op('f32x4_add').get(x).op('f32x4_mul').f32x4(GELU_C).op('f32x4_mul').call(tanh.index).set(t);
    f.f32x4(0.5).f32x4(1).get(t).op('f32x4_add').op('f32x4_mul');
    f.f32x4(0.5).get(x).op('f32x4_mul');
    f.f32x4(1).get(t).get(t).op('f32x4_mul').op('f32x4_sub').op('f32x4_mul');
    f.f32x4(GELU_C).op('f32x4_mul');
    f.f32x4(1).get(x2).f32x4(3 * GELU_A).op('f32x4_mul').op('f32x4_add').op('f32x4_mul');
    f.op('f32x4_add');
  }
  return { exp: exp.index, log: log.index, tanh: tanh.index, gelu: gelu.index, gelu_grad: geluGrad.index, pow: powImport };
}
