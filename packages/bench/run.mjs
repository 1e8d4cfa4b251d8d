// Benchmark-zoo orchestrator: dlf vs PyTorch (NCHW and channels_last), train and inference, for each
// model of models.mjs / torch_models.py at each batch size.
//
//   node run.mjs                  # seed-cnn, batch 64, threads 1 and 2, train and infer, 5 reps
//   node run.mjs --models all --batches 64,256 --reps 3    # the whole zoo
//   node run.mjs --models vgg-bn --profile --threads 1     # dlf per-layer profile, no timing runs
//   node run.mjs --json           # machine-readable result on stdout (progress goes to stderr)
//   node run.mjs --reps 7 --threads 1,2 --modes train --warmup 5 --iters 30
//   node run.mjs --quick          # smoke run: 2 reps, 1 warm-up step, 3 timed steps (not for quoting)
//
// Timed steps default to 30 (train) and 100 (infer): about half a second of work per run either way,
// so one scheduler hiccup on a shared machine does not dominate a run.
//   node run.mjs --only pytorch   # or --only dlf
//
// Every repetition runs each configuration once in a fresh process, in rotating order, so slow drifts
// of a shared machine hit all configurations alike; the table shows medians. PyTorch runs with
// /usr/bin/python3 (Debian's python3-torch); it is skipped with a message when torch does not import.
// dlf runs `node dlf_bench.mjs`; when the dlf packages are not built it is reported as unavailable.
import { spawnSync } from 'node:child_process';
import { cpus, loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { ALL_MODELS, MODELS } from './models.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const RUN_TIMEOUT_MS = 10 * 60 * 1000;
// glibc malloc settings every run gets (both frameworks; a GLIBC_TUNABLES already set is kept).
// PyTorch's CPU tensors come straight from malloc, and by default glibc maps each large block
// afresh and hands it back to the OS when freed, so every step faults its activations in again: on
// a virtual machine measured here that made PyTorch 2-5x slower (1 thread, channels_last, training:
// resnet20 batch 64 190 img/s by default, 478-508 tuned; vgg-bn batch 256 102 by default, 398 with
// blocks below 32 MB kept in the heap, 612 with every block in the heap, as here). jemalloc
// (LD_PRELOAD) was slower still (69 img/s on vgg-bn). dlf keeps its own cache of freed buffers.
const MALLOC_TUNABLES = 'glibc.malloc.mmap_max=0:glibc.malloc.trim_threshold=4294967296';

function usageError(message) {
  process.stderr.write(`run.mjs: ${message}\n`);
  process.exit(64);
}

let opts;
try {
  ({ values: opts } = parseArgs({
    options: {
      json: { type: 'boolean', default: false },
      quick: { type: 'boolean', default: false },
      reps: { type: 'string' },
      warmup: { type: 'string' },
      iters: { type: 'string' },
      models: { type: 'string', default: 'seed-cnn' },
      batches: { type: 'string', default: '64' },
      size: { type: 'string', default: '32' },
      profile: { type: 'boolean', default: false },
      seconds: { type: 'string' },
      // a second dlf build (a dlf.node) run beside the current one, e.g. a copy from before a change
      'baseline-native': { type: 'string' },
      threads: { type: 'string', default: '1,2' },
      modes: { type: 'string', default: 'train,infer' },
      only: { type: 'string' },
      python: { type: 'string', default: '/usr/bin/python3' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  }));
} catch (error) {
  usageError(error.message);
}
if (opts.help) {
  process.stdout.write(
    'usage: node run.mjs [--json] [--quick] [--reps N] [--warmup K] [--iters M] [--threads 1,2]\n' +
      '                   [--modes train,infer] [--only pytorch|dlf] [--python /usr/bin/python3]\n' +
      `                   [--models all|${ALL_MODELS.join(',')}] [--batches 64,256] [--seconds S] [--profile]\n` +
      '                   [--size 32] [--baseline-native path/to/dlf.node]\n',
  );
  process.exit(0);
}

function positiveInt(name, text, fallback, min = 1, max = Number.MAX_SAFE_INTEGER) {
  if (text === undefined) return fallback;
  const n = Number(text);
  if (!Number.isInteger(n) || n < min || n > max)
    usageError(`--${name} must be an integer from ${min} to ${max}, got ${text}`);
  return n;
}
const reps = positiveInt('reps', opts.reps, opts.quick ? 2 : 5);
const warmup = positiveInt('warmup', opts.warmup, opts.quick ? 1 : 5, 0);
const DEFAULT_ITERS = { train: 30, infer: 100 };
const itersOverride = positiveInt('iters', opts.iters, opts.quick ? 3 : undefined);
const itersFor = (mode) => itersOverride ?? DEFAULT_ITERS[mode];
// Each run stops after this many seconds of timed steps (at least 3 steps): the zoo's larger models
// at batch 256 would otherwise take minutes a run.
const seconds = opts.seconds === undefined ? (opts.quick ? 0.5 : 2) : Number(opts.seconds);
if (!(seconds > 0)) usageError(`--seconds must be a positive number, got ${opts.seconds}`);
const threadList = opts.threads.split(',').map((t) => positiveInt('threads', t.trim(), 1));
const modes = opts.modes.split(',').map((m) => m.trim());
const models = opts.models === 'all' ? MODELS : opts.models.split(',').map((m) => m.trim());
for (const m of models)
  if (!ALL_MODELS.includes(m))
    usageError(`--models takes ${ALL_MODELS.join(', ')} or all (the zoo: ${MODELS.join(', ')}), got ${m}`);
const batches = opts.batches.split(',').map((b) => positiveInt('batches', b.trim(), 64));
// Input height and width (both sides); the zoo's figures are at 32.
const size = positiveInt('size', opts.size, 32, 8, 512); // batch 64 at 512x512 is 200 MB of input alone
for (const m of modes) {
  if (m !== 'train' && m !== 'infer') usageError(`--modes takes train and/or infer, got ${m}`);
}
if (opts.only !== undefined && opts.only !== 'pytorch' && opts.only !== 'dlf') {
  usageError(`--only takes pytorch or dlf, got ${opts.only}`);
}

const log = (line) => process.stderr.write(line + '\n');
const lines = (text) => (text ?? '').split('\n').filter((l) => l.trim() !== '');
// The JSON result is the last stdout line.
const lastLine = (text) => lines(text).slice(-1)[0] ?? '';
// dlf_bench reports errors as a "dlf_bench: ..." line (a stack may follow); for a Python traceback the
// last line names the exception.
const errorLine = (stderr) => lines(stderr).find((l) => l.startsWith('dlf_bench: ')) ?? lastLine(stderr);

// ---- availability

function checkPytorch() {
  if (opts.only === 'dlf') return { available: false, reason: 'skipped (--only dlf)' };
  const r = spawnSync(opts.python, ['-c', 'import torch; print(torch.__version__)'], { encoding: 'utf8' });
  if (r.error || r.status !== 0) {
    const why = r.error ? r.error.message : errorLine(r.stderr) || `exit code ${r.status}`;
    return { available: false, reason: `\`${opts.python} -c 'import torch'\` failed: ${why}` };
  }
  return { available: true, version: r.stdout.trim() };
}

function checkDlf() {
  if (opts.only === 'pytorch') return { available: false, reason: 'skipped (--only pytorch)' };
  const r = spawnSync(process.execPath, [join(here, 'dlf_bench.mjs'), '--check'], {
    cwd: here,
    encoding: 'utf8',
    timeout: 60_000,
  });
  if (r.error || r.status !== 0) {
    const why = r.error ? r.error.message : errorLine(r.stderr) || `exit code ${r.status}`;
    return { available: false, reason: why.replace(/^dlf_bench: /, '') };
  }
  try {
    return { available: true, version: JSON.parse(lastLine(r.stdout)).dlf };
  } catch {
    return { available: true, version: 'unknown' };
  }
}

const pytorch = checkPytorch();
const dlf = checkDlf();
const skipped = (fw) => fw.reason.startsWith('skipped');
for (const [name, fw] of [
  ['PyTorch', pytorch],
  ['dlf', dlf],
]) {
  if (!fw.available)
    log(skipped(fw) ? `${name} ${fw.reason}` : `${name} unavailable, skipping it: ${fw.reason}`);
}

// ---- profile: the dlf per-layer table for each model, batch, thread count and mode, then exit

if (opts.profile) {
  if (!dlf.available) usageError(`--profile needs dlf: ${dlf.reason}`);
  for (const model of models) {
    for (const batch of batches) {
      for (const [threads, mode] of threadList.flatMap((t) => modes.map((m) => [t, m]))) {
        const argv = [join(here, 'dlf_bench.mjs'), '--profile', '--model', model, '--batch', String(batch)];
        argv.push('--size', String(size));
        argv.push('--threads', String(threads), '--mode', mode);
        const env = { ...process.env, DLF_NUM_THREADS: String(threads) };
        const r = spawnSync(process.execPath, argv, {
          cwd: here,
          env,
          encoding: 'utf8',
          timeout: RUN_TIMEOUT_MS,
        });
        process.stdout.write(r.status === 0 ? `${r.stdout}\n` : `${model}: FAILED ${errorLine(r.stderr)}\n`);
      }
    }
  }
  process.exit(0);
}

// ---- configurations

const variants = [];
if (pytorch.available) {
  variants.push({ key: 'pytorch-nchw', label: 'PyTorch NCHW', framework: 'pytorch', format: 'nchw' });
  variants.push({
    key: 'pytorch-channels_last',
    label: 'PyTorch CL',
    framework: 'pytorch',
    format: 'channels_last',
  });
}
if (dlf.available) variants.push({ key: 'dlf', label: 'dlf', framework: 'dlf', format: 'nchw' });
if (dlf.available && opts['baseline-native']) {
  variants.push({
    key: 'dlf-baseline',
    label: 'dlf baseline',
    framework: 'dlf',
    format: 'nchw',
    native: opts['baseline-native'],
  });
}

const configs = [];
for (const model of models) {
  for (const batch of batches) {
    for (const threads of threadList) {
      for (const mode of modes) {
        for (const v of variants) {
          configs.push({
            ...v,
            model,
            batch,
            threads,
            mode,
            samples: [],
            stepMedians: [],
            rss: [],
            cpu: [],
            errors: [],
          });
        }
      }
    }
  }
}

function runOnce(c) {
  const common = ['--threads', String(c.threads), '--mode', c.mode, '--warmup', String(warmup)];
  const tail = ['--iters', String(itersFor(c.mode)), '--format', c.format, '--seconds', String(seconds)];
  tail.push('--model', c.model, '--batch', String(c.batch), '--size', String(size));
  const [cmd, argv] =
    c.framework === 'pytorch'
      ? [opts.python, [join(here, 'torch_bench.py'), ...common, ...tail]]
      : [process.execPath, [join(here, 'dlf_bench.mjs'), ...common, ...tail]];
  const env = {
    ...process.env,
    GLIBC_TUNABLES: process.env.GLIBC_TUNABLES ?? MALLOC_TUNABLES,
    OMP_NUM_THREADS: String(c.threads),
    MKL_NUM_THREADS: String(c.threads),
    OPENBLAS_NUM_THREADS: String(c.threads),
    DLF_NUM_THREADS: String(c.threads),
    ...(c.native ? { DLF_NATIVE_PATH: c.native } : {}),
  };
  const r = spawnSync(cmd, argv, { cwd: here, env, encoding: 'utf8', timeout: RUN_TIMEOUT_MS });
  if (r.error) return { error: r.error.message };
  if (r.status !== 0) return { error: errorLine(r.stderr) || `exit code ${r.status}` };
  try {
    const out = JSON.parse(lastLine(r.stdout));
    if (typeof out.imagesPerSec !== 'number') return { error: 'no imagesPerSec in output' };
    return { result: out };
  } catch {
    return { error: `unparsable output: ${lastLine(r.stdout).slice(0, 200)}` };
  }
}

// ---- run: repetition-major, rotating the order inside each repetition

const median = (xs) => {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

const started = Date.now();
const loadavgAtStart = loadavg().map((l) => Math.round(l * 100) / 100);
const versions = { pytorch: pytorch.version ?? null, dlf: dlf.version ?? null };
let mkldnn = null;
let blas = null;
for (let rep = 0; rep < reps && configs.length > 0; rep++) {
  const order = configs.map((_, i) => configs[(i + rep) % configs.length]);
  for (const c of order) {
    const { result, error } = runOnce(c);
    const name = `${c.model} b=${c.batch} ${c.label} t=${c.threads} ${c.mode}`;
    if (result) {
      c.samples.push(result.imagesPerSec);
      if (typeof result.msPerStepMedian === 'number') c.stepMedians.push(result.msPerStepMedian);
      if (typeof result.peakRssMB === 'number') c.rss.push(result.peakRssMB);
      if (typeof result.cpuMsPerStep === 'number') c.cpu.push(result.cpuMsPerStep);
      if (c.framework === 'pytorch') {
        versions.pytorch = result.torch ?? versions.pytorch;
        if (typeof result.mkldnn === 'boolean') mkldnn = result.mkldnn;
        if (typeof result.blas === 'string') blas = result.blas;
      }
      log(
        `[${rep + 1}/${reps}] ${name}: ${result.imagesPerSec.toFixed(1)} img/s (load ${loadavg()[0].toFixed(1)})`,
      );
    } else {
      c.errors.push(error);
      log(`[${rep + 1}/${reps}] ${name}: FAILED ${error}`);
    }
  }
}

// ---- report

const rows = [];
for (const model of models) {
  for (const batch of batches) {
    for (const threads of threadList) {
      for (const mode of modes) {
        const row = { model, batch, threads, mode, results: {} };
        const mine = configs.filter(
          (x) => x.model === model && x.batch === batch && x.threads === threads && x.mode === mode,
        );
        for (const c of mine) {
          const med = median(c.samples);
          row.results[c.key] = {
            imagesPerSec: med,
            msPerStep: med === null ? null : Math.round((batch * 1e6) / med) / 1000,
            samples: c.samples,
            best: c.samples.length ? Math.max(...c.samples) : null,
            // images/s from each run's median step: insensitive to a few descheduled steps
            medianStepImagesPerSec: c.stepMedians.length
              ? Math.round((batch * 1000 * 100) / median(c.stepMedians)) / 100
              : null,
            spread: med === null ? null : (Math.max(...c.samples) - Math.min(...c.samples)) / med,
            peakRssMB: median(c.rss),
            cpuMsPerStep: median(c.cpu),
            errors: c.errors,
          };
        }
        const pt = ['pytorch-nchw', 'pytorch-channels_last']
          .map((k) => ({ k, v: row.results[k]?.imagesPerSec ?? null }))
          .filter((e) => e.v !== null);
        const best = pt.length ? pt.reduce((a, b) => (b.v > a.v ? b : a)) : null;
        row.bestPytorch = best ? { variant: best.k, imagesPerSec: best.v } : null;
        const d = row.results.dlf?.imagesPerSec ?? null;
        row.dlfOverBestPytorch = best && d !== null ? d / best.v : null;
        // The same ratios from CPU time per step (meaningful at 1 thread on a busy machine).
        const cpuOf = (k) => row.results[k]?.cpuMsPerStep ?? null;
        const ptCpu = ['pytorch-nchw', 'pytorch-channels_last'].map(cpuOf).filter((v) => v !== null);
        row.cpuRatioOverBestPytorch = ptCpu.length && cpuOf('dlf') ? Math.min(...ptCpu) / cpuOf('dlf') : null;
        row.cpuRatioOverBaseline =
          cpuOf('dlf-baseline') && cpuOf('dlf') ? cpuOf('dlf-baseline') / cpuOf('dlf') : null;
        const before = row.results['dlf-baseline']?.imagesPerSec ?? null;
        row.dlfOverBaseline = before && d !== null ? d / before : null;
        rows.push(row);
      }
    }
  }
}

const environment = {
  node: process.version,
  cpu: cpus()[0]?.model ?? 'unknown',
  cores: cpus().length,
  loadavgAtStart,
  loadavgAtEnd: loadavg().map((l) => Math.round(l * 100) / 100),
  mkldnn,
  blas,
  mallocTunables: process.env.GLIBC_TUNABLES ?? MALLOC_TUNABLES,
};
const report = {
  benchmark: 'zoo',
  models,
  batches,
  inputSize: size,
  reps,
  warmup,
  iters: Object.fromEntries(modes.map((m) => [m, itersFor(m)])),
  secondsPerRun: seconds,
  quick: opts.quick,
  seconds: Math.round((Date.now() - started) / 100) / 10,
  frameworks: {
    pytorch: pytorch.available ? { available: true, version: versions.pytorch } : pytorch,
    dlf: dlf.available ? { available: true, version: versions.dlf } : dlf,
  },
  environment,
  rows,
};

if (opts.json) {
  process.stdout.write(JSON.stringify(report, null, 2) + '\n');
} else {
  const fmt = (r) => {
    if (!r) return 'n/a';
    if (r.imagesPerSec === null) return r.errors.length ? 'failed' : 'n/a';
    return `${r.imagesPerSec.toFixed(1)} ±${((r.spread * 100) / 2).toFixed(1)}%`;
  };
  const rss = (r) => (r?.peakRssMB == null ? '—' : `${Math.round(r.peakRssMB)}`);
  const status = (fw) => (skipped(fw) ? 'skipped' : 'unavailable');
  const header = [
    'model',
    'batch',
    'threads',
    'mode',
    'PyTorch NCHW',
    'PyTorch CL',
    'dlf',
    'dlf / best PyTorch',
  ];
  header.push('RSS MB (PT NCHW/CL/dlf)', 'by CPU time');
  const withBaseline = variants.some((v) => v.key === 'dlf-baseline');
  if (withBaseline) header.push('dlf baseline', 'dlf / baseline', 'by CPU time');
  const body = rows.map((r) => [
    r.model,
    String(r.batch),
    String(r.threads),
    r.mode,
    pytorch.available ? fmt(r.results['pytorch-nchw']) : status(pytorch),
    pytorch.available ? fmt(r.results['pytorch-channels_last']) : status(pytorch),
    dlf.available ? fmt(r.results.dlf) : status(dlf),
    r.dlfOverBestPytorch === null ? '—' : r.dlfOverBestPytorch.toFixed(2) + 'x',
    `${rss(r.results['pytorch-nchw'])}/${rss(r.results['pytorch-channels_last'])}/${rss(r.results.dlf)}`,
    r.cpuRatioOverBestPytorch === null ? '—' : `${r.cpuRatioOverBestPytorch.toFixed(2)}x`,
    ...(withBaseline
      ? [
          fmt(r.results['dlf-baseline']),
          r.dlfOverBaseline === null ? '—' : `${r.dlfOverBaseline.toFixed(2)}x`,
          r.cpuRatioOverBaseline === null ? '—' : `${r.cpuRatioOverBaseline.toFixed(2)}x`,
        ]
      : []),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
  const line = (cells) =>
    cells
      .map((c, i) => c.padEnd(widths[i]))
      .join('  ')
      .trimEnd();
  const out = [];
  out.push(
    `images/s, median of ${reps} interleaved runs (warmup ${warmup}; timed steps: ${modes.map((m) => `${m} ${itersFor(m)}`).join(', ')}, at most ${seconds} s a run)` +
      (size === 32 ? '' : `; input ${size}x${size}`) +
      (opts.quick ? ' [QUICK: not for quoting]' : ''),
  );
  out.push(
    `PyTorch: ${pytorch.available ? `${versions.pytorch}${mkldnn === null ? '' : `, mkldnn ${mkldnn ? 'on' : 'off'}`}, BLAS ${blas ?? 'unknown'}` : skipped(pytorch) ? pytorch.reason : `unavailable (${pytorch.reason})`}`,
  );
  out.push(
    `dlf: ${dlf.available ? versions.dlf : skipped(dlf) ? dlf.reason : `unavailable (${dlf.reason})`}`,
  );
  out.push(`malloc (both): GLIBC_TUNABLES=${environment.mallocTunables}`);
  out.push(`machine: ${environment.cpu}, ${environment.cores} cores, node ${environment.node}`);
  out.push(`load average at start ${loadavgAtStart.join(' ')}, at end ${environment.loadavgAtEnd.join(' ')}`);
  // Only the load before the first run is free of this benchmark's own processes.
  if (loadavgAtStart[0] > environment.cores / 2) {
    out.push(
      `warning: 1-min load average was ${loadavgAtStart[0]} on ${environment.cores} cores before the runs: ` +
        'other processes compete, multi-threaded numbers are unreliable',
    );
  }
  out.push('');
  out.push(line(header));
  out.push(line(widths.map((w) => '-'.repeat(w))));
  for (const b of body) out.push(line(b));
  out.push('');
  out.push(
    '± = half the min–max range of the runs, relative to the median. RSS: peak resident set, median of runs.\n' +
      '"by CPU time": the same ratio from CPU time per step (median of runs); at 1 thread it is close to what\n' +
      'a quiet machine shows.',
  );
  process.stdout.write(out.join('\n') + '\n');
}

const ranSomething = configs.some((c) => c.samples.length > 0);
process.exit(ranSomething ? 0 : 1);
