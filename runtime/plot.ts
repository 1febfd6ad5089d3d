/**
 * The loss plot of a run as a standalone SVG: training loss (light, per step, with a moving
 * average over it) and validation loss (points joined by a line), on a log-free linear scale
 * with labelled ticks. Browser-safe: a string, no DOM and no Node imports.
 */

export interface Point {
  step: number;
  loss: number;
}

const W = 720;
const H = 400;
const M = { left: 64, right: 24, top: 40, bottom: 48 };

/** Round, readable tick values covering [lo, hi]: about `n` of them at 1, 2 or 5 × 10^k. */
export function niceTicks(lo: number, hi: number, n = 5): number[] {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / n;
  const mag = 10 ** Math.floor(Math.log10(raw));
  // The finest of 1, 2, 5 × 10^k that gives at most n + 1 intervals.
  const step = [1, 2, 5, 10].map((f) => f * mag).find((s) => (hi - lo) / s <= n + 1) ?? 10 * mag;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(Number(v.toPrecision(12)));
  return out;
}

function movingAverage(points: readonly Point[], width: number): Point[] {
  const out: Point[] = [];
  let sum = 0;
  for (let i = 0; i < points.length; i++) {
    sum += points[i].loss;
    if (i >= width) sum -= points[i - width].loss;
    out.push({ step: points[i].step, loss: sum / Math.min(i + 1, width) });
  }
  return out;
}

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

export function lossPlotSvg(train: readonly Point[], val: readonly Point[], title: string): string {
  const finite = (p: Point) => Number.isFinite(p.loss) && Number.isFinite(p.step);
  const tr = train.filter(finite);
  const va = val.filter(finite);
  const all = [...tr, ...va];
  const maxStep = Math.max(1, ...all.map((p) => p.step));
  const minStep = Math.min(maxStep - 1, ...all.map((p) => p.step));
  // The first steps' losses dwarf the rest: scale to the 98th percentile of training losses.
  const sorted = all.map((p) => p.loss).sort((a, b) => a - b);
  let hi = sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * 0.98))] : 1;
  let lo = sorted.length ? sorted[0] : 0;
  if (va.length) hi = Math.max(hi, ...va.map((p) => p.loss));
  if (!(hi > lo)) {
    hi = lo + 1;
    lo = lo - 1;
  }
  const pad = (hi - lo) * 0.05;
  lo = Math.max(0, lo - pad);
  hi += pad;
  const x = (s: number) => M.left + ((s - minStep) / (maxStep - minStep)) * (W - M.left - M.right);
  const y = (l: number) => M.top + (1 - (Math.min(Math.max(l, lo), hi) - lo) / (hi - lo)) * (H - M.top - M.bottom);
  const path = (ps: readonly Point[]) => ps.map((p, i) => `${i ? 'L' : 'M'}${x(p.step).toFixed(1)},${y(p.loss).toFixed(1)}`).join('');
  const parts: string[] = [];
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`);
  parts.push(`<rect width="${W}" height="${H}" fill="white"/>`);
  parts.push(`<text x="${W / 2}" y="22" text-anchor="middle" font-size="14">${esc(title)}</text>`);
  for (const t of niceTicks(lo, hi)) {
    parts.push(`<line x1="${M.left}" x2="${W - M.right}" y1="${y(t).toFixed(1)}" y2="${y(t).toFixed(1)}" stroke="#e5e5e5"/>`);
    parts.push(`<text x="${M.left - 6}" y="${(y(t) + 4).toFixed(1)}" text-anchor="end">${t}</text>`);
  }
  for (const t of niceTicks(minStep, maxStep, 6).filter((s) => s >= minStep && s <= maxStep)) {
    parts.push(`<line x1="${x(t).toFixed(1)}" x2="${x(t).toFixed(1)}" y1="${H - M.bottom}" y2="${H - M.bottom + 4}" stroke="#333"/>`);
    parts.push(`<text x="${x(t).toFixed(1)}" y="${H - M.bottom + 18}" text-anchor="middle">${t}</text>`);
  }
  parts.push(`<line x1="${M.left}" x2="${W - M.right}" y1="${H - M.bottom}" y2="${H - M.bottom}" stroke="#333"/>`);
  parts.push(`<line x1="${M.left}" x2="${M.left}" y1="${M.top}" y2="${H - M.bottom}" stroke="#333"/>`);
  parts.push(`<text x="${W / 2}" y="${H - 10}" text-anchor="middle">step</text>`);
  parts.push(`<text x="16" y="${H / 2}" text-anchor="middle" transform="rotate(-90 16 ${H / 2})">loss (nats per token)</text>`);
  if (tr.length) {
    parts.push(`<path d="${path(tr)}" fill="none" stroke="#9ecae1" stroke-width="1"/>`);
    parts.push(`<path d="${path(movingAverage(tr, Math.max(1, Math.round(tr.length / 50))))}" fill="none" stroke="#2171b5" stroke-width="2"/>`);
  }
  if (va.length) {
    parts.push(`<path d="${path(va)}" fill="none" stroke="#d94801" stroke-width="2"/>`);
    for (const p of va) parts.push(`<circle cx="${x(p.step).toFixed(1)}" cy="${y(p.loss).toFixed(1)}" r="3" fill="#d94801"/>`);
  }
  const lastTrain = tr.at(-1);
  const lastVal = va.at(-1);
  const legend = [
    ['#2171b5', `train${lastTrain ? ` (${lastTrain.loss.toFixed(4)} at step ${lastTrain.step})` : ''}`],
    ['#d94801', `validation${lastVal ? ` (${lastVal.loss.toFixed(4)} at step ${lastVal.step})` : ''}`],
  ];
  legend.forEach(([color, label], i) => {
    const ly = M.top + 8 + i * 18;
    parts.push(`<line x1="${W - M.right - 260}" x2="${W - M.right - 240}" y1="${ly}" y2="${ly}" stroke="${color}" stroke-width="2"/>`);
    parts.push(`<text x="${W - M.right - 234}" y="${ly + 4}">${esc(label)}</text>`);
  });
  parts.push('</svg>');
  return parts.join('\n') + '\n';
}
