const core = await import('@dlf/tensor-core');
const nn = await import('@dlf/nn');
const { testing } = await import('@dlf/native/testing');
core.setNumThreads(Number(process.env.T ?? 1));
const e = (k, d) => Number(process.env[k] ?? d);
const N = e('N', 64), C = e('C', 16), K = e('K', 16), H = e('H', 32), R = e('R', 3), G = e('G', 1), S = e('S', 1);
const gen = new core.Generator(1);
const x0 = core.randn([N, C, H, H], 0, 1, { generator: gen }); const x = process.env.NODX ? x0 : x0.requiresGrad_();
const w = core.randn([K, C / G, R, R], 0, 1, { generator: gen }).requiresGrad_();
const opts = { padding: (R - 1) >> 1, groups: G, stride: S };
function step(mode) { core.tidy(() => stepInner(mode)); }
function stepInner(mode) {
  const y = nn.conv2d(x, w, undefined, opts);
  if (mode === 'fwd') { y.dispose(); return; }
  const g = core.onesLike ? core.onesLike(y) : core.ones(y.shape);
  core.sum(core.mul(y, g)).backward();
  x.zeroGrad(); w.zeroGrad();
}
for (const wino of (process.env.BOTH ? [true, false] : [true])) {
  testing.setConvWinograd(wino);
  for (const mode of ['fwd', 'train']) {
    for (let i = 0; i < 3; i++) step(mode);
    const ts = [];
    for (let i = 0; i < e('ITERS', 15); i++) { const t0 = process.hrtime.bigint(); step(mode); ts.push(Number(process.hrtime.bigint() - t0) / 1e6); }
    ts.sort((a, b) => a - b);
    const P = Math.floor((H + 2 * ((R - 1) >> 1) - R) / S) + 1;
    const gf = (2 * N * K * (C / G) * R * R * P * P * (mode === 'fwd' ? 1 : 3)) / (ts[0] * 1e6);
    console.log(`wino=${wino} ${mode} N${N} C${C} K${K} H${H} R${R} S${S} G${G}: min ${ts[0].toFixed(2)} med ${ts[ts.length >> 1].toFixed(2)} ms ${gf.toFixed(0)} GF/s`);
  }
}
