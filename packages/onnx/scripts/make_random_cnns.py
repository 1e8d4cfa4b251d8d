#!/usr/bin/python3
"""Generates the random-CNN fixtures: small CNNs drawn at random (kernel sizes 1-7, strides 1-2,
padding, dilation, groups and depthwise layers, odd channel counts and plane sizes, batch norm,
residual blocks with identity and projection shortcuts, ReLU / ReLU6 / LeakyReLU / SiLU / Hardswish,
max and average pooling, either head), exported by torch.onnx.export, with PyTorch's outputs in
evaluation and training mode and the input's gradient, so dlf is judged on models nobody tuned it for.

Run with Debian's python (torch 1.13, needs no `onnx` package):

    /usr/bin/python3 packages/onnx/scripts/make_random_cnns.py

Writes packages/onnx/fixtures/random-cnn-<i>.onnx and random-cnns.json. Seeded: a rerun writes the
same models. A drawn model is kept only when no activation input lies within 2e-5 of a kink (0 for
the ReLUs, 6 for ReLU6, +-3 for Hardswish) and no max-pool window has two maxima that close but not
equal: there, float32 rounding that differs between two correct implementations could send the
gradient another way.
"""
import base64
import json
import os
import random

import torch
import torch.nn as nn
import torch.nn.functional as F

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures")
COUNT = 16
MARGIN = 2e-5


class Residual(nn.Module):
    def __init__(self, body, shortcut):
        super().__init__()
        self.body = body
        self.shortcut = shortcut

    def forward(self, x):
        return torch.relu(self.body(x) + self.shortcut(x))


def activation(r):
    return r.choice([nn.ReLU(), nn.ReLU(), nn.ReLU6(), nn.LeakyReLU(0.1), nn.SiLU(), nn.Hardswish(), nn.Identity()])


def draw(r):
    """A random CNN and its input shape, or None when its planes vanish."""
    c, h = r.choice([1, 3, 3, 4]), r.choice([9, 12, 15, 16, 19])
    w = r.choice([h, h, h + 2])
    n = r.choice([2, 3, 4])
    layers, cc, hh, ww = [], c, h, w
    for _ in range(r.randint(2, 4)):
        if r.random() < 0.25 and hh >= 4:
            cout = cc if r.random() < 0.5 else r.choice([8, 12, 16])
            st = 1 if cout == cc else r.choice([1, 2])
            body = nn.Sequential(
                nn.Conv2d(cc, cout, 3, st, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(),
                nn.Conv2d(cout, cout, 3, 1, 1, bias=False), nn.BatchNorm2d(cout))
            short = nn.Identity() if cout == cc and st == 1 else nn.Sequential(
                nn.Conv2d(cc, cout, 1, st, bias=False), nn.BatchNorm2d(cout))
            layers.append(Residual(body, short))
            cc, hh, ww = cout, (hh - 1) // st + 1, (ww - 1) // st + 1
            continue
        k = r.choice([1, 3, 3, 3, 5, 7]) if hh >= 7 else r.choice([1, 3])
        st = r.choice([1, 1, 2])
        pad = r.choice([k // 2, k // 2, 0, min(2, k)])
        dil = r.choice([1, 1, 1, 2]) if k == 3 and hh >= 9 else 1
        if dil == 2:
            pad = r.choice([1, 2])
        u = r.random()
        if u < 0.2 and cc > 1:
            groups, cout = cc, cc * r.choice([1, 1, 2])
        elif u < 0.3 and cc % 2 == 0:
            groups, cout = 2, 2 * r.choice([3, 4, 8])
        else:
            groups, cout = 1, r.choice([4, 8, 12, 16, 17, 20, 24])
        layers.append(nn.Conv2d(cc, cout, k, st, pad, dilation=dil, groups=groups, bias=r.random() < 0.6))
        hh = (hh + 2 * pad - dil * (k - 1) - 1) // st + 1
        ww = (ww + 2 * pad - dil * (k - 1) - 1) // st + 1
        cc = cout
        if hh < 1 or ww < 1:
            return None
        if r.random() < 0.6:
            layers.append(nn.BatchNorm2d(cc))
        layers.append(activation(r))
        if hh >= 4 and r.random() < 0.4:
            pool = r.choice(["max2", "avg2", "max3"])
            if pool == "max3":
                layers.append(nn.MaxPool2d(3, 2, 1))
                hh, ww = (hh - 1) // 2 + 1, (ww - 1) // 2 + 1
            else:
                layers.append(nn.MaxPool2d(2) if pool == "max2" else nn.AvgPool2d(2))
                hh, ww = hh // 2, ww // 2
    if r.random() < 0.5 or cc * hh * ww > 600:  # a wide flattened head would make the file large
        layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(cc, 10)]
    else:
        layers += [nn.Flatten(), nn.Linear(cc * hh * ww, 10)]
    return nn.Sequential(*layers), (n, c, h, w)


def kink_margin(model, x):
    """The smallest distance of an activation input to its kink, or of a max-pool window's maximum
    to its runner-up (exact ties excepted), over a float64 forward pass."""
    closest = [float("inf")]

    def note(t):
        if t.numel():
            closest[0] = min(closest[0], float(t.abs().min()))

    def hook(module, inputs, output):
        v = inputs[0]
        if isinstance(module, (nn.ReLU, nn.LeakyReLU)):
            note(v)
        elif isinstance(module, nn.ReLU6):
            note(v), note(v - 6)
        elif isinstance(module, nn.Hardswish):
            note(v - 3), note(v + 3)
        elif isinstance(module, Residual):
            note(module.body(v) + module.shortcut(v))
        elif isinstance(module, nn.MaxPool2d):
            k, s, p = module.kernel_size, module.stride, module.padding
            cols = F.unfold(F.pad(v, (p, p, p, p), value=float("-inf")), k, stride=s)
            cols = cols.view(v.shape[0], v.shape[1], k * k, -1)
            top = cols.topk(2, dim=2).values
            gap = top[:, :, 0] - top[:, :, 1]
            note(gap[gap > 0])

    handles = [m.register_forward_hook(hook) for m in model.modules()]
    with torch.no_grad():
        model(x)
    for h in handles:
        h.remove()
    return closest[0]


def b64(t):
    return base64.b64encode(t.detach().contiguous().float().numpy().tobytes()).decode()


def main():
    os.makedirs(OUT, exist_ok=True)
    cases, seed = [], 0
    while len(cases) < COUNT:
        seed += 1
        drawn = draw(random.Random(seed))
        if drawn is None:
            continue
        model, shape = drawn
        gen = torch.Generator().manual_seed(seed)
        with torch.no_grad():
            for m in model.modules():
                if isinstance(m, nn.BatchNorm2d):  # trained-looking statistics
                    m.running_mean.copy_(torch.randn(m.num_features, generator=gen) * 0.3)
                    m.running_var.copy_(torch.rand(m.num_features, generator=gen) * 1.5 + 0.5)
                    m.weight.copy_(torch.rand(m.num_features, generator=gen) + 0.5)
                    m.bias.copy_(torch.randn(m.num_features, generator=gen) * 0.2)
        x = torch.randn(shape, generator=gen)
        try:
            ref = model.double()
            margins = [kink_margin(ref.eval(), x.double()), kink_margin(ref.train(), x.double())]
        except ValueError:  # a training-mode batch norm over a single value per channel
            continue
        model.float()
        if min(margins) < MARGIN:
            continue
        model.eval()
        with torch.no_grad():
            evaluated = model(x)
        name = f"random-cnn-{len(cases)}"
        torch.onnx.export(model, x, os.path.join(OUT, f"{name}.onnx"), opset_version=13,
                          input_names=["input"], output_names=["output"], do_constant_folding=False,
                          training=torch.onnx.TrainingMode.PRESERVE)
        model.train()
        xg = x.clone().requires_grad_()
        trained = model(xg)
        g = torch.randn(trained.shape, generator=gen)
        (trained * g).sum().backward()
        cases.append({"name": name, "seed": seed, "model": str(model), "shape": list(shape),
                      "input": b64(x), "eval": b64(evaluated), "train": b64(trained), "grad": b64(g),
                      "inputGrad": b64(xg.grad), "outShape": list(trained.shape)})
        print(f"{name}: seed {seed}, input {list(shape)}, {os.path.getsize(os.path.join(OUT, name + '.onnx'))} bytes")
    with open(os.path.join(OUT, "random-cnns.json"), "w") as f:
        json.dump({"torch": torch.__version__, "opset": 13, "cases": cases}, f, indent=1)


if __name__ == "__main__":
    main()
