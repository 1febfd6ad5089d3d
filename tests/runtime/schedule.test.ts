import { describe, expect, it } from 'vitest';
import { learningRateAt, type Schedule } from '../../runtime/schedule.js';

describe('learningRateAt', () => {
  const lr = 1e-3;
  const minLr = 1e-4;
  // 10 warmup steps, then 100 decay steps: steps 0..110 (111 in all), the last one is 110.
  const sched: Schedule = { kind: 'warmup_cosine', warmup: 10, minLr };
  const total = 111;
  const at = (step: number) => learningRateAt(sched, lr, step, total);

  it('warms up linearly from lr/warmup at the first step to lr at the end of warmup', () => {
    expect(at(0)).toBeCloseTo(lr / 10, 15);
    expect(at(4)).toBeCloseTo((lr * 5) / 10, 15);
    expect(at(9)).toBeCloseTo(lr, 15);
    for (let s = 1; s < 10; s++) expect(at(s)).toBeGreaterThan(at(s - 1));
  });

  it('starts the cosine at lr, is halfway at mid-decay and reaches min_lr at the last step', () => {
    expect(at(10)).toBeCloseTo(lr, 15);
    expect(at(35)).toBeCloseTo(minLr + 0.5 * (1 + Math.cos(Math.PI / 4)) * (lr - minLr), 15);
    expect(at(60)).toBeCloseTo((lr + minLr) / 2, 15);
    expect(at(110)).toBeCloseTo(minLr, 15);
    for (let s = 11; s <= 110; s++) expect(at(s)).toBeLessThanOrEqual(at(s - 1));
  });

  it('stays at min_lr past the last step', () => {
    expect(at(111)).toBeCloseTo(minLr, 15);
    expect(at(10_000)).toBeCloseTo(minLr, 15);
  });

  it('without warmup, starts at lr', () => {
    const s: Schedule = { kind: 'warmup_cosine', warmup: 0, minLr: 0 };
    expect(learningRateAt(s, lr, 0, 5)).toBeCloseTo(lr, 15);
    expect(learningRateAt(s, lr, 2, 5)).toBeCloseTo(lr / 2, 15);
    expect(learningRateAt(s, lr, 4, 5)).toBeCloseTo(0, 15);
  });

  it('constant is lr at every step', () => {
    const s: Schedule = { kind: 'constant' };
    for (const step of [0, 1, 50, 99, 1000]) expect(learningRateAt(s, lr, step, 100)).toBe(lr);
  });
});
