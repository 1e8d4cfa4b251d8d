#!/usr/bin/python3
"""Generates the ONNX import fixtures: small models exported by PyTorch's torch.onnx.export, with
an input and PyTorch's outputs for it, so dlf's import is judged against another framework.

Run with Debian's python (torch 1.13, needs no `onnx` package):

    /usr/bin/python3 packages/onnx/scripts/make_fixtures.py

Writes packages/onnx/fixtures/<name>.onnx and <name>.json ({"input": {...}, "output": {...}}).
The models are kept small (a few hundred KB in all) and their weights seeded, so a rerun writes
the same files.
"""
import json
import os

import torch
import torch.nn as nn

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures")


def seed_cnn(in_channels=3, size=16, classes=10):
    """dlf's reference model (DESIGN.md), at 16x16 input to keep the fixture small."""
    flat = 16 * (size // 4) * (size // 4)
    return nn.Sequential(
        nn.Conv2d(in_channels, 8, 3, padding=1), nn.ReLU(),
        nn.Conv2d(8, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(flat, 128), nn.ReLU(), nn.Linear(128, classes),
    )


def depthwise_net():
    """MobileNet-style blocks: depthwise 3x3 + pointwise 1x1 convs, batch norms, and the
    activations whose ONNX forms are several nodes (SiLU, Hardswish, GELU)."""
    return nn.Sequential(
        nn.Conv2d(3, 8, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(8), nn.ReLU(),
        nn.Conv2d(8, 8, 3, padding=1, groups=8, bias=False), nn.BatchNorm2d(8), nn.Hardswish(),
        nn.Conv2d(8, 16, 1, bias=False), nn.BatchNorm2d(16), nn.SiLU(),
        nn.Conv2d(16, 16, 3, stride=2, padding=1, groups=16), nn.GELU(),
        nn.AvgPool2d(2), nn.BatchNorm2d(16), nn.LeakyReLU(0.2),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(0.2), nn.Linear(16, 6),
    )


def relu6_net():
    """A MobileNetV2-style inverted residual body with ReLU6 (exported as Clip(0, 6)); the stem's
    weights are scaled up after initialisation so that some activations reach the clip at 6."""
    return nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1, bias=False), nn.BatchNorm2d(8), nn.ReLU6(),
        nn.Conv2d(8, 8, 3, padding=1, groups=8, bias=False), nn.BatchNorm2d(8), nn.ReLU6(),
        nn.Conv2d(8, 16, 1, bias=False), nn.BatchNorm2d(16),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(16, 4),
    )


class ViewFlatten(nn.Module):
    """x.view(x.size(0), -1): exported as Shape/Gather/Concat/Reshape, folded by dlf's import."""

    def forward(self, x):
        return x.view(x.size(0), -1)


def reshape_net():
    return nn.Sequential(
        nn.Conv2d(1, 4, 3), nn.Tanh(), nn.MaxPool2d(2, stride=2), ViewFlatten(),
        nn.Linear(4 * 3 * 3, 8), nn.Sigmoid(), nn.Linear(8, 3), nn.Softmax(dim=1),
    )


class BasicBlock(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.shortcut = nn.Sequential()
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        y = torch.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        return torch.relu(y + self.shortcut(x))


class ResNet20(nn.Module):
    """ResNet-20 (3 stages of 3 basic blocks), at widths 4/8/16 to keep the fixture small."""

    def __init__(self, widths=(4, 8, 16), classes=10):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, widths[0], 3, 1, 1, bias=False), nn.BatchNorm2d(widths[0]), nn.ReLU())
        blocks = []
        cin = widths[0]
        for i, w in enumerate(widths):
            for j in range(3):
                blocks.append(BasicBlock(cin, w, 2 if (i > 0 and j == 0) else 1))
                cin = w
        self.blocks = nn.Sequential(*blocks)
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(cin, classes))

    def forward(self, x):
        return self.head(self.blocks(self.stem(x)))


def randomize_batch_norms(model, gen):
    """Trained-looking statistics, so batch norms are not near-identities."""
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.copy_(torch.rand(m.num_features, generator=gen) - 0.5)
            m.running_var.copy_(torch.rand(m.num_features, generator=gen) * 1.5 + 0.5)
            m.weight.data.copy_(torch.rand(m.num_features, generator=gen) + 0.5)
            m.bias.data.copy_(torch.rand(m.num_features, generator=gen) - 0.5)


def tensor_json(t):
    return {"shape": list(t.shape), "data": [float(v) for v in t.flatten().tolist()]}


def export(name, model, shape, opset, seed, stem_scale=1.0):
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn(p.shape, generator=gen) * (1.0 / max(1, p[0].numel()) ** 0.5))
        randomize_batch_norms(model, gen)
        if stem_scale != 1.0:
            model[0].weight.mul_(stem_scale)
    model.eval()
    x = torch.randn((2, *shape), generator=gen)
    with torch.no_grad():
        y = model(x)
    path = os.path.join(OUT, f"{name}.onnx")
    torch.onnx.export(
        model, x, path, opset_version=opset, input_names=["input"], output_names=["output"],
        do_constant_folding=True,
    )
    with open(os.path.join(OUT, f"{name}.json"), "w") as f:
        json.dump({"torch": torch.__version__, "opset": opset, "input": tensor_json(x), "output": tensor_json(y)}, f)
    print(f"{path}: {os.path.getsize(path)} bytes")


def main():
    torch.manual_seed(0)
    os.makedirs(OUT, exist_ok=True)
    export("seed-cnn", seed_cnn(), (3, 16, 16), 13, 1)
    export("depthwise", depthwise_net(), (3, 16, 16), 13, 2)
    export("depthwise-opset14", depthwise_net(), (3, 16, 16), 14, 3)
    export("reshape-softmax", reshape_net(), (1, 8, 8), 13, 4)
    export("resnet20", ResNet20(), (3, 16, 16), 13, 5)
    export("relu6", relu6_net(), (3, 8, 8), 13, 6, stem_scale=6.0)


if __name__ == "__main__":
    main()
