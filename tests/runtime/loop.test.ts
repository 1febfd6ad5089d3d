/**
 * The one training loop, on a fake backend: what it feeds each step (batches, scalars), when
 * it evaluates, samples and checkpoints, how it resumes, stops on Ctrl-C, a target loss or a
 * non-finite loss, and that it keeps one step in flight where that is safe.
 */
import { describe, expect, it } from 'vitest';
import { NonFiniteLossError, stepScalars, trainLoop, validationBatches, type CheckpointEvent, type EvalEvent, type StepEvent } from '../../runtime/loop.js';
import { learningRateAt } from '../../runtime/schedule.js';
import { WindowSampler } from '../../runtime/data.js';
import { cyclicTokens, FakeBackend, tinySpec } from '../helpers/spec.js';

const data = () => ({ train: Int32Array.from({ length: 200 }, (_, i) => (i * 7) % 6), val: cyclicTokens(60), decode: (t: ArrayLike<number>) => Array.from(t, (x) => 'abcdef'[x]).join('') });
const rates = [(b: number) => b];

describe('trainLoop', () => {
  it('runs every step with the scheduled rate and the bias corrections of step t + 1', async () => {
    const spec = tinySpec();
    const backend = new FakeBackend();
    const events: StepEvent[] = [];
    const r = await trainLoop(backend, spec, data(), { rates, onStep: (e) => events.push(e) });
    expect(r.step).toBe(12);
    expect(r.stopped).toBe('done');
    expect(events.map((e) => e.step)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
    backend.steps.forEach((s, t) => {
      expect(s.scalars.lr[0]).toBeCloseTo(learningRateAt(spec.schedule, 0.1, t, 12), 12);
      expect(s.scalars.bc1).toBeCloseTo(1 / (1 - 0.9 ** (t + 1)), 12);
      expect(s.scalars.bc2).toBeCloseTo(1 / (1 - 0.99 ** (t + 1)), 12);
    });
    expect(events[0].lr).toBeCloseTo(0.1 / 3, 12);
    expect(r.losses).toEqual(events.map((e) => e.loss));
  });

  it('feeds the batches of the seeded sampler, sliced into tokens and targets', async () => {
    const spec = tinySpec({ steps: 3 });
    const backend = new FakeBackend();
    const d = data();
    await trainLoop(backend, spec, d, { rates });
    const sampler = new WindowSampler(d.train, spec.window, spec.seed);
    for (const s of backend.steps) {
      const w = sampler.nextBatch(spec.batch);
      // tokens = data[0 .. 4] of each of the 2 rows
      expect(s.tokens).toEqual([...w.subarray(0, 4), ...w.subarray(5, 9)]);
    }
  });

  it('evaluates on the same validation batches every eval_every steps and at the end, with samples', async () => {
    const spec = tinySpec({ steps: 10 });
    const backend = new FakeBackend();
    const evals: EvalEvent[] = [];
    await trainLoop(backend, spec, data(), { rates, samples: { count: 2, length: 3, temperature: 0 }, onEval: (e) => void evals.push(e) });
    expect(evals.map((e) => e.step)).toEqual([4, 8, 10]);
    // The fake model always guesses the next character of the cycle: every validation character right.
    for (const e of evals) expect(e.valAccuracy).toBe(1);
    expect(backend.evals).toBe(3 * spec.evalBatches);
    for (const e of evals) {
      expect(e.samples).toHaveLength(2);
      // The fake model continues the cycle a→b→c: greedy completions match the truth.
      for (const s of e.samples) expect(s.kind === 'completion' && s.output).toBe(s.kind === 'completion' && s.truth);
    }
    const a = validationBatches(spec, data().val);
    const b = validationBatches(spec, data().val);
    expect(a.map((f) => [...f.get('tokens')!])).toEqual(b.map((f) => [...f.get('tokens')!]));
  });

  it('draws the samples where `samples.on` says, handing it the training backend at each evaluation', async () => {
    const spec = tinySpec({ steps: 8 });
    const backend = new FakeBackend();
    const elsewhere = new FakeBackend();
    const handed: unknown[] = [];
    const evals: EvalEvent[] = [];
    await trainLoop(backend, spec, data(), {
      rates,
      samples: { count: 2, length: 3, temperature: 0, on: async (b) => (handed.push(b), { backend: elsewhere, spec }) },
      onEval: (e) => void evals.push(e),
    });
    expect(handed).toEqual([backend, backend]);
    // Greedy completions of 3 tokens: 3 forward passes per evaluation there, none on the training backend but the accuracy's.
    expect(elsewhere.forwards.length).toBe(2 * 3);
    expect(backend.forwards.length).toBe(2 * spec.evalBatches);
    for (const e of evals) expect(e.samples.map((x) => x.kind === 'completion' && x.output)).toEqual(e.samples.map((x) => x.kind === 'completion' && x.truth));
  });

  it('checkpoints every checkpointEvery steps and at the end, with the batches drawn so far', async () => {
    const backend = new FakeBackend();
    const saved: CheckpointEvent[] = [];
    await trainLoop(backend, tinySpec(), data(), { rates, checkpointEvery: 5, onCheckpoint: (e) => void saved.push(e) });
    expect(saved.map((e) => [e.step, e.batchesDrawn, e.reason])).toEqual([
      [5, 5, 'periodic'],
      [10, 10, 'periodic'],
      [12, 12, 'final'],
    ]);
    expect(saved[1].valLoss).toBeCloseTo(1 / (1 + backend.steps.slice(0, 8).reduce((s, x) => s + x.scalars.lr[0], 0)) + 0.01, 6);
  });

  it('resumed at step 5 feeds exactly what an uninterrupted run feeds from step 6 on', async () => {
    const whole = new FakeBackend();
    await trainLoop(whole, tinySpec(), data(), { rates });
    const resumed = new FakeBackend();
    const steps: number[] = [];
    const r = await trainLoop(resumed, tinySpec(), data(), { rates, start: { step: 5, batchesDrawn: 5 }, onStep: (e) => steps.push(e.step) });
    expect(steps).toEqual([6, 7, 8, 9, 10, 11, 12]);
    expect(resumed.steps.map((s) => s.tokens)).toEqual(whole.steps.slice(5).map((s) => s.tokens));
    expect(resumed.steps.map((s) => s.scalars)).toEqual(whole.steps.slice(5).map((s) => s.scalars));
    expect(r.losses).toHaveLength(7);
    expect(r.batchesDrawn).toBe(12);
  });

  it('keeps one step in flight between evaluations, none across them', async () => {
    const backend = new FakeBackend();
    await trainLoop(backend, tinySpec(), data(), { rates, checkpointEvery: 0 });
    expect(backend.maxInFlight).toBe(2);
    // Steps 5 and 9 (0-based 4 and 8) follow an evaluation: submitted with nothing in flight.
    expect(backend.steps[4].inFlight).toBe(0);
    expect(backend.steps[8].inFlight).toBe(0);
    expect(backend.steps[2].inFlight).toBe(1);
  });

  it('stops after the step in flight when asked (Ctrl-C), saving a checkpoint of exactly the steps done', async () => {
    const backend = new FakeBackend();
    let stop = false;
    const saved: CheckpointEvent[] = [];
    const r = await trainLoop(backend, tinySpec(), data(), {
      rates,
      checkpointEvery: 0,
      shouldStop: () => stop,
      onStep: (e) => {
        if (e.step === 2) stop = true;
      },
      onCheckpoint: (e) => void saved.push(e),
    });
    expect(r.stopped).toBe('interrupted');
    // Step 3 was already queued when the request came: it lands, and nothing more is drawn.
    expect(r.step).toBe(3);
    expect(backend.steps).toHaveLength(3);
    expect(saved).toEqual([{ step: 3, batchesDrawn: 3, valLoss: undefined, reason: 'interrupt' }]);
  });

  it('throws NonFiniteLossError at the step whose loss is not finite, with no checkpoint after it', async () => {
    const backend = new FakeBackend();
    backend.lossAt.set(6, NaN);
    const saved: number[] = [];
    const err = await trainLoop(backend, tinySpec(), data(), { rates, onCheckpoint: (e) => void saved.push(e.step) }).catch((e) => e);
    expect(err).toBeInstanceOf(NonFiniteLossError);
    expect(err.step).toBe(6);
    expect(err.message).toMatch(/the loss became NaN at step 7/);
    expect(saved).toEqual([4]);
  });

  it('stops at the first step whose loss is below the target, and trains on one fixed batch when overfitting', async () => {
    const backend = new FakeBackend();
    const r = await trainLoop(backend, tinySpec({ steps: 100 }), data(), { rates, overfit: true, targetLoss: 0.5 });
    expect(r.stopped).toBe('target');
    expect(r.losses.at(-1)!).toBeLessThan(0.5);
    expect(r.losses.slice(0, -1).every((l) => l >= 0.5)).toBe(true);
    expect(new Set(backend.steps.map((s) => s.tokens.join(','))).size).toBe(1);
    expect(backend.evals).toBe(0);
  });

  it('computes the scalars of a step from the spec and the group rates', () => {
    const s = stepScalars(tinySpec(), [(b) => b, (b) => 0.5 * b], 0);
    expect(s.lr).toEqual([0.1 / 3, 0.05 / 3]);
  });
});
