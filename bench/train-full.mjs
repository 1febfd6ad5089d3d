// A full training run of a reference model at the file's own settings, as a user runs it
// (`mdlc train`, WebGPU where there is an adapter), then the validation loss over the whole
// validation split (every character once, not 20 batches), a sample, and the run's plot.
// MODEL=transformer (default) or autoencoder; extra `mdlc train` flags in ARGS.
// Writes BENCHMARKS.md section train-full-<model> (train-full-<model>-<backend> for a backend
// other than webgpu, so each backend's run is kept), and docs/<model>-run.txt,
// docs/<model>-loss.svg (the README shows them).
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { benchData, importDist, machine, requireBuild, root, writeSection } from './lib.mjs';

requireBuild();
const data = benchData();
const model = process.env.MODEL ?? 'transformer';
const extra = (process.env.ARGS ?? '').split(' ').filter(Boolean);
const runDir = join(mkdtempSync(join(tmpdir(), 'mdlc-full-')), model);
const load = readFileSync('/proc/loadavg', 'utf8').split(' ')[0];
const t0 = performance.now();
const train = spawnSync(process.execPath, [join(root, 'bin/mdlc.js'), 'train', join(root, 'models', `${model}.mdl`), '--data', data, '--run-dir', runDir, '--log-every', '100', ...extra], {
  encoding: 'utf8',
  maxBuffer: 1 << 28,
  env: { ...process.env, XDG_RUNTIME_DIR: process.env.XDG_RUNTIME_DIR ?? '/tmp' },
});
const minutes = (performance.now() - t0) / 60000;
process.stdout.write(train.stdout);
process.stderr.write(train.stderr);
if (train.status !== 0) throw new Error(`mdlc train failed (${train.status})`);

// The whole validation split, on the final parameters.
const { restoreModel } = await importDist('src/train/restore.js');
const { readCorpus } = await importDist('runtime/corpus.js');
const { splitTokens } = await importDist('runtime/data.js');
const { evaluateSplit } = await importDist('runtime/score.js');
const r = await restoreModel(runDir);
if (!r.ok) throw new Error('cannot restore the run');
const { backend, spec, vocab } = r.restored;
const corpus = readCorpus(data);
if (corpus.vocab.chars.join('') !== vocab.chars.join('')) throw new Error('the vocabulary of the data differs from the run');
const split = splitTokens(corpus.tokens, spec.valFraction, spec.window);
const whole = await evaluateSplit(backend, spec, split.val);
r.restored.close();

const metrics = readFileSync(join(runDir, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
const lastVal = metrics.filter((m) => m.val_loss !== undefined).at(-1);
const lastTrain = metrics.filter((m) => m.loss !== undefined).at(-1);
const speeds = metrics.filter((m) => m.tokens_per_s).map((m) => m.tokens_per_s);
const config = JSON.parse(readFileSync(join(runDir, 'config.json'), 'utf8'));

let sample = '';
if (spec.task === 'next-token') {
  const s = spawnSync(process.execPath, [join(root, 'bin/mdlc.js'), 'sample', runDir, '--tokens', '500', '--seed', '1'], { encoding: 'utf8', env: { ...process.env, XDG_RUNTIME_DIR: process.env.XDG_RUNTIME_DIR ?? '/tmp' } });
  if (s.status !== 0) throw new Error(`mdlc sample failed: ${s.stderr}`);
  sample = s.stdout;
}

mkdirSync(join(root, 'docs'), { recursive: true });
copyFileSync(join(runDir, 'loss.svg'), join(root, 'docs', `${model}-loss.svg`));
writeFileSync(join(root, 'docs', `${model}-run.txt`), train.stdout.replace(new RegExp(runDir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'), 'g'), `runs/${model}-…`).replaceAll(`${root}/`, '') + (sample ? `\n$ mdlc sample runs/${model}-…\n${sample}` : ''));

const line = `${model}: whole validation split ${whole.loss.toFixed(5)} nats per character (${whole.bitsPerChar.toFixed(3)} bits, ${(100 * whole.accuracy).toFixed(1)}% of next characters right) over ${whole.characters.toLocaleString('en-US')} characters`;
console.log(line);
writeSection(
  `train-full-${model}${config.backend === 'webgpu' ? '' : `-${config.backend}`}`,
  `## A full training run: \`${model}\` at the file's settings

Measured by \`node bench/train-full.mjs\`${model !== 'transformer' ? ` with MODEL=${model}` : ''}${extra.length ? ` and ARGS='${extra.join(' ')}'` : ''} on ${machine()}, ${new Date().toISOString().slice(0, 10)}, backend ${config.backend} (${config.adapter}); load average ${load} before the run.

| measure | value |
|---|---|
| steps | ${lastTrain.step} (batch ${spec.batch}, window ${spec.window}) |
| final training loss | ${lastTrain.loss.toFixed(4)} |
| validation loss, ${spec.evalBatches} fixed batches (as logged) | ${lastVal ? lastVal.val_loss.toFixed(4) : '–'} |
| **validation loss, whole split** (${whole.windows.toLocaleString('en-US')} windows, every character once) | **${whole.loss.toFixed(5)}** (${whole.bitsPerChar.toFixed(3)} bits per character; ${(100 * whole.accuracy).toFixed(1)}% right) |
| training throughput (logged at the last step) | ${speeds.at(-1)?.toLocaleString('en-US') ?? '–'} tokens/s |
| wall time, start to end of \`mdlc train\` | ${minutes.toFixed(1)} min |

The run's terminal output is in \`docs/${model}-run.txt\` and its loss plot in \`docs/${model}-loss.svg\`.
`,
);
process.exit(0);
