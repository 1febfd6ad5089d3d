/**
 * The exported PyTorch code against mdlc's reference interpreter, at tiny sizes: 50 training
 * steps of the transformer and the autoencoder from the same initial weights on the same
 * batches (float32 within 1e-4 relative, float64 far tighter); the recipe alone (mdlc's
 * initial weights and windows, ported) giving the same run; torchrun with 2 processes giving
 * the losses of 1; and checkpoints in mdlc's layout read and written both ways.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initParams } from '../../src/ir/interpret/index.js';
import { makeRng } from '../../runtime/random.js';
import { decodeSafetensors } from '../../runtime/checkpoint.js';
import { runPython, runPythonOk, torchPython } from '../helpers/torch.js';
import { freshState, modelSafetensors, readCheckpoint, trainOnInterpreter, validationLoss, writeCheckpoint } from './interpreter.js';
import { exportModel, maxRelDiff, readMetrics, type Exported } from './session.js';

const python = torchPython();
const tmp = mkdtempSync(join(tmpdir(), 'mdlc-export-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const STEPS = 50;
// lr 0.005: the loss falls steadily. At 0.01 the tiny autoencoder spikes at step 46, where a
// float32 rounding difference grows to 6e-4 (float64 still agrees to 1e-12 there).
const TRAIN = { steps: STEPS, warmup: 10, lr: 0.005, eval_every: 25, eval_batches: 2, seed: 7 };
const TRANSFORMER = { ...TRAIN, layers: 2, embed: 16, heads: 2, seq: 8, batch: 4 };
const AUTOENCODER = { ...TRAIN, layers: 1, embed: 16, heads: 2, seq: 8, batch: 4, latent: 2, code: 4 };

/** Run the exported train.py; returns its run folder. */
function trainPy(e: Exported, name: string, args: string[] = []): string {
  const runDir = join(e.dir, '..', `run-${name}`);
  runPythonOk(python!, [join(e.dir, 'train.py'), '--data', e.data, '--run-dir', runDir, '--quiet', ...args]);
  return runDir;
}

/** Initial weights as mdlc makes them (the train step's seed), written as a model.safetensors. */
function initialWeights(e: Exported): { path: string; params: ReturnType<typeof initParams> } {
  const params = initParams(e.session.step.graph, e.session.model.train.seed, 'f32');
  const path = join(e.dir, '..', 'init.safetensors');
  writeFileSync(path, modelSafetensors(e.session, params, 0));
  return { path, params };
}

describe.runIf(python)('exported PyTorch against the interpreter', () => {
  for (const [file, sets] of [
    ['models/transformer.mdl', TRANSFORMER],
    ['models/autoencoder.mdl', AUTOENCODER],
  ] as const) {
    it(`${file}: ${STEPS} steps from the same weights on the same batches, float32 within 1e-4 and float64 within 1e-12 relative`, async () => {
      const e = await exportModel(file, sets, join(tmp, file.replace(/\W/g, '_')));
      const init = initialWeights(e);
      const cpu32 = trainOnInterpreter(e.session, freshState(e.session, init.params), STEPS, 'f32');
      const cpu64 = trainOnInterpreter(e.session, freshState(e.session, init.params), STEPS, 'f64');
      const py32 = readMetrics(trainPy(e, 'f32', ['--init-from', init.path]));
      const py64 = readMetrics(trainPy(e, 'f64', ['--init-from', init.path, '--dtype', 'float64']));
      expect(py32.losses).toHaveLength(STEPS);
      // The loss moves: a comparison of flat curves would prove little.
      expect(cpu32.losses[0] - cpu32.losses[STEPS - 1]).toBeGreaterThan(0.4);
      expect(maxRelDiff(py32.losses, cpu32.losses)).toBeLessThan(1e-4);
      expect(maxRelDiff(py32.gradNorms, cpu32.gradNorms)).toBeLessThan(1e-3);
      expect(maxRelDiff(py64.losses, cpu64.losses)).toBeLessThan(1e-12);
      expect(maxRelDiff(py64.gradNorms, cpu64.gradNorms)).toBeLessThan(1e-10);
      // Validation: the same held-out windows, at steps 25 and 50.
      expect([...py64.val.keys()]).toEqual([25, 50]);
      expect(Math.abs(py64.val.get(50)! - validationLoss(e.session, cpu64.state.params, 'f64')) / py64.val.get(50)!).toBeLessThan(1e-12);
      // Learning rates: mdlc's schedule (warmup, then cosine to min_lr).
      expect(py32.lrs[0]).toBeCloseTo(0.0005, 12);
      expect(py32.lrs[9]).toBeCloseTo(0.005, 12);
      expect(py32.lrs[STEPS - 1]).toBeCloseTo(1e-4, 12);
    }, 300_000);
  }

  it('the recipe alone (mdlc initial weights and windows, ported to Python) trains the run mdlc trains', async () => {
    const e = await exportModel('models/transformer.mdl', TRANSFORMER, join(tmp, 'recipe'));
    const cpu = trainOnInterpreter(e.session, freshState(e.session, initParams(e.session.step.graph, TRANSFORMER.seed, 'f32')), STEPS, 'f32');
    const py = readMetrics(trainPy(e, 'run'));
    expect(maxRelDiff(py.losses, cpu.losses)).toBeLessThan(1e-4);

    // mdlc's generator, bit for bit: u32s, doubles, integers below n and normals, for seeds
    // past 2^32, stream names outside ASCII, and the validation sampler's seed ^ 0x5eed.
    const cases: [number, string][] = [
      [0, ''],
      [1337, 'windows'],
      [2 ** 40 + 5, 'blocks.0.attention.wq'],
      [7, 'é→𝄞'],
    ];
    const script = [
      'import json, sys',
      'from train import Rng, _js_xor',
      'out = []',
      `for seed, stream in ${JSON.stringify(cases)}:`,
      '    r = Rng(seed, stream)',
      '    out.append([[r.next_u32() for _ in range(5)], [r.uniform() for _ in range(3)], [r.below(1000) for _ in range(3)], [r.normal() for _ in range(3)]])',
      'out.append(_js_xor(7, 0x5EED))',
      'print(json.dumps(out))',
    ].join('\n');
    const got = JSON.parse(runPythonOk(python!, ['-c', script], { cwd: e.dir }).stdout);
    cases.forEach(([seed, stream], i) => {
      const r = makeRng(seed, stream);
      const want = [Array.from({ length: 5 }, () => r.nextU32()), Array.from({ length: 3 }, () => r.next()), Array.from({ length: 3 }, () => r.int(1000)), Array.from({ length: 3 }, () => r.normal())];
      expect(got[i].slice(0, 3), `seed ${seed}, stream ${stream}`).toEqual(want.slice(0, 3));
      // Normals go through log, sin and cos: Python's libm and V8's may differ in the last bit.
      got[i][3].forEach((z: number, k: number) => expect(Math.abs(z - want[3][k])).toBeLessThan(1e-15));
    });
    expect(got.at(-1)).toBe(7 ^ 0x5eed);

    // mdlc_init: every parameter as initParams makes it, to the last float32 bit but for libm's last-bit differences.
    const initOut = join(tmp, 'recipe', 'mdlc-init.safetensors');
    runPythonOk(python!, ['-c', `import model, train; m = model.MODEL(); train.mdlc_init(m, ${TRANSFORMER.seed}); train.save_safetensors(${JSON.stringify(initOut)}, dict(m.named_parameters()), {})`], { cwd: e.dir });
    // A copy: decodeSafetensors views a Node Buffer's whole pool otherwise.
    const mine = decodeSafetensors(new Uint8Array(readFileSync(initOut))).tensors;
    const want = initParams(e.session.step.graph, TRANSFORMER.seed, 'f32');
    let differ = 0;
    for (const [name, t] of want) {
      const a = mine.get(name)!.data;
      expect(a.length, name).toBe(t.data.length);
      for (let i = 0; i < a.length; i++) {
        if (a[i] === t.data[i]) continue;
        differ++;
        expect(Math.abs(a[i] - t.data[i]), `${name}[${i}]`).toBeLessThanOrEqual(Math.abs(t.data[i]) * 2 ** -23);
      }
    }
    expect(differ).toBeLessThan(10);
  }, 300_000);

  it('torchrun with 2 processes (gloo) trains the losses of 1 process: within 1e-5 in float32, 1e-12 in float64', async () => {
    const e = await exportModel('models/transformer.mdl', TRANSFORMER, join(tmp, 'ddp'));
    // --redirects 1 --tee 1: torch 1.13's torchrun mis-parses its default `--redirects 0` on Python 3.11.
    const torchrun = (name: string, procs: number, args: string[] = []) =>
      runPython(python!, ['-m', 'torch.distributed.run', '--standalone', '--nproc_per_node', String(procs), '--redirects', '1', '--tee', '1', join(e.dir, 'train.py'), '--data', e.data, '--run-dir', join(tmp, 'ddp', name), '--quiet', ...args]);
    for (const [dtype, bound] of [['float32', 1e-5], ['float64', 1e-12]] as const) {
      const one = readMetrics(trainPy(e, `one-${dtype}`, ['--dtype', dtype]));
      const r = torchrun(`two-${dtype}`, 2, ['--dtype', dtype]);
      expect(r.status, r.stderr).toBe(0);
      const two = readMetrics(join(tmp, 'ddp', `two-${dtype}`));
      expect(JSON.parse(readFileSync(join(tmp, 'ddp', `two-${dtype}`, 'config.json'), 'utf8')).processes).toBe(2);
      expect(two.losses).toHaveLength(STEPS);
      const d = maxRelDiff(two.losses, one.losses);
      console.log(`torchrun, 2 processes vs 1, ${dtype}: largest relative loss difference over ${STEPS} steps ${d.toExponential(2)}`);
      expect(d).toBeLessThan(bound);
      expect(maxRelDiff([...two.val.values()], [...one.val.values()])).toBeLessThan(bound);
    }
    // A batch that does not split over the processes is refused, in one line.
    const odd = torchrun('odd', 3);
    expect(odd.status).not.toBe(0);
    expect(odd.stderr + odd.stdout).toContain('the batch of 4 rows does not split evenly over 3 processes');
  }, 300_000);

  it("continues a run from mdlc's checkpoint, and mdlc continues from train.py's, on the same losses", async () => {
    const e = await exportModel('models/transformer.mdl', TRANSFORMER, join(tmp, 'resume'));
    const init = initialWeights(e);
    const full = trainOnInterpreter(e.session, freshState(e.session, init.params), STEPS, 'f32');

    // mdlc → PyTorch: the interpreter's state after 20 steps, continued by train.py.
    const first = trainOnInterpreter(e.session, freshState(e.session, init.params), 20, 'f32');
    const ckpt = join(tmp, 'resume', 'mdlc-step-20');
    writeCheckpoint(ckpt, e.session, first.state);
    const resumed = readMetrics(trainPy(e, 'resumed', ['--resume', ckpt]));
    expect(resumed.losses).toHaveLength(STEPS - 20);
    expect(maxRelDiff(resumed.losses, full.losses.slice(20))).toBeLessThan(1e-4);

    // PyTorch → mdlc: train.py's checkpoint at step 25, continued by the interpreter.
    const runDir = trainPy(e, 'pytorch', ['--init-from', init.path, '--checkpoint-every', '25']);
    const py = readMetrics(runDir);
    expect(readFileSync(join(runDir, 'checkpoints', 'latest'), 'utf8')).toBe('step-00000050');
    const at25 = readCheckpoint(join(runDir, 'checkpoints', 'step-00000025'), e.session);
    expect(at25.step).toBe(25);
    expect(at25.batchesDrawn).toBe(25);
    const continued = trainOnInterpreter(e.session, at25, STEPS, 'f32');
    expect(maxRelDiff(continued.losses, py.losses.slice(25))).toBeLessThan(1e-4);
    // And train.py continues its own run where it left off: the same steps to the last bit but for summation order.
    const again = readMetrics(trainPy(e, 'again', ['--resume', join(runDir, 'checkpoints', 'step-00000025')]));
    expect(maxRelDiff(again.losses, py.losses.slice(25))).toBeLessThan(1e-6);

    // The files say what the layout says: format, model, step, axes, vocabulary, source, overrides.
    const meta = at25.metadata;
    expect(meta).toMatchObject({ format: 'mdlc/1', model: 'transformer', step: '25' });
    expect(JSON.parse(meta.axes)['blocks.1.attention.wo']).toEqual(['heads', 'head', 'embed']);
    expect(JSON.parse(meta.vocab)).toEqual(e.session.vocab.chars);
    expect(meta.source).toBe(readFileSync('models/transformer.mdl', 'utf8'));
    expect(JSON.parse(meta.overrides)).toEqual(TRANSFORMER);
    expect(meta.model_hash).toMatch(/^[0-9a-f]{64}$/);
    const trainer = JSON.parse(readFileSync(join(runDir, 'checkpoints', 'step-00000025', 'trainer.json'), 'utf8'));
    expect(trainer).toMatchObject({ format: 'mdlc/1', step: 25, batches_drawn: 25, seed: TRANSFORMER.seed, model_hash: meta.model_hash });
    expect(trainer.val_loss).toBeCloseTo(py.val.get(25)!, 10);
    expect(existsSync(join(runDir, 'checkpoints', 'best'))).toBe(true);
  }, 300_000);

  it('bad checkpoints and data are one-line errors with exit code 1', async () => {
    const e = await exportModel('models/transformer.mdl', TRANSFORMER, join(tmp, 'bad'));
    const corrupt = join(tmp, 'bad', 'corrupt.safetensors');
    writeFileSync(corrupt, Buffer.from([200, 0, 0, 0, 0, 0, 0, 0, 123]));
    const wrongShape = join(tmp, 'bad', 'other.safetensors');
    const other = await exportModel('models/transformer.mdl', { ...TRANSFORMER, embed: 8 }, join(tmp, 'bad-other'));
    writeFileSync(wrongShape, modelSafetensors(other.session, initParams(other.session.step.graph, 1, 'f32'), 0));
    const otherText = join(tmp, 'bad', 'other.txt');
    writeFileSync(otherText, 'only a few letters here, and none of the rest'.repeat(50));
    for (const [args, message] of [
      [['--init-from', corrupt], 'is corrupt (header length 200)'],
      [['--init-from', wrongShape], /`wte` has shape \[\d+, 8\], the model's is \[\d+, 16\]/],
      [['--resume', join(tmp, 'bad')], 'is neither a checkpoint folder'],
      [['--data', otherText], 'export again with this text'],
      [['--data', join(tmp, 'bad', 'missing.txt')], `cannot read data file ${join(tmp, 'bad', 'missing.txt')} (No such file or directory); pass the text with --data FILE`],
    ] as const) {
      const r = runPython(python!, [join(e.dir, 'train.py'), '--data', e.data, '--run-dir', join(tmp, 'bad', 'run'), ...args]);
      expect(r.status, r.stderr).toBe(1);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(message);
    }
  }, 300_000);
});
