/**
 * The training loop: `fit()` trains a model (a Sequential stack or a GraphModule) on a dataset, one seeded epoch after another,
 * validates, keeps atomic checkpoints and resumes from them bit-identically. Long work never blocks
 * the event loop: the loop yields between batches, and an `AbortSignal` stops it at the next batch
 * (after writing a checkpoint, when a run folder is given).
 */
import { createHash } from 'node:crypto';
import { DataLoader } from '@dlf/data';
import { countCorrect, crossEntropy } from '@dlf/loss';
import { ARCHITECTURE_KEY, type DescribedModel } from '@dlf/nn';
import { checkInt, getNumThreads, getSimd, tidy } from '@dlf/tensor-core';
import {
  type CheckpointState,
  checkpointName,
  rotateCheckpoints,
  setPointer,
  writeCheckpoint,
} from './checkpoint.js';
import { checkSameStart, distributedStep, shardBatch } from './distributed.js';
import { checkEma, type EmaConfig, WeightAverage } from './ema.js';
import { AbortError, isAbortError } from './errors.js';
import { evaluate, yieldToEventLoop } from './evaluate.js';
import { fitLayersToData } from './data-init.js';
import { checkLookahead, startLookahead } from './lookahead.js';
import { createTraining, paramGroups, type Training } from './optim-adapter.js';
import { ttaLevel } from './tta.js';
import type { EpochRecord, FitOptions, FitResult } from './fit-types.js';
import { VERSION } from './version.js';

export type {
  CheckpointOptions,
  EpochProfile,
  EpochRecord,
  FitEvent,
  FitOptions,
  FitResult,
} from './fit-types.js';

interface Sums {
  lossSum: number;
  correct: number;
  seen: number;
  seconds: number;
  steps: number;
}

interface TrainerState {
  history: EpochRecord[];
  best: [number, number] | null;
  bestEpoch: number;
  bestName: string | null;
  sinceBest: number;
  stoppedEarly: boolean;
  epochSums: Sums;
  logSums: Sums;
  logEvery: number;
}

const zeroSums = (): Sums => ({ lossSum: 0, correct: 0, seen: 0, seconds: 0, steps: 0 });

/** A stable hash of a configuration object (keys sorted). */
export function configHash(config: Record<string, unknown>): string {
  const canon = (v: unknown): unknown =>
    Array.isArray(v)
      ? v.map(canon)
      : v && typeof v === 'object'
        ? Object.fromEntries(
            Object.keys(v as object)
              .sort()
              .map((k) => [k, canon((v as Record<string, unknown>)[k])]),
          )
        : v;
  return createHash('sha256')
    .update(JSON.stringify(canon(config)))
    .digest('hex')
    .slice(0, 16);
}

/**
 * Names of the layer groups Sequential (or GraphModule) reported through `onLayer` (a Conv2d fused with the ReLU and
 * pooling after it reports once, under the Conv2d's index): "0: Conv2d+ReLU+MaxPool2d".
 */
function layerGroups(
  model: DescribedModel,
  reported: ReadonlySet<number>,
): { index: number; name: string }[] {
  const idx = [...reported].sort((a, b) => a - b);
  return idx.map((i, k) => {
    const span = model.layers.slice(i, idx[k + 1] ?? model.layers.length);
    return { index: i, name: `${i}: ${span.map((l) => l.constructor.name).join('+')}` };
  });
}

/** The run's weight average, continued from the checkpoint when resuming. */
function startAverage(model: DescribedModel, config: EmaConfig, resume: FitOptions['resume']): WeightAverage {
  const average = new WeightAverage(model, config);
  try {
    if (resume) {
      if (!resume.ema) {
        throw new RangeError(
          `The checkpoint ${resume.path} has no weight average (ema.safetensors); resume it without ema.`,
        );
      }
      average.load(resume.ema);
    }
    return average;
  } catch (e) {
    average.dispose();
    throw e;
  }
}

/** Is `a` better than `b`? Keys are [accuracy, -loss]. */
function better(a: [number, number], b: [number, number] | null): boolean {
  if (b === null) return true;
  return a[0] > b[0] || (a[0] === b[0] && a[1] > b[1]);
}

/**
 * Trains `model` for `epochs` epochs (or continues a checkpoint up to `epochs`).
 *
 * Determinism: epoch `e` visits the training samples in an order fixed by `(seed, e)`, augmentation
 * depends only on `(seed, e, sample)`, dropout draws from `generator`, and every checkpoint holds
 * the weights, the optimizer state, the generator state and the position (epoch, batch, step). So a
 * run that is interrupted and resumed with the same options and thread count ends with exactly the
 * weights of an uninterrupted run.
 *
 * @example
 * ```ts
 * const model = seedCnn({ classes: 10, inChannels: 1, inputSize: 28, seed: 0 });
 * const { history } = await fit({
 *   model, train, val, epochs: 10,
 *   optimizer: { name: 'sgd', lr: 0.05, momentum: 0.9, weightDecay: 5e-4 },
 *   schedule: { name: 'cosine' },
 *   transforms: [normalize(0.1307, 0.3081)], evalTransforms: [normalize(0.1307, 0.3081)],
 *   signal: AbortSignal.timeout(60_000),
 *   onEvent: (e) => { if (e.type === 'epoch') console.log(e.record); },
 * });
 * ```
 */
export async function fit(options: FitOptions): Promise<FitResult> {
  const started = performance.now();
  const { model, train, val, signal } = options;
  const epochs = checkInt('epochs', options.epochs, 0);
  const batchSize = checkInt('batchSize', options.batchSize ?? 64, 1);
  const seed = checkInt('seed', options.seed ?? 0, 0);
  const emaConfig = checkEma(options.ema);
  const lookaheadOn = checkLookahead(options.lookahead, emaConfig !== undefined);
  ttaLevel(options.tta); // checked now rather than at the first validation
  const emit = options.onEvent ?? (() => {});
  const ck = options.checkpoints;
  const keep = checkInt('keep', ck?.keep ?? 3, 1);
  const dist = options.distributed;
  const writes = !dist || dist.rank === 0;
  let stopAgreed = false;
  const loader = new DataLoader(train, {
    batchSize: batchSize * (dist?.worldSize ?? 1),
    shuffle: true,
    seed,
    prefetch: 0,
    transforms: options.transforms ?? [],
  });
  const batches = loader.length;
  if (batches === 0) throw new RangeError('The training set is empty.');
  const opt: Training = createTraining(
    paramGroups(model, options.bnLrScale ?? 1, options.optimizer.weightDecay),
    options.optimizer,
    options.schedule ?? { name: 'constant' },
    epochs * batches,
    batches,
  );
  const generator = options.generator;
  const smoothing = options.labelSmoothing ? { labelSmoothing: options.labelSmoothing } : {};
  const config = ck?.config ?? {};
  const hash = configHash(config);
  const modelMetadata = { ...(ck?.modelMetadata ?? {}), [ARCHITECTURE_KEY]: JSON.stringify(model.toJSON()) };

  let st: TrainerState = {
    history: [],
    best: null,
    bestEpoch: 0,
    bestName: null,
    sinceBest: 0,
    stoppedEarly: false,
    epochSums: zeroSums(),
    logSums: zeroSums(),
    logEvery: checkInt('logEvery', options.logEvery ?? Math.max(1, Math.round(batches / 50)), 1),
  };
  let startEpoch = 0;
  let startBatch = 0;
  let step = 0;
  let lastName: string | undefined;

  const resume = options.resume;
  if (resume) {
    const s = resume.state;
    if (s.batch > batches) {
      throw new RangeError(
        `The checkpoint ${resume.path} is at batch ${s.batch} but an epoch has ${batches}.`,
      );
    }
    model.loadStateDict(resume.model);
    opt.loadStateDict(resume.optimizer);
    if (generator) generator.setState(s.generator);
    st = { ...st, ...(s.trainer as unknown as TrainerState) };
    startEpoch = s.epoch;
    startBatch = s.batch;
    step = s.step;
    lastName = resume.name;
  }

  if (!resume && options.initFromData) {
    fitLayersToData(model, train, options.evalTransforms ?? [], seed, options.initFromData);
  }
  if (dist) {
    await checkSameStart(dist, [startEpoch, startBatch, step]);
    await dist.broadcastParameters(model.parameters());
  }
  // Started after the ranks agree on the weights, so every rank keeps the same average.
  const average = emaConfig ? startAverage(model, emaConfig, resume) : undefined;
  const lookahead = lookaheadOn ? startLookahead(model, epochs, batches, resume) : undefined;

  const reported = new Set<number>();
  const snapshot = (
    epochDone: number,
    batch: number,
    optimizerMeta: Record<string, unknown>,
  ): CheckpointState => ({
    format: 'dlf.checkpoint',
    version: 1,
    dlfVersion: VERSION,
    epoch: epochDone,
    batch,
    step,
    epochs,
    threads: getNumThreads(),
    simd: getSimd(),
    generator: generator ? generator.state() : { seed, offset: 0 },
    schedule: opt.scheduleState(),
    optimizer: optimizerMeta,
    trainer: structuredClone(st) as unknown as Record<string, unknown>,
    config,
    configHash: hash,
    createdAt: new Date().toISOString(),
  });

  const save = async (
    epochDone: number,
    batch: number,
    reason: 'epoch' | 'interrupt',
    isBest: boolean,
  ): Promise<string> => {
    const name = checkpointName(epochDone, batch);
    if (isBest) st.bestName = name;
    lastName = name;
    if (!writes) {
      await dist!.barrier();
      return `${ck!.dir}/${name}`;
    }
    const optState = opt.stateDict();
    const averaged = average?.state() ?? lookahead?.state();
    let path: string;
    try {
      path = await writeCheckpoint(
        ck!.dir,
        name,
        {
          model: model.stateDict(),
          modelMetadata,
          optimizer: optState,
          ...(averaged ? { ema: averaged } : {}),
          state: snapshot(epochDone, batch, optState.meta),
        },
        ck!.hooks,
      );
    } finally {
      for (const t of optState.tensors.values()) t.dispose();
    }
    if (isBest) await setPointer(ck!.dir, 'best', name);
    await setPointer(ck!.dir, 'last', name);
    lastName = name;
    await rotateCheckpoints(ck!.dir, keep, [name, ...(st.bestName ? [st.bestName] : [])]);
    emit({ type: 'checkpoint', path, name, epoch: epochDone, batch, reason, best: isBest });
    if (dist) await dist.barrier();
    return path;
  };

  const interrupt = async (epoch: number, batch: number): Promise<never> => {
    let path: string | undefined;
    if (ck) {
      if (batch === 0 && lastName === checkpointName(epoch, 0)) path = `${ck.dir}/${lastName}`;
      else if (epoch > 0 || batch > 0) path = await save(epoch, batch, 'interrupt', false);
    }
    throw new AbortError('Training was interrupted.', path);
  };

  let layerMs = new Float64Array(model.layers.length);
  let layerStart = 0;
  const prof = { dataMs: 0, forwardMs: 0, lossMs: 0, backwardMs: 0, optimizerMs: 0, batches: 0 };
  if (options.profile) {
    model.onLayer = (i, _layer, phase) => {
      if (phase === 'start') {
        reported.add(i);
        layerStart = performance.now();
      } else layerMs[i]! += performance.now() - layerStart;
    };
  }

  try {
    for (let epoch = startEpoch; epoch < epochs && !st.stoppedEarly; epoch++) {
      const first = epoch === startEpoch ? startBatch : 0;
      if (first === 0) st.epochSums = zeroSums();
      layerMs = new Float64Array(model.layers.length);
      Object.assign(prof, { dataMs: 0, forwardMs: 0, lossMs: 0, backwardMs: 0, optimizerMs: 0, batches: 0 });
      emit({ type: 'epochStart', epoch: epoch + 1, epochs, batches, startBatch: first });
      model.train();
      const sums = st.epochSums;
      let lr = opt.lr;
      for (let b = first; b < batches; b++) {
        if (dist ? stopAgreed : signal?.aborted) await interrupt(epoch, b);
        const t0 = performance.now();
        const shard = dist ? shardBatch(loader, epoch, b, dist) : undefined;
        const { x, y } = shard?.batch ?? loader.batch(epoch, b);
        const t1 = performance.now();
        let lossValue = 0;
        let correct: number;
        let n = y.shape[0]!;
        let t2 = t1;
        let t3 = t1;
        let t4 = t1;
        try {
          if (dist) {
            lr = opt.lr;
            const r = await distributedStep(
              dist,
              opt,
              model.parameters(),
              (v) => model.forward(v),
              shard!,
              signal?.aborted === true,
              smoothing,
            );
            ({ correct, seen: n, forwardEnd: t2, lossEnd: t3, backwardEnd: t4 } = r);
            lossValue = r.lossSum / n;
            stopAgreed = r.stop;
          } else {
            lr = opt.lr;
            ({ lossValue, correct } = tidy(() => {
              opt.zeroGrad();
              const logits = model.forward(x);
              t2 = performance.now();
              const loss = crossEntropy(logits, y, smoothing);
              t3 = performance.now();
              loss.backward();
              t4 = performance.now();
              opt.step();
              return { lossValue: loss.item(), correct: countCorrect(logits, y).correct };
            }));
          }
        } finally {
          x.dispose();
          y.dispose();
        }
        average?.update();
        lookahead?.afterStep(epoch, step + 1);
        const t5 = performance.now();
        if (!Number.isFinite(lossValue)) {
          throw new Error(
            `The training loss became ${lossValue} at epoch ${epoch + 1}, step ${step + 1}; training diverged, so lower the learning rate (--lr)`,
          );
        }
        step++;
        sums.lossSum += lossValue * n;
        sums.correct += correct;
        sums.seen += n;
        sums.seconds += (t5 - t0) / 1000;
        sums.steps++;
        const ls = st.logSums;
        ls.lossSum += lossValue * n;
        ls.correct += correct;
        ls.seen += n;
        ls.steps++;
        prof.batches++;
        prof.dataMs += t1 - t0;
        prof.forwardMs += t2 - t1;
        prof.lossMs += t3 - t2;
        prof.backwardMs += t4 - t3;
        prof.optimizerMs += t5 - t4;
        emit({
          type: 'batch',
          epoch: epoch + 1,
          epochs,
          batch: b + 1,
          batches,
          step,
          loss: sums.lossSum / sums.seen,
          accuracy: sums.correct / sums.seen,
          imagesPerSecond: sums.seen / Math.max(1e-9, sums.seconds),
          lr,
        });
        if (step % st.logEvery === 0) {
          emit({
            type: 'log',
            step,
            epoch: epoch + (b + 1) / batches,
            loss: ls.lossSum / ls.seen,
            accuracy: ls.correct / ls.seen,
            lr,
          });
          st.logSums = zeroSums();
        }
        const y0 = performance.now();
        await yieldToEventLoop();
        sums.seconds += (performance.now() - y0) / 1000;
      }
      // Before any checkpoint of the epoch's end, which then holds the averaged model.
      lookahead?.endEpoch();
      if (dist ? stopAgreed : signal?.aborted) await interrupt(epoch, batches);

      let valLoss: number | undefined;
      let valAccuracy: number | undefined;
      let valSeconds = 0;
      if (val && val.length > 0 && dist) {
        // Rank 0 validates for everyone: the ranks must agree on `best` and on early stopping.
        const r = writes
          ? await evaluate(average?.model ?? model, val, {
              transforms: options.evalTransforms ?? [],
              ...(options.tta ? { tta: options.tta } : {}),
            })
          : undefined;
        const v = await dist.broadcast(r ? [r.loss, r.accuracy, r.seconds] : [0, 0, 0]);
        valLoss = r?.loss ?? v[0];
        valAccuracy = r?.accuracy ?? v[1];
        valSeconds = r?.seconds ?? v[2]!;
      } else if (val && val.length > 0) {
        emit({ type: 'validating', epoch: epoch + 1, examples: val.length });
        try {
          const r = await evaluate(average?.model ?? model, val, {
            transforms: options.evalTransforms ?? [],
            signal,
            ...(options.tta ? { tta: options.tta } : {}),
          });
          valLoss = r.loss;
          valAccuracy = r.accuracy;
          valSeconds = r.seconds;
        } catch (e) {
          if (isAbortError(e)) await interrupt(epoch, batches);
          throw e;
        }
      }
      const trainLoss = sums.seen ? sums.lossSum / sums.seen : 0;
      const trainAccuracy = sums.seen ? sums.correct / sums.seen : 0;
      const key: [number, number] =
        valAccuracy !== undefined ? [valAccuracy, -valLoss!] : [trainAccuracy, -trainLoss];
      const isBest = better(key, st.best);
      if (isBest) {
        st.best = key;
        st.bestEpoch = epoch + 1;
        st.sinceBest = 0;
      } else st.sinceBest++;
      const record: EpochRecord = {
        epoch: epoch + 1,
        trainLoss,
        trainAccuracy,
        ...(valAccuracy !== undefined ? { valLoss, valAccuracy } : {}),
        lr,
        step,
        seconds: sums.seconds,
        valSeconds,
        imagesPerSecond: sums.seen / Math.max(1e-9, sums.seconds),
        best: isBest,
      };
      if (options.profile) {
        record.profile = {
          ...prof,
          validationMs: valSeconds * 1000,
          layers: layerGroups(model, reported).map(({ index, name }) => ({ name, ms: layerMs[index]! })),
        };
      }
      st.history.push(record);
      st.epochSums = zeroSums();
      if (options.earlyStop !== undefined && st.sinceBest >= options.earlyStop) st.stoppedEarly = true;
      emit({ type: 'epoch', record, epochs });
      if (ck) await save(epoch + 1, 0, 'epoch', isBest);
      if (st.stoppedEarly) {
        emit({ type: 'earlyStop', epoch: epoch + 1, patience: options.earlyStop!, bestEpoch: st.bestEpoch });
      }
    }
    // The run's result is the average: what validation measured and what the caller saves.
    if (average) model.loadStateDict(average.model.stateDict());
  } finally {
    if (options.profile) model.onLayer = null;
    opt.dispose();
    average?.dispose();
    lookahead?.dispose();
  }
  return {
    history: st.history,
    steps: step,
    stoppedEarly: st.stoppedEarly,
    bestEpoch: st.bestEpoch,
    ...(ck && lastName ? { lastCheckpoint: `${ck.dir}/${lastName}` } : {}),
    ...(ck && st.bestName ? { bestCheckpoint: `${ck.dir}/${st.bestName}` } : {}),
    seconds: (performance.now() - started) / 1000,
  };
}
