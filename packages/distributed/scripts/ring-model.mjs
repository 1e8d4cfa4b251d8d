// The paper model of the README: data-parallel throughput and efficiency with ring allreduce, as this
// package runs it (gradients reduced after backward, no overlap). Per step and rank:
//   compute  t_c = b / r1                        (r1: one process's images/s, measured)
//   comm     T(p) = 2(p-1)·k·α + 2(p-1)/p · n/B  (k buckets, n gradient bytes, α per ring step, B link rate)
//   images/s = p·b / (t_c + T(p)),  efficiency = t_c / (t_c + T(p))
// Usage: node ring-model.mjs [alphaMicroseconds=50]
const alpha = Number(process.argv[2] ?? 50) * 1e-6;
const b = 32;
const models = [
  // r1 and n measured by scale.sh (1 process × 1 thread; gradient bytes); k = 1 MiB buckets.
  { name: 'seed-cnn', r1: 2613, n: 537_864, k: 1 },
  { name: 'ResNet-20', r1: 40, n: 1_089_896, k: 2 },
];
const rows = [['model', 'link', 'hosts', 'comm ms/step', 'images/s', 'efficiency']];
for (const m of models) {
  const tc = b / m.r1;
  for (const [link, B] of [
    ['1 Gbit/s', 125e6],
    ['10 Gbit/s', 1.25e9],
  ]) {
    for (const p of [2, 8, 64, 256]) {
      const T = 2 * (p - 1) * m.k * alpha + ((2 * (p - 1)) / p) * (m.n / B);
      rows.push([
        m.name,
        link,
        p,
        (T * 1000).toFixed(2),
        Math.round((p * b) / (tc + T)),
        `${((100 * tc) / (tc + T)).toFixed(0)} %`,
      ]);
    }
  }
}
for (const r of rows) console.log(`| ${r.join(' | ')} |`);
