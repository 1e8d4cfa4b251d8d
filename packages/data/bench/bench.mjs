#!/usr/bin/env node
// Benchmark of @dlf/data: cold decode, cached load and batch assembly, on the CIFAR-10 JPEG folder
// and on MNIST (idx files, and exported to a PNG image folder like the reference system's data_1).
//
// Runs on the built package (plain node, no TypeScript loader):
//   pnpm --filter "@dlf/data..." run build
//   node packages/data/bench/bench.mjs --cifar /tmp/cifar10-jpg [--skip-mnist-png] [--strategies] [--json]
//
// --cifar DIR        the extracted cifar10-jpg tarball (default /tmp/cifar10-jpg, skipped if missing)
// --work DIR         scratch folder for caches and the MNIST PNG export (default: a new temp folder, removed)
// --skip-mnist-png   do not export MNIST to PNGs and decode them (saves ~1 minute)
// --mnist-png DIR    use (or create, once) the MNIST PNG export in DIR instead of a temporary one
// --skip-cifar       leave out the CIFAR-10 folder
// --strategies       also compare decode strategies on a 6,000-image subset of the CIFAR folder
// --json             print one JSON object at the end
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Worker } from 'node:worker_threads';
import sharp from 'sharp';
import {
  DataLoader,
  decodeImages,
  exportImageFolder,
  loadMnist,
  normalize,
  openDataset,
  randomCrop,
  randomHorizontalFlip,
} from '../dist/index.js';

const { values: args } = parseArgs({
  options: {
    cifar: { type: 'string', default: '/tmp/cifar10-jpg' },
    work: { type: 'string' },
    'skip-mnist-png': { type: 'boolean', default: false },
    'mnist-png': { type: 'string' },
    'skip-cifar': { type: 'boolean', default: false },
    strategies: { type: 'boolean', default: false },
    json: { type: 'boolean', default: false },
  },
});

const work = args.work ?? mkdtempSync(join(tmpdir(), 'dlf-data-bench-'));
const results = {
  machine: {
    cores: availableParallelism(),
    node: process.version,
    sharp: sharp.versions.sharp,
    vips: sharp.versions.vips,
    sharpConcurrency: sharp.concurrency(),
    uvThreadpool: process.env.UV_THREADPOOL_SIZE ?? '4 (default)',
    loadavgStart: loadavg().map((v) => Number(v.toFixed(2))),
  },
};
const log = (...a) => console.error(...a);
const rate = (n, ms) => Math.round(n / (ms / 1000));
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** Median and 90th percentile ms of assembling (and disposing) one batch. */
function batchTiming(dataset, options, reps = 1000) {
  const loader = new DataLoader(dataset, { batchSize: 64, shuffle: true, seed: 1, ...options });
  const times = [];
  for (let i = 0; i < reps + 50; i++) {
    const t = performance.now();
    const b = loader.batch(0, i % loader.length);
    const dt = performance.now() - t;
    b.x.dispose();
    b.y.dispose();
    if (i >= 50) times.push(dt);
  }
  times.sort((a, b) => a - b);
  return {
    medianMs: Number(times[reps >> 1].toFixed(4)),
    p90Ms: Number(times[Math.floor(reps * 0.9)].toFixed(4)),
  };
}

/** A full epoch through the async iterator with prefetch, consumer doing nothing. */
async function epochTiming(dataset, options) {
  const loader = new DataLoader(dataset, { batchSize: 64, shuffle: true, seed: 1, ...options });
  const t = performance.now();
  let n = 0;
  for await (const { x, y } of loader) {
    n += x.shape[0];
    x.dispose();
    y.dispose();
  }
  const ms = performance.now() - t;
  return { images: n, ms: Math.round(ms), imagesPerSec: rate(n, ms) };
}

const augment = [
  randomCrop(32, { padding: 4 }),
  randomHorizontalFlip(),
  normalize([0.49, 0.48, 0.45], [0.25, 0.24, 0.26]),
];

async function folderFigures(name, folder, openOptions) {
  const cacheDir = join(work, `cache-${name}`);
  rmSync(cacheDir, { recursive: true, force: true });
  log(`[${name}] cold decode of ${folder} ...`);
  let t = performance.now();
  const cold = await openDataset(folder, { cacheDir, ...openOptions });
  const coldMs = performance.now() - t;
  const n = cold.train.length + cold.test.length;
  const hits = [];
  for (let i = 0; i < 3; i++) {
    t = performance.now();
    const warm = await openDataset(folder, { cacheDir, ...openOptions });
    hits.push(performance.now() - t);
    if (!warm.cache?.hit) throw new Error('expected a cache hit');
  }
  const out = {
    images: n,
    shape: cold.train.shape,
    coldDecode: { ms: Math.round(coldMs), imagesPerSec: rate(n, coldMs), loadavg: loadavg()[0] },
    cachedLoad: {
      msRuns: hits.map((h) => Math.round(h)),
      firstImagesPerSec: rate(n, hits[0]),
      medianImagesPerSec: rate(n, median(hits)),
    },
    batch64: batchTiming(cold.train, {}),
    batch64Augmented: batchTiming(cold.train, { transforms: augment }),
    epochAugmented: await epochTiming(cold.train, { transforms: augment }),
  };
  log(`[${name}]`, JSON.stringify(out));
  return out;
}

async function strategies(folder) {
  // Same 6,000 files for every strategy; each run twice, best kept (the machine is shared).
  const files = [];
  const train = join(folder, 'train');
  for (const c of readdirSync(train).sort())
    for (const f of readdirSync(join(train, c)).sort().slice(0, 600)) files.push(join(train, c, f));
  const opts = { width: 32, height: 32, channels: 3 };
  const variants = {};
  const time = async (label, fn) => {
    const runs = [];
    for (let r = 0; r < 2; r++) {
      const t = performance.now();
      await fn();
      runs.push(rate(files.length, performance.now() - t));
    }
    variants[label] = Math.max(...runs);
    log(`  ${label}: ${runs.join(', ')} images/s`);
  };
  const cores = availableParallelism();
  const before = sharp.concurrency();
  sharp.concurrency(1);
  for (const c of [1, 2, 4, 8, 16])
    await time(`promise pool ${c}, sharp.concurrency(1)`, () =>
      decodeImages(files, { ...opts, concurrency: c }),
    );
  sharp.concurrency(cores);
  for (const c of [1, 8])
    await time(`promise pool ${c}, sharp.concurrency(${cores})`, () =>
      decodeImages(files, { ...opts, concurrency: c }),
    );
  sharp.concurrency(before);
  const workerUrl = new URL('./decode-worker.mjs', import.meta.url);
  for (const nw of [cores, 2 * cores]) {
    await time(`${nw} worker_threads × pool 4 (incl. start-up)`, async () => {
      const per = Math.ceil(files.length / nw);
      await Promise.all(
        Array.from({ length: nw }, (_, k) => {
          const w = new Worker(workerUrl, {
            workerData: { files: files.slice(k * per, (k + 1) * per), opts: { ...opts, concurrency: 4 } },
          });
          return new Promise((resolve, reject) => {
            w.once('message', resolve);
            w.once('error', reject);
          }).finally(() => w.terminate());
        }),
      );
    });
  }
  return { files: files.length, imagesPerSec: variants };
}

try {
  if (args['skip-cifar']) {
    log('(CIFAR-10 folder skipped)');
  } else if (existsSync(args.cifar)) {
    results.cifar10Folder = await folderFigures('cifar10-jpg', args.cifar, {});
    if (args.strategies) {
      log('[strategies] decode strategies on 6,000 CIFAR JPEGs ...');
      const inner = (await openDataset(args.cifar, { cacheDir: join(work, 'cache-cifar10-jpg') })).path;
      results.decodeStrategies = await strategies(inner);
    }
  } else {
    log(`(no CIFAR-10 folder at ${args.cifar}; extract ../shared/data/cifar10-jpg.tar.gz there)`);
  }

  log('[mnist idx] parsing the bundled idx files ...');
  const times = [];
  let mnist;
  for (let i = 0; i < 3; i++) {
    const t = performance.now();
    mnist = loadMnist();
    times.push(performance.now() - t);
  }
  const nm = mnist.train.length + mnist.test.length;
  results.mnistIdx = {
    images: nm,
    loadMsRuns: times.map((x) => Math.round(x)),
    imagesPerSec: rate(nm, median(times)),
    batch64: batchTiming(mnist.train, {}),
    batch64Normalized: batchTiming(mnist.train, { transforms: [normalize(0.1307, 0.3081)] }),
    epoch: await epochTiming(mnist.train, {}),
  };
  log('[mnist idx]', JSON.stringify(results.mnistIdx));

  if (!args['skip-mnist-png']) {
    const out = args['mnist-png'] ?? join(work, 'data_1');
    if (!existsSync(out)) {
      log(`[mnist png] exporting 70,000 PNGs to ${out} ...`);
      const t = performance.now();
      await exportImageFolder({ train: mnist.train, test: mnist.test }, out, { overwrite: true });
      const ms = performance.now() - t;
      results.mnistExport = { images: nm, ms: Math.round(ms), imagesPerSec: rate(nm, ms) };
    }
    // Decoded the way the reference system read data_1: 32×32, 3 channels.
    results.mnistPngFolder = await folderFigures('mnist-png', out, {});
  }
} finally {
  results.machine.loadavgEnd = loadavg().map((v) => Number(v.toFixed(2)));
  if (!args.work) rmSync(work, { recursive: true, force: true });
}

const row = (label, v) => console.log(`${label.padEnd(52)} ${v}`);
console.log(
  `\n@dlf/data benchmark (${results.machine.cores} cores, node ${results.machine.node}, sharp ${results.machine.sharp}; load ${results.machine.loadavgStart[0]} → ${results.machine.loadavgEnd[0]})`,
);
for (const [key, label] of [
  ['cifar10Folder', 'CIFAR-10 JPEG folder (60,000 files → 3×32×32)'],
  ['mnistPngFolder', 'MNIST PNG folder (70,000 files → 3×32×32)'],
]) {
  const r = results[key];
  if (!r) continue;
  console.log(`\n${label}`);
  row(
    '  cold decode (scan + decode + cache write)',
    `${r.coldDecode.imagesPerSec.toLocaleString('en-US')} images/s (${(r.coldDecode.ms / 1000).toFixed(1)} s)`,
  );
  row(
    '  cached load (scan + stat + key + read), first / median of 3',
    `${r.cachedLoad.firstImagesPerSec.toLocaleString('en-US')} / ${r.cachedLoad.medianImagesPerSec.toLocaleString('en-US')} images/s (${r.cachedLoad.msRuns.join(', ')} ms)`,
  );
  row('  batch of 64, plain: median / p90', `${r.batch64.medianMs} / ${r.batch64.p90Ms} ms`);
  row(
    '  batch of 64, crop+flip+normalize: median / p90',
    `${r.batch64Augmented.medianMs} / ${r.batch64Augmented.p90Ms} ms`,
  );
  row(
    '  epoch through for-await (augmented, prefetch 2)',
    `${r.epochAugmented.imagesPerSec.toLocaleString('en-US')} images/s`,
  );
}
if (results.mnistIdx) {
  const r = results.mnistIdx;
  console.log('\nMNIST idx files (70,000 images, 1×28×28)');
  row(
    '  load (read + validate), median of 3',
    `${r.imagesPerSec.toLocaleString('en-US')} images/s (${r.loadMsRuns.join(', ')} ms)`,
  );
  row('  batch of 64, plain: median / p90', `${r.batch64.medianMs} / ${r.batch64.p90Ms} ms`);
  row(
    '  batch of 64, normalized: median / p90',
    `${r.batch64Normalized.medianMs} / ${r.batch64Normalized.p90Ms} ms`,
  );
  row('  epoch through for-await (prefetch 2)', `${r.epoch.imagesPerSec.toLocaleString('en-US')} images/s`);
}
if (results.mnistExport)
  row('\nMNIST export to PNG folder', `${results.mnistExport.imagesPerSec.toLocaleString('en-US')} images/s`);
if (results.decodeStrategies) {
  console.log(`\nDecode strategies (${results.decodeStrategies.files} CIFAR JPEGs, best of 2)`);
  for (const [k, v] of Object.entries(results.decodeStrategies.imagesPerSec))
    row(`  ${k}`, `${v.toLocaleString('en-US')} images/s`);
}
if (args.json) console.log(JSON.stringify(results));
