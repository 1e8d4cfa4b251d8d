#!/usr/bin/env node
// dlf's time for the cifar10-fast recipe's training step, printed like time-pytorch.py's.
//
// Runs the real training loop, fit(), on fast-cifar at the recipe's settings (read from RECIPES:
// batch size, SGD with Nesterov momentum, lr, weight decay, batch-norm lr scale, label smoothing;
// optionally EMA) over
// synthetic images made once (random uint8 pixels, random labels): no decoding; augmentation (crop,
// flip) only with --augment. Times the steps after the warm-up ones from fit's
// batch events, and projects the recipe's epochs over 50,000 images (no evaluation, no decoding).
//
//   pnpm run build && nice -n 10 node packages/train/scripts/time-dlf.mjs --steps 20 --threads 1,2
//
// Measure on an idle machine: figures taken while other work runs are only indicative.
import { parseArgs } from 'node:util';
import { loadavg } from 'node:os';
import { fromArrays, normalize, randomCrop, randomHorizontalFlip } from '@dlf/data';
import { buildPreset } from '@dlf/nn';
import { setNumThreads } from '@dlf/tensor-core';
import { fit, RECIPES } from '@dlf/train';

const RECIPE = RECIPES.get('cifar10-fast').settings;

const IMAGES = 50_000;
const { values: o } = parseArgs({
  options: {
    steps: { type: 'string', default: '20' },
    warmup: { type: 'string', default: '3' },
    threads: { type: 'string', default: '1,2' },
    'batch-size': { type: 'string', default: String(RECIPE.batchSize) },
    epochs: { type: 'string', default: String(RECIPE.epochs) },
    ema: { type: 'string', default: '0' },
    augment: { type: 'boolean', default: false },
  },
});
const steps = Number(o.steps);
const warmup = Number(o.warmup);
const batchSize = Number(o['batch-size']);
const epochs = Number(o.epochs);
const ema = Number(o.ema);

/** Milliseconds per step of fit() over `warmup + steps` synthetic batches. */
async function timeSteps(threads) {
  setNumThreads(threads);
  const n = (warmup + steps) * batchSize;
  let seed = 1;
  const rnd = () => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed;
  };
  const images = Uint8Array.from({ length: n * 3 * 32 * 32 }, () => rnd() & 255);
  const labels = Int32Array.from({ length: n }, () => rnd() % 10);
  const classes = Array.from({ length: 10 }, (_, i) => `c${i}`);
  const train = fromArrays(images, labels, [3, 32, 32], { classes });
  const model = buildPreset('fast-cifar', { classes: 10, inChannels: 3, inputSize: 32, seed: 0 });
  const stamps = [];
  try {
    await fit({
      model,
      train,
      epochs: 1,
      batchSize,
      optimizer: {
        name: 'sgd',
        lr: RECIPE.lr,
        momentum: RECIPE.momentum,
        weightDecay: RECIPE.weightDecay,
        nesterov: RECIPE.nesterov,
      },
      bnLrScale: RECIPE.bnLrScale,
      // A constant rate: the one-cycle schedule costs nothing per step and needs 8+ steps.
      schedule: { name: 'constant' },
      labelSmoothing: RECIPE.labelSmoothing,
      transforms: [
        ...(o.augment
          ? [randomCrop(32, { padding: RECIPE.cropPadding }), randomHorizontalFlip(0.5, { alternate: true })]
          : []),
        normalize(0.5, 0.25),
      ],
      ...(ema ? { ema: { decay: ema } } : {}),
      onEvent: (e) => {
        if (e.type === 'batch') stamps.push(performance.now());
      },
    });
  } finally {
    model.dispose();
  }
  return (stamps.at(-1) - stamps[warmup - 1]) / steps;
}

console.log(
  `dlf: fast-cifar training step (fit), batch ${batchSize}, SGD Nesterov, label smoothing 0.2${ema ? `, EMA ${ema}` : ''}; synthetic images (no decoding${o.augment ? '; crop and flip' : ', no augmentation'}); ${warmup} warm-up + ${steps} timed steps`,
);
for (const threads of o.threads.split(',').map(Number)) {
  const ms = await timeSteps(threads);
  const epoch = (ms * (IMAGES / batchSize)) / 1000;
  console.log(
    `  ${threads} thread${threads > 1 ? 's' : ' '}: ${ms.toFixed(1).padStart(8)} ms/step  ${String(Math.round((batchSize * 1000) / ms)).padStart(6)} images/s  epoch of 50,000 images ${epoch.toFixed(1).padStart(6)} s  ${epochs} epochs ${((epoch * epochs) / 60).toFixed(1).padStart(5)} min`,
  );
}
console.log(
  `load average while measuring: ${loadavg()
    .map((v) => v.toFixed(2))
    .join(' ')}`,
);
