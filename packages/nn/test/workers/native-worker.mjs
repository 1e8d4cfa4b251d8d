// A worker thread for workers.test.ts. Plain JavaScript over the built addon (workerData.addon):
// vitest's TypeScript aliases do not reach worker threads. workerData.task picks what it does:
//   compute  switch to workerData.simd, then run convolutions and a matmul in a loop, each checked
//            bit for bit against the same op run single-threaded (no pool) and against a float64
//            reference computed here; reports what it saw
//   memory   hold workerData.mib MiB of tensors until told to release them; reports memoryStats
//   loop     run convolutions until terminated, or until workerData.exitAfter steps, then
//            process.exit() with tensors still alive
import { createRequire } from 'node:module';
import { parentPort, workerData } from 'node:worker_threads';

const { tensor, math, nn, testing } = createRequire(import.meta.url)(workerData.addon);
const F32 = 0;
const CONV = { n: 8, c: 8, h: 16, w: 16, k: 8, r: 3, s: 3 };
const CONV_ATTRIBUTES = { strideH: 1, strideW: 1, padH: 1, padW: 1, dilationH: 1, dilationW: 1, groups: 1 };
// Stride 2 takes the general path (im2col + GEMM), which reads the kernel table inside the chunks
// the pool workers run; the fast path reads it before.
const STRIDED_ATTRIBUTES = { ...CONV_ATTRIBUTES, strideH: 2, strideW: 2 };
const MATMUL = { m: 128, k: 96, n: 130 };

function normal(shape, seed) {
  const h = tensor.empty(shape, F32);
  tensor.randomFill(h, 1, 0, 1, seed, 0);
  return h;
}

const now = () => performance.timeOrigin + performance.now();

// Reference convolution (padding 1) + bias, then ReLU when `relu`, in float64, NCHW.
function referenceConv(x, w, b, stride, relu) {
  const { n, c, h, w: width, k, r, s } = CONV;
  const outH = Math.floor((h + 2 - r) / stride) + 1;
  const outW = Math.floor((width + 2 - s) / stride) + 1;
  const y = new Float64Array(n * k * outH * outW);
  for (let img = 0; img < n; img++) {
    for (let out = 0; out < k; out++) {
      for (let p = 0; p < outH; p++) {
        for (let q = 0; q < outW; q++) {
          let acc = b[out];
          for (let ch = 0; ch < c; ch++) {
            for (let i = 0; i < r; i++) {
              const row = p * stride + i - 1;
              if (row < 0 || row >= h) continue;
              for (let j = 0; j < s; j++) {
                const col = q * stride + j - 1;
                if (col < 0 || col >= width) continue;
                acc += x[((img * c + ch) * h + row) * width + col] * w[((out * c + ch) * r + i) * s + j];
              }
            }
          }
          y[((img * k + out) * outH + p) * outW + q] = relu ? Math.max(acc, 0) : acc;
        }
      }
    }
  }
  return y;
}

// 2x2 max pooling, stride 2, of (planes, h, w).
function referenceMaxPool(y, planes, h, w) {
  const out = new Float64Array(planes * (h / 2) * (w / 2));
  let o = 0;
  for (let pl = 0; pl < planes; pl++) {
    for (let p = 0; p < h; p += 2) {
      for (let q = 0; q < w; q += 2) {
        const at = (pl * h + p) * w + q;
        out[o++] = Math.max(y[at], y[at + 1], y[at + w], y[at + w + 1]);
      }
    }
  }
  return out;
}

function referenceMatmul(a, b) {
  const { m, k, n } = MATMUL;
  const c = new Float64Array(m * n);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let acc = 0;
      for (let t = 0; t < k; t++) acc += a[i * k + t] * b[t * n + j];
      c[i * n + j] = acc;
    }
  }
  return c;
}

// Largest |got - want| / (1 + |want|); NaN when any value is NaN, so a comparison with it fails.
function maxRelativeError(got, want) {
  if (got.length !== want.length) return Number.NaN;
  let worst = 0;
  for (let i = 0; i < got.length; i++) {
    const e = Math.abs(got[i] - want[i]) / (1 + Math.abs(want[i]));
    if (!(e <= worst)) worst = e;
  }
  return worst;
}

function sameBits(a, b) {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(
    Buffer.from(b.buffer, b.byteOffset, b.byteLength),
  );
}

function read(h) {
  const data = tensor.toTypedArray(h);
  tensor.release(h);
  return data;
}

// Counter `slot` of the shared Int32Array: adds one, then waits until it reaches `parties`.
function arriveAndWait(slot, parties) {
  const counters = new Int32Array(workerData.sync);
  Atomics.add(counters, slot, 1);
  Atomics.notify(counters, slot);
  for (;;) {
    const arrived = Atomics.load(counters, slot);
    if (arrived >= parties) return;
    Atomics.wait(counters, slot, arrived, 1000);
  }
}
const STARTED = 0; // workers ready to loop
const FINISHED = 1; // workers past their minimum number of iterations

function compute() {
  const before = tensor.memoryStats();
  if (!testing.selectSimd(workerData.simd)) {
    arriveAndWait(STARTED, workerData.parties);
    Atomics.add(new Int32Array(workerData.sync), FINISHED, 1);
    parentPort.postMessage({ skipped: true });
    return;
  }
  const x = normal([CONV.n, CONV.c, CONV.h, CONV.w], 1);
  const w = normal([CONV.k, CONV.c, CONV.r, CONV.s], 2);
  const b = normal([CONV.k], 3);
  const a = normal([MATMUL.m, MATMUL.k], 4);
  const m = normal([MATMUL.k, MATMUL.n], 5);
  const ops = {
    conv: () => nn.conv2d(x, w, b, CONV_ATTRIBUTES, true),
    convStrided: () => nn.conv2d(x, w, b, STRIDED_ATTRIBUTES, false),
    convPool: () => nn.conv2dReluMaxPool(x, w, b, CONV_ATTRIBUTES),
    matmul: () => math.matmul(a, m),
  };
  const [xs, ws, bs] = [x, w, b].map((h) => tensor.toTypedArray(h));
  const convRef = referenceConv(xs, ws, bs, 1, true);
  const reference = {
    conv: convRef,
    convStrided: referenceConv(xs, ws, bs, 2, false),
    convPool: referenceMaxPool(convRef, CONV.n * CONV.k, CONV.h, CONV.w),
    matmul: referenceMatmul(tensor.toTypedArray(a), tensor.toTypedArray(m)),
  };
  // One thread: the pool is not used, so nothing but this thread's own kernel table is involved.
  tensor.setNumThreads(1);
  const alone = Object.fromEntries(Object.entries(ops).map(([name, op]) => [name, read(op())]));
  tensor.setNumThreads(workerData.threads);

  arriveAndWait(STARTED, workerData.parties);
  const start = now();
  let mismatches = 0;
  let maxError = 0;
  // At least `iterations`, and on until every worker has done as many: the loops overlap in time
  // however the threads are scheduled.
  const counters = new Int32Array(workerData.sync);
  for (let i = 0; i < workerData.iterations || Atomics.load(counters, FINISHED) < workerData.parties; i++) {
    if (i === workerData.iterations) Atomics.add(counters, FINISHED, 1);
    for (const [name, op] of Object.entries(ops)) {
      const got = read(op());
      if (!sameBits(got, alone[name])) mismatches++;
      const e = maxRelativeError(got, reference[name]);
      if (!(e <= maxError)) maxError = e;
    }
  }
  const end = now();
  const simd = tensor.simd();
  for (const h of [x, w, b, a, m]) tensor.release(h);
  const after = tensor.memoryStats();
  parentPort.postMessage({
    simd,
    threads: tensor.numThreads(),
    start,
    end,
    mismatches,
    maxError,
    aloneConv: alone.conv,
    aloneStrided: alone.convStrided,
    liveBytesBefore: before.liveBytes,
    liveBytesAfter: after.liveBytes,
    liveBlocksBefore: before.liveBlocks,
    liveBlocksAfter: after.liveBlocks,
  });
}

function memory() {
  const before = tensor.memoryStats();
  const held = [];
  for (let i = 0; i < workerData.mib; i++) held.push(tensor.empty([1 << 18], F32)); // 1 MiB each
  const holding = tensor.memoryStats();
  parentPort.postMessage({ phase: 'holding', before, holding });
  parentPort.once('message', () => {
    for (const h of held) tensor.release(h);
    parentPort.postMessage({ phase: 'released', released: tensor.memoryStats() });
  });
}

function loop() {
  const x = normal([CONV.n, CONV.c, CONV.h, CONV.w], 1);
  const w = normal([CONV.k, CONV.c, CONV.r, CONV.s], 2);
  for (let step = 0; ; step++) {
    const y = nn.conv2d(x, w, null, CONV_ATTRIBUTES, true);
    const pooled = nn.conv2dReluMaxPool(x, w, null, CONV_ATTRIBUTES);
    if (step === 0) parentPort.postMessage('running');
    if (step + 1 === workerData.exitAfter) process.exit(0); // y, pooled, x and w still alive
    tensor.release(y);
    tensor.release(pooled);
  }
}

({ compute, memory, loop })[workerData.task]();
