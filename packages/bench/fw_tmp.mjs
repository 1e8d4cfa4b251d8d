const core = await import('@dlf/tensor-core');
const nn = await import('@dlf/nn');
core.setNumThreads(1);
const e = (k, d) => Number(process.env[k] ?? d);
const N = e('N', 64), C = e('C', 16), K = e('K', 16), H = e('H', 32);
const gen = new core.Generator(1);
const x = core.randn([N, C, H, H], 0, 1, { generator: gen });
const w = core.randn([K, C, 3, 3], 0, 1, { generator: gen });
const t0 = performance.now();
let n = 0;
while (performance.now() - t0 < e('SEC', 5) * 1000) { nn.conv2d(x, w, undefined, { padding: 1 }).dispose(); n++; }
console.log(((performance.now() - t0) / n).toFixed(3), 'ms/fwd');
