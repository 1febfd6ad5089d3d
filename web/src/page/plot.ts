/** The live loss plot (uPlot): training loss at every step, validation loss at each evaluation. */
import uPlot from 'uplot';

export class LossPlot {
  private readonly steps: number[] = [];
  private readonly losses: number[] = [];
  private readonly vals: (number | null)[] = [];
  private readonly plot: uPlot;
  private pending = false;

  constructor(parent: HTMLElement) {
    const width = Math.max(320, parent.clientWidth || 560);
    this.plot = new uPlot(
      {
        width,
        height: 240,
        scales: { x: { time: false } },
        legend: { live: false },
        axes: [{ label: 'step' }, { label: 'loss per token (nats)' }],
        series: [
          { label: 'step' },
          { label: 'train', stroke: '#4a7dbd', width: 1.5 },
          { label: 'validation', stroke: '#d9822b', width: 2, spanGaps: true, points: { show: true, size: 6 } },
        ],
      },
      [[], [], []],
      parent,
    );
    new ResizeObserver(() => this.plot.setSize({ width: Math.max(320, parent.clientWidth), height: 240 })).observe(parent);
  }

  clear(): void {
    this.steps.length = this.losses.length = this.vals.length = 0;
    this.redraw();
  }

  step(step: number, loss: number): void {
    this.steps.push(step);
    this.losses.push(loss);
    this.vals.push(null);
    this.redraw();
  }

  validation(step: number, loss: number): void {
    const i = this.steps.lastIndexOf(step);
    if (i >= 0) this.vals[i] = loss;
    this.redraw();
  }

  /** At most one redraw per frame, however fast steps arrive. */
  private redraw(): void {
    if (this.pending) return;
    this.pending = true;
    requestAnimationFrame(() => {
      this.pending = false;
      this.plot.setData([this.steps, this.losses, this.vals] as uPlot.AlignedData);
    });
  }
}
