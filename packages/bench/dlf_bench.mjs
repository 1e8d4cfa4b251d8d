// dlf side of the benchmark zoo (models in models.mjs): the same model, batch, data shape, optimiser
// and loss as torch_bench.py. Prints one JSON line:
//   {"framework":"dlf","model":"seed-cnn","threads":1,"format":"nchw","mode":"train","imagesPerSec":...,
//    "msPerStep":...,"dlf":"0.1.0","peakRssMB":...}
//
//   node dlf_bench.mjs --model vgg-bn --batch 64 --threads 1 --mode train --warmup 5 --iters 20
//   node dlf_bench.mjs --model vgg-bn --profile   # per-layer table (profile.mjs) instead of timing
//   node dlf_bench.mjs --model resnet20 --size 28  # 28x28 inputs (default 32)
//   node dlf_bench.mjs --check     # only verifies that the dlf packages load (exit 0) or not (exit 2)
//
// Exit codes: 0 ok, 1 bad arguments or a failure while running, 2 dlf packages not built/installed.
import { createRequire } from 'node:module';
import { parseArgs } from 'node:util';
import { ALL_MODELS, buildModel, CLASSES } from './models.mjs';
import { formatProfile, measurePeakPerCore, profileInference, profileModel } from './profile.mjs';

const LR = 0.05;
const EXIT_UNAVAILABLE = 2;

function fail(message, code = 1) {
  process.stderr.write(`dlf_bench: ${message}\n`);
  process.exit(code);
}

let args;
try {
  ({ values: args } = parseArgs({
    options: {
      model: { type: 'string', default: 'seed-cnn' },
      batch: { type: 'string', default: '64' },
      size: { type: 'string', default: '32' },
      profile: { type: 'boolean', default: false },
      threads: { type: 'string', default: '1' },
      format: { type: 'string', default: 'nchw' },
      mode: { type: 'string', default: 'train' },
      warmup: { type: 'string', default: '5' },
      iters: { type: 'string', default: '20' },
      // stop timing once this many seconds have passed (after at least 3 steps); warm-up stops at half
      seconds: { type: 'string', default: 'Infinity' },
      check: { type: 'boolean', default: false },
    },
  }));
} catch (error) {
  fail(error.message);
}
const threads = Number(args.threads);
const BATCH = Number(args.batch);
if (!Number.isInteger(BATCH) || BATCH < 1) fail(`--batch must be an integer >= 1, got ${args.batch}`);
const SIZE = Number(args.size);
if (!Number.isInteger(SIZE) || SIZE < 8 || SIZE > 512)
  fail(`--size must be an integer from 8 to 512, got ${args.size}`);
if (!ALL_MODELS.includes(args.model))
  fail(`--model must be one of ${ALL_MODELS.join(', ')}, got ${args.model}`);
const warmup = Number(args.warmup);
let iters = Number(args.iters);
const seconds = Number(args.seconds);
if (!(seconds > 0)) fail(`--seconds must be a positive number, got ${args.seconds}`);
if (!Number.isInteger(threads) || threads < 1) fail(`--threads must be an integer >= 1, got ${args.threads}`);
if (!Number.isInteger(warmup) || warmup < 0) fail(`--warmup must be an integer >= 0, got ${args.warmup}`);
if (!Number.isInteger(iters) || iters < 1) fail(`--iters must be an integer >= 1, got ${args.iters}`);
if (args.mode !== 'train' && args.mode !== 'infer') fail(`--mode must be train or infer, got ${args.mode}`);
// dlf's convolution takes NCHW; channels_last is a PyTorch-only variant.
if (args.format !== 'nchw') fail(`--format must be nchw for dlf, got ${args.format}`);

// The native thread pool reads DLF_NUM_THREADS at start-up; setNumThreads below sets it again.
process.env.DLF_NUM_THREADS = String(threads);

let core;
let autograd;
let nn;
let loss;
let optim;
try {
  [core, autograd, nn, loss, optim] = await Promise.all([
    import('@dlf/tensor-core'),
    import('@dlf/autograd'),
    import('@dlf/nn'),
    import('@dlf/loss'),
    import('@dlf/optim'),
  ]);
} catch (error) {
  fail(
    'dlf packages not built yet (run `pnpm install && pnpm run build` at the repository root): ' +
      (error?.message ?? String(error)).split('\n')[0],
    EXIT_UNAVAILABLE,
  );
}
const { randn, randint, tidy, setNumThreads, memory, manualSeed } = core;
const { noGrad } = autograd;
const { seedCnn, Conv2d } = nn;
const { crossEntropy } = loss;
const { SGD } = optim;
for (const [name, value] of Object.entries({
  randn,
  randint,
  tidy,
  setNumThreads,
  noGrad,
  seedCnn,
  Conv2d,
  crossEntropy,
  SGD,
})) {
  if (typeof value !== 'function')
    fail(`dlf packages not built yet: export ${name} is missing`, EXIT_UNAVAILABLE);
}

let version = 'unknown';
try {
  version = createRequire(import.meta.url)('@dlf/tensor-core/package.json').version;
} catch {
  // keep 'unknown'
}

if (args.check) {
  process.stdout.write(JSON.stringify({ framework: 'dlf', available: true, dlf: version }) + '\n');
  process.exit(0);
}

setNumThreads(threads);
if (typeof manualSeed === 'function') manualSeed(0);

let model;
try {
  model = buildModel(args.model, { nn, core, size: SIZE });
} catch (error) {
  fail(`--size ${SIZE} does not fit ${args.model}: ${error.message}`);
}
if (args.profile) {
  if (args.mode === 'infer') model.eval();
  // One thread: CPU time, which a busy machine disturbs far less than wall time.
  const cpu = threads === 1;
  const inference = args.mode === 'infer';
  const profile = inference ? profileInference : profileModel;
  const rows = profile({ core, nn }, model, [BATCH, 3, SIZE, SIZE], { cpu });
  const { testing } = await import('@dlf/native/testing');
  const peakPerCore = measurePeakPerCore(testing);
  process.stdout.write(
    `${args.model}, batch ${BATCH}, ${threads} thread(s), ${args.mode === 'infer' ? 'eval' : 'training'}-mode layers\n` +
      formatProfile(rows, threads, { cpu, peakPerCore, isa: core.getSimd(), inference }) +
      '\n',
  );
  process.exit(0);
}
const opt = new SGD(model.parameters(), { lr: LR });
const x = randn([BATCH, 3, SIZE, SIZE]);
const y = randint([BATCH], 0, CLASSES);

let step;
if (args.mode === 'train') {
  if (typeof model.train === 'function') model.train();
  step = () => {
    tidy(() => {
      opt.zeroGrad();
      const l = crossEntropy(model.forward(x), y);
      l.backward();
      opt.step();
    });
  };
} else {
  model.eval();
  step = () => {
    // tidy keeps the tensor it returns: dispose the logits so every step starts from the same memory.
    const logits = noGrad(() => tidy(() => model.forward(x)));
    logits.dispose();
  };
}

try {
  const warmStart = performance.now();
  for (let i = 0; i < warmup && (i === 0 || performance.now() - warmStart < 500 * seconds); i++) step();
  const tensorsBefore = typeof memory === 'function' ? memory().numTensors : null;
  const allocationsBefore = typeof memory === 'function' ? memory().systemAllocations : null;
  const stepMs = [];
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  for (let i = 0; i < iters && (i < 3 || performance.now() - t0 < 1000 * seconds); i++) {
    const t = performance.now();
    step();
    stepMs.push(performance.now() - t);
  }
  const ms = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  iters = stepMs.length;
  stepMs.sort((p, q) => p - q);
  const mid = stepMs.length >> 1;
  const medianMs = stepMs.length % 2 ? stepMs[mid] : (stepMs[mid - 1] + stepMs[mid]) / 2;
  const tensorsAfter = typeof memory === 'function' ? memory().numTensors : null;
  const allocationsAfter = typeof memory === 'function' ? memory().systemAllocations : null;

  const result = {
    framework: 'dlf',
    model: args.model,
    threads,
    format: 'nchw',
    mode: args.mode,
    imagesPerSec: Math.round(((BATCH * iters) / (ms / 1000)) * 100) / 100,
    msPerStep: Math.round((ms / iters) * 1000) / 1000,
    msPerStepMedian: Math.round(medianMs * 1000) / 1000,
    // CPU time of the process per step (all threads): at 1 thread, robust to a busy machine
    cpuMsPerStep: Math.round((cpu.user + cpu.system) / iters) / 1000,
    dlf: version,
    batch: BATCH,
    warmup,
    iters,
    // resourceUsage reports kilobytes
    peakRssMB: Math.round(process.resourceUsage().maxRSS / 102.4) / 10,
  };
  if (tensorsBefore !== null) result.leakedTensors = tensorsAfter - tensorsBefore;
  // tensor buffers taken from the system (not the allocator's cache) during the timed steps
  if (allocationsBefore !== null) result.systemAllocations = allocationsAfter - allocationsBefore;
  process.stdout.write(JSON.stringify(result) + '\n');
} catch (error) {
  fail(`${args.mode} step failed: ${error?.stack ?? error}`);
}
