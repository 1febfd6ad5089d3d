/** Command-line parsing: small and strict (unknown flags are usage errors, exit code 2). */

export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

export interface FlagSpec {
  /** Takes a value (`--format json`, `--format=json`). */
  value?: boolean;
  /** May be given several times (values collected in order). */
  repeat?: boolean;
}

export interface ParsedArgs {
  positional: string[];
  flags: Map<string, string[]>;
}

export function parseArgs(argv: readonly string[], spec: Readonly<Record<string, FlagSpec>>): ParsedArgs {
  const positional: string[] = [];
  const flags = new Map<string, string[]>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--') {
      positional.push(...argv.slice(i + 1));
      break;
    }
    if (!arg.startsWith('-') || arg === '-') {
      positional.push(arg);
      continue;
    }
    const eq = arg.indexOf('=');
    const name = (eq >= 0 ? arg.slice(0, eq) : arg).replace(/^--?/, '');
    const s = spec[name];
    if (!s) throw new UsageError(`unknown option ${eq >= 0 ? arg.slice(0, eq) : arg}`);
    let value = 'true';
    if (s.value) {
      if (eq >= 0) value = arg.slice(eq + 1);
      else if (i + 1 < argv.length) value = argv[++i];
      else throw new UsageError(`option --${name} needs a value`);
    } else if (eq >= 0) {
      throw new UsageError(`option --${name} takes no value`);
    }
    const list = flags.get(name) ?? [];
    if (list.length && !s.repeat) throw new UsageError(`option --${name} given twice`);
    list.push(value);
    flags.set(name, list);
  }
  return { positional, flags };
}

export function flag(args: ParsedArgs, name: string): string | undefined {
  return args.flags.get(name)?.[0];
}

/**
 * A flag's value as a number (`--steps 200`), or undefined when absent. What numbers a
 * setting accepts is the settings table's to say (src/ir/elaborate/train.ts), so that
 * `--steps 0` and `--set steps=0` get the same answer.
 */
export function numberFlag(args: ParsedArgs, name: string): number | undefined {
  const v = flag(args, name);
  if (v === undefined) return undefined;
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n)) throw new UsageError(`--${name} needs a number, got '${v}'`);
  return n;
}

/** A count flag (`--log-every 10`, `--keep 3`): a whole number at least `min`, or undefined when absent. */
export function intFlag(args: ParsedArgs, name: string, min = 0): number | undefined {
  const v = flag(args, name);
  if (v === undefined) return undefined;
  const n = Number(v);
  if (v.trim() === '' || !Number.isInteger(n) || n < min) throw new UsageError(`--${name} needs a whole number >= ${min}, got '${v}'`);
  return n;
}

/** `--set NAME=VALUE` (repeatable) → map of numbers. */
export function overrides(args: ParsedArgs): Map<string, number> {
  const out = new Map<string, number>();
  for (const s of args.flags.get('set') ?? []) {
    const m = /^([A-Za-z_][A-Za-z0-9_]*)=(.+)$/.exec(s);
    if (!m) throw new UsageError(`--set needs NAME=VALUE, got '${s}'`);
    const v = Number(m[2]);
    if (m[2].trim() === '' || !Number.isFinite(v)) throw new UsageError(`--set ${m[1]}: '${m[2]}' is not a number`);
    out.set(m[1], v);
  }
  return out;
}

/** The backends `--backend` accepts (src/train/backends.ts); `cpu` is the fastest CPU backend, wasm. */
const BACKENDS = ['webgpu', 'wasm', 'interpreter', 'cpu'] as const;

/** `--backend webgpu|wasm|interpreter|cpu`, or undefined when absent. */
export function backendFlag(args: ParsedArgs): (typeof BACKENDS)[number] | undefined {
  const v = flag(args, 'backend');
  if (v === undefined) return undefined;
  if (!(BACKENDS as readonly string[]).includes(v)) throw new UsageError(`--backend must be one of ${BACKENDS.join(', ')}, got '${v}'`);
  return v as (typeof BACKENDS)[number];
}

/**
 * Whether a command may open a WebGPU device (and so runs with Dawn's stderr filtered): not
 * when `--backend` names a CPU backend, or when MDLC_NO_WEBGPU hides the adapters.
 */
export function mayUseWebGpu(args: ParsedArgs, env: Readonly<Record<string, string | undefined>>): boolean {
  const b = flag(args, 'backend');
  if (b === 'wasm' || b === 'interpreter' || b === 'cpu') return false;
  return !(env.MDLC_NO_WEBGPU && env.MDLC_NO_WEBGPU !== '0');
}
