// A TypeScript user of the packed packages: must typecheck with strict settings and NodeNext.
import { Conv2d, Flatten, Linear, MaxPool2d, ReLU, Sequential, summary } from '@dlf/nn';
import { randn, type Tensor, tidy } from '@dlf/tensor-core';

const model = new Sequential(
  new Conv2d(1, 4, 3, { padding: 1 }),
  new ReLU(),
  new MaxPool2d(2),
  new Flatten(),
  new Linear(4 * 4 * 4, 10),
);
const logits: Tensor = tidy(() => model.forward(randn([2, 1, 8, 8])));
const shape: readonly number[] = logits.shape;
const parameters: number = summary(model, [1, 8, 8]).totalParams;
console.log(shape, parameters);
