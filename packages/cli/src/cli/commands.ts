import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { datasetSource, exportImageFolder, normalize } from '@dlf/data';
import {
  buildPreset,
  checkParamBudget,
  type DescribedModel,
  formatSummary,
  impliedStateShapes,
  type ModelSummary,
  modelFromJSON,
  readModelFile,
  summary,
} from '@dlf/nn';
import { describeFsError, setNumThreads } from '@dlf/tensor-core';
import { escapeControl } from '@dlf/tensor-core/text';
import {
  confusionSvg,
  evaluate,
  openData,
  PRESETS,
  predict,
  svgToPng,
  ttaDescription,
  ttaLevel,
} from '@dlf/train';
import { FileError, UsageError } from '../errors.js';
import { choiceFlag, closest, didYouMean, intFlag, type Parsed, parse, parseInputShape } from './args.js';
import { IMAGE_BUDGET_OPTIONS, imageBudget, MODEL_BUDGET_OPTIONS, modelBudget } from './budgets.js';
import { EVALUATE_HELP, EXPORT_HELP, PREDICT_HELP, SUMMARY_HELP } from './help.js';
import { type CliIO, columns, int, Output, percent } from './output.js';
import { checkExportFolder, checkPlotPath } from './preflight.js';
import { decodeProgress } from './progress.js';
import { dataName, shown, ttaFlag } from './train-command.js';

function outputFor(io: CliIO, v: Parsed['values']): Output {
  return new Output(io, { json: v.json === true, quiet: v.quiet === true, noColor: v['no-color'] === true });
}

function applyThreads(command: string, v: Parsed['values']): void {
  const threads = intFlag(command, v, 'threads', 1, 256);
  if (threads !== undefined) setNumThreads(threads);
}

function need(command: string, positionals: string[], names: string[]): void {
  if (positionals.length < names.length) {
    throw new UsageError(
      `dlf ${command} needs ${names.map((n) => `<${n}>`).join(' and ')}; missing <${names[positionals.length]}>.`,
      command,
    );
  }
}

/** Prints a confusion matrix as aligned text (class names abbreviated for many classes). */
function confusionText(confusion: number[][], names: readonly string[]): string[] {
  const classes = names.map(escapeControl);
  const k = classes.length;
  const label = (s: string): string => (s.length > 10 ? `${s.slice(0, 9)}…` : s);
  const head = ['true\\pred', ...classes.map((c, i) => (k > 12 ? String(i) : label(c)))];
  const rows = confusion.map((row, i) => [
    k > 12 ? `${i} ${label(classes[i]!)}` : label(classes[i]!),
    ...row.map(String),
  ]);
  return columns([head, ...rows], [false, ...classes.map(() => true)]);
}

/** `dlf evaluate <data> <model>`. */
export async function evaluateCommand(argv: string[], io: CliIO): Promise<number> {
  const c = 'evaluate';
  const { values: v, positionals } = parse(
    c,
    argv,
    {
      split: { type: 'string' },
      'batch-size': { type: 'string' },
      seed: { type: 'string' },
      plot: { type: 'string' },
      tta: { type: 'boolean' },
      'tta-translate': { type: 'boolean' },
      ...IMAGE_BUDGET_OPTIONS,
      ...MODEL_BUDGET_OPTIONS,
    },
    2,
  );
  const out = outputFor(io, v);
  if (v.help) {
    io.stdout.write(`${EVALUATE_HELP}\n`);
    return 0;
  }
  need(c, positionals, ['data', 'model']);
  const split = choiceFlag(c, v, 'split', ['test', 'train', 'val'] as const) ?? 'test';
  const batchSize = intFlag(c, v, 'batch-size', 1, 65536) ?? 256;
  const tta = ttaFlag(c, v) ?? false;
  const maxPixels = imageBudget(c, v);
  const budget = modelBudget(c, v);
  const seedFlag = intFlag(c, v, 'seed', 0);
  const plotFlag = typeof v.plot === 'string' ? checkPlotPath(c, v.plot) : undefined;
  applyThreads(c, v);
  const [dataArg, modelArg] = positionals as [string, string];
  const modelPath = resolve(modelArg);
  const { model, info } = await readModelFile(modelPath, budget);
  try {
    const [ch, h, w] = info.inputShape;
    if (h !== w)
      throw new UsageError(
        `The model expects ${h}×${w} images; only square inputs are supported by dlf evaluate.`,
        c,
      );
    const seedMeta = Number(info.metadata['dlf.seed']);
    const seed = seedFlag ?? (Number.isInteger(seedMeta) && seedMeta >= 0 ? seedMeta : 0);
    out.note(out.err.dim(`Loading ${dataName(dataArg)}…`));
    const data = await openData(
      {
        data: datasetSource(dataArg) ? dataArg : resolve(dataArg),
        size: h,
        channels: ch === 1 ? 1 : 3,
        seed,
      },
      {
        onWarning: (m) => out.warn(m),
        onProgress: decodeProgress(out),
        ...(maxPixels !== undefined ? { maxPixels } : {}),
      },
    );
    out.clearProgress();
    const ds = split === 'test' ? data.test : split === 'train' ? data.train : data.val;
    if (!ds) throw new UsageError(`${data.path} has no val/ split; use --split test or train.`, c);
    const same =
      ds.classes.length === info.classes.length && ds.classes.every((x, i) => x === info.classes[i]);
    if (!same) {
      throw new FileError(
        data.path,
        `The data's classes (${ds.classes.slice(0, 8).join(', ')}${ds.classes.length > 8 ? ', …' : ''}) are not the model's (${info.classes.slice(0, 8).join(', ')}${info.classes.length > 8 ? ', …' : ''}).`,
      );
    }
    const pre = info.preprocess;
    const r = await evaluate(model, ds, {
      batchSize,
      transforms: [normalize(pre.mean, pre.std)],
      tta,
      ...(io.signal ? { signal: io.signal } : {}),
      onProgress: (d, total) => {
        out.progress(`evaluating ${int(d)}/${int(total)} images…`);
      },
    });
    out.clearProgress();
    // Nothing is written beside the model (its folder may be read-only, or a run whose own plot this
    // would replace): the plot only goes where --plot says, and failing to draw it costs a warning.
    let plot = plotFlag;
    if (plot) {
      try {
        await svgToPng(confusionSvg(r.confusion, ds.classes, `Confusion matrix (${split} set)`), plot);
      } catch (e) {
        out.warn(describeFsError(e, 'write the confusion plot', plot, 'the results above are complete'));
        plot = undefined;
      }
    }
    out.document({
      model: modelPath,
      data: data.path,
      split,
      tta,
      count: r.count,
      accuracy: r.accuracy,
      loss: r.loss,
      macroF1: r.macroF1,
      imagesPerSecond: r.imagesPerSecond,
      seconds: r.seconds,
      classes: ds.classes,
      perClass: r.perClass,
      confusion: r.confusion,
      confusionPlot: plot,
    });
    out.result(
      `${shown(modelPath)} on ${shown(data.path)} (${split}, ${int(r.count)} images${tta ? `, ${ttaDescription(ttaLevel(tta))}` : ''})`,
    );
    out.result(
      `accuracy ${out.out.green(percent(r.accuracy))}   loss ${r.loss.toFixed(4)}   macro F1 ${r.macroF1.toFixed(4)}   ${int(r.imagesPerSecond)} images/s`,
    );
    if (!out.quiet) {
      out.result();
      const rows = [
        ['class', 'precision', 'recall', 'F1', 'support'],
        ...r.perClass.map((m) => [
          escapeControl(m.class),
          percent(m.precision, 1),
          percent(m.recall, 1),
          m.f1.toFixed(3),
          int(m.support),
        ]),
      ];
      for (const l of columns(rows, [false, true, true, true, true])) out.result(l);
      out.result();
      out.result('Confusion matrix (rows: true class, columns: predicted)');
      for (const l of confusionText(r.confusion, ds.classes)) out.result(l);
      out.result();
      if (plot) out.result(`Confusion matrix plot: ${shown(plot)}`);
    }
    return 0;
  } finally {
    model.dispose();
  }
}

/** `dlf summary <model|preset>`. */
export async function summaryCommand(argv: string[], io: CliIO): Promise<number> {
  const c = 'summary';
  const { values: v, positionals } = parse(
    c,
    argv,
    { input: { type: 'string' }, classes: { type: 'string' }, ...MODEL_BUDGET_OPTIONS },
    1,
  );
  const out = outputFor(io, v);
  if (v.help) {
    io.stdout.write(`${SUMMARY_HELP}\n`);
    return 0;
  }
  need(c, positionals, ['model']);
  const spec = positionals[0]!;
  const input = v.input !== undefined ? parseInputShape(String(v.input)) : undefined;
  const classes = intFlag(c, v, 'classes', 1, 100_000);
  const budget = modelBudget(c, v);
  applyThreads(c, v);
  let model: DescribedModel;
  let shape: [number, number, number];
  let s: ModelSummary;
  if (PRESETS.includes(spec)) {
    shape = input ?? [3, 32, 32];
    if (shape[1] !== shape[2])
      throw new UsageError(`${spec} needs a square input, not ${shape.join('x')}.`, c);
    try {
      model = buildPreset(spec, { classes: classes ?? 10, inChannels: shape[0], inputSize: shape[1] });
    } catch (e) {
      throw new UsageError(`${(e as Error).message}.`, c);
    }
  } else if (/\.json$/i.test(spec)) {
    if (classes !== undefined)
      throw new UsageError('--classes applies to presets; a model.json fixes its own outputs.', c);
    let json: unknown;
    try {
      json = JSON.parse((await import('node:fs')).readFileSync(spec, 'utf8'));
    } catch (e) {
      throw new FileError(
        spec,
        existsSync(spec)
          ? `The model description ${spec} is not valid JSON.`
          : `The model description ${spec} does not exist.`,
        { cause: e },
      );
    }
    try {
      checkParamBudget(spec, impliedStateShapes(json), budget);
      model = modelFromJSON(json);
    } catch (e) {
      if (e instanceof FileError) throw e;
      throw new FileError(spec, `The model description ${spec} is invalid: ${(e as Error).message}.`);
    }
    shape = input ?? [3, 32, 32];
  } else if (existsSync(spec) || /\.safetensors$/i.test(spec)) {
    if (classes !== undefined)
      throw new UsageError('--classes applies to presets; a model file fixes its own outputs.', c);
    const r = await readModelFile(spec, budget);
    model = r.model;
    shape = input ?? r.info.inputShape;
  } else {
    const suggestion = closest(spec, PRESETS);
    throw new UsageError(
      suggestion
        ? `Unknown model '${spec}'${didYouMean(suggestion)}`
        : `Unknown model '${spec}'; give a preset (${PRESETS.join(', ')}), a model.json or a .safetensors file.`,
      c,
    );
  }
  try {
    try {
      s = summary(model, shape);
    } catch (e) {
      throw new UsageError(`The model does not accept input ${shape.join('x')}: ${(e as Error).message}.`, c);
    }
    out.document({ model: spec, ...s });
    out.result(formatSummary(s));
    out.result(`MACs per image: ${int(s.totalMacs)}; FLOPs per image: ${int(s.totalFlops)} (forward pass)`);
    return 0;
  } finally {
    model.dispose();
  }
}

/** `dlf predict <model> <image…>`. */
export async function predictCommand(argv: string[], io: CliIO): Promise<number> {
  const c = 'predict';
  const { values: v, positionals } = parse(
    c,
    argv,
    { top: { type: 'string' }, ...IMAGE_BUDGET_OPTIONS, ...MODEL_BUDGET_OPTIONS },
    Number.MAX_SAFE_INTEGER,
  );
  const out = outputFor(io, v);
  if (v.help) {
    io.stdout.write(`${PREDICT_HELP}\n`);
    return 0;
  }
  need(c, positionals, ['model', 'image']);
  const top = intFlag(c, v, 'top', 1, 1000) ?? 1;
  const maxPixels = imageBudget(c, v);
  const budget = modelBudget(c, v);
  applyThreads(c, v);
  const [modelPath, ...images] = positionals as [string, ...string[]];
  const { model, info } = await readModelFile(modelPath, budget);
  try {
    const preds = await predict(model, info, images, {
      topK: top,
      ...(maxPixels !== undefined ? { maxPixels } : {}),
      ...(io.signal ? { signal: io.signal } : {}),
    });
    out.document({ model: resolve(modelPath), predictions: preds });
    // Text lines show names with control characters escaped; the JSON document above keeps them raw.
    const shownImages = preds.map((p) => escapeControl(p.image));
    const width = Math.min(60, Math.max(...shownImages.map((name) => name.length)));
    preds.forEach((p, i) => {
      const scores = p.top
        .map((t) => `${out.out.bold(escapeControl(t.class))} ${percent(t.probability, 1)}`)
        .join(out.out.dim('  ·  '));
      out.result(`${shownImages[i]!.padEnd(width)}  ${scores}`);
    });
    return 0;
  } finally {
    model.dispose();
  }
}

/** `dlf export <data> <folder>`. */
export async function exportCommand(argv: string[], io: CliIO): Promise<number> {
  const c = 'export';
  const { values: v, positionals } = parse(
    c,
    argv,
    {
      overwrite: { type: 'boolean' },
      size: { type: 'string' },
      channels: { type: 'string' },
      ...IMAGE_BUDGET_OPTIONS,
    },
    2,
  );
  const out = outputFor(io, v);
  if (v.help) {
    io.stdout.write(`${EXPORT_HELP}\n`);
    return 0;
  }
  need(c, positionals, ['data', 'folder']);
  const size = intFlag(c, v, 'size', 1, 4096);
  const channels = intFlag(c, v, 'channels', 1, 3);
  if (channels === 2) throw new UsageError(`Expected 1 or 3 for --channels but received '2'.`, c);
  const maxPixels = imageBudget(c, v);
  applyThreads(c, v);
  const [dataArg, folder] = positionals as [string, string];
  checkExportFolder(c, folder, v.overwrite === true);
  out.note(out.err.dim(`Loading ${dataName(dataArg)}…`));
  const data = await openData(
    {
      data: datasetSource(dataArg) ? dataArg : resolve(dataArg),
      ...(size !== undefined ? { size } : {}),
      ...(channels !== undefined ? { channels: channels as 1 | 3 } : {}),
      seed: 0,
    },
    {
      onWarning: (m) => out.warn(m),
      onProgress: decodeProgress(out),
      ...(maxPixels !== undefined ? { maxPixels } : {}),
    },
  );
  out.clearProgress();
  const splits = { train: data.train, ...(data.val ? { val: data.val } : {}), test: data.test };
  if (data.val && data.val === data.test) delete (splits as Record<string, unknown>).val;
  let last = 0;
  const r = await exportImageFolder(splits, folder, {
    overwrite: v.overwrite === true,
    onProgress: (d, total) => {
      const now = Date.now();
      if (now - last > 100 || d === total) {
        last = now;
        out.progress(`writing ${int(d)}/${int(total)} images…`);
      }
    },
  });
  out.clearProgress();
  const counts = Object.entries(splits).map(([k, d]) => `${k} ${int(d.length)}`);
  out.document({
    folder: r.path,
    files: r.files,
    splits: Object.fromEntries(Object.entries(splits).map(([k, d]) => [k, d.length])),
    classes: data.classes,
  });
  out.result(
    `Exported ${int(r.files)} images (${counts.join(', ')}) in ${data.classes.length} classes to ${shown(r.path)}`,
  );
  return 0;
}
