/**
 * A small line chart on a canvas (no library): several named series of (x, y) points, axes with rounded
 * ticks, a legend, crisp on high-DPI screens, redrawn at most once per frame as points arrive. The canvas
 * carries `data-points` (points in all series) so tests and curious users can see it grow.
 */
const COLORS = ["#2b6cb0", "#d9480f", "#2f9e44", "#7048e8", "#c2255c"];

function niceStep(span, ticks) {
  const raw = span / Math.max(1, ticks);
  const power = 10 ** Math.floor(Math.log10(raw || 1));
  const unit = [1, 2, 2.5, 5, 10].find((m) => m * power >= raw) ?? 10;
  return unit * power;
}

function format(value) {
  if (value === 0) return "0";
  const abs = Math.abs(value);
  if (abs >= 1e4 || abs < 1e-3) return value.toExponential(1);
  return String(Number(value.toPrecision(3)));
}

export class LineChart {
  constructor(canvas, { title, xLabel = "step" } = {}) {
    this.canvas = canvas;
    this.title = title;
    this.xLabel = xLabel;
    this.series = new Map();
    this.pending = false;
    new ResizeObserver(() => this.draw()).observe(canvas);
  }

  add(name, x, y) {
    if (!Number.isFinite(x) || !Number.isFinite(y)) return;
    if (!this.series.has(name)) this.series.set(name, []);
    this.series.get(name).push([x, y]);
    this.canvas.dataset.points = String(this.count());
    if (!this.pending) {
      this.pending = true;
      requestAnimationFrame(() => {
        this.pending = false;
        this.draw();
      });
    }
  }

  count() {
    let n = 0;
    for (const points of this.series.values()) n += points.length;
    return n;
  }

  draw() {
    const { canvas } = this;
    const ratio = globalThis.devicePixelRatio || 1;
    const width = canvas.clientWidth, height = canvas.clientHeight;
    if (!width || !height) return;
    canvas.width = Math.round(width * ratio);
    canvas.height = Math.round(height * ratio);
    const g = canvas.getContext("2d");
    g.setTransform(ratio, 0, 0, ratio, 0, 0);
    g.clearRect(0, 0, width, height);
    g.font = "12px system-ui, sans-serif";
    g.fillStyle = "#1d2430";
    g.fillText(this.title ?? "", 8, 16);
    const all = [...this.series.values()].flat();
    const pad = { left: 52, right: 12, top: 28, bottom: 26 };
    const plotW = width - pad.left - pad.right, plotH = height - pad.top - pad.bottom;
    if (all.length === 0) {
      g.fillStyle = "#8a93a3";
      g.fillText("waiting for data…", pad.left + plotW / 2 - 45, pad.top + plotH / 2);
      return;
    }
    let [x0, x1] = [Math.min(...all.map((p) => p[0])), Math.max(...all.map((p) => p[0]))];
    let [y0, y1] = [Math.min(...all.map((p) => p[1])), Math.max(...all.map((p) => p[1]))];
    if (x1 === x0) x1 = x0 + 1;
    if (y1 === y0) [y0, y1] = [y0 - (Math.abs(y0) || 1) * 0.1, y1 + (Math.abs(y1) || 1) * 0.1];
    const yStep = niceStep(y1 - y0, 4);
    y0 = Math.floor(y0 / yStep) * yStep;
    y1 = Math.ceil(y1 / yStep) * yStep;
    const sx = (x) => pad.left + ((x - x0) / (x1 - x0)) * plotW;
    const sy = (y) => pad.top + (1 - (y - y0) / (y1 - y0)) * plotH;

    g.strokeStyle = "#e3e7ee";
    g.fillStyle = "#5b6475";
    g.lineWidth = 1;
    for (let y = y0; y <= y1 + yStep / 2; y += yStep) {
      g.beginPath();
      g.moveTo(pad.left, sy(y));
      g.lineTo(width - pad.right, sy(y));
      g.stroke();
      g.fillText(format(y), 4, sy(y) + 4);
    }
    const xStep = Math.max(1, niceStep(x1 - x0, 5));
    for (let x = Math.ceil(x0 / xStep) * xStep; x <= x1; x += xStep) {
      if (sx(x) < width - pad.right - 44) g.fillText(format(x), sx(x) - 6, height - 8);
    }
    g.fillText(this.xLabel, width - pad.right - 28, height - 8);

    let legendX = width - pad.right;
    [...this.series.keys()].reverse().forEach((name) => {
      const index = [...this.series.keys()].indexOf(name);
      legendX -= g.measureText(name).width + 22;
      g.fillStyle = COLORS[index % COLORS.length];
      g.fillRect(legendX, 9, 12, 3);
      g.fillStyle = "#1d2430";
      g.fillText(name, legendX + 16, 15);
    });
    [...this.series.entries()].forEach(([, points], index) => {
      g.strokeStyle = COLORS[index % COLORS.length];
      g.fillStyle = g.strokeStyle;
      g.lineWidth = 1.8;
      g.beginPath();
      points.forEach(([x, y], i) => (i ? g.lineTo(sx(x), sy(y)) : g.moveTo(sx(x), sy(y))));
      g.stroke();
      if (points.length < 40) {
        for (const [x, y] of points) {
          g.beginPath();
          g.arc(sx(x), sy(y), 2.5, 0, Math.PI * 2);
          g.fill();
        }
      }
    });
  }
}
