/**
 * The playground page: edit a model with the checker's diagnostics as you type, train it on
 * WebGPU in the page (the CLI's loop, schedule and WGSL) — or, in a browser without WebGPU, as
 * WebAssembly on worker threads (the CLI's wasm backend) — watch the loss and the validation
 * completions, sample it, download its checkpoint. `window.mdlcPlayground` mirrors what the
 * page shows, for the end-to-end test (tests/browser/) and for the curious.
 */
import 'uplot/dist/uPlot.min.css';
import '../../style.css';
import transformer from '../../../models/transformer.mdl';
import autoencoder from '../../../models/autoencoder.mdl';
import { acquireDevice, availableThreads, DATASETS, encodeCorpus, formatDuration, visibleText, type Corpus, type GpuContext, type Sample, type StepEvent } from '../../../runtime/browser.js';
import { checkText, describeDiagnostic, editorDiagnostics, parseOverrides, type EditorDiagnostic } from '../check.js';
import { PageTrainer, prepareRun, type CheckpointFiles } from '../train.js';
import { buildLimitsOf, targetFor } from '../../../src/browser.js';
import { createEditor } from './editor.js';
import { LossPlot } from './plot.js';

type Phase = 'idle' | 'loading data' | 'compiling' | 'training' | 'done' | 'stopped' | 'error';

/** What the page shows, as data. */
interface PlaygroundState {
  phase: Phase;
  webgpu: 'pending' | 'available' | 'unavailable';
  adapter?: string;
  /** What Train runs on: WebGPU, the wasm backend where there is no WebGPU (and the page may share memory with workers), or nothing. */
  backend: 'pending' | 'webgpu' | 'wasm' | 'none';
  /** The wasm backend's worker threads. */
  threads?: number;
  diagnostics: EditorDiagnostic[];
  losses: number[];
  valLosses: { step: number; loss: number }[];
  samples: Sample[];
  tokensPerSecond: number;
  /** Seconds to compile the pipelines of the last run, and from the loop's start to its first loss. */
  pipelineSeconds?: number;
  firstStepSeconds?: number;
  sample: string;
  error?: string;
}

const state: PlaygroundState = { phase: 'idle', webgpu: 'pending', backend: 'pending', diagnostics: [], losses: [], valLosses: [], samples: [], tokensPerSecond: 0, sample: '' };
(window as unknown as { mdlcPlayground: PlaygroundState }).mdlcPlayground = state;

const $ = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;
const MODELS: Record<string, string> = { 'transformer.mdl': transformer, 'autoencoder.mdl': autoencoder };
const edited = new Map<string, string>();
let current = 'transformer.mdl';

// ---------------------------------------------------------------- checking as you type

const problems = $('problems');
let checkTimer: ReturnType<typeof setTimeout> | undefined;
let lastDataset: string | undefined;

function settings(): Map<string, number> {
  return parseOverrides($<HTMLInputElement>('sets').value);
}

function runCheck(): void {
  let sets: Map<string, number>;
  try {
    sets = settings();
    $('sets').classList.remove('bad');
    $('sets-error').textContent = '';
  } catch (e) {
    $('sets').classList.add('bad');
    $('sets-error').textContent = (e as Error).message;
    return;
  }
  const text = editor.text();
  const r = checkText(text, sets);
  lastDataset = r.dataset;
  state.diagnostics = editorDiagnostics(r.diagnostics, text.length);
  editor.show(state.diagnostics);
  problems.replaceChildren(
    ...state.diagnostics.map((d) => {
      const li = document.createElement('li');
      li.className = d.severity;
      li.dataset.line = String(d.line);
      li.dataset.code = d.code;
      const head = li.appendChild(document.createElement('div'));
      head.textContent = describeDiagnostic(d);
      if (d.help) {
        const help = li.appendChild(document.createElement('div'));
        help.className = 'help';
        help.textContent = `help: ${d.help}`;
      }
      li.addEventListener('click', () => editor.reveal(d.from));
      return li;
    }),
  );
  const errors = state.diagnostics.filter((d) => d.severity === 'error').length;
  $('check-status').textContent = errors ? `${errors} error${errors === 1 ? '' : 's'}` : state.diagnostics.length ? `ok, ${state.diagnostics.length} warning${state.diagnostics.length === 1 ? '' : 's'}` : 'ok';
  $('check-status').className = errors ? 'bad' : 'good';
  updateDataLabel();
}

function scheduleCheck(): void {
  clearTimeout(checkTimer);
  checkTimer = setTimeout(runCheck, 200);
}

const editor = createEditor($('editor'), MODELS[current], (text) => {
  edited.set(current, text);
  scheduleCheck();
});
$<HTMLSelectElement>('model').addEventListener('change', (e) => {
  current = (e.target as HTMLSelectElement).value;
  editor.setText(edited.get(current) ?? MODELS[current]);
  runCheck();
});
$('sets').addEventListener('input', scheduleCheck);

// ---------------------------------------------------------------- data

let dropped: { name: string; corpus: Corpus } | undefined;
const fetched = new Map<string, Corpus>();

function updateDataLabel(): void {
  const label = $('data-label');
  if (dropped) label.textContent = `${dropped.name} (your file: ${dropped.corpus.tokens.length.toLocaleString('en-US')} characters, ${dropped.corpus.vocab.size} distinct)`;
  else if (lastDataset && Object.hasOwn(DATASETS, lastDataset)) label.textContent = `${lastDataset} (the dataset the model names, from the server)`;
  else label.textContent = lastDataset ? `the model names '${lastDataset}': drop a text file to train on` : 'drop a text file to train on';
}

async function readDropped(file: File): Promise<void> {
  try {
    dropped = { name: file.name, corpus: encodeCorpus(new Uint8Array(await file.arrayBuffer()), `file ${file.name}`) };
    log(`data: ${file.name}`);
  } catch (e) {
    fail(e);
  }
  updateDataLabel();
}

$<HTMLInputElement>('data-file').addEventListener('change', (e) => {
  const f = (e.target as HTMLInputElement).files?.[0];
  if (f) void readDropped(f);
});
// A file dropped anywhere is training text: caught before the editor would paste it in.
const isFileDrag = (e: DragEvent) => !!e.dataTransfer && [...e.dataTransfer.types].includes('Files');
document.addEventListener('dragover', (e) => isFileDrag(e) && e.preventDefault(), true);
document.addEventListener(
  'drop',
  (e) => {
    if (!isFileDrag(e)) return;
    e.preventDefault();
    e.stopPropagation();
    const f = e.dataTransfer?.files[0];
    if (f) void readDropped(f);
  },
  true,
);
$('data-clear').addEventListener('click', () => {
  dropped = undefined;
  $<HTMLInputElement>('data-file').value = '';
  updateDataLabel();
});

async function trainingText(): Promise<Corpus> {
  if (dropped) return dropped.corpus;
  const name = lastDataset;
  if (!name) throw new Error('the model names no data (add `data = text("tinyshakespeare", window: seq + 1)` to its train section), and no file was dropped');
  if (!Object.hasOwn(DATASETS, name)) throw new Error(`the model names '${name}', which the server does not serve: drop that text file onto the page`);
  const cached = fetched.get(name);
  if (cached) return cached;
  const res = await fetch(`data/${encodeURIComponent(name)}`);
  if (!res.ok) throw new Error(`the server could not give dataset '${name}': ${(await res.text()).trim() || `HTTP ${res.status}`}; drop a copy of it onto the page`);
  const corpus = encodeCorpus(new Uint8Array(await res.arrayBuffer()), `dataset '${name}'`);
  fetched.set(name, corpus);
  return corpus;
}

// ---------------------------------------------------------------- WebGPU

let gpu: GpuContext | undefined;

async function openWebGpu(): Promise<void> {
  const status = $('gpu-status');
  if (!('gpu' in navigator) || !navigator.gpu) {
    await unavailable('this browser has no WebGPU (navigator.gpu is missing)');
    return;
  }
  try {
    gpu = await acquireDevice({ gpu: navigator.gpu });
  } catch (e) {
    await unavailable((e as Error).message.replace(/ On Linux without a GPU.*$/s, ''));
    return;
  }
  state.webgpu = 'available';
  state.backend = 'webgpu';
  state.adapter = gpu.description;
  status.textContent = `WebGPU: ${gpu.description}${gpu.isSoftware ? ' (a CPU adapter: training is slow)' : ''}`;
  status.className = 'good';
  $<HTMLButtonElement>('train').disabled = false;
  void gpu.lost.then((info) => {
    if (info.reason !== 'destroyed') fail(new Error(`the WebGPU device was lost (${info.message}); reload the page`));
  });
}

async function unavailable(why: string): Promise<void> {
  const status = $('gpu-status');
  // The wasm backend's threads share one memory, which a page may do only when it is
  // cross-origin isolated (mdlc playground serves it so).
  if ((globalThis as { crossOriginIsolated?: boolean }).crossOriginIsolated && typeof SharedArrayBuffer === 'function') {
    state.threads = await availableThreads();
    state.backend = 'wasm';
    state.webgpu = 'unavailable';
    status.textContent = `No WebGPU: ${why}. Training runs as WebAssembly on ${state.threads} thread${state.threads === 1 ? '' : 's'} instead (the wasm backend of mdlc train).`;
    status.className = 'good';
    $<HTMLButtonElement>('train').disabled = false;
    return;
  }
  state.backend = 'none';
  state.webgpu = 'unavailable';
  status.textContent = `No WebGPU: ${why}. Models are still checked as you type; training needs a browser with WebGPU (Chrome or Edge 113+, Safari 26, Firefox 141+ on Windows), or a page that may share memory with its workers (cross-origin isolated) to train as WebAssembly.`;
  status.className = 'bad';
  $<HTMLButtonElement>('train').disabled = true;
}

// ---------------------------------------------------------------- training

const plot = new LossPlot($('plot'));
let trainer: PageTrainer | undefined;
let stopRequested = false;
const links: string[] = [];

function setPhase(phase: Phase): void {
  state.phase = phase;
  document.body.dataset.phase = phase;
  const busy = phase === 'loading data' || phase === 'compiling' || phase === 'training';
  $<HTMLButtonElement>('train').disabled = busy || (state.backend !== 'webgpu' && state.backend !== 'wasm');
  $<HTMLButtonElement>('stop').disabled = phase !== 'training';
  const trained = (phase === 'done' || phase === 'stopped') && !!trainer;
  $<HTMLButtonElement>('sample').disabled = !trained || trainer?.run.spec.task !== 'next-token';
}

function log(line: string): void {
  const el = $('log');
  el.textContent = `${el.textContent ? `${el.textContent}\n` : ''}${line}`;
  el.scrollTop = el.scrollHeight;
}

function fail(e: unknown): void {
  state.error = (e as Error)?.message ?? String(e);
  log(`error: ${state.error}`);
  setPhase('error');
}

function showSamples(step: number, samples: readonly Sample[]): void {
  const box = $('samples');
  const title = document.createElement('h3');
  title.textContent = `step ${step}: validation ${samples[0]?.kind === 'reconstruction' ? 'reconstructions' : 'completions'}`;
  const rows = samples.map((s) => {
    const div = document.createElement('div');
    div.className = 'sample';
    if (s.kind === 'completion') {
      div.innerHTML = '<span class="prompt"></span><span class="model"></span><div class="truth"></div>';
      div.querySelector('.prompt')!.textContent = visibleText(s.prompt);
      div.querySelector('.model')!.textContent = visibleText(s.output);
      div.querySelector('.truth')!.textContent = `truth: ${visibleText(s.truth)}`;
    } else {
      div.innerHTML = '<div class="truth"></div><div class="model"></div>';
      div.querySelector('.truth')!.textContent = `input:  ${visibleText(s.input)}`;
      div.querySelector('.model')!.textContent = `output: ${visibleText(s.output)} (${(100 * s.accuracy).toFixed(1)}% right)`;
    }
    return div;
  });
  box.replaceChildren(title, ...rows);
}

async function offerCheckpoint(files: CheckpointFiles): Promise<void> {
  for (const url of links.splice(0)) URL.revokeObjectURL(url);
  const offer = (id: string, data: BlobPart, type: string) => {
    const a = $<HTMLAnchorElement>(id);
    const url = URL.createObjectURL(new Blob([data], { type }));
    links.push(url);
    a.href = url;
    a.classList.remove('disabled');
  };
  offer('download-model', files.model as Uint8Array<ArrayBuffer>, 'application/octet-stream');
  offer('download-optimizer', files.optimizer as Uint8Array<ArrayBuffer>, 'application/octet-stream');
  offer('download-trainer', files.trainer, 'application/json');
}

let lastStep: StepEvent | undefined;

/** `step 40/40 · loss 2.5653 · validation 2.7727 · 3,690 tokens/s · eta 12s` */
function showProgress(e: StepEvent): void {
  lastStep = e;
  const val = state.valLosses.at(-1);
  $('progress').textContent =
    `step ${e.step}/${e.steps} · loss ${e.loss.toFixed(4)}${val ? ` · validation ${val.loss.toFixed(4)}` : ''} · ${Math.round(e.tokensPerSecond).toLocaleString('en-US')} tokens/s` +
    (e.step < e.steps && e.etaSeconds > 0 ? ` · eta ${formatDuration(e.etaSeconds)}` : '');
}

async function train(): Promise<void> {
  if (!gpu && state.backend !== 'wasm') return;
  lastStep = undefined;
  trainer?.destroy();
  trainer = undefined;
  stopRequested = false;
  state.error = undefined;
  state.losses = [];
  state.valLosses = [];
  state.samples = [];
  state.sample = '';
  state.pipelineSeconds = state.firstStepSeconds = undefined;
  plot.clear();
  $('samples').replaceChildren();
  $('sample-out').textContent = '';
  for (const id of ['download-model', 'download-optimizer', 'download-trainer']) $(id).classList.add('disabled');
  try {
    runCheck();
    if (state.diagnostics.some((d) => d.severity === 'error')) throw new Error('the model has errors: fix them first (see the problems under the editor)');
    setPhase('loading data');
    const corpus = await trainingText();
    setPhase('compiling');
    const prepared = await prepareRun(editor.text(), settings(), corpus, gpu ? targetFor(gpu) : 'wasm', gpu ? buildLimitsOf(gpu.limits) : {});
    if (!prepared.ok) {
      state.diagnostics = editorDiagnostics(prepared.diagnostics, editor.text().length);
      editor.show(state.diagnostics);
      throw new Error(prepared.message ?? `the model does not compile for this text: ${prepared.diagnostics.map((d) => `${d.code} ${d.message}`).join('; ')}`);
    }
    const run = prepared.run;
    const params = run.spec.params.reduce((n, p) => n + p.axes.reduce((m, a) => m * a.size, 1), 0).toLocaleString('en-US');
    if (run.target === 'wasm') log(`compiled ${run.spec.model}: ${run.kernels} WebAssembly functions, a training step is ${run.dispatches} calls; ${params} parameters; compiling the module…`);
    else log(`compiled ${run.spec.model}: ${run.kernels} kernels (for a ${run.target.name.toUpperCase()}, ${run.target.gemm} GEMMs), a training step is ${run.dispatches} dispatches; ${params} parameters; compiling the pipelines…`);
    const t0 = performance.now();
    trainer = await PageTrainer.open(run, gpu ? { gpu } : { threads: state.threads ?? 1 });
    state.pipelineSeconds = (performance.now() - t0) / 1000;
    log(`${run.target === 'wasm' ? `${trainer.description} ready` : 'pipelines ready'} in ${state.pipelineSeconds.toFixed(1)} s; training ${run.spec.steps} steps of ${run.spec.batch} × ${run.spec.window} characters (seed ${run.spec.seed})`);
    setPhase('training');
    const result = await trainer.train({
      shouldStop: () => stopRequested,
      onStep: (e) => {
        state.losses.push(e.loss);
        state.tokensPerSecond = e.tokensPerSecond;
        plot.step(e.step, e.loss);
        showProgress(e);
      },
      onEval: (e) => {
        state.valLosses.push({ step: e.step, loss: e.valLoss });
        if (lastStep) showProgress(lastStep);
        state.samples = e.samples;
        plot.validation(e.step, e.valLoss);
        log(`step ${e.step}: validation loss ${e.valLoss.toFixed(4)} (${(e.valLoss / Math.LN2).toFixed(3)} bits per character${e.valAccuracy !== undefined ? `, ${(100 * e.valAccuracy).toFixed(1)}% of characters right` : ''})`);
        if (e.samples.length) showSamples(e.step, e.samples);
      },
    });
    state.firstStepSeconds = result.firstStepSeconds;
    log(`${result.stopped === 'interrupted' ? 'stopped' : 'done'}: step ${result.step}/${run.spec.steps}, loss ${result.losses.at(-1)?.toFixed(4) ?? '?'}, ${Math.round(result.tokensPerSecond).toLocaleString('en-US')} tokens/s`);
    await offerCheckpoint(await trainer.checkpointFiles());
    setPhase(result.stopped === 'interrupted' ? 'stopped' : 'done');
  } catch (e) {
    fail(e);
  }
}

async function sample(): Promise<void> {
  if (!trainer) return;
  const out = $('sample-out');
  out.textContent = '';
  state.sample = '';
  const btn = $<HTMLButtonElement>('sample');
  btn.disabled = true;
  try {
    const tokens = Number($<HTMLInputElement>('tokens').value);
    const temperature = Number($<HTMLInputElement>('temperature').value);
    if (!Number.isInteger(tokens) || tokens < 1) throw new Error('characters must be a whole number of at least 1');
    if (!Number.isFinite(temperature) || temperature < 0) throw new Error('the temperature must be a number of at least 0');
    const prompt = $<HTMLInputElement>('prompt').value.replace(/\\n/g, '\n');
    out.textContent = prompt;
    const text = await trainer.sample(prompt, tokens, { temperature, onText: (t) => (out.textContent += t) });
    state.sample = text;
  } catch (e) {
    log(`sample: ${(e as Error).message}`);
  } finally {
    btn.disabled = false;
  }
}

$('train').addEventListener('click', () => void train());
$('stop').addEventListener('click', () => {
  stopRequested = true;
  log('stopping after this step…');
});
$('sample').addEventListener('click', () => void sample());

runCheck();
setPhase('idle');
void openWebGpu();
