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
 * Evaluation mode: the model as it runs (BatchNorm2d folded into convs, activations, pools and
 * residual adds fused, runs of 1x1 and depthwise convs as one op), so per fused group rather than
 * per layer: each group a Sequential or GraphModule (nested ones too) reports through its `onLayer`
 * hook, timed in place during whole forward passes without gradients, the fastest of `reps` passes.
 * Rows as profileModel's, forward only, in the order the groups run.
 */
export function profileInference({ core, nn }, model, xShape, { warmup = 2, reps = 7, cpu = false } = {}) {
  const { randn, tidy } = core;
  // Every module that reports groups, with its path ("" for the model, "5.body." inside).
  const containers = new Map();
  const walk = (m, path) => {
    if (Array.isArray(m.layers) && 'onLayer' in m) containers.set(m, path);
    for (const [name, child] of m.namedChildren()) walk(child, `${path}${name}.`);
  };
  walk(model, '');
  const holdsContainer = (m) => m.modules().some((d) => containers.has(d));
  const x = randn(xShape);
  try {
    // The convs' and linears' input shapes (for their multiply-adds), with fusion off so that each
    // runs its own forward.
    const shapes = new Map();
    const originals = ['Conv2d', 'Linear'].map((type) => {
      const proto = nn[type].prototype;
      const original = proto.forward;
      proto.forward = function recorded(input, options) {
        if (!shapes.has(this)) shapes.set(this, { type, shape: [...input.shape] });
        return original.call(this, input, options);
      };
      return [proto, original];
    });
    const fuse = [...containers.keys()].map((c) => [c, c.fuse]);
    for (const [c] of fuse) c.fuse = false;
    try {
      nn.noGrad(() => model.forward(x)).dispose();
    } finally {
      for (const [c, f] of fuse) c.fuse = f;
      for (const [proto, original] of originals) proto.forward = original;
    }
    const now = cpu
      ? () => {
          const u = process.cpuUsage();
          return (u.user + u.system) / 1000;
        }
      : () => performance.now();
    // Groups by container and index; a group holding a nested container is timed by that one's.
    const groups = new Map();
    const boundaries = new Map(); // every index a container reported, nested containers' too
    let pass = new Map();
    const hooks = [...containers.keys()].map((c) => [c, c.onLayer]);
    for (const [c] of hooks) {
      const starts = new Map();
      c.onLayer = (i, layer, phase) => {
        if (!boundaries.has(c)) boundaries.set(c, new Set());
        boundaries.get(c).add(i);
        if (holdsContainer(layer)) return;
        const key = `${containers.get(c)}${i}`;
        if (!groups.has(key)) groups.set(key, { container: c, index: i, best: Number.POSITIVE_INFINITY });
        if (phase === 'start') starts.set(i, now());
        else pass.set(key, (pass.get(key) ?? 0) + now() - starts.get(i));
      };
    }
    try {
      for (let r = 0; r < warmup + reps; r++) {
        pass = new Map();
        tidy(() => nn.noGrad(() => model.forward(x)).dispose());
        if (r < warmup) continue;
        for (const [key, ms] of pass) groups.get(key).best = Math.min(groups.get(key).best, ms);
      }
    } finally {
      for (const [c, hook] of hooks) c.onLayer = hook;
    }
    // A group reports under its first layer; the layers up to the container's next report ran
    // inside it. In a Sequential those are its members; in a graph's topological order another
    // branch's layers may sit between a layer and what fused with it, so there only the reporting
    // layer is named (the multiply-adds still come out right: a conv that runs as a group of its
    // own reports itself).
    return [...groups].map(([key, g]) => {
      const list = [...boundaries.get(g.container)].sort((a, b) => a - b);
      const next = list[list.indexOf(g.index) + 1] ?? g.container.layers.length;
      const span = g.container.layers.slice(g.index, next);
      const first = shapes.get(span[0]);
      const head = first ? describeLayer(first.type, span[0]) : '';
      const name = [`${span[0].constructor.name}${head ? ` ${head}` : ''}`];
      if (g.container instanceof nn.Sequential) name.push(...span.slice(1).map((l) => l.constructor.name));
      else if (span.length > 1) name.push('fused');
      // The group's convs and linears, those inside its modules too (a squeeze-and-excite block's).
      const macs = span
        .flatMap((l) => l.modules())
        .reduce((sum, l) => {
          const call = shapes.get(l);
          return sum + (call ? macsOf({ ...call, layer: l }) : 0);
        }, 0);
      return {
        layer: `${key}: ${name.join('+')}${first ? ` in ${first.shape.join('x')}` : ''}`,
        count: 1,
        macs,
        fwdMs: g.best,
        dataMs: null,
        weightsMs: null,
      };
    });
  } finally {
    x.dispose();
  }
}

/**
 * The profile as a text table; GFLOP/s and % of `threads` cores' FMA peak (`peakPerCore` GFLOP/s
 * each, from measurePeakPerCore; `isa` names the kernel table) for layers with MACs.
 */
export function formatProfile(rows, threads, { cpu = false, peakPerCore, isa, inference = false }) {
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
  if (inference) for (const cells of [header, ...body]) cells.splice(4); // forward only
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
  const line = (cells) =>
    cells
      .map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i])))
      .join('  ')
      .trimEnd();
  const units = inference
    ? 'per fused group as the model runs it, fastest of 7 forward passes'
    : 'per layer call, fastest of 7 runs';
  const notes = inference
    ? [
        'eval mode: a row is what runs as one step: BatchNorm2d folded into the conv before it, activations, pools and',
        'residual adds fused, a run of 1x1 and depthwise convs (+ BN + activation) as one op; MMAC sums its convs.',
        "Work outside the groups (a hand-written module's own ops around nested ones) is not shown.",
      ]
    : [
        'bwd-data: the input gradient alone; bwd-weights: the parameter gradients alone (BN: both);',
        'BatchNorm2d (+ activation) + depthwise conv (+ BatchNorm2d) runs fused in training, but is timed here layer by layer;',
        'for BN and pools bwd-data includes what the layer does for its input gradient.',
      ];
  return [
    `${units} in ms of ${cpu ? 'CPU' : 'wall'} time; GF = GFLOP/s (direct-convolution FLOPs), % of ${peak.toFixed(0)} GFLOP/s (${threads} x ${peakPerCore.toFixed(0)} measured, ${isa} FMA peak)`,
    line(header),
    line(widths.map((w) => '-'.repeat(w))),
    ...body.map(line),
    ...notes,
  ].join('\n');
}
