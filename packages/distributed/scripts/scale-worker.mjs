// One process of the scaling measurement: trains seed-cnn or a ResNet-20 (CIFAR shape, written with the
// module API) on fixed random batches for a number of steps, with gradient allreduce when launched
// as a rank of a job. Rank 0 prints one JSON line: images/s of the job and the share of step time spent
// waiting for gradient communication. Usage: see scripts/scale.sh.
import '@dlf/autograd';
import { DistributedDataParallel, distributedEnv, initProcessGroup } from '@dlf/distributed';
import { crossEntropy } from '@dlf/loss';
import {
  AdaptiveAvgPool2d,
  BatchNorm2d,
  Conv2d,
  Flatten,
  Linear,
  Module,
  ReLU,
  relu,
  Sequential,
  seedCnn,
} from '@dlf/nn';
import { SGD } from '@dlf/optim';
import { add, Generator, getNumThreads, randint, randn, tidy } from '@dlf/tensor-core';

const job = JSON.parse(process.env.DLF_SCALE_JOB ?? '{}');
const env = distributedEnv();
const world = env?.worldSize ?? 1;
const g = new Generator(1);

class Block extends Module {
  constructor(inC, outC, stride) {
    super();
    this.c1 = this.registerModule(
      'c1',
      new Conv2d(inC, outC, 3, { stride, padding: 1, bias: false, generator: g }),
    );
    this.b1 = this.registerModule('b1', new BatchNorm2d(outC));
    this.c2 = this.registerModule('c2', new Conv2d(outC, outC, 3, { padding: 1, bias: false, generator: g }));
    this.b2 = this.registerModule('b2', new BatchNorm2d(outC));
    if (stride !== 1 || inC !== outC) {
      this.sc = this.registerModule('sc', new Conv2d(inC, outC, 1, { stride, bias: false, generator: g }));
      this.sb = this.registerModule('sb', new BatchNorm2d(outC));
    }
  }
  forward(x) {
    const y = this.b2.forward(this.c2.forward(relu(this.b1.forward(this.c1.forward(x)))));
    return relu(add(y, this.sc ? this.sb.forward(this.sc.forward(x)) : x));
  }
}

function resnet20() {
  const layers = [
    new Conv2d(3, 16, 3, { padding: 1, bias: false, generator: g }),
    new BatchNorm2d(16),
    new ReLU(),
  ];
  let c = 16;
  for (const [out, stride] of [
    [16, 1],
    [32, 2],
    [64, 2],
  ]) {
    for (let i = 0; i < 3; i++) {
      layers.push(new Block(c, out, i === 0 ? stride : 1));
      c = out;
    }
  }
  layers.push(new AdaptiveAvgPool2d(1), new Flatten(), new Linear(64, 10, { generator: g }));
  return new Sequential(...layers);
}

const model = job.model === 'resnet20' ? resnet20() : seedCnn({ classes: 10, seed: 1 });
const params = model.parameters();
const batch = job.batch ?? 32;
const x = randn([batch, 3, 32, 32], 0, 1, { generator: new Generator(10 + (env?.rank ?? 0)) });
const y = randint([batch], 0, 10, { generator: new Generator(20 + (env?.rank ?? 0)) });
const opt = new SGD(params, { lr: 0.01, momentum: 0.9 });
let group;
let ddp;
if (world > 1) {
  group = await initProcessGroup({
    rank: env.rank,
    worldSize: world,
    masterAddr: env.masterAddr,
    masterPort: env.masterPort,
    ...(job.iface ? { iface: job.iface } : {}),
  });
  ddp = new DistributedDataParallel(group, {
    overlap: job.overlap ?? true,
    ...(job.bucketBytes ? { bucketBytes: job.bucketBytes } : {}),
  });
  await ddp.broadcastParameters(params);
}
const warmup = job.warmup ?? 3;
const steps = job.steps ?? 20;
let started = 0;
for (let s = 0; s < warmup + steps; s++) {
  if (s === warmup) {
    if (ddp) {
      await ddp.barrier();
      ddp.commMs = 0;
    }
    started = performance.now();
  }
  let reduced;
  tidy(() => {
    opt.zeroGrad();
    const loss = crossEntropy(model.forward(x), y);
    // As fit() does: with DDP the gradient allreduce starts during backward (unless overlap: false).
    if (ddp) reduced = ddp.backward(loss, params, 1 / world);
    else loss.backward();
  });
  await reduced;
  tidy(() => opt.step());
}
if (ddp) await ddp.barrier();
const ms = performance.now() - started;
// Communication alone, without compute or stragglers: the gradient allreduce and a 4-byte allreduce.
let allreduceMs = 0;
let latencyUs = 0;
if (ddp) {
  const t0 = performance.now();
  for (let i = 0; i < 10; i++) await ddp.reduceGradients(params, 1);
  allreduceMs = (performance.now() - t0) / 10;
  const one = new Float32Array(1);
  const t1 = performance.now();
  for (let i = 0; i < 100; i++) await group.allreduce(one);
  latencyUs = ((performance.now() - t1) / 100) * 1000;
}
if ((env?.rank ?? 0) === 0) {
  const paramCount = params.reduce((a, p) => a + p.size, 0);
  console.log(
    JSON.stringify({
      model: job.model ?? 'seed-cnn',
      processes: world,
      overlap: ddp ? (job.overlap ?? true) : undefined,
      threads: getNumThreads(),
      globalBatch: batch * world,
      imagesPerSecond: Math.round((batch * world * steps) / (ms / 1000)),
      stepMs: +(ms / steps).toFixed(2),
      commShare: ddp ? +(ddp.commMs / ms).toFixed(3) : 0,
      commMsPerStep: ddp ? +(ddp.commMs / steps).toFixed(2) : 0,
      allreduceMs: +allreduceMs.toFixed(2),
      smallAllreduceUs: Math.round(latencyUs),
      gradientBytes: paramCount * 4,
    }),
  );
}
group?.close();
