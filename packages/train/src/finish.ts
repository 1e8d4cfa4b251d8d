/**
 * The last stage of a run: the final model file, its evaluation on the test and training sets,
 * the plots, the summary and the HTML report.
 */
import { writeFile } from 'node:fs/promises';
import { loadavg } from 'node:os';
import { basename, join } from 'node:path';
import type { Dataset } from '@dlf/data';
import { formatSummary, summary } from '@dlf/nn';
import { getNumThreads } from '@dlf/tensor-core';
import { writeTextAtomic } from './checkpoint.js';
import { AbortError } from './errors.js';
import { type Evaluation, evaluate } from './evaluate.js';
import type { EpochRecord, FitResult } from './fit.js';
import { saveModelFile } from './model.js';
import { confusionSvg, lineChartSvg, svgToPng } from './plots.js';
import { renderReport } from './report.js';
import { readSteps } from './run-folder.js';
import type { TrainingRun, TrainResult } from './train.js';

/** Writes loss.png (training loss by step) and accuracy.png (validation accuracy by epoch). */
async function writeCurves(
  run: TrainingRun,
  steps: { step: number; loss: number }[],
  history: EpochRecord[],
): Promise<void> {
  const { runDir } = run.folder;
  const hasVal = history.some((h) => h.valAccuracy !== undefined);
  await svgToPng(
    lineChartSvg({
      title: `Training loss (${run.built.name}, ${run.data.opened.format})`,
      xLabel: 'step',
      yLabel: 'cross-entropy loss',
      series: [{ label: 'train loss', points: steps.map((s) => [s.step, s.loss] as const) }],
    }),
    join(runDir, 'loss.png'),
  );
  await svgToPng(
    lineChartSvg({
      title: hasVal ? 'Validation accuracy' : 'Training accuracy (no validation set)',
      xLabel: 'epoch',
      yLabel: 'accuracy',
      series: [
        hasVal
          ? {
              label: 'validation',
              points: history.map((h) => [h.epoch, h.valAccuracy ?? Number.NaN] as const),
              markers: true,
            }
          : {
              label: 'train (running)',
              points: history.map((h) => [h.epoch, h.trainAccuracy] as const),
              markers: true,
            },
      ],
      yFormat: (v) => `${Number((v * 100).toPrecision(4))} %`,
      integerX: true,
    }),
    join(runDir, 'accuracy.png'),
  );
}

/**
 * Stage 4 of {@link train}: saves the final model, evaluates it on the test and training sets, and
 * writes the plots, summary.txt and report.html. Interrupted here, the run is complete up to its
 * last checkpoint: `--resume` redoes this stage.
 */
export async function finishRun(run: TrainingRun, result: FitResult): Promise<TrainResult> {
  const { config, emit, data, built, facts } = run;
  const { model } = built;
  const { runDir, metrics } = run.folder;
  const { opened, shape, preprocess } = data;
  const signal = run.options.signal;
  const modelPath = join(runDir, 'model.safetensors');
  await saveModelFile(
    modelPath,
    model,
    { classes: opened.classes, inputShape: shape, preprocess },
    {
      'dlf.trainedOn': facts.path,
      'dlf.epochs': String(result.history.length),
      'dlf.seed': String(config.seed),
    },
  );
  // TTA is for the test result; on the training set (a diagnostic) it would multiply the
  // forward passes over 50,000 images for nothing.
  const finalEval = async (ds: Dataset, split: 'test' | 'train'): Promise<Evaluation> => {
    emit({ type: 'finalEvaluation', split, examples: ds.length });
    try {
      return await evaluate(model, ds, {
        transforms: data.transforms.eval,
        ...(signal ? { signal } : {}),
        ...(config.tta && split === 'test' ? { tta: config.tta } : {}),
      });
    } catch (e) {
      if (e instanceof AbortError) throw new AbortError('Training was interrupted.', result.lastCheckpoint);
      throw e;
    }
  };
  const test = await finalEval(data.test, 'test');
  const trainEval = await finalEval(data.train, 'train');
  await metrics.append({
    type: 'final',
    trainAccuracy: trainEval.accuracy,
    trainLoss: trainEval.loss,
    testAccuracy: test.accuracy,
    testLoss: test.loss,
  });

  await metrics.check(intact(result.lastCheckpoint));

  const steps = readSteps(metrics.file);
  const history = result.history;
  const finalSummary = summary(model, shape);
  await writeFile(join(runDir, 'summary.txt'), `${formatSummary(finalSummary)}\n`);
  const secondsPerEpoch = history.length ? history.reduce((a, h) => a + h.seconds, 0) / history.length : 0;
  const reportPath = join(runDir, 'report.html');
  await writeTextAtomic(
    runDir,
    'report.html',
    renderReport({
      title: `dlf train: ${built.name} on ${opened.format === 'image-folder' ? basename(opened.path) : opened.format}`,
      runDir,
      createdAt: new Date().toISOString(),
      config: config as unknown as Record<string, unknown>,
      data: facts,
      summary: finalSummary,
      history,
      steps,
      test,
      trainAccuracy: trainEval.accuracy,
      stoppedEarly: result.stoppedEarly,
      bestEpoch: result.bestEpoch,
      modelFile: modelPath,
      threads: getNumThreads(),
      loadAverage: loadavg(),
    }),
  );
  // The results are on disk: a plot that fails now (an odd class name, thousands of classes, a
  // full disk) costs a warning, not the run.
  const plot = async (name: string, draw: () => Promise<void>): Promise<void> => {
    try {
      await draw();
    } catch (e) {
      emit({
        type: 'warning',
        message: `Could not draw ${join(runDir, name)} (${reasonOf(e)}); the model and report are saved.`,
      });
    }
  };
  await plot('loss.png', () => writeCurves(run, steps, history));
  await plot('confusion.png', () =>
    svgToPng(
      confusionSvg(test.confusion, opened.classes, 'Confusion matrix (test set)'),
      join(runDir, 'confusion.png'),
    ),
  );
  const files: Record<string, string> = {
    model: modelPath,
    report: reportPath,
    metrics: metrics.file,
    lossPlot: join(runDir, 'loss.png'),
    accuracyPlot: join(runDir, 'accuracy.png'),
    confusionPlot: join(runDir, 'confusion.png'),
    summary: join(runDir, 'summary.txt'),
    config: join(runDir, 'config.json'),
    ...(result.lastCheckpoint ? { lastCheckpoint: result.lastCheckpoint } : {}),
    ...(result.bestCheckpoint ? { bestCheckpoint: result.bestCheckpoint } : {}),
  };
  const out: TrainResult = {
    runDir,
    modelPath,
    reportPath,
    trainAccuracy: trainEval.accuracy,
    testAccuracy: test.accuracy,
    testLoss: test.loss,
    test,
    history,
    stoppedEarly: result.stoppedEarly,
    bestEpoch: result.bestEpoch,
    secondsPerEpoch,
    config,
    files,
  };
  emit({ type: 'done', result: out });
  return out;
}

/** The end of an error sentence saying which checkpoint survived, if any. */
export function intact(checkpoint: string | undefined): string | undefined {
  return checkpoint ? `the last checkpoint ${checkpoint} is intact` : undefined;
}

function reasonOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
