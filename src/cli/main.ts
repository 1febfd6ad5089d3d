/**
 * The `mdlc` command line. Exit codes: 0 success, 1 the model or data has errors
 * (diagnostics printed), 2 usage errors (unknown flag, missing file argument).
 */
import { hasErrors, type Diagnostic, type SourceFile } from '../diagnostics/index.js';
import { compileFile } from '../driver/index.js';
import { parseArgs, UsageError, type FlagSpec, type ParsedArgs } from './args.js';
import { compileOptions, defaultIo, files, formatOf, report, type Io } from './common.js';
import { runFiltered, runsFiltered } from './stderr-filter.js';
import { mdlcVersion } from './version.js';

/**
 * Commands that open a WebGPU device run in a child whose stderr is filtered (stderr-filter.ts),
 * when this is the real command line (not a test calling main with its own Io) and not that child.
 */
function filtered(io: Io): boolean {
  return io === defaultIo && !runsFiltered() && process.env.MDLC_STDERR_FILTER !== '0';
}

const HELP = `mdlc — compiler for .mdl neural-network models

Usage:
  mdlc check FILE...  [--format human|json|github] [--set NAME=VALUE]...
  mdlc build FILE     [--data FILE] [--out DIR] [--emit ir|kernels] [--gemm register|tiled] [--set NAME=VALUE]...
  mdlc train FILE     [--backend webgpu|cpu] [--data FILE] [--steps N] [--batch N] [--seed N]
                      [--set NAME=VALUE]... [--overfit] [--run-dir DIR] [--log-every N]
                      [--samples N] [--checkpoint-every N] [--keep N]
  mdlc train --resume RUN_DIR|CHECKPOINT [FILE]
  mdlc sample RUN_DIR|CHECKPOINT [--prompt TEXT] [--tokens N] [--temperature T] [--top-k K]
                      [--seed N] [--backend webgpu|cpu] [--best]
  mdlc score RUN_DIR|CHECKPOINT (--data FILE | --text TEXT | < FILE) [--stride N]
                      [--format text|json|csv] [--plot FILE.svg] [--backend webgpu|cpu] [--best]
  mdlc export FILE    --target pytorch [--data FILE] [--out DIR] [--set NAME=VALUE]...
  mdlc playground     [--port N] [--host H] [--data FILE]
  mdlc --help | --version

Commands:
  check   parse and check models: shapes, named axes, distributions, NaN hazards, data contract
  build   compile a model into build/<model>/: WGSL kernels, model.ts/js, train.ts/js, ir.txt, report.json
          (--emit ir prints the typed IR instead; --emit kernels the kernel IR after each pass)
  train   train a model (WebGPU where an adapter exists, else the cpu interpreter) into a run
          directory: progress, validation loss and completions, checkpoints, loss.svg
  sample  generate text from a trained next-token model, streamed as it is generated
  score   the density of a text: each window's reconstruction loss in bits per character under a
          trained model (the autoencoder), a summary, and a plot of density along the text
  export  write the model as PyTorch code that trains without mdlc (model.py, train.py, model.mdl)
          into export/<model>-pytorch/; train.py runs alone or under torchrun
  playground  serve a page (http://127.0.0.1:8017/ by default) that checks models as you type and
          trains them on WebGPU in the browser: loss plot, completions, sampling, checkpoints

Options:
  --format FMT        diagnostics as human text (default), json, or github (Actions annotations)
  --set NAME=VALUE    override a dim the file gives a number, or a train setting (repeatable), e.g. --set embed=32
  --vocab N           bind data.vocab (otherwise a placeholder size is used for checking)
  --data FILE         use this text file instead of the dataset the model names
  --gemm VARIANT      GEMM kernels for CPU adapters (register) or GPUs (tiled); default: by adapter
  --steps/--batch/--seed N   shorthands for --set steps=N, --set batch=N, --set seed=N
  --overfit           train on one fixed batch until the loss is below 0.05 (a sanity check)
  --run-dir DIR       where the run goes (default runs/<model>-<date>-<time>)
  --resume PATH       continue a run exactly from its newest checkpoint (or a checkpoint directory)
  --log-every N       without a terminal, print a line every N steps (default 10)
  --samples N         validation completions shown at each evaluation (default 3; 0 for none)
  --checkpoint-every N  steps between checkpoints (default: eval_every); --keep N: newest kept (default 3)
  --prompt TEXT       (sample) the text to continue; --tokens N characters (default 500);
                      --temperature T (default 0.8; 0 is greedy); --top-k K; --best: the best checkpoint
  --out DIR           (build) where the build goes
  --port N, --host H  (playground) where to serve the page (default 127.0.0.1:8017)

Exit codes: 0 ok, 1 errors in a model or its data, 2 usage error, 130 interrupted (checkpoint saved).`;


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
        io.out(`mdlc ${mdlcVersion()}`);
        return 0;
      case 'check':
        return runCheck(parseArgs(rest, COMMON), io);
      // Loaded on demand: code generation (ts-morph) and WebGPU are slow to import, and
      // `mdlc check` needs neither.
      case 'build': {
        const { BUILD_FLAGS, runBuild } = await import('./train.js');
        const args = parseArgs(rest, { ...COMMON, ...BUILD_FLAGS });
        if (filtered(io)) return await runFiltered(argv);
        return await runBuild(args, io);
      }
      case 'train': {
        const { TRAIN_FLAGS, runTrain } = await import('./train.js');
        const args = parseArgs(rest, { ...COMMON, ...TRAIN_FLAGS });
        if (filtered(io)) return await runFiltered(argv);
        return await runTrain(args, io);
      }
      case 'score': {
        const { SCORE_FLAGS, runScore } = await import('./score.js');
        const args = parseArgs(rest, { ...COMMON, ...SCORE_FLAGS });
        if (filtered(io)) return await runFiltered(argv);
        return await runScore(args, io);
      }
      case 'sample': {
        const { SAMPLE_FLAGS, runSample } = await import('./sample.js');
        const args = parseArgs(rest, { ...COMMON, ...SAMPLE_FLAGS });
        if (filtered(io)) return await runFiltered(argv);
        return await runSample(args, io);
      }
      case 'export': {
        const { EXPORT_FLAGS, runExport } = await import('./export.js');
        return await runExport(parseArgs(rest, { ...COMMON, ...EXPORT_FLAGS }), io, mdlcVersion());
      }
      case 'playground': {
        const { PLAYGROUND_FLAGS, runPlayground } = await import('./playground.js');
        return await runPlayground(parseArgs(rest, { help: {}, ...PLAYGROUND_FLAGS }), io);
      }
      default:
        throw new UsageError(`unknown command '${command}' (commands: check, build, train, sample, score, export, playground)`);
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
    for (const d of r.diagnostics) all.push(d); // no spread: a file may have tens of thousands
    if (format === 'human') {
      const status = hasErrors(r.diagnostics) ? 'failed' : 'ok';
      const s = summary(r.diagnostics);
      io.err(`${file}: ${status}${s ? ` (${s})` : ''}`);
    }
  }
  report(all, sources, format, io);
  return hasErrors(all) ? 1 : 0;
}

