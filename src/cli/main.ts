/**
 * The `mdlc` command line. Exit codes: 0 success, 1 the model or data has errors
 * (diagnostics printed), 2 usage errors (unknown flag, missing file argument).
 */
import { hasErrors, type Diagnostic, type SourceFile } from '../diagnostics/index.js';
import { compileFile } from '../driver/index.js';
import { parseArgs, UsageError, type FlagSpec, type ParsedArgs } from './args.js';
import { compileOptions, defaultIo, files, formatOf, report, type Io } from './common.js';

const HELP = `mdlc — compiler for .mdl neural-network models

Usage:
  mdlc check FILE...  [--format human|json|github] [--set NAME=VALUE]...
  mdlc build FILE     [--data FILE] [--out DIR] [--emit ir|kernels] [--gemm register|tiled] [--set NAME=VALUE]...
  mdlc train FILE     [--backend webgpu|cpu] [--data FILE] [--steps N] [--batch N] [--seed N]
                      [--set NAME=VALUE]... [--overfit] [--out DIR]
  mdlc --help | --version

Commands:
  check   parse and check models: shapes, named axes, distributions, NaN hazards, data contract
  build   compile a model into build/<model>/: WGSL kernels, model.ts/js, train.ts/js, ir.txt, report.json
          (--emit ir prints the typed IR instead; --emit kernels the kernel IR after each pass)
  train   train a model (WebGPU where an adapter exists, else the cpu interpreter): prints the
          training loss, and the validation loss every eval_every steps

Options:
  --format FMT        diagnostics as human text (default), json, or github (Actions annotations)
  --set NAME=VALUE    override a dim or train setting (repeatable), e.g. --set embed=32
  --vocab N           bind data.vocab (otherwise a placeholder size is used for checking)
  --data FILE         use this text file instead of the dataset the model names
  --gemm VARIANT      GEMM kernels for CPU adapters (register) or GPUs (tiled); default: by adapter
  --steps/--batch/--seed N   shorthands for --set steps=N, --set batch=N, --set seed=N
  --overfit           train on one fixed batch until the loss is below 0.05 (a sanity check)
  --out DIR           write the trained parameters (safetensors) and vocabulary there

Exit codes: 0 ok, 1 errors in a model, 2 usage error.`;

const COMMON: Record<string, FlagSpec> = {
  format: { value: true },
  set: { value: true, repeat: true },
  vocab: { value: true },
  help: {},
};

export async function main(argv: readonly string[], io: Io = defaultIo): Promise<number> {
  try {
    const [command, ...rest] = argv;
    switch (command) {
      case undefined:
      case '--help':
      case '-h':
      case 'help':
        io.out(HELP);
        return command === undefined ? 2 : 0;
      case '--version':
        io.out('mdlc 0.1.0');
        return 0;
      case 'check':
        return runCheck(parseArgs(rest, COMMON), io);
      // Loaded on demand: code generation (ts-morph) and WebGPU are slow to import, and
      // `mdlc check` needs neither.
      case 'build': {
        const { BUILD_FLAGS, runBuild } = await import('./train.js');
        return await runBuild(parseArgs(rest, { ...COMMON, ...BUILD_FLAGS }), io);
      }
      case 'train': {
        const { TRAIN_FLAGS, runTrain } = await import('./train.js');
        return await runTrain(parseArgs(rest, { ...COMMON, ...TRAIN_FLAGS }), io);
      }
      default:
        throw new UsageError(`unknown command '${command}' (commands: check, build, train)`);
    }
  } catch (e) {
    if (e instanceof UsageError) {
      io.err(`mdlc: ${e.message}\nRun 'mdlc --help' for usage.`);
      return 2;
    }
    // A bug in mdlc, not in the user's model: say so, briefly, with the message.
    io.err(`mdlc: internal error: ${(e as Error)?.message ?? String(e)}\nThis is a bug in mdlc; please report it with the model file.`);
    return 70;
  }
}

function summary(diags: Diagnostic[]): string {
  const e = diags.filter((d) => d.severity === 'error').length;
  const w = diags.length - e;
  const parts = [];
  if (e) parts.push(`${e} error${e === 1 ? '' : 's'}`);
  if (w) parts.push(`${w} warning${w === 1 ? '' : 's'}`);
  return parts.join(', ');
}

function runCheck(args: ParsedArgs, io: Io): number {
  if (args.flags.has('help')) {
    io.out(HELP);
    return 0;
  }
  const format = formatOf(args);
  const options = compileOptions(args);
  const all: Diagnostic[] = [];
  const sources: SourceFile[] = [];
  for (const file of files(args)) {
    const r = compileFile(file, options);
    if (r.source) sources.push(r.source);
    all.push(...r.diagnostics);
    if (format === 'human') {
      const status = hasErrors(r.diagnostics) ? 'failed' : 'ok';
      const s = summary(r.diagnostics);
      io.err(`${file}: ${status}${s ? ` (${s})` : ''}`);
    }
  }
  report(all, sources, format, io);
  return hasErrors(all) ? 1 : 0;
}

