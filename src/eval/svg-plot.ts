// Small inline-SVG charts (scatter, lines, bars with error bars) for self-contained HTML reports:
// no script, no external resource, readable without a network.

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string);
}

export const PALETTE = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#17becf', '#7f7f7f', '#bcbd22'];

interface Frame {
  width: number;
  height: number;
  left: number;
  right: number;
  top: number;
  bottom: number;
}

const FRAME: Frame = { width: 420, height: 280, left: 52, right: 12, top: 24, bottom: 40 };

interface Axis {
  min: number;
  max: number;
  log?: boolean;
  label: string;
  /** Fixed tick values (in data units); default: five evenly spaced. */
  ticks?: number[];
}

function scale(axis: Axis, from: number, to: number): (v: number) => number {
  const t = (v: number) => (axis.log ? Math.log10(v) : v);
  const a = t(axis.min);
  const b = t(axis.max);
  const span = b - a || 1;
  return (v: number) => from + ((t(v) - a) / span) * (to - from);
}

function fmtTick(v: number): string {
  if (v === 0) return '0';
  const abs = Math.abs(v);
  if (abs >= 1000 || abs < 0.01) return v.toExponential(0);
  return Number(v.toPrecision(3)).toString();
}

function defaultTicks(axis: Axis): number[] {
  if (axis.ticks) return axis.ticks;
  if (axis.log) {
    const out: number[] = [];
    for (let e = Math.floor(Math.log10(axis.min)); e <= Math.ceil(Math.log10(axis.max)); e++) {
      const v = 10 ** e;
      if (v >= axis.min * 0.999 && v <= axis.max * 1.001) out.push(v);
    }
    return out.length > 0 ? out : [axis.min, axis.max];
  }
  const step = niceStep(axis.max - axis.min);
  const out: number[] = [];
  for (let v = Math.ceil(axis.min / step - 1e-9) * step; v <= axis.max + step * 1e-9; v += step) out.push(Number(v.toPrecision(12)));
  return out;
}

/** A 1, 2 or 5 times power-of-ten step giving about four intervals over the range. */
function niceStep(range: number): number {
  if (!(range > 0)) return 1;
  const raw = range / 4;
  const p = 10 ** Math.floor(Math.log10(raw));
  const m = raw / p;
  return (m < 1.5 ? 1 : m < 3.5 ? 2 : m < 7.5 ? 5 : 10) * p;
}

function frame(title: string, x: Axis, y: Axis, body: (sx: (v: number) => number, sy: (v: number) => number) => string): string {
  const f = FRAME;
  const sx = scale(x, f.left, f.width - f.right);
  const sy = scale(y, f.height - f.bottom, f.top);
  const parts: string[] = [];
  parts.push(`<svg class="chart" viewBox="0 0 ${f.width} ${f.height}" width="${f.width}" height="${f.height}" role="img" aria-label="${escapeHtml(title)}">`);
  parts.push(`<text x="${f.width / 2}" y="15" text-anchor="middle" class="title">${escapeHtml(title)}</text>`);
  for (const t of defaultTicks(x)) {
    const px = sx(t).toFixed(1);
    parts.push(`<line x1="${px}" x2="${px}" y1="${f.top}" y2="${f.height - f.bottom}" class="grid"/>`);
    parts.push(`<text x="${px}" y="${f.height - f.bottom + 14}" text-anchor="middle">${fmtTick(t)}</text>`);
  }
  for (const t of defaultTicks(y)) {
    const py = sy(t).toFixed(1);
    parts.push(`<line x1="${f.left}" x2="${f.width - f.right}" y1="${py}" y2="${py}" class="grid"/>`);
    parts.push(`<text x="${f.left - 4}" y="${(sy(t) + 4).toFixed(1)}" text-anchor="end">${fmtTick(t)}</text>`);
  }
  parts.push(`<rect x="${f.left}" y="${f.top}" width="${f.width - f.left - f.right}" height="${f.height - f.top - f.bottom}" class="frame"/>`);
  parts.push(`<text x="${(f.left + f.width - f.right) / 2}" y="${f.height - 6}" text-anchor="middle">${escapeHtml(x.label)}</text>`);
  parts.push(`<text transform="translate(12 ${(f.top + f.height - f.bottom) / 2}) rotate(-90)" text-anchor="middle">${escapeHtml(y.label)}</text>`);
  parts.push(body(sx, sy));
  parts.push('</svg>');
  return parts.join('');
}

export interface ScatterPoint {
  x: number;
  y: number;
  /** Hover text. */
  label: string;
}

/** Scatter with a log-scaled x axis (e.g. label frequency) when `logX`. Points outside a log axis (x ≤ 0) are skipped. */
export function scatterChart(title: string, points: readonly ScatterPoint[], x: Omit<Axis, 'min' | 'max'>, y: Axis, color = PALETTE[0]): string {
  const usable = x.log ? points.filter((p) => p.x > 0) : points;
  const xs = usable.map((p) => p.x);
  const xAxis: Axis = { ...x, min: xs.length ? Math.min(...xs) : 0.01, max: xs.length ? Math.max(...xs) : 1 };
  if (xAxis.log) {
    xAxis.min = 10 ** Math.floor(Math.log10(xAxis.min));
    xAxis.max = 10 ** Math.ceil(Math.log10(xAxis.max));
    if (xAxis.max <= xAxis.min) xAxis.max = xAxis.min * 10;
  }
  return frame(title, xAxis, y, (sx, sy) =>
    usable
      .map(
        (p) =>
          `<circle cx="${sx(p.x).toFixed(1)}" cy="${sy(p.y).toFixed(1)}" r="3" fill="${color}" fill-opacity="0.55"><title>${escapeHtml(p.label)}</title></circle>`,
      )
      .join(''),
  );
}

export interface Series {
  name: string;
  points: ReadonlyArray<readonly [number, number]>;
  color?: string;
}

export function lineChart(title: string, series: readonly Series[], xLabel: string, yLabel: string): string {
  const all = series.flatMap((s) => s.points);
  if (all.length === 0) return '';
  const xs = all.map((p) => p[0]);
  const ys = all.map((p) => p[1]);
  let yMin = Math.min(...ys);
  let yMax = Math.max(...ys);
  if (yMax === yMin) {
    yMin -= 0.5;
    yMax += 0.5;
  }
  const step = niceStep(yMax - yMin);
  const x: Axis = { min: Math.min(...xs), max: Math.max(...xs, Math.min(...xs) + 1), label: xLabel };
  const y: Axis = { min: Math.floor(yMin / step) * step, max: Math.ceil(yMax / step) * step, label: yLabel };
  return frame(title, x, y, (sx, sy) => {
    const out: string[] = [];
    series.forEach((s, i) => {
      const color = s.color ?? PALETTE[i % PALETTE.length];
      const d = s.points.map((p, k) => `${k === 0 ? 'M' : 'L'}${sx(p[0]).toFixed(1)},${sy(p[1]).toFixed(1)}`).join(' ');
      out.push(`<path d="${d}" fill="none" stroke="${color}" stroke-width="1.5"><title>${escapeHtml(s.name)}</title></path>`);
      if (s.points.length === 1) {
        const p = s.points[0] as readonly [number, number];
        out.push(`<circle cx="${sx(p[0]).toFixed(1)}" cy="${sy(p[1]).toFixed(1)}" r="2.5" fill="${color}"/>`);
      }
    });
    return out.join('');
  });
}

export interface Bar {
  name: string;
  mean: number;
  std: number;
}

/** Vertical bars with ±std whiskers, y from 0 to 1 (metrics in [0, 1]). */
export function barChart(title: string, bars: readonly Bar[], yLabel: string): string {
  const f = FRAME;
  const n = Math.max(1, bars.length);
  const x: Axis = { min: 0, max: n, label: '', ticks: [] };
  const y: Axis = { min: 0, max: 1, label: yLabel };
  return frame(title, x, y, (sx, sy) => {
    const out: string[] = [];
    const w = ((f.width - f.left - f.right) / n) * 0.6;
    bars.forEach((b, i) => {
      const cx = sx(i + 0.5);
      const color = PALETTE[i % PALETTE.length];
      out.push(
        `<rect x="${(cx - w / 2).toFixed(1)}" y="${sy(b.mean).toFixed(1)}" width="${w.toFixed(1)}" height="${(sy(0) - sy(b.mean)).toFixed(1)}" fill="${color}" fill-opacity="0.8"><title>${escapeHtml(`${b.name}: ${b.mean.toFixed(4)} ± ${b.std.toFixed(4)}`)}</title></rect>`,
      );
      const lo = sy(Math.max(0, b.mean - b.std)).toFixed(1);
      const hi = sy(Math.min(1, b.mean + b.std)).toFixed(1);
      out.push(`<line x1="${cx.toFixed(1)}" x2="${cx.toFixed(1)}" y1="${lo}" y2="${hi}" stroke="#000"/>`);
      out.push(`<text x="${cx.toFixed(1)}" y="${f.height - f.bottom + 14}" text-anchor="middle">${escapeHtml(b.name)}</text>`);
    });
    return out.join('');
  });
}
