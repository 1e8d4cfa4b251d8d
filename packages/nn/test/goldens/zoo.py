"""Writes zoo.json: parameter counts, parameter shapes and output shapes of the zoo's presets, each
built independently in PyTorch as the papers describe them. Run with /usr/bin/python3 (torch 1.13):

    /usr/bin/python3 packages/nn/test/goldens/zoo.py

The dlf presets (packages/nn/src/zoo/) must match: test/zoo.test.ts compares.
"""

import json
import os

import torch
import torch.nn as nn

torch.manual_seed(0)


def conv_bn(cin, cout, k=3, stride=1, groups=1, act=True):
    layers = [nn.Conv2d(cin, cout, k, stride, (k - 1) // 2, groups=groups, bias=False), nn.BatchNorm2d(cout)]
    if act:
        layers.append(nn.ReLU())
    return nn.Sequential(*layers)


class SeedCnn(nn.Module):
    def __init__(self, classes=10):
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
            nn.Linear(1024, 128), nn.ReLU(), nn.Linear(128, classes))

    def forward(self, x):
        return self.net(x)


class BasicBlock(nn.Module):
    """He et al. 2016 basic block; option B (1x1 conv + BN) shortcut where the shape changes."""

    def __init__(self, cin, cout, stride):
        super().__init__()
        self.a = conv_bn(cin, cout, stride=stride)
        self.b = conv_bn(cout, cout, act=False)
        self.down = None if stride == 1 and cin == cout else conv_bn(cin, cout, k=1, stride=stride, act=False)

    def forward(self, x):
        s = x if self.down is None else self.down(x)
        return torch.relu(self.b(self.a(x)) + s)


class CifarResNet(nn.Module):
    def __init__(self, depth, classes=10):
        super().__init__()
        n = (depth - 2) // 6
        layers = [conv_bn(3, 16)]
        c = 16
        for stage, w in enumerate([16, 32, 64]):
            for b in range(n):
                layers.append(BasicBlock(c, w, 2 if stage > 0 and b == 0 else 1))
                c = w
        self.features = nn.Sequential(*layers)
        self.fc = nn.Linear(64, classes)

    def forward(self, x):
        return self.fc(self.features(x).mean((2, 3)))


def vgg11_bn(classes=10):
    layers, c = [], 3
    for v in [64, 'M', 128, 'M', 256, 256, 'M', 512, 512, 'M', 512, 512, 'M']:
        if v == 'M':
            layers.append(nn.MaxPool2d(2))
        else:
            layers += [nn.Conv2d(c, v, 3, padding=1), nn.BatchNorm2d(v), nn.ReLU()]
            c = v
    return nn.Sequential(*layers, nn.Flatten(), nn.Linear(512, classes))


class InvertedResidual(nn.Module):
    def __init__(self, cin, cout, stride, t):
        super().__init__()
        hidden = cin * t
        layers = [] if t == 1 else [conv_bn(cin, hidden, k=1)]
        layers += [conv_bn(hidden, hidden, stride=stride, groups=hidden), conv_bn(hidden, cout, k=1, act=False)]
        self.body = nn.Sequential(*layers)
        self.residual = stride == 1 and cin == cout

    def forward(self, x):
        return x + self.body(x) if self.residual else self.body(x)


class MobileNetV2(nn.Module):
    """torchvision's MobileNetV2 with the CIFAR strides (stem and stage 2 at stride 1)."""

    def __init__(self, classes=10):
        super().__init__()
        cfg = [(1, 16, 1, 1), (6, 24, 2, 1), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1)]
        layers, c = [conv_bn(3, 32)], 32
        for t, out, n, s in cfg:
            for b in range(n):
                layers.append(InvertedResidual(c, out, s if b == 0 else 1, t))
                c = out
        layers.append(conv_bn(c, 1280, k=1))
        self.features = nn.Sequential(*layers)
        self.fc = nn.Linear(1280, classes)

    def forward(self, x):
        return self.fc(self.features(x).mean((2, 3)))


class FastCifar(nn.Module):
    """VGG-style net after airbench94: a frozen 2x2 whitening conv (24 channels, zero-padded below and
    right to keep 32x32), ReLU, 3 blocks conv-pool-BN-ReLU-conv-BN-ReLU (BN learns only its shift,
    eps 1e-12, momentum 0.4), global max pool, linear without bias, logits scaled by 1/9."""

    def __init__(self, classes=10, widths=(64, 192, 256)):
        super().__init__()
        self.whiten = nn.Conv2d(3, 24, 2, bias=True)
        self.whiten.weight.requires_grad = False
        layers = []
        cin = 24
        for w in widths:
            layers += [nn.Conv2d(cin, w, 3, padding=1, bias=False), nn.MaxPool2d(2), FastBn(w), nn.ReLU(),
                       nn.Conv2d(w, w, 3, padding=1, bias=False), FastBn(w), nn.ReLU()]
            cin = w
        self.body = nn.Sequential(*layers)
        self.fc = nn.Linear(widths[2], classes, bias=False)

    def forward(self, x):
        x = torch.relu(self.whiten(nn.functional.pad(x, (0, 1, 0, 1))))
        return self.fc(self.body(x).amax((2, 3))) / 9


def FastBn(channels):
    bn = nn.BatchNorm2d(channels, eps=1e-12, momentum=0.4)
    bn.weight.requires_grad = False
    return bn


MODELS = {
    'seed-cnn': SeedCnn,
    'resnet8': lambda: CifarResNet(8),
    'resnet20': lambda: CifarResNet(20),
    'resnet56': lambda: CifarResNet(56),
    'vgg11-bn': vgg11_bn,
    'mobilenetv2': MobileNetV2,
    'fast-cifar': FastCifar,
}

def main():
    out = {}
    for name, make in MODELS.items():
        m = make().eval()
        with torch.no_grad():
            y = m(torch.zeros(2, 3, 32, 32))
        out[name] = {
            'input': [3, 32, 32],
            'classes': 10,
            'params': sum(p.numel() for p in m.parameters()),
            'paramShapes': sorted(list(p.shape) for p in m.parameters()),
            'bufferValues': sum(b.numel() for n, b in m.named_buffers() if not n.endswith('num_batches_tracked')),
            'outputShape': list(y.shape[1:]),
        }
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'zoo.json')
    with open(path, 'w') as f:
        json.dump({'generator': 'packages/nn/test/goldens/zoo.py', 'torch': torch.__version__, 'models': out}, f, indent=1)
        f.write('\n')
    print('wrote', path)


if __name__ == '__main__':  # importable: scripts reuse the PyTorch definitions
    main()
