"""The benchmark zoo, PyTorch side: the same architectures as models.mjs (see there for the list).
Every model takes (N, 3, S, S) (S = 32 unless --size sets it) and ends in 10 logits."""

import torch
import torch.nn as nn

MODELS = ['seed-cnn', 'vgg-bn', 'resnet20', 'mobilenet', 'allconv', 'resnetw', 'oddnet', 'vgg11', 'lenet', 'simplecnn', 'stem7', 'bottleneck', 'quick5', 'vgg5', 'leakyvgg', 'siluavg', 'mnv3', 'mnv2']  # the zoo, then the extra models
CLASSES = 10


def conv(cin, cout, k, stride=1, groups=1):
    return nn.Conv2d(cin, cout, k, stride=stride, padding=(k - 1) // 2, groups=groups, bias=False)


def conv_bn_relu(cin, cout, k, stride=1, groups=1):
    return [conv(cin, cout, k, stride, groups), nn.BatchNorm2d(cout), nn.ReLU()]


class Residual(nn.Module):
    """out = relu(body(x) + shortcut(x)); the shortcut is the identity or a projection."""

    def __init__(self, body, shortcut, relu):
        super().__init__()
        self.body = body
        self.shortcut = shortcut
        self.relu = relu

    def forward(self, x):
        y = self.body(x) + (self.shortcut(x) if self.shortcut is not None else x)
        return nn.functional.relu(y) if self.relu else y


def seed_cnn(size=32):
    return nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(),
        nn.Conv2d(8, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(16 * (size // 4) ** 2, 128), nn.ReLU(), nn.Linear(128, CLASSES),
    )


def vgg_stages(k, convs, size, activation=nn.ReLU, pool=nn.MaxPool2d):
    """VGG-style stages at 32, 64, 128 channels: `convs` (k x k conv, BN, activation) then a 2x2 pool each."""
    layers, cin = [], 3
    for cout in (32, 64, 128):
        for i in range(convs):
            layers += [conv(cin if i == 0 else cout, cout, k), nn.BatchNorm2d(cout), activation()]
        layers.append(pool(2))
        cin = cout
    return nn.Sequential(*layers, nn.Flatten(), nn.Linear(128 * (size // 8) ** 2, CLASSES))


def vgg_bn(size=32):
    return vgg_stages(3, 2, size)


def leakyvgg(size=32):
    return vgg_stages(3, 2, size, activation=lambda: nn.LeakyReLU(0.1))


def siluavg(size=32):
    return vgg_stages(3, 2, size, activation=nn.SiLU, pool=nn.AvgPool2d)


def basic_block(cin, cout, stride):
    body = nn.Sequential(*conv_bn_relu(cin, cout, 3, stride), conv(cout, cout, 3), nn.BatchNorm2d(cout))
    shortcut = None
    if stride != 1 or cin != cout:
        shortcut = nn.Sequential(conv(cin, cout, 1, stride), nn.BatchNorm2d(cout))
    return Residual(body, shortcut, True)


def residual_net(widths, blocks_per_stage):
    """A 3x3 stem to widths[0], then stages of basic blocks (the first of stages 2.. at stride 2)."""
    blocks, cin = [], widths[0]
    for stage, cout in enumerate(widths):
        for i in range(blocks_per_stage):
            blocks.append(basic_block(cin, cout, 2 if stage > 0 and i == 0 else 1))
            cin = cout
    return nn.Sequential(*conv_bn_relu(3, widths[0], 3), *blocks, nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                         nn.Linear(cin, CLASSES))


def resnet20():
    return residual_net((16, 32, 64), 3)


def mobilenet():
    settings = ((1, 16, 1, 1), (6, 24, 2, 1), (6, 32, 3, 2), (6, 64, 3, 2), (6, 96, 2, 1))
    blocks, cin = [], 32
    for t, c, n, s in settings:
        for i in range(n):
            stride = s if i == 0 else 1
            hidden = cin * t
            body = nn.Sequential(
                *([] if t == 1 else conv_bn_relu(cin, hidden, 1)),
                *conv_bn_relu(hidden, hidden, 3, stride, hidden),
                conv(hidden, c, 1), nn.BatchNorm2d(c),
            )
            blocks.append(Residual(body, None, False) if stride == 1 and cin == c else body)
            cin = c
    return nn.Sequential(*conv_bn_relu(3, 32, 3), *blocks, *conv_bn_relu(cin, 256, 1),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(256, CLASSES))


def allconv():
    """(3x3 conv, BN, ReLU) x6 at 32-64-128 channels, stride-2 convolutions where a VGG pools."""
    return nn.Sequential(*conv_bn_relu(3, 32, 3), *conv_bn_relu(32, 32, 3), *conv_bn_relu(32, 64, 3, 2),
                         *conv_bn_relu(64, 64, 3), *conv_bn_relu(64, 128, 3, 2), *conv_bn_relu(128, 128, 3),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(128, CLASSES))


def oddnet():
    """Channel counts off every block size: a 5x5 stem to 24, 3x3 layers at 24-40-72 (one grouped), max
    pools, a 1x1 to 100, global average pool."""
    return nn.Sequential(*conv_bn_relu(3, 24, 5), *conv_bn_relu(24, 24, 3), nn.MaxPool2d(2),
                         *conv_bn_relu(24, 40, 3), *conv_bn_relu(40, 40, 3, 1, 4), nn.MaxPool2d(2),
                         *conv_bn_relu(40, 72, 3), *conv_bn_relu(72, 72, 3), *conv_bn_relu(72, 100, 1),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(100, CLASSES))


def vgg11():
    """VGG-11 with batch norm for CIFAR (64-128-256-512-512 channels, four 2x2 max pools), the last
    max pool replaced by a global average pool; its last two layers run on 2x2 planes at 32x32 input."""
    layers, cin = [], 3
    for v in [64, 'M', 128, 'M', 256, 256, 'M', 512, 512, 'M', 512, 512]:
        if v == 'M':
            layers.append(nn.MaxPool2d(2))
        else:
            layers += conv_bn_relu(cin, v, 3)
            cin = v
    return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(512, CLASSES))


def resnetw():
    """A ResNet of 2 basic blocks a stage at 32-64-128 channels."""
    return residual_net((32, 64, 128), 2)


def lenet(size=32):
    """LeNet-5-style: unpadded 5x5 convolutions (6, 16 channels), ReLU, max pools, three linear layers."""
    side = ((size - 4) // 2 - 4) // 2
    return nn.Sequential(nn.Conv2d(3, 6, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(6, 16, 5), nn.ReLU(),
                         nn.MaxPool2d(2), nn.Flatten(), nn.Linear(16 * side * side, 120), nn.ReLU(),
                         nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, CLASSES))


def simplecnn(size=32):
    """The tutorial CNN: unpadded 3x3 convolutions to 32 and 64 channels, a max pool, dropout, a wide linear layer."""
    side = (size - 4) // 2
    return nn.Sequential(nn.Conv2d(3, 32, 3), nn.ReLU(), nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Dropout(0.25), nn.Flatten(), nn.Linear(64 * side * side, 128), nn.ReLU(),
                         nn.Dropout(0.5), nn.Linear(128, CLASSES))


def stem7():
    """A 7x7 stride-2 stem with BN (meant for 64x64 inputs and up), then (3x3 conv, BN, ReLU) at 64-128 channels."""
    return nn.Sequential(nn.Conv2d(3, 32, 7, stride=2, padding=3, bias=False), nn.BatchNorm2d(32), nn.ReLU(),
                         nn.MaxPool2d(2), *conv_bn_relu(32, 64, 3), *conv_bn_relu(64, 64, 3), nn.MaxPool2d(2),
                         *conv_bn_relu(64, 128, 3), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(128, CLASSES))


def bottleneck():
    """ResNet bottleneck blocks (1x1 reduce, 3x3, 1x1 expand x4): a 3x3 stem to 32, 2 blocks a stage at
    64-128-256 channels (16-32-64 inside), projection shortcuts."""
    def block(cin, mid, stride):
        cout = 4 * mid
        body = nn.Sequential(*conv_bn_relu(cin, mid, 1), *conv_bn_relu(mid, mid, 3, stride), conv(mid, cout, 1),
                             nn.BatchNorm2d(cout))
        shortcut = None
        if stride != 1 or cin != cout:
            shortcut = nn.Sequential(conv(cin, cout, 1, stride), nn.BatchNorm2d(cout))
        return Residual(body, shortcut, True)
    blocks, cin = [], 32
    for mid, stride in ((16, 1), (32, 2), (64, 2)):
        for i in range(2):
            blocks.append(block(cin, mid, stride if i == 0 else 1))
            cin = 4 * mid
    return nn.Sequential(*conv_bn_relu(3, 32, 3), *blocks, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(cin, CLASSES))


def quick5(size=32):
    """The classic quick CIFAR CNN (Caffe's cifar10_quick, 2x2 pools): 5x5 convolutions with bias at 32, 32, 64
    channels, ReLU, max pools, Linear(to 64), ReLU, Linear(64 -> 10)."""
    c5 = lambda cin, cout: [nn.Conv2d(cin, cout, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2)]
    return nn.Sequential(*c5(3, 32), *c5(32, 32), *c5(32, 64), nn.Flatten(), nn.Linear(64 * (size // 8) ** 2, 64),
                         nn.ReLU(), nn.Linear(64, CLASSES))


def vgg5(size=32):
    """vgg_bn's plan with one (5x5 conv, BN, ReLU) a stage at 32-64-128 channels."""
    return vgg_stages(5, 1, size)


class SqueezeExcite(nn.Module):
    """x * sigmoid(conv(relu(conv(gap(x))))): the channel gate of a squeeze-and-excitation block."""

    def __init__(self, c):
        super().__init__()
        squeezed = max(8, round(c / 4 / 8) * 8)
        self.reduce = nn.Conv2d(c, squeezed, 1)
        self.expand = nn.Conv2d(squeezed, c, 1)

    def forward(self, x):
        gate = torch.sigmoid(self.expand(nn.functional.relu(self.reduce(nn.functional.adaptive_avg_pool2d(x, 1)))))
        return x * gate


# kernel, expanded channels, output channels, squeeze-and-excite, hardswish (else ReLU), stride
MNV3_BLOCKS = ((3, 16, 16, True, False, 1), (3, 72, 24, False, False, 2), (3, 88, 24, False, False, 1),
               (5, 96, 40, True, True, 2), (5, 240, 40, True, True, 1), (5, 120, 48, True, True, 1),
               (5, 288, 96, True, True, 2), (5, 576, 96, True, True, 1))


def mnv3():
    """MobileNetV3-Small's plan for 32x32: inverted residuals with 3x3 and 5x5 depthwise convs, hardswish,
    squeeze-and-excitation."""
    def conv_bn_act(cin, cout, k, hs, stride=1, groups=1):
        return [conv(cin, cout, k, stride, groups), nn.BatchNorm2d(cout), nn.Hardswish() if hs else nn.ReLU()]
    blocks, cin = [], 16
    for k, e, c, se, hs, s in MNV3_BLOCKS:
        body = nn.Sequential(
            *([] if e == cin else conv_bn_act(cin, e, 1, hs)),
            *conv_bn_act(e, e, k, hs, s, e),
            *([SqueezeExcite(e)] if se else []),
            conv(e, c, 1), nn.BatchNorm2d(c),
        )
        blocks.append(Residual(body, None, False) if s == 1 and cin == c else body)
        cin = c
    return nn.Sequential(*conv_bn_act(3, 16, 3, True), *blocks, *conv_bn_act(cin, 576, 1, True),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(576, CLASSES))


# expansion, output channels, blocks, first block's stride
MNV2_STAGES = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 2, 2), (6, 96, 2, 1))


def mnv2():
    """MobileNetV2's plan for 32x32: inverted residuals (1x1 expand, 3x3 depthwise, 1x1 linear bottleneck),
    ReLU6."""
    def conv_bn_relu6(cin, cout, k, stride=1, groups=1):
        return [conv(cin, cout, k, stride, groups), nn.BatchNorm2d(cout), nn.ReLU6()]
    blocks, cin = [], 32
    for t, c, n, s in MNV2_STAGES:
        for i in range(n):
            stride, e = (s if i == 0 else 1), cin * t
            body = nn.Sequential(
                *([] if t == 1 else conv_bn_relu6(cin, e, 1)),
                *conv_bn_relu6(e, e, 3, stride, e),
                conv(e, c, 1), nn.BatchNorm2d(c),
            )
            blocks.append(Residual(body, None, False) if stride == 1 and cin == c else body)
            cin = c
    return nn.Sequential(*conv_bn_relu6(3, 32, 3), *blocks, *conv_bn_relu6(cin, 640, 1),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(640, CLASSES))


def build_model(name, size=32):
    builders = {'mnv2': mnv2, 'mnv3': mnv3, 'leakyvgg': leakyvgg, 'siluavg': siluavg, 'quick5': quick5, 'vgg5': vgg5, 'bottleneck': bottleneck, 'lenet': lenet, 'simplecnn': simplecnn, 'stem7': stem7, 'vgg11': vgg11, 'allconv': allconv, 'resnetw': resnetw, 'oddnet': oddnet, 'seed-cnn': seed_cnn, 'vgg-bn': vgg_bn, 'resnet20': resnet20, 'mobilenet': mobilenet}
    if name not in builders:
        raise ValueError(f'unknown model {name}; expected one of {", ".join(MODELS)}')
    if name in ('seed-cnn', 'vgg-bn', 'lenet', 'simplecnn', 'quick5', 'vgg5', 'leakyvgg', 'siluavg'):
        return builders[name](size)
    return builders[name]()
