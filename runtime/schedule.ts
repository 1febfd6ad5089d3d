/** Learning-rate schedules, evaluated on the host once per step. */

export type Schedule = { kind: 'constant' } | { kind: 'warmup_cosine'; warmup: number; minLr: number };

/**
 * The learning rate at 0-based `step` of `totalSteps`.
 * warmup_cosine: linear warmup from lr/warmup to lr over `warmup` steps, then cosine decay
 * to `minLr` at the last step (as nanoGPT).
 */
export function learningRateAt(schedule: Schedule, lr: number, step: number, totalSteps: number): number {
  if (schedule.kind === 'constant') return lr;
  const { warmup, minLr } = schedule;
  if (step < warmup) return (lr * (step + 1)) / warmup;
  const decaySteps = Math.max(1, totalSteps - 1 - warmup);
  const progress = Math.min(1, (step - warmup) / decaySteps);
  return minLr + 0.5 * (1 + Math.cos(Math.PI * progress)) * (lr - minLr);
}
