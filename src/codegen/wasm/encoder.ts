/**
 * A small WebAssembly binary encoder: a module of functions over one imported shared memory,
 * and a function builder that appends instructions (MVP, 128-bit SIMD, saturating
 * truncation). It knows only the instructions the wasm renderer uses.
 *
 * Why our own and not binaryen: the renderer emits straight-line loops over known strides,
 * which V8's optimising compiler already schedules well; measured (bench/wasm-encoder.mjs),
 * running binaryen's optimiser over the module changed the step time within noise while
 * loading binaryen.js alone took longer than building and compiling the whole module, and the
 * time to the first training step is a target. Bytes are checked by `WebAssembly.validate`
 * in the tests.
 */

export type ValType = 'i32' | 'f32' | 'f64' | 'v128';

const VALTYPE: Record<ValType, number> = { i32: 0x7f, f32: 0x7d, f64: 0x7c, v128: 0x7b };

/** Unsigned LEB128. */
export function uleb(n: number, out: number[] = []): number[] {
  if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) throw new Error(`internal: uleb of ${n}`);
  do {
    let byte = n & 0x7f;
    n = Math.floor(n / 128);
    if (n !== 0) byte |= 0x80;
    out.push(byte);
  } while (n !== 0);
  return out;
}

/** Signed LEB128 of a 32-bit integer. */
export function sleb(n: number, out: number[] = []): number[] {
  if (!Number.isInteger(n) || n < -0x80000000 || n > 0xffffffff) throw new Error(`internal: sleb of ${n}`);
  n |= 0;
  for (;;) {
    const byte = n & 0x7f;
    n >>= 7;
    if ((n === 0 && (byte & 0x40) === 0) || (n === -1 && (byte & 0x40) !== 0)) {
      out.push(byte);
      return out;
    }
    out.push(byte | 0x80);
  }
}

function name(s: string): number[] {
  const bytes = [...new TextEncoder().encode(s)];
  return [...uleb(bytes.length), ...bytes];
}

/** Instructions without immediates (a prefix byte and an opcode where needed). */
export const OP = {
  unreachable: [0x00],
  nop: [0x01],
  return: [0x0f],
  drop: [0x1a],
  select: [0x1b],
  i32_eqz: [0x45],
  i32_eq: [0x46],
  i32_ne: [0x47],
  i32_lt_s: [0x48],
  i32_lt_u: [0x49],
  i32_gt_s: [0x4a],
  i32_gt_u: [0x4b],
  i32_le_s: [0x4c],
  i32_le_u: [0x4d],
  i32_ge_s: [0x4e],
  i32_ge_u: [0x4f],
  f32_eq: [0x5b],
  f32_ne: [0x5c],
  f32_lt: [0x5d],
  f32_gt: [0x5e],
  f32_le: [0x5f],
  f32_ge: [0x60],
  i32_add: [0x6a],
  i32_sub: [0x6b],
  i32_mul: [0x6c],
  i32_div_s: [0x6d],
  i32_div_u: [0x6e],
  i32_rem_s: [0x6f],
  i32_rem_u: [0x70],
  i32_and: [0x71],
  i32_or: [0x72],
  i32_xor: [0x73],
  i32_shl: [0x74],
  i32_shr_s: [0x75],
  i32_shr_u: [0x76],
  f32_abs: [0x8b],
  f32_neg: [0x8c],
  f32_floor: [0x8e],
  f32_nearest: [0x90],
  f32_sqrt: [0x91],
  f32_add: [0x92],
  f32_sub: [0x93],
  f32_mul: [0x94],
  f32_div: [0x95],
  f32_min: [0x96],
  f32_max: [0x97],
  f32_copysign: [0x98],
  f32_convert_i32_s: [0xb2],
  f32_demote_f64: [0xb6],
  f64_promote_f32: [0xbb],
  i32_reinterpret_f32: [0xbc],
  f32_reinterpret_i32: [0xbe],
  i32_trunc_sat_f32_s: [0xfc, 0x00],
  // SIMD (0xfd prefix, then the opcode as LEB128).
  i32x4_splat: [0xfd, 0x11],
  f32x4_splat: [0xfd, 0x13],
  i32x4_eq: [0xfd, 0x37],
  i32x4_ne: [0xfd, 0x38],
  i32x4_lt_s: [0xfd, 0x39],
  i32x4_gt_s: [0xfd, 0x3b],
  i32x4_le_s: [0xfd, 0x3d],
  i32x4_ge_s: [0xfd, 0x3f],
  f32x4_eq: [0xfd, 0x41],
  f32x4_ne: [0xfd, 0x42],
  f32x4_lt: [0xfd, 0x43],
  f32x4_gt: [0xfd, 0x44],
  f32x4_le: [0xfd, 0x45],
  f32x4_ge: [0xfd, 0x46],
  v128_not: [0xfd, 0x4d],
  v128_and: [0xfd, 0x4e],
  v128_andnot: [0xfd, 0x4f],
  v128_or: [0xfd, 0x50],
  v128_xor: [0xfd, 0x51],
  v128_bitselect: [0xfd, 0x52],
  f32x4_nearest: [0xfd, 0x6a],
  i32x4_neg: [0xfd, 0xa1, 0x01],
  i32x4_shl: [0xfd, 0xab, 0x01],
  i32x4_shr_s: [0xfd, 0xac, 0x01],
  i32x4_shr_u: [0xfd, 0xad, 0x01],
  i32x4_add: [0xfd, 0xae, 0x01],
  i32x4_sub: [0xfd, 0xb1, 0x01],
  i32x4_mul: [0xfd, 0xb5, 0x01],
  i32x4_min_s: [0xfd, 0xb6, 0x01],
  i32x4_max_s: [0xfd, 0xb8, 0x01],
  f32x4_abs: [0xfd, 0xe0, 0x01],
  f32x4_neg: [0xfd, 0xe1, 0x01],
  f32x4_sqrt: [0xfd, 0xe3, 0x01],
  f32x4_add: [0xfd, 0xe4, 0x01],
  f32x4_sub: [0xfd, 0xe5, 0x01],
  f32x4_mul: [0xfd, 0xe6, 0x01],
  f32x4_div: [0xfd, 0xe7, 0x01],
  f32x4_min: [0xfd, 0xe8, 0x01],
  f32x4_max: [0xfd, 0xe9, 0x01],
  i32x4_trunc_sat_f32x4_s: [0xfd, 0xf8, 0x01],
  f32x4_convert_i32x4_s: [0xfd, 0xfa, 0x01],
} as const;

export type SimpleOp = keyof typeof OP;

/** Loads and stores: opcode bytes and the natural alignment (log2 bytes). */
const MEMORY_OPS = {
  i32_load: { code: [0x28], align: 2 },
  f32_load: { code: [0x2a], align: 2 },
  i32_store: { code: [0x36], align: 2 },
  f32_store: { code: [0x38], align: 2 },
  v128_load: { code: [0xfd, 0x00], align: 4 },
  v128_load32_splat: { code: [0xfd, 0x09], align: 2 },
  v128_store: { code: [0xfd, 0x0b], align: 4 },
} as const;

export type MemoryOp = keyof typeof MEMORY_OPS;

/** Block types: no result, or one value. */
const BLOCK_TYPE: Record<'void' | ValType, number> = { void: 0x40, ...VALTYPE };

/**
 * A function body under construction: parameters, locals by type, and instructions appended
 * in order (operands first: a stack machine). Labels are relative depths, as in the binary
 * format; `block`/`loop`/`if` return nothing and must be closed with `end`.
 */
export class FunctionBuilder {
  readonly code: number[] = [];
  private readonly localTypes: ValType[] = [];
  private depth = 0;

  constructor(
    readonly params: readonly ValType[],
    readonly results: readonly ValType[] = [],
  ) {}

  /** A new local of type `t`; returns its index. */
  local(t: ValType): number {
    this.localTypes.push(t);
    return this.params.length + this.localTypes.length - 1;
  }

  get locals(): readonly ValType[] {
    return this.localTypes;
  }

  op(name: SimpleOp): this {
    this.code.push(...OP[name]);
    return this;
  }

  ops(...names: SimpleOp[]): this {
    for (const n of names) this.op(n);
    return this;
  }

  get(i: number): this {
    this.code.push(0x20, ...uleb(i));
    return this;
  }

  set(i: number): this {
    this.code.push(0x21, ...uleb(i));
    return this;
  }

  tee(i: number): this {
    this.code.push(0x22, ...uleb(i));
    return this;
  }

  i32(n: number): this {
    this.code.push(0x41, ...sleb(n));
    return this;
  }

  f32(x: number): this {
    const b = new Uint8Array(new Float32Array([x]).buffer);
    this.code.push(0x43, ...b);
    return this;
  }

  /** v128.const from four f32 lanes. */
  f32x4(a: number, b = a, c = a, d = a): this {
    this.code.push(0xfd, 0x0c, ...new Uint8Array(new Float32Array([a, b, c, d]).buffer));
    return this;
  }

  /** v128.const from four i32 lanes. */
  i32x4(a: number, b = a, c = a, d = a): this {
    this.code.push(0xfd, 0x0c, ...new Uint8Array(new Int32Array([a, b, c, d]).buffer));
    return this;
  }

  /** A load or store at the address on the stack plus the constant `offset` (bytes). */
  mem(op: MemoryOp, offset = 0): this {
    if (offset < 0) throw new Error(`internal: negative memory offset ${offset}`);
    const m = MEMORY_OPS[op];
    this.code.push(...m.code, ...uleb(m.align), ...uleb(offset));
    return this;
  }

  /** Lane `lane` of an f32x4 / i32x4 (extract) or replaced by the scalar on top (replace). */
  lane(op: 'f32x4_extract' | 'f32x4_replace' | 'i32x4_extract' | 'i32x4_replace', lane: number): this {
    const code = { i32x4_extract: 0x1b, i32x4_replace: 0x1c, f32x4_extract: 0x1f, f32x4_replace: 0x20 }[op];
    this.code.push(0xfd, code, lane);
    return this;
  }

  /** i8x16.shuffle of the two vectors on the stack by 16 byte indices. */
  shuffle(bytes: readonly number[]): this {
    if (bytes.length !== 16) throw new Error('internal: a shuffle takes 16 lanes');
    this.code.push(0xfd, 0x0d, ...bytes);
    return this;
  }

  /** Shuffle of 32-bit lanes: lanes 0–3 of the first vector, 4–7 of the second. */
  shuffle32(l0: number, l1: number, l2: number, l3: number): this {
    return this.shuffle([l0, l1, l2, l3].flatMap((l) => [4 * l, 4 * l + 1, 4 * l + 2, 4 * l + 3]));
  }

  call(index: number): this {
    this.code.push(0x10, ...uleb(index));
    return this;
  }

  block(type: 'void' | ValType = 'void'): this {
    this.depth++;
    this.code.push(0x02, BLOCK_TYPE[type]);
    return this;
  }

  loop(type: 'void' | ValType = 'void'): this {
    this.depth++;
    this.code.push(0x03, BLOCK_TYPE[type]);
    return this;
  }

  if(type: 'void' | ValType = 'void'): this {
    this.depth++;
    this.code.push(0x04, BLOCK_TYPE[type]);
    return this;
  }

  else(): this {
    this.code.push(0x05);
    return this;
  }

  end(): this {
    this.depth--;
    this.code.push(0x0b);
    return this;
  }

  br(depth: number): this {
    this.code.push(0x0c, ...uleb(depth));
    return this;
  }

  brIf(depth: number): this {
    this.code.push(0x0d, ...uleb(depth));
    return this;
  }

  /**
   * `for (i = from; i < to; i += step) body()`, with `from` and `to` emitted by the callers
   * (values on the stack are not allowed: each is a function that pushes one i32). Skips the
   * body when from >= to.
   */
  forRange(i: number, from: () => void, to: () => void, body: () => void, step = 1): this {
    from();
    this.set(i);
    this.block();
    this.get(i);
    to();
    this.op('i32_ge_s').brIf(0);
    this.loop();
    body();
    this.get(i).i32(step).op('i32_add').tee(i);
    to();
    this.op('i32_lt_s').brIf(0);
    this.end();
    this.end();
    return this;
  }

  /** The body's bytes: locals (run-length by type) and instructions, with the final `end`. */
  encode(): number[] {
    if (this.depth !== 0) throw new Error(`internal: ${this.depth} unclosed blocks in a function`);
    const runs: [number, ValType][] = [];
    for (const t of this.localTypes) {
      const last = runs.at(-1);
      if (last && last[1] === t) last[0]++;
      else runs.push([1, t]);
    }
    const body = [...uleb(runs.length), ...runs.flatMap(([n, t]) => [...uleb(n), VALTYPE[t]]), ...this.code, 0x0b];
    return [...uleb(body.length), ...body];
  }
}

interface FunctionEntry {
  type: number;
  body: FunctionBuilder;
  exportAs?: string;
}

/**
 * A module: imported functions, one imported memory (shared where asked), and functions
 * defined here, some exported by name. Function indices count imports first.
 */
export class ModuleBuilder {
  private types: string[] = [];
  private typeList: [readonly ValType[], readonly ValType[]][] = [];
  private imports: { module: string; name: string; type: number }[] = [];
  private functions: FunctionEntry[] = [];
  private memory?: { module: string; name: string; min: number; max: number; shared: boolean };

  private typeIndex(params: readonly ValType[], results: readonly ValType[]): number {
    const key = `${params.join(',')}->${results.join(',')}`;
    let i = this.types.indexOf(key);
    if (i < 0) {
      i = this.types.length;
      this.types.push(key);
      this.typeList.push([params, results]);
    }
    return i;
  }

  /** An imported function (before any defined one); returns its index. */
  importFunction(module: string, name: string, params: readonly ValType[], results: readonly ValType[]): number {
    if (this.functions.length) throw new Error('internal: imports come before defined functions');
    this.imports.push({ module, name, type: this.typeIndex(params, results) });
    return this.imports.length - 1;
  }

  /** The memory, imported: `min` and `max` in 64 KiB pages. */
  importMemory(module: string, name: string, min: number, max: number, shared: boolean): void {
    this.memory = { module, name, min, max, shared };
  }

  /** Reserve a function index for a body given later (so functions can call each other). */
  declare(params: readonly ValType[], results: readonly ValType[] = [], exportAs?: string): { index: number; body: FunctionBuilder } {
    const body = new FunctionBuilder(params, results);
    this.functions.push({ type: this.typeIndex(params, results), body, exportAs });
    return { index: this.imports.length + this.functions.length - 1, body };
  }

  /** Add a function whose body is already built; returns its index. */
  addFunction(body: FunctionBuilder, exportAs?: string): number {
    this.functions.push({ type: this.typeIndex(body.params, body.results), body, exportAs });
    return this.imports.length + this.functions.length - 1;
  }

  get functionCount(): number {
    return this.imports.length + this.functions.length;
  }

  encode(): Uint8Array<ArrayBuffer> {
    const out: number[] = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00];
    const section = (id: number, content: number[]) => {
      out.push(id, ...uleb(content.length));
      for (let i = 0; i < content.length; i += 65536) out.push(...content.slice(i, i + 65536));
    };
    const vec = (items: number[][]) => {
      const v = uleb(items.length);
      for (const it of items) for (let i = 0; i < it.length; i += 65536) v.push(...it.slice(i, i + 65536));
      return v;
    };
    section(1, vec(this.typeList.map(([p, r]) => [0x60, ...uleb(p.length), ...p.map((t) => VALTYPE[t]), ...uleb(r.length), ...r.map((t) => VALTYPE[t])])));
    const imports: number[][] = this.imports.map((i) => [...name(i.module), ...name(i.name), 0x00, ...uleb(i.type)]);
    if (this.memory) {
      const m = this.memory;
      imports.push([...name(m.module), ...name(m.name), 0x02, m.shared ? 0x03 : 0x01, ...uleb(m.min), ...uleb(m.max)]);
    }
    section(2, vec(imports));
    section(3, vec(this.functions.map((f) => uleb(f.type))));
    const exports = this.functions.flatMap((f, i) => (f.exportAs ? [[...name(f.exportAs), 0x00, ...uleb(this.imports.length + i)]] : []));
    section(7, vec(exports));
    section(10, vec(this.functions.map((f) => f.body.encode())));
    return new Uint8Array(out);
  }
}
