import { relative } from 'node:path';
import { datasetSource } from '@dlf/data';
import { escapeControl } from '@dlf/tensor-core/text';
import { AbortError, UsageError } from '../errors.js';
import {
  AUGMENTATIONS,
  type EpochProfile,
  OPTIMIZERS,
  PRESETS,
  RECIPES,
  SCHEDULES,
  type TrainConfig,
  type TrainEvent,
  type TtaOption,
  train,
  ttaDescription,
  ttaLevel,
} from '@dlf/train';
import { VERSION } from '../version.js';
import { choiceFlag, closest, didYouMean, intFlag, numFlag, parse } from './args.js';
import { IMAGE_BUDGET_OPTIONS, imageBudget, MODEL_BUDGET_OPTIONS, modelBudget } from './budgets.js';
import { DISTRIBUTED_OPTIONS, isFollowerRank, joinIfLaunched, launchIfAsked } from './distributed.js';
import { TRAIN_HELP } from './help.js';
import { bar, type CliIO, columns, duration, int, Output, percent } from './output.js';
import { checkModelFile, checkTrainFlags } from './preflight.js';
import { decodeProgress } from './progress.js';

const TRAIN_OPTIONS = {
  model: { type: 'string' },
  epochs: { type: 'string' },
  'batch-size': { type: 'string' },
  lr: { type: 'string' },
  optimizer: { type: 'string' },
  momentum: { type: 'string' },
  'weight-decay': { type: 'string' },
  schedule: { type: 'string' },
  augment: { type: 'string' },
  seed: { type: 'string' },
  'val-split': { type: 'string' },
  size: { type: 'string' },
  channels: { type: 'string' },
  out: { type: 'string' },
  resume: { type: 'string' },
  'early-stop': { type: 'string' },
  keep: { type: 'string' },
  profile: { type: 'boolean' },
  recipe: { type: 'string' },
  nesterov: { type: 'boolean' },
  'no-nesterov': { type: 'boolean' },
  'label-smoothing': { type: 'string' },
  tta: { type: 'boolean' },
  'no-tta': { type: 'boolean' },
  'tta-translate': { type: 'boolean' },
  ema: { type: 'string' },
  'bn-lr-scale': { type: 'string' },
  'crop-padding': { type: 'string' },
  lookahead: { type: 'boolean' },
  'no-lookahead': { type: 'boolean' },
  ...DISTRIBUTED_OPTIONS,
  ...IMAGE_BUDGET_OPTIONS,
  ...MODEL_BUDGET_OPTIONS,
} as const;

/** A yes/no setting from `--name` and `--no-name` (undefined when neither is given). */
function switchFlag(command: string, v: Record<string, unknown>, name: string): boolean | undefined {
  if (v[name] === true && v[`no-${name}`] === true) {
    throw new UsageError(`Pass --${name} or --no-${name}, not both.`, command);
  }
  return v[name] === true ? true : v[`no-${name}`] === true ? false : undefined;
}

/**
 * The test-time augmentation `--tta`, `--no-tta` and `--tta-translate` ask for: `true` (flip),
 * `false`, `'flip-translate'`, or undefined when none is given. `--tta-translate` includes the flip,
 * so it contradicts both `--tta` (flip only) and `--no-tta`.
 *
 * @example
 * ```ts
 * ttaFlag('evaluate', { 'tta-translate': true }); // 'flip-translate'
 * ```
 */
export function ttaFlag(command: string, v: Record<string, unknown>): TtaOption | undefined {
  const flip = switchFlag(command, v, 'tta');
  if (v['tta-translate'] !== true) return flip;
  if (flip !== undefined) {
    throw new UsageError(
      `Pass --tta (flip) or --tta-translate (flip and translate), not --${flip ? 'tta' : 'no-tta'} with --tta-translate.`,
      command,
    );
  }
  return 'flip-translate';
}

/**
 * Display path: relative to the working directory when shorter, control characters escaped (a file
 * name must not drive the terminal). For text output only; JSON keeps the raw path.
 */
export function shown(path: string): string {
  const rel = relative(process.cwd(), path);
  return escapeControl(rel && !rel.startsWith('..') && rel.length < path.length ? rel : path);
}

/** How a data argument is named in messages: a named source by its title and origin, else as given. */
export function dataName(data: string): string {
  const source = datasetSource(data);
  return source ? `${source.title} (${source.origin})` : escapeControl(data);
}

/**
 * Checks `--model` before any data is read: a preset the trainer knows (read at run time, so
 * presets added to `@dlf/train` are accepted), or an existing model.json / .safetensors file.
 */
export function checkModelSpec(command: string, spec: string): void {
  const presets = PRESETS as readonly string[];
  if (presets.includes(spec)) return;
  if (/\.(json|safetensors)$/i.test(spec)) {
    checkModelFile(command, spec);
    return;
  }
  const suggestion = closest(spec, presets);
  throw new UsageError(
    suggestion
      ? `Unknown model '${spec}'${didYouMean(suggestion)}`
      : `Unknown model '${spec}'; use a preset (${presets.join(', ')}), a model.json description or a .safetensors model file.`,
    command,
  );
}

function profileLines(p: EpochProfile, out: Output): string[] {
  const per = (ms: number): string => (ms / Math.max(1, p.batches)).toFixed(3);
  const parts: [string, number][] = [
    ['data (batch assembly)', p.dataMs],
    ['forward', p.forwardMs],
    ['loss', p.lossMs],
    ['backward (whole graph)', p.backwardMs],
    ['optimizer step', p.optimizerMs],
  ];
  const total = parts.reduce((a, [, v]) => a + v, 0);
  const rows = [
    ['part', 'ms/batch', 'share'],
    ...parts.map(([n, v]) => [n, per(v), percent(v / Math.max(1e-9, total), 1)]),
    ...p.layers.map((l) => [`  forward ${l.name}`, per(l.ms), percent(l.ms / Math.max(1e-9, total), 1)]),
    ['validation (whole epoch)', (p.validationMs / 1000).toFixed(2) + ' s', ''],
  ];
  return [
    out.out.bold('profile (per training batch, this epoch):'),
    ...columns(rows, [false, true, true]).map((l) => `  ${l}`),
  ];
}

/** `dlf train`. */
export async function trainCommand(argv: string[], io: CliIO): Promise<number> {
  const { values: v, positionals } = parse('train', argv, TRAIN_OPTIONS, 1);
  const out = new Output(io, {
    json: v.json === true,
    quiet: v.quiet === true || isFollowerRank(),
    noColor: v['no-color'] === true,
  });
  if (v.help) {
    io.stdout.write(`${TRAIN_HELP}\n`);
    return 0;
  }
  const c = 'train';
  let augment: string[] | undefined;
  if (v.augment !== undefined) {
    const list = String(v.augment)
      .split(/[,+\s]+/)
      .map((s) => s.trim().toLowerCase())
      .filter(Boolean);
    augment = list.length === 1 && list[0] === 'none' ? [] : list;
    for (const a of augment) {
      if (!(AUGMENTATIONS as readonly string[]).includes(a)) {
        throw new UsageError(
          `Expected none or a list of crop, flip, alternating-flip (e.g. crop,flip) for --augment but received '${String(v.augment)}'.`,
          c,
        );
      }
    }
  }
  const channels = intFlag(c, v, 'channels', 1, 3);
  if (channels === 2) throw new UsageError(`Expected 1 or 3 for --channels but received '2'.`, c);
  const config: Partial<TrainConfig> = {
    ...(positionals[0] !== undefined ? { data: positionals[0] } : {}),
    ...(v.model !== undefined ? { model: String(v.model) } : {}),
    epochs: intFlag(c, v, 'epochs', 0, 1_000_000),
    batchSize: intFlag(c, v, 'batch-size', 1, 65536),
    lr: numFlag(c, v, 'lr', 0, Infinity, true),
    optimizer: choiceFlag(c, v, 'optimizer', OPTIMIZERS),
    momentum: numFlag(c, v, 'momentum', 0, 1),
    weightDecay: numFlag(c, v, 'weight-decay', 0),
    schedule: choiceFlag(c, v, 'schedule', SCHEDULES),
    augment,
    cropPadding: intFlag(c, v, 'crop-padding', 0, 1024),
    seed: intFlag(c, v, 'seed', 0),
    valSplit: numFlag(c, v, 'val-split', 0, 1),
    size: intFlag(c, v, 'size', 4, 4096),
    channels: channels as 1 | 3 | undefined,
    earlyStop: intFlag(c, v, 'early-stop', 1),
    recipe: choiceFlag(c, v, 'recipe', [...RECIPES.keys()]),
    nesterov: switchFlag(c, v, 'nesterov'),
    labelSmoothing: numFlag(c, v, 'label-smoothing', 0, 1),
    tta: ttaFlag(c, v),
    ema: numFlag(c, v, 'ema', 0, 1),
    bnLrScale: numFlag(c, v, 'bn-lr-scale', 0, Infinity, true),
    lookahead: switchFlag(c, v, 'lookahead'),
  };
  if (config.momentum === 1)
    throw new UsageError(`Expected a number in [0, 1) for --momentum but received '1'.`, c);
  if (config.ema === 1) throw new UsageError(`Expected a number in [0, 1) for --ema but received '1'.`, c);
  if (config.valSplit === 1)
    throw new UsageError(`Expected a number in [0, 1) for --val-split but received '1'.`, c);
  for (const k of Object.keys(config) as (keyof TrainConfig)[]) if (config[k] === undefined) delete config[k];
  if (v.resume !== undefined && v.out !== undefined) {
    throw new UsageError(
      'Pass either --resume <folder> (continue a run) or --out <folder> (a new run), not both.',
      c,
    );
  }
  const threads = intFlag(c, v, 'threads', 1, 256);
  const keep = intFlag(c, v, 'keep', 1, 1000);
  const maxImagePixels = imageBudget(c, v);
  const budget = modelBudget(c, v);
  if (config.model !== undefined) checkModelSpec(c, config.model);
  await checkTrainFlags(c, v, config, v.nproc !== undefined || v.nnodes !== undefined);
  const launched = await launchIfAsked(c, v, (m) => out.warn(m));
  if (launched !== undefined) return launched;
  const dist = await joinIfLaunched(c, v);
  const onDecode = decodeProgress(out);

  // Progress state.
  let phase: 'setup' | 'training' | 'final' = 'setup';
  let lastDraw = 0;
  let lastPlain = Date.now();
  let epochStart = Date.now();
  const onAbort = (): void => {
    if (phase === 'setup') {
      out.clearProgress();
      out.notice('Interrupted before training started; nothing to save.');
      out.event({ event: 'interrupted', checkpoint: null });
      io.exit?.(130);
    } else if (phase === 'training') {
      out.clearProgress();
      out.notice('Interrupted: saving a checkpoint at the end of this batch… (Ctrl-C again to quit at once)');
    }
  };
  io.signal?.addEventListener('abort', onAbort, { once: true });

  const onEvent = (e: TrainEvent): void => {
    switch (e.type) {
      case 'loading':
        out.note(out.err.dim(`Loading ${dataName(e.data)}…`));
        break;
      case 'decoding':
        onDecode(e.done, e.total);
        break;
      case 'warning':
        out.warn(e.message);
        break;
      case 'summary':
        out.info(out.out.bold('Model'));
        out.info(e.text);
        out.info();
        out.event({
          event: 'summary',
          inputShape: e.summary.inputShape,
          outputShape: e.summary.outputShape,
          layers: e.summary.rows,
          totalParams: e.summary.totalParams,
          totalMacs: e.summary.totalMacs,
          totalFlops: e.summary.totalFlops,
        });
        break;
      case 'data': {
        const f = e.facts;
        out.info(out.out.bold('Data'));
        out.info(`  ${f.format} from ${escapeControl(f.path)}`);
        out.info(
          `  ${f.classes.length} classes; ${int(f.train)} train, ${int(f.val)} validation (${f.valSource === 'split' ? 'held out from train' : f.valSource === 'folder' ? 'val/ folder' : 'none'}), ${int(f.test)} test; input ${f.shape.join('×')}`,
        );
        out.info(
          `  loaded in ${f.loadSeconds.toFixed(2)} s${f.cacheHit === undefined ? '' : f.cacheHit ? ' (decode cache)' : ' (decoded)'}; one batch takes ${f.batchMs.toFixed(2)} ms to assemble (${int(f.batchImagesPerSecond)} images/s)`,
        );
        out.info(
          `  normalisation mean ${f.mean.map((x) => x.toFixed(4)).join(', ')} std ${f.std.map((x) => x.toFixed(4)).join(', ')}; augmentation ${f.augment.length ? f.augment.join(', ') : 'none'}${f.skipped ? `; ${f.skipped} unreadable files skipped` : ''}`,
        );
        out.info();
        out.event({ event: 'data', ...f });
        break;
      }
      case 'resume':
        out.notice(
          `Resuming from ${shown(e.checkpoint)} (epoch ${e.epoch}${e.batch ? ` + ${e.batch} batches` : ''}, step ${int(e.step)}).`,
        );
        out.event({
          event: 'resume',
          checkpoint: e.checkpoint,
          epoch: e.epoch,
          batch: e.batch,
          step: e.step,
        });
        break;
      case 'config': {
        const k = e.config;
        out.info(out.out.bold('Training'));
        out.info(
          `  ${k.epochs} epochs, batch ${k.batchSize}, ${k.optimizer} lr ${k.lr}${k.optimizer === 'sgd' ? ` momentum ${k.momentum}${k.nesterov ? ' (Nesterov)' : ''}` : ''} weight decay ${k.weightDecay}, ${k.schedule} schedule, seed ${k.seed}, ${e.threads} threads`,
        );
        const extras = [
          k.recipe ? `recipe ${k.recipe}` : '',
          k.labelSmoothing ? `label smoothing ${k.labelSmoothing}` : '',
          k.tta ? ttaDescription(ttaLevel(k.tta)) : '',
          k.ema ? `weight average (EMA decay ${k.ema})` : '',
          k.lookahead ? 'lookahead weight averaging' : '',
          k.bnLrScale !== undefined && k.bnLrScale !== 1 ? `batch-norm learning rate ×${k.bnLrScale}` : '',
        ].filter(Boolean);
        if (extras.length > 0) out.info(`  ${extras.join(', ')}`);
        out.info(`  run folder ${shown(e.runDir)}`);
        out.info();
        out.event({
          event: 'start',
          version: VERSION,
          config: k,
          runDir: e.runDir,
          resumed: e.resumed,
          threads: e.threads,
        });
        phase = 'training';
        break;
      }
      case 'epochStart':
        epochStart = Date.now();
        lastPlain = Date.now();
        break;
      case 'batch': {
        const now = Date.now();
        if (out.interactive) {
          if (now - lastDraw < 100 && e.batch < e.batches) return;
          lastDraw = now;
          const frac = e.batch / e.batches;
          const eta = ((now - epochStart) / 1000 / Math.max(1e-9, frac)) * (1 - frac);
          const head = `epoch ${e.epoch}/${e.epochs} `;
          const tail = ` ${String(Math.floor(frac * 100)).padStart(3)}% ${e.batch}/${e.batches}  loss ${e.loss.toFixed(4)}  acc ${percent(e.accuracy)}  ${int(e.imagesPerSecond)} img/s  eta ${duration(eta)}`;
          const width = Math.max(10, Math.min(40, out.columns - head.length - tail.length - 3));
          out.progress(`${head}${out.err.cyan(bar(frac, width))}${tail}`);
        } else if (now - lastPlain >= 10_000 && !out.quiet && !out.json) {
          lastPlain = now;
          out.note(
            `epoch ${e.epoch}/${e.epochs}: ${e.batch}/${e.batches} batches, loss ${e.loss.toFixed(4)}, acc ${percent(e.accuracy)}, ${int(e.imagesPerSecond)} img/s`,
          );
        }
        break;
      }
      case 'log':
        out.event({
          event: 'step',
          step: e.step,
          epoch: Number(e.epoch.toFixed(4)),
          loss: e.loss,
          accuracy: e.accuracy,
          lr: e.lr,
        });
        break;
      case 'validating':
        out.progress(`epoch ${e.epoch}: validating on ${int(e.examples)} images…`);
        break;
      case 'epoch': {
        const r = e.record;
        const w = String(e.epochs).length;
        const val =
          r.valAccuracy !== undefined
            ? `  val loss ${r.valLoss!.toFixed(4)} acc ${out.out.green(percent(r.valAccuracy))}`
            : '';
        out.info(
          `epoch ${String(r.epoch).padStart(w)}/${e.epochs}  train loss ${r.trainLoss.toFixed(4)} acc ${percent(r.trainAccuracy)}${val}  lr ${r.lr.toPrecision(3)}  ${r.seconds.toFixed(1)} s  ${int(r.imagesPerSecond)} img/s${r.best && r.valAccuracy !== undefined ? out.out.yellow('  ★ best') : ''}`,
        );
        if (r.profile) for (const l of profileLines(r.profile, out)) out.info(l);
        out.event({ event: 'epoch', epochs: e.epochs, ...r });
        break;
      }
      case 'checkpoint':
        out.event({
          event: 'checkpoint',
          path: e.path,
          name: e.name,
          epoch: e.epoch,
          batch: e.batch,
          reason: e.reason,
          best: e.best,
        });
        break;
      case 'earlyStop':
        out.info(
          `Stopped early: no better validation accuracy for ${e.patience} epochs; the final model is epoch ${e.bestEpoch}'s.`,
        );
        out.event({ event: 'earlyStop', epoch: e.epoch, patience: e.patience, bestEpoch: e.bestEpoch });
        break;
      case 'finalEvaluation':
        phase = 'final';
        out.progress(`evaluating the final model on the ${e.split} set (${int(e.examples)} images)…`);
        break;
      case 'done':
        break;
    }
  };

  let result: Awaited<ReturnType<typeof train>>;
  try {
    result = await train(config, {
      ...(v.out !== undefined ? { out: String(v.out) } : {}),
      ...(v.resume !== undefined ? { resume: String(v.resume) } : {}),
      ...(threads !== undefined ? { threads } : {}),
      ...(keep !== undefined ? { keep } : {}),
      ...(maxImagePixels !== undefined ? { maxImagePixels } : {}),
      modelBudget: budget,
      ...(v.profile ? { profile: true } : {}),
      ...(io.signal ? { signal: io.signal } : {}),
      ...(dist ? { distributed: dist.distributed } : {}),
      onEvent,
    });
  } catch (e) {
    out.clearProgress();
    if (e instanceof AbortError) {
      const where = e.checkpoint ? shown(e.checkpoint) : undefined;
      const run = e.checkpoint ? shown(e.checkpoint.replace(/[\\/][^\\/]+$/, '')) : undefined;
      out.notice(
        where
          ? `Interrupted. Checkpoint saved in ${where}; continue with: dlf train --resume ${run}`
          : 'Interrupted before the first batch finished; nothing to save.',
      );
      out.event({
        event: 'interrupted',
        checkpoint: e.checkpoint ?? null,
        runDir: e.checkpoint ? e.checkpoint.replace(/[\\/][^\\/]+$/, '') : null,
      });
      return 130;
    }
    throw e;
  } finally {
    io.signal?.removeEventListener('abort', onAbort);
    out.clearProgress();
    dist?.close();
  }
  if (dist && dist.distributed.rank !== 0) return 0;
  const r = result;
  out.result();
  out.result(
    `${out.out.bold('Final train accuracy')} ${percent(r.trainAccuracy)}   ${out.out.bold('test accuracy')} ${out.out.green(percent(r.testAccuracy))}   test loss ${r.testLoss.toFixed(4)}`,
  );
  out.result(
    `${r.history.length} epoch${r.history.length === 1 ? '' : 's'}, ${r.secondsPerEpoch.toFixed(1)} s per epoch on average`,
  );
  out.result(`Model   ${shown(r.modelPath)}`);
  out.result(`Report  ${shown(r.reportPath)}`);
  out.result(`Run     ${shown(r.runDir)}  (plots, checkpoints, metrics.jsonl)`);
  out.event({
    event: 'done',
    trainAccuracy: r.trainAccuracy,
    testAccuracy: r.testAccuracy,
    testLoss: r.testLoss,
    epochs: r.history.length,
    secondsPerEpoch: r.secondsPerEpoch,
    stoppedEarly: r.stoppedEarly,
    bestEpoch: r.bestEpoch,
    model: r.modelPath,
    report: r.reportPath,
    runDir: r.runDir,
    files: r.files,
  });
  return 0;
}
