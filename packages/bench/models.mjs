// The benchmark zoo, dlf side: the same architectures as torch_models.py, built with the library API
// (Sequential, hand-written inverted residual blocks, and the zoo's GraphModule ResNet). Every model takes (N, 3, S, S)
// (S = 32 unless --size sets it; seed-cnn needs a multiple of 4, vgg-bn at least 8) and ends in 10 logits. Convolutions followed by BatchNorm have no bias, as in the PyTorch models.
//
//   seed-cnn   nn.seedCnn: 3x3 convs of 8-16 channels, fused ReLU + pool, two linear layers
//   vgg-bn     VGG-style: (3x3 conv, BN, ReLU) x2 per stage, 32-64-128 channels, 2x2 max pools
//   resnet20   nn.cifarResNet(20), ResNet-20 for CIFAR (He et al. 2016): 3 stages of 3 basic blocks,
//              16-32-64 channels, 1x1 conv + BN projection shortcuts where the shape changes (~0.27M parameters)
//   mobilenet  MobileNetV2-style: inverted residuals (1x1 expand, 3x3 depthwise, 1x1 project) for 32x32
//   allconv    (extra) all-convolutional: (3x3 conv, BN, ReLU) x6, 32-64-128 channels, stride-2 convs
//              where a VGG pools, global average pool
//   resnetw    (extra) ResNet of 2 basic blocks a stage at 32-64-128 channels (hand-written Residual)
//   oddnet     (extra) channel counts off every block size: a 5x5 stem to 24, 3x3 layers at 24-40-72
//              (one grouped), max pools, a 1x1 to 100, global average pool
//   vgg11      (extra) VGG-11 with BN for CIFAR: 64-128-256-512-512 channels, four 2x2 max pools, then a
//              global average pool (the last two layers on 2x2 planes at 32x32 input)
//   lenet      (extra) LeNet-5-style: unpadded 5x5 convs (6, 16 channels, bias), ReLU, max pools, three
//              linear layers (120, 84, 10)
//   simplecnn  (extra) the tutorial CNN: unpadded 3x3 convs to 32 and 64 channels, a max pool, dropout,
//              Linear(to 128), dropout, Linear(128 -> 10)
//   bottleneck (extra) ResNet bottleneck blocks (1x1 reduce, 3x3, 1x1 expand x4): a 3x3 stem to 32, 2 blocks
//              a stage at 64-128-256 channels (16-32-64 inside), projection shortcuts
//   quick5     (extra) the classic quick CIFAR CNN: 5x5 convs with bias at 32, 32, 64 channels, ReLU, 2x2
//              max pools, Linear(to 64), Linear(64 -> 10)
//   vgg5       (extra) vgg-bn's plan with one (5x5 conv, BN, ReLU) a stage at 32-64-128 channels
//   stem7      (extra) a 7x7 stride-2 stem to 32 channels with BN (meant for --size 64), max pool,
//              (3x3 conv, BN, ReLU) at 64, 64 (then a max pool), 128 channels, global average pool
//   leakyvgg   (extra) vgg-bn with LeakyReLU(0.1) in place of ReLU (nothing for BN to fuse)
//   siluavg    (extra) vgg-bn with SiLU in place of ReLU and 2x2 average pools in place of max pools
//   mnv3       (extra) MobileNetV3-style for 32x32: inverted residuals with 3x3 and 5x5 depthwise convs,
//              hardswish, squeeze-and-excitation (global average pool, two 1x1 convs, sigmoid gate)
//   mnv2       (extra) MobileNetV2-style for 32x32: inverted residuals (1x1 expand, 3x3 depthwise, 1x1
//              linear bottleneck) with ReLU6, 16-96 channels expanded 6x, a 1x1 conv to 640
export const MODELS = ['seed-cnn', 'vgg-bn', 'resnet20', 'mobilenet'];
// Beyond the zoo (`--models all` runs the zoo only): CNNs of the same kind built differently, to
// check that the speed carries over (allconv downsamples with stride-2 convolutions instead of
// pooling; resnetw is a wider, shallower ResNet: 32-64-128 channels, 2 blocks a stage; oddnet's
// channel counts are multiples of no vector or block width; lenet and simplecnn are the classic
// small CNNs without batch norm or padding; quick5 and vgg5 are built of 5x5 convolutions; stem7
// starts like an ImageNet ResNet; leakyvgg and siluavg are vgg-bn with other activations and pools).
export const EXTRA_MODELS = [
  'allconv',
  'resnetw',
  'oddnet',
  'vgg11',
  'lenet',
  'simplecnn',
  'stem7',
  'bottleneck',
  'quick5',
  'vgg5',
  'leakyvgg',
  'siluavg',
  'mnv3',
  'mnv2',
];
export const ALL_MODELS = [...MODELS, ...EXTRA_MODELS];
// mnv3's blocks (as torch_models.py's): kernel, expanded channels, output channels, squeeze-and-excite,
// hardswish (else ReLU), stride; MobileNetV3-Small's plan with strides for 32x32 input.
// mnv2's stages (as torch_models.py's): expansion, output channels, blocks, first block's stride.
const MNV2_STAGES = [
  [1, 16, 1, 1],
  [6, 24, 2, 2],
  [6, 32, 3, 2],
  [6, 64, 2, 2],
  [6, 96, 2, 1],
];
const MNV3_BLOCKS = [
  [3, 16, 16, true, false, 1],
  [3, 72, 24, false, false, 2],
  [3, 88, 24, false, false, 1],
  [5, 96, 40, true, true, 2],
  [5, 240, 40, true, true, 1],
  [5, 120, 48, true, true, 1],
  [5, 288, 96, true, true, 2],
  [5, 576, 96, true, true, 1],
];
export const CLASSES = 10;

/** Builds one zoo model from the loaded dlf packages (`nn`, `core` = @dlf/nn, @dlf/tensor-core). */
export function buildModel(name, { nn, core, size = 32 }) {
  const { Sequential, Conv2d, BatchNorm2d, ReLU, MaxPool2d, Flatten, Linear, AdaptiveAvgPool2d, Module } = nn;
  const generator = new core.Generator(0);
  const conv = (cin, cout, k, stride = 1, groups = 1) =>
    new Conv2d(cin, cout, k, { stride, padding: (k - 1) >> 1, groups, bias: false, generator });
  const convBnRelu = (cin, cout, k, stride = 1, groups = 1) => [
    conv(cin, cout, k, stride, groups),
    new BatchNorm2d(cout),
    new ReLU(),
  ];

  // The side of a plane after three 2x2 max pools.
  const pooled3 = Math.floor(size / 8);
  // VGG-style stages at 32, 64, 128 channels: `convs` (k x k conv, BN, activation) then a 2x2 pool
  // each (ReLU and max pools unless given).
  const vggBn = (k, convs, activation = () => new ReLU(), pool = () => new MaxPool2d(2)) => {
    const layers = [];
    let cin = 3;
    for (const cout of [32, 64, 128]) {
      for (let i = 0; i < convs; i++)
        layers.push(conv(i === 0 ? cin : cout, cout, k), new BatchNorm2d(cout), activation());
      layers.push(pool());
      cin = cout;
    }
    return new Sequential(
      ...layers,
      new Flatten(),
      new Linear(128 * pooled3 * pooled3, CLASSES, { generator }),
    );
  };

  // out = relu(body(x) + shortcut(x)), the shortcut the identity or a projection.
  class Residual extends Module {
    constructor(body, shortcut, relu) {
      super();
      this.body = this.registerModule('body', body);
      this.shortcut = shortcut ? this.registerModule('shortcut', shortcut) : null;
      this.relu = relu;
    }
    forward(x) {
      return core.tidy(() => {
        const y = this.body.forward(x);
        const s = this.shortcut ? this.shortcut.forward(x) : x;
        // relu(y + s) as one pass, as GraphModule (and the zoo's cifarResNet) runs a residual join
        return this.relu ? nn.addRelu(y, s) : core.add(y, s);
      });
    }
    describe(inputShape) {
      const d = this.body.describe(inputShape);
      const s = this.shortcut ? this.shortcut.describe(inputShape).macs : 0;
      return { outputShape: d.outputShape, macs: d.macs + s };
    }
  }

  switch (name) {
    case 'seed-cnn':
      return nn.seedCnn({ classes: CLASSES, seed: 0, inputSize: size });
    case 'vgg-bn':
      return vggBn(3, 2);
    case 'leakyvgg':
      return vggBn(3, 2, () => new nn.LeakyReLU(0.1));
    case 'siluavg':
      return vggBn(
        3,
        2,
        () => new nn.SiLU(),
        () => new nn.AvgPool2d(2),
      );
    case 'resnet20':
      // The library's own graph model (GraphModule): what a user describing a residual net writes
      // since graph models landed, and the same architecture as torch_models.py (272,474 parameters).
      return nn.cifarResNet(20, { classes: CLASSES, seed: 0 });
    case 'mobilenet': {
      // (expansion t, output channels c, repeats n, first stride s), CIFAR-sized (no stem stride).
      const settings = [
        [1, 16, 1, 1],
        [6, 24, 2, 1],
        [6, 32, 3, 2],
        [6, 64, 3, 2],
        [6, 96, 2, 1],
      ];
      const blocks = [];
      let cin = 32;
      for (const [t, c, n, s] of settings) {
        for (let i = 0; i < n; i++) {
          const stride = i === 0 ? s : 1;
          const hidden = cin * t;
          const body = new Sequential(
            ...(t === 1 ? [] : convBnRelu(cin, hidden, 1)),
            ...convBnRelu(hidden, hidden, 3, stride, hidden),
            conv(hidden, c, 1),
            new BatchNorm2d(c),
          );
          blocks.push(stride === 1 && cin === c ? new Residual(body, null, false) : body);
          cin = c;
        }
      }
      return new Sequential(
        ...convBnRelu(3, 32, 3),
        ...blocks,
        ...convBnRelu(cin, 256, 1),
        new AdaptiveAvgPool2d(1),
        new Flatten(),
        new Linear(256, CLASSES, { generator }),
      );
    }
    case 'allconv': {
      const layers = [...convBnRelu(3, 32, 3)];
      let cin = 32;
      for (const [cout, stride] of [
        [32, 1],
        [64, 2],
        [64, 1],
        [128, 2],
        [128, 1],
      ]) {
        layers.push(...convBnRelu(cin, cout, 3, stride));
        cin = cout;
      }
      return new Sequential(
        ...layers,
        new AdaptiveAvgPool2d(1),
        new Flatten(),
        new Linear(128, CLASSES, { generator }),
      );
    }
    case 'oddnet':
      return new Sequential(
        ...convBnRelu(3, 24, 5),
        ...convBnRelu(24, 24, 3),
        new MaxPool2d(2),
        ...convBnRelu(24, 40, 3),
        ...convBnRelu(40, 40, 3, 1, 4),
        new MaxPool2d(2),
        ...convBnRelu(40, 72, 3),
        ...convBnRelu(72, 72, 3),
        ...convBnRelu(72, 100, 1),
        new AdaptiveAvgPool2d(1),
        new Flatten(),
        new Linear(100, CLASSES, { generator }),
      );
    case 'vgg11': {
      const layers = [];
      let cin = 3;
      for (const v of [64, 'M', 128, 'M', 256, 256, 'M', 512, 512, 'M', 512, 512]) {
        if (v === 'M') {
          layers.push(new MaxPool2d(2));
        } else {
          layers.push(...convBnRelu(cin, v, 3));
          cin = v;
        }
      }
      return new Sequential(
        ...layers,
        new AdaptiveAvgPool2d(1),
        new Flatten(),
        new Linear(512, CLASSES, { generator }),
      );
    }
    case 'resnetw': {
      const basic = (cin, cout, stride) => {
        const body = new Sequential(
          ...convBnRelu(cin, cout, 3, stride),
          conv(cout, cout, 3),
          new BatchNorm2d(cout),
        );
        const projection = stride !== 1 || cin !== cout;
        const shortcut = projection
          ? new Sequential(conv(cin, cout, 1, stride), new BatchNorm2d(cout))
          : null;
        return new Residual(body, shortcut, true);
      };
      const blocks = [];
      let cin = 32;
      for (const [cout, stride] of [
        [32, 1],
        [64, 2],
        [128, 2],
      ]) {
        for (let i = 0; i < 2; i++) {
          blocks.push(basic(cin, cout, i === 0 ? stride : 1));
          cin = cout;
        }
      }
      const head = [new AdaptiveAvgPool2d(1), new Flatten(), new Linear(128, CLASSES, { generator })];
      return new Sequential(...convBnRelu(3, 32, 3), ...blocks, ...head);
    }
    case 'bottleneck': {
      // ResNet bottleneck blocks (1x1 reduce, 3x3, 1x1 expand x4) for CIFAR: 2 blocks a stage
      const block = (cin, mid, stride) => {
        const cout = 4 * mid;
        const body = new Sequential(
          ...convBnRelu(cin, mid, 1),
          ...convBnRelu(mid, mid, 3, stride),
          conv(mid, cout, 1),
          new BatchNorm2d(cout),
        );
        const projection = stride !== 1 || cin !== cout;
        return new Residual(
          body,
          projection ? new Sequential(conv(cin, cout, 1, stride), new BatchNorm2d(cout)) : null,
          true,
        );
      };
      const blocks = [];
      let cin = 32;
      for (const [mid, stride] of [
        [16, 1],
        [32, 2],
        [64, 2],
      ]) {
        for (let i = 0; i < 2; i++) {
          blocks.push(block(cin, mid, i === 0 ? stride : 1));
          cin = 4 * mid;
        }
      }
      const head = [new AdaptiveAvgPool2d(1), new Flatten(), new Linear(cin, CLASSES, { generator })];
      return new Sequential(...convBnRelu(3, 32, 3), ...blocks, ...head);
    }
    case 'lenet': {
      // LeNet-5-style: unpadded 5x5 convolutions with bias, ReLU, max pools, a three-layer classifier
      const side = Math.floor((Math.floor((size - 4) / 2) - 4) / 2);
      return new Sequential(
        new Conv2d(3, 6, 5, { generator }),
        new ReLU(),
        new MaxPool2d(2),
        new Conv2d(6, 16, 5, { generator }),
        new ReLU(),
        new MaxPool2d(2),
        new Flatten(),
        new Linear(16 * side * side, 120, { generator }),
        new ReLU(),
        new Linear(120, 84, { generator }),
        new ReLU(),
        new Linear(84, CLASSES, { generator }),
      );
    }
    case 'simplecnn': {
      // the tutorial CNN: two unpadded 3x3 convolutions with bias, a max pool, dropout, a wide linear layer
      const side = Math.floor((size - 4) / 2);
      return new Sequential(
        new Conv2d(3, 32, 3, { generator }),
        new ReLU(),
        new Conv2d(32, 64, 3, { generator }),
        new ReLU(),
        new MaxPool2d(2),
        new nn.Dropout(0.25),
        new Flatten(),
        new Linear(64 * side * side, 128, { generator }),
        new ReLU(),
        new nn.Dropout(0.5),
        new Linear(128, CLASSES, { generator }),
      );
    }
    case 'quick5': {
      // the classic quick CIFAR CNN (Caffe's cifar10_quick, 2x2 pools): 5x5 convolutions with bias
      const c5 = (cin, cout) => [
        new Conv2d(cin, cout, 5, { padding: 2, generator }),
        new ReLU(),
        new MaxPool2d(2),
      ];
      return new Sequential(
        ...c5(3, 32),
        ...c5(32, 32),
        ...c5(32, 64),
        new Flatten(),
        new Linear(64 * pooled3 * pooled3, 64, { generator }),
        new ReLU(),
        new Linear(64, CLASSES, { generator }),
      );
    }
    case 'vgg5':
      // vgg-bn's plan with one 5x5 (conv, BN, ReLU) a stage
      return vggBn(5, 1);
    case 'mnv3': {
      // x * sigmoid(conv(relu(conv(gap(x))))): the channel gate of a squeeze-and-excitation block
      class SqueezeExcite extends Module {
        constructor(c) {
          super();
          const squeezed = Math.max(8, Math.round(c / 4 / 8) * 8);
          this.reduce = this.registerModule('reduce', new Conv2d(c, squeezed, 1, { generator }));
          this.expand = this.registerModule('expand', new Conv2d(squeezed, c, 1, { generator }));
        }
        forward(x) {
          return core.tidy(() => {
            const gate = nn.sigmoid(
              this.expand.forward(nn.relu(this.reduce.forward(nn.adaptiveAvgPool2d(x, 1)))),
            );
            return core.mul(x, gate);
          });
        }
        describe(inputShape) {
          return { outputShape: inputShape, macs: 0 };
        }
      }
      const act = (hs) => (hs ? new nn.Hardswish() : new ReLU());
      const convBnAct = (cin, cout, k, hs, stride = 1, groups = 1) => [
        conv(cin, cout, k, stride, groups),
        new BatchNorm2d(cout),
        act(hs),
      ];
      const blocks = [];
      let cin = 16;
      // (kernel, expanded channels, output channels, squeeze-and-excite, hardswish, stride)
      for (const [k, e, c, se, hs, s] of MNV3_BLOCKS) {
        const body = new Sequential(
          ...(e === cin ? [] : convBnAct(cin, e, 1, hs)),
          ...convBnAct(e, e, k, hs, s, e),
          ...(se ? [new SqueezeExcite(e)] : []),
          conv(e, c, 1),
          new BatchNorm2d(c),
        );
        blocks.push(s === 1 && cin === c ? new Residual(body, null, false) : body);
        cin = c;
      }
      return new Sequential(
        ...convBnAct(3, 16, 3, true),
        ...blocks,
        ...convBnAct(cin, 576, 1, true),
        new AdaptiveAvgPool2d(1),
        new Flatten(),
        new Linear(576, CLASSES, { generator }),
      );
    }
    case 'mnv2': {
      const convBnRelu6 = (cin, cout, k, stride = 1, groups = 1) => [
        conv(cin, cout, k, stride, groups),
        new BatchNorm2d(cout),
        new nn.ReLU6(),
      ];
      const blocks = [];
      let cin = 32;
      for (const [t, c, n, s] of MNV2_STAGES)
        for (let i = 0; i < n; i++) {
          const stride = i === 0 ? s : 1,
            e = cin * t;
          const body = new Sequential(
            ...(t === 1 ? [] : convBnRelu6(cin, e, 1)),
            ...convBnRelu6(e, e, 3, stride, e),
            conv(e, c, 1),
            new BatchNorm2d(c),
          );
          blocks.push(stride === 1 && cin === c ? new Residual(body, null, false) : body);
          cin = c;
        }
      return new Sequential(
        ...convBnRelu6(3, 32, 3),
        ...blocks,
        ...convBnRelu6(cin, 640, 1),
        new AdaptiveAvgPool2d(1),
        new Flatten(),
        new Linear(640, CLASSES, { generator }),
      );
    }
    case 'stem7':
      // an ImageNet-style 7x7 stride-2 stem (meant for --size 64 and up), then (3x3 conv, BN, ReLU)
      return new Sequential(
        new Conv2d(3, 32, 7, { stride: 2, padding: 3, bias: false, generator }),
        new BatchNorm2d(32),
        new ReLU(),
        new MaxPool2d(2),
        ...convBnRelu(32, 64, 3),
        ...convBnRelu(64, 64, 3),
        new MaxPool2d(2),
        ...convBnRelu(64, 128, 3),
        new AdaptiveAvgPool2d(1),
        new Flatten(),
        new Linear(128, CLASSES, { generator }),
      );
    default:
      throw new RangeError(`unknown model ${name}; expected one of ${ALL_MODELS.join(', ')}`);
  }
}
