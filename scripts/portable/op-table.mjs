// The op test table without vitest, for a foreign CPU under qemu-user (scripts/portable/check-arm64.sh)
// or any Node that cannot run the dev tooling: every case of packages/nn/test/goldens/ops.json,
// forward and backward against PyTorch, with a contiguous and a non-contiguous first input; then the
// SIMD fast paths (GEMM, direct convolution forward and backward, a fused ReLU with NaN, 2x2 max pooling, pools of
// other windows, the vector activations with NaN and infinities) against plain references. All of it once per kernel table this CPU offers. Loads the packages' built dist, so
// `pnpm run build` (or a cross-built binary in DLF_NATIVE_PATH) must come first.
//
//   node scripts/portable/op-table.mjs          exit code 0 when everything passed
import { readFileSync } from 'node:fs';

const root = new URL('../../packages/', import.meta.url);
const load = (path) => import(new URL(path, root).href);
const F = await load('nn/dist/index.js');
const { tensor, getSimd, setSimd, randn, Generator } = await load('tensor-core/dist/index.js');
const { testing: nativeTesting } = await load('native/dist/testing.js');

const golden = JSON.parse(readFileSync(new URL('nn/test/goldens/ops.json', root), 'utf8'));
let passed = 0;
const failures = [];

function check(name, fn) {
  try {
    fn();
    passed++;
  } catch (error) {
    failures.push(`${getSimd()} ${name}: ${error instanceof Error ? error.message : String(error)}`);
  }
}

// |a - b| <= atol + rtol |b| everywhere; NaN fails (the comparison is false). With `relativeToMax`
// atol is scaled by max(1, max |b|) (long sums: convolutions), as @dlf/testing's expectClose does.
function expectClose(actual, expected, what, atol, rtol, relativeToMax = false) {
  if (actual.length !== expected.length)
    throw new Error(`${what}: ${actual.length} values, expected ${expected.length}`);
  if (relativeToMax) atol *= Math.max(1, ...Array.from(expected, Math.abs));
  for (let i = 0; i < actual.length; i++) {
    const ok = Math.abs(actual[i] - expected[i]) <= atol + rtol * Math.abs(expected[i]);
    if (!ok) throw new Error(`${what}: element ${i} is ${actual[i]}, expected ${expected[i]}`);
  }
}

const attr = (c, key) => c.attrs[key];
const withAttributes = {
  leakyRelu: ([x], c) => F.leakyRelu(x, attr(c, 'negativeSlope')),
  pow: ([x], c) => F.pow(x, attr(c, 'exponent')),
  sum: ([x], c) => F.sum(x, attr(c, 'axis'), attr(c, 'keepDims')),
  mean: ([x], c) => F.mean(x, attr(c, 'axis'), attr(c, 'keepDims')),
  max: ([x], c) => F.max(x, attr(c, 'axis'), attr(c, 'keepDims')),
  reshape: ([x], c) => F.reshape(x, attr(c, 'shape')),
  flatten: ([x], c) => F.flatten(x, attr(c, 'startDim')),
  transpose: ([x], c) => F.transpose(x, attr(c, 'dim0'), attr(c, 'dim1')),
  permute: ([x], c) => F.permute(x, attr(c, 'dims')),
  concat: (xs, c) => F.concat(xs, attr(c, 'axis')),
  softmax: ([x], c) => F.softmax(x, attr(c, 'axis')),
  logSoftmax: ([x], c) => F.logSoftmax(x, attr(c, 'axis')),
  conv2d: ([x, w, b], c) =>
    F.conv2d(x, w, b ?? null, {
      stride: attr(c, 'stride'),
      padding: attr(c, 'padding'),
      dilation: attr(c, 'dilation'),
      groups: attr(c, 'groups'),
    }),
  maxPool2d: ([x], c) =>
    F.maxPool2d(x, {
      kernelSize: attr(c, 'kernelSize'),
      stride: attr(c, 'stride'),
      padding: attr(c, 'padding'),
    }),
  avgPool2d: ([x], c) =>
    F.avgPool2d(x, {
      kernelSize: attr(c, 'kernelSize'),
      stride: attr(c, 'stride'),
      padding: attr(c, 'padding'),
    }),
  adaptiveAvgPool2d: ([x], c) => F.adaptiveAvgPool2d(x, attr(c, 'outputSize')),
  batchNorm2d: ([x, w, b], c) =>
    F.batchNorm2d(x, {
      weight: w,
      bias: b,
      runningMean: tensor(attr(c, 'runningMean')),
      runningVar: tensor(attr(c, 'runningVar')),
      training: attr(c, 'training'),
      momentum: attr(c, 'momentum'),
      eps: attr(c, 'eps'),
    }),
};
const opFor = (name) => withAttributes[name] ?? ((inputs) => F[name](...inputs));

// The same values stored with the last two dims swapped and viewed back: a non-contiguous input.
function nonContiguous(d) {
  const [p, q] = d.shape.slice(-2);
  const batch = d.shape.slice(0, -2).reduce((x, y) => x * y, 1);
  const stored = new Float32Array(d.data.length);
  for (let b = 0; b < batch; b++)
    for (let i = 0; i < p; i++)
      for (let j = 0; j < q; j++) stored[b * p * q + j * p + i] = d.data[b * p * q + i * q + j];
  return F.transpose(tensor(stored, { shape: [...d.shape.slice(0, -2), q, p] }), -2, -1);
}

function goldenCase(c, strided) {
  const inputs = c.inputs.map((d, i) => {
    const t = strided && i === 0 ? nonContiguous(d) : tensor(new Float32Array(d.data), { shape: d.shape });
    if (c.grads[i]) t.requiresGrad_();
    return t;
  });
  const out = opFor(c.op)(inputs, c);
  const longSum = c.op === 'conv2d';
  expectClose(out.toTypedArray(), c.output.data, 'forward', 2e-5, 2e-4, longSum);
  out.backward({ grad: tensor(new Float32Array(c.upstream.data), { shape: c.upstream.shape }) });
  c.grads.forEach((g, i) => {
    if (g) expectClose(inputs[i].grad.toTypedArray(), g.data, `gradient of input ${i}`, 5e-5, 5e-4, longSum);
  });
}

const rand = (shape, seed) => randn(shape, 0, 1, { generator: new Generator(seed) });

function gemmCase(m, k, n) {
  const a = rand([m, k], 1);
  const b = rand([k, n], 2);
  const av = a.toTypedArray();
  const bv = b.toTypedArray();
  const want = new Float64Array(m * n);
  for (let i = 0; i < m; i++)
    for (let p = 0; p < k; p++) for (let j = 0; j < n; j++) want[i * n + j] += av[i * k + p] * bv[p * n + j];
  expectClose(F.matmul(a, b).toTypedArray(), want, 'matmul', 1e-3, 1e-4);
}

// The direct-convolution fast path against the im2col + GEMM path: forward with ReLU and all gradients.
function convCase([n, c, h, w, k, r, s, pad]) {
  const run = (fast) => {
    const previous = nativeTesting.setConvFastPath(fast);
    try {
      const x = rand([n, c, h, w], 3).requiresGrad_();
      const wt = rand([k, c, r, s], 4).requiresGrad_();
      const b = rand([k], 5).requiresGrad_();
      const y = F.relu(F.conv2d(x, wt, b, { padding: [pad, pad] }));
      F.sum(F.mul(y, rand(y.shape, 6))).backward();
      return [y, x.grad, wt.grad, b.grad].map((t) => t.toTypedArray());
    } finally {
      nativeTesting.setConvFastPath(previous);
    }
  };
  const fast = run(true);
  const general = run(false);
  ['y', 'dx', 'dw', 'db'].forEach((what, i) => expectClose(fast[i], general[i], `conv ${what}`, 1e-3, 1e-4));
}

// A NaN in the input reaches the fused ReLU's output (v < 0 ? 0 : v), and the gradient passes where
// the output is not <= 0, NaN included: the kernels' relu_pass_bits on this table.
function reluNanCase([n, c, h, w, k]) {
  const data = rand([n, c, h, w], 8).toTypedArray();
  for (let i = 5; i < data.length; i += 97) data[i] = Number.NaN;
  const x = tensor(data, { shape: [n, c, h, w] });
  const wt = rand([k, c, 3, 3], 9);
  const b = rand([k], 10).requiresGrad_();
  const plain = F.conv2d(x, wt, b, { padding: [1, 1] }).toTypedArray();
  const y = F.conv2d(x, wt, b, { padding: [1, 1], relu: true });
  const g = rand(y.shape, 11);
  F.sum(F.mul(y, g)).backward();
  const got = y.toTypedArray();
  const gv = g.toTypedArray();
  const per = y.shape[2] * y.shape[3];
  const db = new Float64Array(k);
  let nans = 0;
  for (let i = 0; i < got.length; i++) {
    const want = plain[i] < 0 ? 0 : plain[i];
    if (!Object.is(got[i], want)) throw new Error(`fused relu: element ${i} is ${got[i]}, expected ${want}`);
    if (Number.isNaN(want)) nans++;
    if (!(want <= 0)) db[Math.floor(i / per) % k] += gv[i];
  }
  if (nans === 0) throw new Error('fused relu: no NaN reached the output');
  expectClose(b.grad.toTypedArray(), db, 'fused relu bias gradient', 1e-4, 1e-4);
}

function poolCase([n, c, h, w]) {
  const x = rand([n, c, h, w], 7);
  const xv = x.toTypedArray();
  const ph = Math.floor(h / 2);
  const pw = Math.floor(w / 2);
  const want = new Float32Array(n * c * ph * pw);
  for (let pl = 0; pl < n * c; pl++)
    for (let i = 0; i < ph; i++)
      for (let j = 0; j < pw; j++) {
        const at = (di, dj) => xv[pl * h * w + (2 * i + di) * w + 2 * j + dj];
        want[(pl * ph + i) * pw + j] = Math.max(at(0, 0), at(0, 1), at(1, 0), at(1, 1));
      }
  expectClose(F.maxPool2d(x, { kernelSize: 2, stride: 2 }).toTypedArray(), want, 'maxPool2d', 0, 0);
}

// A 3x3 / stride 2 / padding 1 max and average pool (isa/pool.h's pool_window) against loops over
// the in-plane window: max from -inf, the average over the whole window.
function windowPoolCase([n, c, h, w]) {
  const x = rand([n, c, h, w], 9);
  const xv = x.toTypedArray();
  const P = Math.floor((h - 1) / 2) + 1;
  const Q = Math.floor((w - 1) / 2) + 1;
  const max = new Float32Array(n * c * P * Q);
  const avg = new Float32Array(n * c * P * Q);
  for (let pl = 0; pl < n * c; pl++)
    for (let i = 0; i < P; i++)
      for (let j = 0; j < Q; j++) {
        let best = Number.NEGATIVE_INFINITY;
        let s = 0;
        for (let r = Math.max(2 * i - 1, 0); r < Math.min(2 * i + 2, h); r++)
          for (let q = Math.max(2 * j - 1, 0); q < Math.min(2 * j + 2, w); q++) {
            best = Math.max(best, xv[pl * h * w + r * w + q]);
            s += xv[pl * h * w + r * w + q];
          }
        max[(pl * P + i) * Q + j] = best;
        avg[(pl * P + i) * Q + j] = s / 9;
      }
  const options = { kernelSize: 3, stride: 2, padding: 1 };
  expectClose(F.maxPool2d(x, options).toTypedArray(), max, 'maxPool2d 3x3/2', 0, 0);
  expectClose(F.avgPool2d(x, options).toTypedArray(), avg, 'avgPool2d 3x3/2', 1e-6, 1e-6);
  // The average's input gradient (a window sum over the spread-out gradient): 1/9 of each window's
  // gradient value, scattered over its in-plane places.
  const xg = rand([n, c, h, w], 9).requiresGrad_();
  const g = rand([n, c, P, Q], 10);
  const gv = g.toTypedArray();
  F.sum(F.mul(F.avgPool2d(xg, options), g)).backward();
  const dx = new Float64Array(n * c * h * w);
  for (let pl = 0; pl < n * c; pl++)
    for (let i = 0; i < P; i++)
      for (let j = 0; j < Q; j++)
        for (let r = Math.max(2 * i - 1, 0); r < Math.min(2 * i + 2, h); r++)
          for (let q = Math.max(2 * j - 1, 0); q < Math.min(2 * j + 2, w); q++)
            dx[pl * h * w + r * w + q] += gv[(pl * P + i) * Q + j] / 9;
  expectClose(xg.grad.toTypedArray(), dx, 'avgPool2d 3x3/2 gradient', 1e-6, 1e-6);
}

// Batch norm with a fused hardswish (isa/norm.h) against hardswish after batch norm, in training:
// output and every gradient. The scale is wide, so values fall below -3, between, and above 3.
function bnHardswishCase([n, c, h, w]) {
  const run = (fused) => {
    const x = rand([n, c, h, w], 11).requiresGrad_();
    const weight = F.mul(rand([c], 12), 4)
      .detach()
      .requiresGrad_();
    const bias = rand([c], 13).requiresGrad_();
    const options = { weight, bias, training: true };
    const y = fused
      ? F.batchNorm2d(x, { ...options, hardswish: true })
      : F.hardswish(F.batchNorm2d(x, options));
    F.sum(F.mul(y, rand(y.shape, 14))).backward();
    return [y, x.grad, weight.grad, bias.grad].map((t) => t.toTypedArray());
  };
  const [fused, apart] = [run(true), run(false)];
  ['y', 'dx', 'dweight', 'dbias'].forEach((name, k) =>
    expectClose(fused[k], apart[k], `batchNorm2d + hardswish ${name}`, 1e-5, 1e-5),
  );
}

// The vector activations (isa/activation.h) over [-30, 30] against float64, and at NaN, +Inf and
// -Inf in every lane of a vector and its masked tail (PyTorch's outputs and gradients).
const sigmoid64 = (v) => 1 / (1 + Math.exp(-v));
const activations = {
  leakyRelu: [
    (x) => F.leakyRelu(x, 0.5),
    (v) => (v > 0 ? v : 0.5 * v),
    [Number.NaN, Infinity, -Infinity],
    [0.5, 1, 0.5],
  ],
  sigmoid: [F.sigmoid, sigmoid64, [Number.NaN, 1, 0], [Number.NaN, 0, 0]],
  tanh: [F.tanh, Math.tanh, [Number.NaN, 1, -1], [Number.NaN, 0, 0]],
  silu: [
    F.silu,
    (v) => v * sigmoid64(v),
    [Number.NaN, Infinity, Number.NaN],
    [Number.NaN, Number.NaN, Number.NaN],
  ],
  gelu: [F.gelu, null, [Number.NaN, Infinity, Number.NaN], [Number.NaN, Number.NaN, Number.NaN]],
  hardswish: [
    F.hardswish,
    (v) => (v * Math.min(Math.max(v + 3, 0), 6)) / 6,
    [Number.NaN, Infinity, Number.NaN],
    [1, 1, 0],
  ],
};
function activationCase(name) {
  const [op, f64, values, grads] = activations[name];
  if (f64) {
    const grid = Float32Array.from({ length: 1201 }, (_, i) => -30 + i / 20);
    const want = Float64Array.from(grid, f64);
    expectClose(op(tensor(grid)).toTypedArray(), want, `${name} on [-30, 30]`, 1e-30, 1e-6);
  }
  const specials = Float32Array.from({ length: 35 }, (_, i) => [Number.NaN, Infinity, -Infinity][i % 3]);
  const x = tensor(specials).requiresGrad_();
  const y = op(x);
  F.sum(y).backward();
  const yv = y.toTypedArray();
  const gv = x.grad.toTypedArray();
  for (let i = 0; i < specials.length; i++) {
    if (!Object.is(yv[i], Math.fround(values[i % 3])) || !Object.is(gv[i], Math.fround(grads[i % 3])))
      throw new Error(`${name}(${specials[i]}) = ${yv[i]} with gradient ${gv[i]}`);
  }
}

const tables = ['avx512', 'avx2', 'neon', 'base'].filter((name) => nativeTesting.selectSimd(name));
const started = Date.now();
for (const table of tables) {
  setSimd(table);
  for (const c of golden.cases) {
    check(c.name, () => goldenCase(c, false));
    if (c.inputs[0].shape.length >= 2) check(`${c.name} (non-contiguous input)`, () => goldenCase(c, true));
  }
  for (const shape of [
    [70, 300, 50],
    [1, 513, 33],
    [33, 260, 17],
  ])
    check(`gemm ${shape}`, () => gemmCase(...shape));
  for (const shape of [
    [2, 3, 16, 16, 8, 3, 3, 1],
    [1, 5, 9, 37, 13, 5, 5, 2],
    [2, 8, 10, 48, 24, 3, 3, 1],
    [3, 3, 17, 23, 11, 3, 3, 0],
  ])
    check(`conv fast path ${shape}`, () => convCase(shape));
  for (const shape of [
    [2, 3, 16, 16, 8],
    [2, 5, 9, 37, 13],
  ])
    check(`fused relu keeps NaN ${shape}`, () => reluNanCase(shape));
  for (const shape of [
    [2, 3, 28, 28],
    [1, 4, 9, 37],
    [1, 2, 2, 2],
  ])
    check(`maxPool2d 2x2 ${shape}`, () => poolCase(shape));
  for (const shape of [
    [2, 3, 17, 23],
    [1, 2, 32, 32],
  ])
    check(`pools 3x3/2 ${shape}`, () => windowPoolCase(shape));
  for (const name of Object.keys(activations)) check(`activation ${name}`, () => activationCase(name));
  for (const shape of [
    [4, 3, 5, 7],
    [2, 17, 8, 8],
  ])
    check(`batchNorm2d + hardswish ${shape}`, () => bnHardswishCase(shape));
}

for (const failure of failures) console.log(`FAIL ${failure}`);
console.log(
  `op table on ${process.arch} (${tables.join(', ')}; Node ${process.version}): ` +
    `${passed} passed, ${failures.length} failed in ${((Date.now() - started) / 1000).toFixed(1)} s`,
);
process.exitCode = failures.length === 0 && passed > 0 ? 0 : 1;
