// A user of @dlf/nn alone (no optimiser package): fits a linear layer to a linear target with plain
// gradient descent for a few steps and checks the loss fell. Run by scripts/portable/packed-install.sh.
import { Linear, mean, mul, sub } from '@dlf/nn';
import { randn, tidy } from '@dlf/tensor-core';

const layer = new Linear(4, 1);
const x = randn([64, 4]);
const y = x.matmul(randn([4, 1]));
const losses = [];
for (let step = 0; step < 30; step++) {
  tidy(() => {
    const diff = sub(layer.forward(x), y);
    const loss = mean(mul(diff, diff));
    loss.backward();
    for (const p of layer.parameters()) p.write(p.sub(p.grad.mul(0.1)).toTypedArray());
    layer.zeroGrad();
    losses.push(loss.item());
  });
}
const [first, last] = [losses[0], losses.at(-1)];
console.log(`@dlf/nn alone: loss ${first.toFixed(4)} -> ${last.toFixed(4)} in ${losses.length} steps`);
if (!(last < first / 4)) throw new Error('the loss did not fall');
