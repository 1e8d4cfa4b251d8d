/**
 * Small, dependency-free SVG charts (line charts and a confusion matrix), rasterised to PNG by sharp.
 */
import { writeFileAtomic } from '@dlf/tensor-core';
import sharp from 'sharp';

/** One line of a chart. */
export interface Series {
  label: string;
  points: readonly (readonly [number, number])[];
  color?: string;
  /** Draw a marker at each point (good for few points). */
  markers?: boolean;
}

/** Options for {@link lineChartSvg}. */
export interface LineChartOptions {
  title: string;
  xLabel: string;
  yLabel: string;
  series: readonly Series[];
  width?: number;
  height?: number;
  /** Fixed y range; default: from the data (including 0 when close). */
  yMin?: number;
  yMax?: number;
  /** Formats y tick labels (default: compact numbers). */
  yFormat?: (v: number) => string;
  /** Formats x tick labels. */
  xFormat?: (v: number) => string;
  /** Only integer x ticks (epochs). */
  integerX?: boolean;
}

const PALETTE = ['#2563eb', '#dc2626', '#16a34a', '#9333ea', '#ea580c', '#0891b2'];
const FONT = "font-family='DejaVu Sans, Helvetica, Arial, sans-serif'";

/** Escapes text for SVG and HTML. */
export function escapeXml(s: string): string {
  return s.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!,
  );
}

/** Round tick positions covering [lo, hi]: about `count` of them at 1, 2 or 5 × 10^k steps. */
export function niceTicks(lo: number, hi: number, count = 6, integer = false): number[] {
  if (!Number.isFinite(lo) || !Number.isFinite(hi)) return [0, 1];
  if (hi <= lo) hi = lo + (lo === 0 ? 1 : Math.abs(lo) * 0.1);
  const raw = (hi - lo) / Math.max(1, count - 1);
  const mag = 10 ** Math.floor(Math.log10(raw));
  let step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  if (integer) step = Math.max(1, Math.ceil(step));
  const first = Math.ceil(lo / step - 1e-9) * step;
  const ticks: number[] = [];
  for (let v = first; v <= hi + step * 1e-9; v += step) ticks.push(Number(v.toPrecision(12)));
  return ticks;
}

function compact(v: number): string {
  if (v === 0) return '0';
  const a = Math.abs(v);
  if (a >= 1e6) return `${Number((v / 1e6).toPrecision(3))}M`;
  if (a >= 1e4) return `${Number((v / 1e3).toPrecision(3))}k`;
  if (a >= 1) return String(Number(v.toPrecision(4)));
  return String(Number(v.toPrecision(3)));
}

/**
 * A line chart as an SVG document: axes, grid, ticks, a legend, one polyline per series.
 *
 * @example
 * ```ts
 * const svg = lineChartSvg({ title: 'Loss', xLabel: 'step', yLabel: 'loss', series: [{ label: 'train', points }] });
 * ```
 */
export function lineChartSvg(o: LineChartOptions): string {
  const width = o.width ?? 800;
  const height = o.height ?? 450;
  const m = { left: 70, right: 20, top: 64, bottom: 56 };
  const pw = width - m.left - m.right;
  const ph = height - m.top - m.bottom;
  const all = o.series.flatMap((s) => s.points).filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y));
  let xMin = Math.min(...all.map((p) => p[0]));
  let xMax = Math.max(...all.map((p) => p[0]));
  let yMin = o.yMin ?? Math.min(...all.map((p) => p[1]));
  let yMax = o.yMax ?? Math.max(...all.map((p) => p[1]));
  if (all.length === 0) {
    xMin = 0;
    xMax = 1;
    yMin = o.yMin ?? 0;
    yMax = o.yMax ?? 1;
  }
  if (o.yMin === undefined && yMin > 0 && yMin < 0.5 * yMax) yMin = 0;
  if (xMax === xMin) {
    // One x value (a one-epoch run): centre it rather than pin it to the left edge.
    xMin -= 0.5;
    xMax += 0.5;
  }
  const xt = niceTicks(xMin, xMax, 8, o.integerX);
  const yt = niceTicks(yMin, yMax, 6);
  if (o.yMin === undefined) yMin = Math.min(yMin, yt[0]!);
  if (o.yMax === undefined) yMax = Math.max(yMax, yt[yt.length - 1]!);
  if (yMax === yMin) yMax = yMin + 1;
  const sx = (x: number): number => m.left + ((x - xMin) / (xMax - xMin)) * pw;
  const sy = (y: number): number => m.top + ph - ((y - yMin) / (yMax - yMin)) * ph;
  const yf = o.yFormat ?? compact;
  const xf = o.xFormat ?? compact;
  const parts: string[] = [];
  parts.push(
    `<svg xmlns='http://www.w3.org/2000/svg' width='${width}' height='${height}' viewBox='0 0 ${width} ${height}' ${FONT}>`,
    `<rect width='${width}' height='${height}' fill='white'/>`,
    `<text x='${width / 2}' y='28' text-anchor='middle' font-size='18' font-weight='bold' fill='#111'>${escapeXml(o.title)}</text>`,
  );
  for (const t of yt) {
    if (t < yMin - 1e-12 || t > yMax + 1e-12) continue;
    const y = sy(t).toFixed(1);
    parts.push(
      `<line x1='${m.left}' x2='${m.left + pw}' y1='${y}' y2='${y}' stroke='#e5e7eb'/>`,
      `<text x='${m.left - 8}' y='${y}' dy='4' text-anchor='end' font-size='12' fill='#374151'>${escapeXml(yf(t))}</text>`,
    );
  }
  for (const t of xt) {
    if (t < xMin - 1e-12 || t > xMax + 1e-12) continue;
    const x = sx(t).toFixed(1);
    parts.push(
      `<line x1='${x}' x2='${x}' y1='${m.top}' y2='${m.top + ph}' stroke='#f3f4f6'/>`,
      `<text x='${x}' y='${m.top + ph + 18}' text-anchor='middle' font-size='12' fill='#374151'>${escapeXml(xf(t))}</text>`,
    );
  }
  parts.push(
    `<rect x='${m.left}' y='${m.top}' width='${pw}' height='${ph}' fill='none' stroke='#9ca3af'/>`,
    `<text x='${m.left + pw / 2}' y='${height - 14}' text-anchor='middle' font-size='14' fill='#111'>${escapeXml(o.xLabel)}</text>`,
    `<text transform='translate(18 ${m.top + ph / 2}) rotate(-90)' text-anchor='middle' font-size='14' fill='#111'>${escapeXml(o.yLabel)}</text>`,
  );
  o.series.forEach((s, i) => {
    const color = s.color ?? PALETTE[i % PALETTE.length]!;
    const pts = s.points.filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y));
    if (pts.length === 0) return;
    const d = pts.map(([x, y]) => `${sx(x).toFixed(1)},${sy(y).toFixed(1)}`).join(' ');
    parts.push(
      `<polyline points='${d}' fill='none' stroke='${color}' stroke-width='2' stroke-linejoin='round'/>`,
    );
    if (s.markers || pts.length === 1) {
      for (const [x, y] of pts)
        parts.push(`<circle cx='${sx(x).toFixed(1)}' cy='${sy(y).toFixed(1)}' r='3.5' fill='${color}'/>`);
    }
    const ly = m.top - 10;
    const lx = m.left + pw - 170 * (o.series.length - i);
    parts.push(
      `<line x1='${lx}' x2='${lx + 22}' y1='${ly - 4}' y2='${ly - 4}' stroke='${color}' stroke-width='3'/>`,
      `<text x='${lx + 28}' y='${ly}' font-size='12' fill='#111'>${escapeXml(s.label)}</text>`,
    );
  });
  parts.push('</svg>');
  return parts.join('\n');
}

/**
 * A confusion matrix as an SVG document: rows are true classes, columns predictions, cells shaded by
 * the fraction of the row, with counts written in when there is room.
 */
export function confusionSvg(
  confusion: readonly (readonly number[])[],
  classes: readonly string[],
  title = 'Confusion matrix',
): string {
  const k = classes.length;
  const cell = k <= 12 ? 48 : k <= 30 ? 24 : Math.max(6, Math.floor(720 / k));
  const labelW =
    k <= 30 ? Math.min(160, 12 + 7 * Math.max(...classes.map((c) => Math.min(c.length, 20)))) : 20;
  const top = 60 + (k <= 30 ? labelW : 20);
  const left = 40 + labelW;
  const width = Math.max(left + k * cell + 30, 12 * title.length + 40);
  const height = top + k * cell + 50;
  const parts: string[] = [
    `<svg xmlns='http://www.w3.org/2000/svg' width='${width}' height='${height}' viewBox='0 0 ${width} ${height}' ${FONT}>`,
    `<rect width='${width}' height='${height}' fill='white'/>`,
    `<text x='${width / 2}' y='26' text-anchor='middle' font-size='18' font-weight='bold' fill='#111'>${escapeXml(title)}</text>`,
    `<text x='${left + (k * cell) / 2}' y='48' text-anchor='middle' font-size='13' fill='#374151'>predicted</text>`,
    `<text transform='translate(16 ${top + (k * cell) / 2}) rotate(-90)' text-anchor='middle' font-size='13' fill='#374151'>true</text>`,
  ];
  const short = (s: string): string => (s.length > 20 ? `${s.slice(0, 19)}…` : s);
  for (let i = 0; i < k; i++) {
    const row = confusion[i] ?? [];
    const total = row.reduce((a, b) => a + b, 0);
    for (let j = 0; j < k; j++) {
      const v = row[j] ?? 0;
      const f = total > 0 ? v / total : 0;
      const shade =
        i === j
          ? `rgb(${Math.round(255 - 200 * f)},${Math.round(255 - 90 * f)},${Math.round(255 - 200 * f)})`
          : `rgb(255,${Math.round(255 - 180 * Math.sqrt(f))},${Math.round(255 - 180 * Math.sqrt(f))})`;
      const x = left + j * cell;
      const y = top + i * cell;
      parts.push(
        `<rect x='${x}' y='${y}' width='${cell}' height='${cell}' fill='${shade}' stroke='#e5e7eb'/>`,
      );
      if (cell >= 24 && v > 0) {
        const fs = cell >= 48 ? 13 : 9;
        parts.push(
          `<text x='${x + cell / 2}' y='${y + cell / 2 + fs / 3}' text-anchor='middle' font-size='${fs}' fill='#111'>${v}</text>`,
        );
      }
    }
    if (k <= 30) {
      const label = escapeXml(short(classes[i]!));
      parts.push(
        `<text x='${left - 6}' y='${top + i * cell + cell / 2 + 4}' text-anchor='end' font-size='12' fill='#111'>${label}</text>`,
        `<text transform='translate(${left + i * cell + cell / 2 + 4} ${top - 6}) rotate(-90)' font-size='12' fill='#111'>${label}</text>`,
      );
    }
  }
  parts.push('</svg>');
  return parts.join('\n');
}

/**
 * Rasterises an SVG document to a PNG file with sharp, atomically (temp file, fsync, rename).
 *
 * @example
 * ```ts
 * await svgToPng(lineChartSvg(opts), 'runs/x/loss.png');
 * ```
 */
export async function svgToPng(svg: string, file: string, density = 96): Promise<void> {
  await writeFileAtomic(
    file,
    await sharp(Buffer.from(svg), { density }).png({ compressionLevel: 9 }).toBuffer(),
  );
}
