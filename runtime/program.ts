/**
 * What a generated `train.js` runs (Node.js): its model on WebGPU through the one training
 * loop, with plain log lines, and a checkpoint at the end when asked. Also its command
 * line: `node build/<model>/train.js [--data FILE] [--steps N] [--seed N] [--out DIR]`.
 */
import { join } from 'node:path';
import { realpathSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import type { LrRates, TrainSpec } from './backend.js';
import { checkpointName, writeCheckpoint, type ModelMeta } from './checkpoint.js';
import { DataError, splitTokens } from './data.js';
import { loadCorpus } from './corpus.js';
import { formatSamples, formatStepLine } from './format.js';
import { trainLoop } from './loop.js';
import { WebGpuBackend, type GeneratedModule } from './webgpu.js';

export interface ProgramOptions {
  /** A text file instead of the dataset the model names. */
  data?: string;
  /** Steps to train (the schedule's horizon); default: the .mdl's `steps`. */
  steps?: number;
  seed?: number;
  /** Train on one fixed batch; stop once the loss is below `targetLoss`. */
  overfit?: boolean;
  targetLoss?: number;
  /** Write the final checkpoint (weights, optimizer state, trainer state) into DIR/checkpoints/. */
  out?: string;
  /** Validation completions per evaluation (default 2; 0: none). */
  samples?: number;
  log?: (line: string) => void;
}

export interface ProgramResult {
  losses: number[];
  valLosses: { step: number; loss: number }[];
  tokensPerSecond: number;
  firstStepSeconds: number;
  params: Map<string, Float32Array<ArrayBuffer>>;
  /** The checkpoint written with `out`. */
  checkpoint?: string;
}

/** Checks a count option: a whole number at least `min`. */
export function countOption(name: string, value: unknown, min: number): number {
  const n = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < min) throw new DataError(`${name} must be a whole number >= ${min}, got ${JSON.stringify(value)}`);
  return n;
}

export async function runProgram(module: GeneratedModule, spec: TrainSpec, rates: LrRates, meta: Omit<ModelMeta, 'vocab'>, options: ProgramOptions = {}): Promise<ProgramResult> {
  const log = options.log ?? ((line: string) => console.log(line));
  const run: TrainSpec = { ...spec, steps: options.steps === undefined ? spec.steps : countOption('steps', options.steps, 1), seed: options.seed === undefined ? spec.seed : countOption('seed', options.seed, 0) };
  const { vocab, tokens } = await loadCorpus(options.data ?? spec.dataset);
  if (vocab.size !== spec.vocab) throw new DataError(`this build is for a vocabulary of ${spec.vocab} characters but the data has ${vocab.size}: build again with this data`);
  const split = splitTokens(tokens, run.valFraction, run.window);
  const t0 = performance.now();
  const backend = await WebGpuBackend.open(module, { seed: run.seed });
  // Compiling the pipelines belongs to the time to the first step.
  const openSeconds = (performance.now() - t0) / 1000;
  try {
    let lastLogged = 0;
    let checkpoint: string | undefined;
    const result = await trainLoop(backend, run, { ...split, decode: (t) => vocab.decode(t) }, {
      rates,
      overfit: options.overfit,
      targetLoss: options.targetLoss,
      samples: { count: options.samples ?? 2, length: 64, temperature: 0.8 },
      checkpointEvery: 0,
      onStep: (e) => {
        if (e.step === e.steps || e.step - lastLogged >= Math.max(1, Math.floor(e.steps / 20))) {
          lastLogged = e.step;
          log(formatStepLine(e));
        }
      },
      onEval: (e) => {
        log(`step ${e.step}: validation loss ${e.valLoss.toFixed(4)}`);
        if (e.samples.length) log(formatSamples(e.step, e.samples, { color: false }));
      },
      onCheckpoint: async (e) => {
        if (!options.out) return;
        const params = await backend.getParams();
        const state = await backend.getState();
        checkpoint = join(options.out, 'checkpoints', checkpointName(e.step));
        writeCheckpoint(checkpoint, {
          meta: { ...meta, vocab: [...vocab.chars] },
          params,
          state,
          shapes: new Map(run.params.map((p) => [p.name, p.axes.map((a) => a.size)])),
          trainer: { format: 'mdlc/1', step: e.step, batchesDrawn: e.batchesDrawn, seed: run.seed, modelHash: meta.modelHash, valLoss: e.valLoss ?? null, bestValLoss: null, elapsedSeconds: 0 },
        });
      },
    });
    return { losses: result.losses, valLosses: result.valLosses, tokensPerSecond: result.tokensPerSecond, firstStepSeconds: openSeconds + result.firstStepSeconds, params: await backend.getParams(), checkpoint };
  } finally {
    backend.destroy();
  }
}

const USAGE = 'usage: node train.js [--data FILE] [--steps N] [--seed N] [--out DIR]';

/** Parses a generated program's command line. */
export function parseProgramArgs(argv: readonly string[]): ProgramOptions {
  const options: ProgramOptions = {};
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i].split(/=(.*)/s, 2);
    const value = () => {
      const v = inline ?? argv[++i];
      if (v === undefined) throw new DataError(`${flag} needs a value\n${USAGE}`);
      return v;
    };
    switch (flag) {
      case '--data':
        options.data = value();
        break;
      case '--steps':
        options.steps = countOption('--steps', value(), 1);
        break;
      case '--seed':
        options.seed = countOption('--seed', value(), 0);
        break;
      case '--out':
        options.out = value();
        break;
      case '--help':
      case '-h':
        throw new DataError(USAGE);
      default:
        throw new DataError(`unknown option ${argv[i]}\n${USAGE}`);
    }
  }
  return options;
}

/** True when the module at `url` is the script Node was started with. */
export function isMainModule(url: string): boolean {
  if (typeof process === 'undefined' || !process.argv[1]) return false;
  try {
    return url === pathToFileURL(realpathSync(process.argv[1])).href;
  } catch {
    return false;
  }
}

/** A generated train.js run as a script: parse, train, report; exit code 0, or 1 with one line. */
export async function programMain(module: GeneratedModule, spec: TrainSpec, rates: LrRates, meta: Omit<ModelMeta, 'vocab'>, argv: readonly string[]): Promise<number> {
  try {
    const options = parseProgramArgs(argv);
    const r = await runProgram(module, spec, rates, meta, options);
    console.log(`done: ${r.losses.length} steps, final loss ${r.losses.at(-1)?.toFixed(4)}, ${Math.round(r.tokensPerSecond)} tokens/s${r.checkpoint ? `; checkpoint ${r.checkpoint}` : ''}`);
    return 0;
  } catch (e) {
    console.error(`${spec.model}: ${(e as Error).message}`);
    return 1;
  }
}
