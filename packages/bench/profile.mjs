// `dlf_bench.mjs --profile`: per-layer time, GFLOP/s and % of the machine's FMA peak, dlf side.
//
// One forward pass records every leaf layer call (its type, input shape and fused options). Each
// distinct call is then timed on its own, on fresh tensors of the same shapes: the forward pass; the
// backward pass producing only the input gradient ("bwd-data"); and the one producing only the
// parameter gradients ("bwd-weights"). Backward runs again and again over one retained graph, so its
// time excludes the forward. GFLOP/s counts direct-convolution FLOPs (2 per multiply-add), the same
// count for all three passes; layers without multiply-adds show time only.

import { nn as native } from '@dlf/native/nn';

// The machine's practical fp32 FMA peak per core, measured with the kernel table in use (chained
// FMAs, the best of three ~50 ms runs): the "% of peak" denominator.
export function measurePeakPerCore(testing) {
  return Math.max(testing.measureFmaPeak(), testing.measureFmaPeak(), testing.measureFmaPeak());
}

// The fastest of `reps` calls of fn after `warmup` calls, in ms: on a shared machine the minimum is
// the least disturbed estimate of what the kernel costs (a median still moves with the load). With
// `cpu`, the process's CPU time instead of wall time: at 1 thread it ignores time spent descheduled.
// `before` runs ahead of every call, untimed.
function timeMs(fn, { warmup = 2, reps = 7, cpu = false } = {}, before = () => {}) {
  for (let i = 0; i < warmup; i++) {
    before();
    fn();
  }
  const samples = [];
  for (let r = 0; r < reps; r++) {
    before();
    if (cpu) {
      const t = process.cpuUsage();
      fn();
      const d = process.cpuUsage(t);
      samples.push((d.user + d.system) / 1000);
    } else {
      const t = performance.now();
      fn();
      samples.push(performance.now() - t);
    }
  }
  return Math.min(...samples);
}

/** Records the leaf layer calls of one forward pass of `model` on x. */
function recordCalls(nn, model, x) {
  const calls = new Map();
  const leafTypes = ['Conv2d', 'Linear', 'BatchNorm2d', 'MaxPool2d', 'AdaptiveAvgPool2d', 'ReLU'];
  const originals = [];
  for (const type of leafTypes) {
    const proto = nn[type].prototype;
    const original = proto.forward;
    originals.push([proto, original]);
    proto.forward = function recorded(input, options) {
      const key = `${type} ${JSON.stringify(input.shape)} ${describeLayer(type, this, options)}`;
      const entry = calls.get(key);
      // A residual join's tensor is freed after the pass: keep its shape, and time with a fresh one.
      const { residual, ...rest } = options ?? {};
      if (entry) entry.count++;
      else
        calls.set(key, {
          type,
          layer: this,
          shape: [...input.shape],
          options: rest,
          residualShape: residual ? [...residual.shape] : null,
          count: 1,
        });
      return original.call(this, input, options);
    };
  }
  // The training op that runs BatchNorm2d (+ activation) and a depthwise conv together calls no
  // layer's forward: switched off while recording, so that those layers are recorded (and timed)
  // one by one too.
  const applies = native.batchNormDepthwiseApplies;
  native.batchNormDepthwiseApplies = () => false;
  try {
    nn.noGrad(() => model.forward(x)).dispose();
  } finally {
    for (const [proto, original] of originals) proto.forward = original;
    native.batchNormDepthwiseApplies = applies;
  }
  return [...calls.values()];
}

function describeLayer(type, layer, options = {}) {
  const add = options.residual || options.residualShape ? '+add' : '';
  if (type === 'BatchNorm2d')
    return `${add}${options.relu ? '+relu' : ''}${options.maxPool2x2 ? '+pool' : ''}`;
  if (type === 'Conv2d') {
    const fused = options.maxPool2x2 ? '+relu+pool' : `${add}${options.relu ? '+relu' : ''}`;
    return (
      `${layer.inChannels}->${layer.outChannels} k${layer.kernelSize[0]} s${layer.stride[0]}` +
      `${layer.groups > 1 ? ` g${layer.groups}` : ''}${fused}`
    );
  }
  if (type === 'Linear') return `${layer.inFeatures}->${layer.outFeatures}${options.relu ? '+relu' : ''}`;
  return '';
}

function macsOf(call) {
  const { type, layer, shape } = call;
  if (type === 'Conv2d') return layer.describe(shape.slice(1)).macs * shape[0];
  if (type === 'Linear') return layer.inFeatures * layer.outFeatures * shape[0];
  return 0;
}

/**
 * Times every distinct layer call of `model` at input shape xShape; returns rows
 * { layer, count, macs, fwdMs, dataMs, weightsMs } (per call, ms; null where a pass does not apply).
 */
export function profileModel({ core, nn }, model, xShape, timing = {}) {
  const { randn, tidy } = core;
  const x = randn(xShape);
  const calls = recordCalls(nn, model, x);
  x.dispose();
  const rows = [];
  for (const call of calls) {
    const params = call.layer.parameters();
    const options = () =>
      call.residualShape ? { ...call.options, residual: randn(call.residualShape) } : call.options;
    const time = (wantInput, wantParams) =>
      tidy(() => {
        const input = randn(call.shape);
        if (wantInput) input.requiresGrad_();
        for (const p of params) p.requiresGrad_(wantParams);
        const y = call.layer.forward(input, options());
        const g = randn(y.shape);
        // Gradients are dropped between calls, as a training step's zeroGrad does: left in place, each
        // call after the first added its gradient into the last one's, a pass over the tensor that a
        // step does not make (it doubled the input gradient of memory-bound layers).
        const dropGradients = () => {
          input.zeroGrad();
          for (const p of params) p.zeroGrad();
        };
        return timeMs(() => y.backward({ grad: g, retainGraph: true }), timing, dropGradients);
      });
    const fwdMs = tidy(() => {
      const input = randn(call.shape);
      const opts = options();
      return timeMs(() => nn.noGrad(() => call.layer.forward(input, opts)).dispose(), timing);
    });
    const dataMs = time(true, false);
    const weightsMs = params.length > 0 ? time(false, true) : null;
    for (const p of params) p.requiresGrad_(true);
    rows.push({
      layer:
        `${call.type} ${describeLayer(call.type, call.layer, { ...call.options, residualShape: call.residualShape })} in ${call.shape.join('x')}`.trim(),
      count: call.count,
      macs: macsOf(call),
      fwdMs,
      dataMs,
      weightsMs,
    });
  }
  return rows;
}

/**
 * The profile as a text table; GFLOP/s and % of `threads` cores' FMA peak (`peakPerCore` GFLOP/s
 * each, from measurePeakPerCore; `isa` names the kernel table) for layers with MACs.
 */
export function formatProfile(rows, threads, { cpu = false, peakPerCore, isa }) {
  const peak = peakPerCore * threads;
  const cell = (ms, macs) => {
    if (ms === null) return '—';
    if (!macs) return `${ms.toFixed(3)} ms`;
    const gflops = (2 * macs) / (ms * 1e6);
    return `${ms.toFixed(3)} ms ${gflops.toFixed(1)} GF ${((100 * gflops) / peak).toFixed(0)}%`;
  };
  const header = ['layer', 'n', 'MMAC', 'forward', 'bwd-data', 'bwd-weights'];
  const body = rows.map((r) => [
    r.layer,
    String(r.count),
    (r.macs / 1e6).toFixed(1),
    cell(r.fwdMs, r.macs),
    cell(r.dataMs, r.macs),
    cell(r.weightsMs, r.macs),
  ]);
  const total = (k) => rows.reduce((s, r) => s + r.count * (r[k] ?? 0), 0);
  body.push([
    'total (x n)',
    '',
    '',
    `${total('fwdMs').toFixed(2)} ms`,
    `${total('dataMs').toFixed(2)} ms`,
    `${total('weightsMs').toFixed(2)} ms`,
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
  const line = (cells) =>
    cells
      .map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i])))
      .join('  ')
      .trimEnd();
  return [
    `per layer call, fastest of 7 runs in ms of ${cpu ? 'CPU' : 'wall'} time; GF = GFLOP/s (direct-convolution FLOPs), % of ${peak.toFixed(0)} GFLOP/s (${threads} x ${peakPerCore.toFixed(0)} measured, ${isa} FMA peak)`,
    line(header),
    line(widths.map((w) => '-'.repeat(w))),
    ...body.map(line),
    'bwd-data: the input gradient alone; bwd-weights: the parameter gradients alone (BN: both);',
    'BatchNorm2d (+ activation) + depthwise conv (+ BatchNorm2d) runs fused in training, but is timed here layer by layer;',
    'for BN and pools bwd-data includes what the layer does for its input gradient.',
  ].join('\n');
}
