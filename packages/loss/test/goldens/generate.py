#!/usr/bin/python3
"""Generate PyTorch reference values ("goldens") for @dlf/loss.

    /usr/bin/python3 packages/loss/test/goldens/generate.py           # writes loss.json next to this file
    /usr/bin/python3 packages/loss/test/goldens/generate.py --check   # re-runs every case in float32

Every case holds the float inputs, integer targets (class losses), options, the forward output, an
`upstream` tensor and, per float input, the gradient d(sum(output * upstream)) / d(input) from PyTorch
autograd. Conventions (as in packages/nn/test/goldens):

* Inputs, weights and upstream are float32 values written as the shortest decimal that round-trips.
* Forward and backward run in float64 on those values; output and grads keep 7 significant digits.
* numpy's legacy RandomState seeded by crc32 of the case name; torch single-threaded: re-running gives
  a byte-identical file.
"""

import json
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, '..', '..', '..', 'testing', 'python'))
import dlf_goldens as G  # noqa: E402  (found through the path above)

OUT = os.path.join(HERE, 'loss.json')


class Gen(G.Gen):
    def classes(self, n, c, ignore=None, n_ignored=0):
        t = self.rs.randint(0, c, size=n).astype(np.int64)
        if n_ignored:
            t[self.rs.choice(n, n_ignored, replace=False)] = ignore
        return t

    def extreme(self, shape):
        """Logits of magnitude up to 1e4 (one decimal), with exact ties and huge gaps between classes."""
        x = self.rs.choice([-1e4, -5e3, 0.0, 5e3, 1e4], size=shape) + self.rs.uniform(-50, 50, size=shape)
        return self.f32(x, 1)


def to_torch(x, dtype, grad=False):
    return torch.tensor(np.asarray(x, dtype=np.float32).astype(np.float64), dtype=dtype, requires_grad=grad)


def run(fn, xs, targets, options):
    """xs: float tensors (differentiable inputs); targets: int64 tensor or None."""
    red = options.get('reduction', 'mean')
    dtype = xs[0].dtype
    w = to_torch(options['weight']['data'], dtype).reshape(options['weight']['shape']) if 'weight' in options else None
    pw = (to_torch(options['posWeight']['data'], dtype).reshape(options['posWeight']['shape'])
          if 'posWeight' in options else None)
    if fn == 'crossEntropy':
        return F.cross_entropy(xs[0], targets, weight=w, reduction=red, ignore_index=options.get('ignoreIndex', -100),
                               label_smoothing=options.get('labelSmoothing', 0.0))
    if fn == 'nllLoss':
        return F.nll_loss(xs[0], targets, weight=w, reduction=red, ignore_index=options.get('ignoreIndex', -100))
    if fn == 'mseLoss':
        return F.mse_loss(xs[0], xs[1], reduction=red)
    if fn == 'binaryCrossEntropyWithLogits':
        return F.binary_cross_entropy_with_logits(xs[0], xs[1], weight=w, pos_weight=pw, reduction=red)
    raise ValueError(fn)


def make_case(name, fn, inputs, targets, options):
    xs = [to_torch(x, torch.float64, True) for x in inputs]
    t = torch.tensor(targets, dtype=torch.int64) if targets is not None else None
    out = run(fn, xs, t, options)
    upstream, grads = G.upstream_and_grads(name, out, xs)
    case = {
        'name': name,
        'fn': fn,
        'inputs': [G.tensor_entry(x.shape, G.f32_list(x)) for x in inputs],
        'options': options,
        'output': G.tensor_entry(out.shape, G.f64_list(out)),
        'upstream': G.tensor_entry(upstream.shape, G.f32_list(upstream)),
        'grads': [G.tensor_entry(g.shape, G.f64_list(g)) for g in grads],
    }
    if targets is not None:
        case['targets'] = [int(v) for v in targets]
    return case


def build_cases():
    cases = []

    def add(name, fn, make):
        g = Gen(name)
        inputs, targets, options = make(g)
        cases.append(make_case(name, fn, inputs, targets, options))

    def w(g, shape, lo=0.2, hi=2.0):
        x = g.uniform(shape, lo, hi)
        return G.tensor_entry(x.shape, G.f32_list(x))

    # ---- crossEntropy
    N, C = 6, 5
    for red in ['mean', 'sum', 'none']:
        add(f'crossEntropy/{red}', 'crossEntropy', lambda g, red=red: ([g.normal([N, C], 2.0)], g.classes(N, C),
                                                                      {'reduction': red}))
        add(f'crossEntropy/weight_{red}', 'crossEntropy',
            lambda g, red=red: ([g.normal([N, C], 2.0)], g.classes(N, C), {'reduction': red, 'weight': w(g, [C])}))
        add(f'crossEntropy/ignore_default_{red}', 'crossEntropy',
            lambda g, red=red: ([g.normal([N, C], 2.0)], g.classes(N, C, -100, 2), {'reduction': red}))
        add(f'crossEntropy/smoothing_{red}', 'crossEntropy',
            lambda g, red=red: ([g.normal([N, C], 2.0)], g.classes(N, C), {'reduction': red, 'labelSmoothing': 0.1}))
        add(f'crossEntropy/all_options_{red}', 'crossEntropy',
            lambda g, red=red: ([g.normal([N, C], 2.0)], g.classes(N, C, 3, 2),
                                {'reduction': red, 'ignoreIndex': 3, 'labelSmoothing': 0.25, 'weight': w(g, [C])}))
        add(f'crossEntropy/extreme_{red}', 'crossEntropy',
            lambda g, red=red: ([g.extreme([N, C])], g.classes(N, C), {'reduction': red}))
        add(f'crossEntropy/extreme_all_options_{red}', 'crossEntropy',
            lambda g, red=red: ([g.extreme([N, C])], g.classes(N, C, -1, 1),
                                {'reduction': red, 'ignoreIndex': -1, 'labelSmoothing': 0.1, 'weight': w(g, [C])}))
    add('crossEntropy/ignore_custom_weight_mean', 'crossEntropy',
        lambda g: ([g.normal([8, 3])], g.classes(8, 3, 1, 0), {'ignoreIndex': 1, 'weight': w(g, [3])}))
    add('crossEntropy/smoothing_one', 'crossEntropy',
        lambda g: ([g.normal([4, 3])], g.classes(4, 3), {'labelSmoothing': 1.0}))
    add('crossEntropy/one_class', 'crossEntropy', lambda g: ([g.normal([3, 1])], g.classes(3, 1), {}))
    add('crossEntropy/extreme_ties', 'crossEntropy',
        lambda g: ([Gen.f32([[1e4, 1e4, -1e4], [-1e4, -1e4, -1e4], [1e4, -1e4, 1e4], [-1e4, 1e4, 0.0]])],
                   np.array([0, 2, 1, 2]), {'reduction': 'none'}))
    add('crossEntropy/large_batch_mean', 'crossEntropy',
        lambda g: ([g.normal([64, 10], 3.0)], g.classes(64, 10, -100, 5), {'labelSmoothing': 0.05}))

    # ---- nllLoss (inputs: log-probabilities)
    def logp(g, shape):
        x = g.normal(shape, 2.0).astype(np.float64)
        return Gen.f32(x - np.log(np.exp(x).sum(-1, keepdims=True)), 6)

    for red in ['mean', 'sum', 'none']:
        add(f'nllLoss/{red}', 'nllLoss', lambda g, red=red: ([logp(g, [N, C])], g.classes(N, C), {'reduction': red}))
        add(f'nllLoss/weight_ignore_{red}', 'nllLoss',
            lambda g, red=red: ([logp(g, [N, C])], g.classes(N, C, -100, 2), {'reduction': red, 'weight': w(g, [C])}))
    add('nllLoss/ignore_custom_mean', 'nllLoss',
        lambda g: ([logp(g, [7, 4])], g.classes(7, 4, 0, 0), {'ignoreIndex': 0}))

    # ---- mseLoss (grads for input and target)
    for red in ['mean', 'sum', 'none']:
        add(f'mseLoss/{red}', 'mseLoss', lambda g, red=red: ([g.normal([3, 4]), g.normal([3, 4])], None,
                                                             {'reduction': red}))
    add('mseLoss/3d_mean', 'mseLoss', lambda g: ([g.normal([2, 3, 4], 3.0), g.normal([2, 3, 4])], None, {}))
    add('mseLoss/1d_sum', 'mseLoss', lambda g: ([g.normal([5]), g.normal([5])], None, {'reduction': 'sum'}))

    # ---- binaryCrossEntropyWithLogits (grads for logits and targets; targets are probabilities)
    def probs(g, shape):
        return g.uniform(shape, 0.0, 1.0, 3)

    def hard(g, shape):
        return Gen.f32(g.rs.randint(0, 2, size=shape))

    bce = 'binaryCrossEntropyWithLogits'
    for red in ['mean', 'sum', 'none']:
        add(f'{bce}/{red}', bce, lambda g, red=red: ([g.normal([4, 3], 2.0), probs(g, [4, 3])], None,
                                                     {'reduction': red}))
        add(f'{bce}/weight_posWeight_{red}', bce,
            lambda g, red=red: ([g.normal([4, 3], 2.0), probs(g, [4, 3])], None,
                                {'reduction': red, 'weight': w(g, [3]), 'posWeight': w(g, [3], 0.5, 4.0)}))
        add(f'{bce}/extreme_{red}', bce,
            lambda g, red=red: ([g.extreme([4, 3]), hard(g, [4, 3])], None, {'reduction': red}))
        add(f'{bce}/extreme_posWeight_{red}', bce,
            lambda g, red=red: ([g.extreme([4, 3]), probs(g, [4, 3])], None,
                                {'reduction': red, 'posWeight': w(g, [3], 0.5, 4.0)}))
    add(f'{bce}/weight_mean', bce,
        lambda g: ([g.normal([4, 3], 2.0), hard(g, [4, 3])], None, {'weight': w(g, [3])}))
    add(f'{bce}/posWeight_mean', bce,
        lambda g: ([g.normal([4, 3], 2.0), hard(g, [4, 3])], None, {'posWeight': w(g, [3], 0.5, 4.0)}))
    add(f'{bce}/weight_full_shape_sum', bce,
        lambda g: ([g.normal([4, 3], 2.0), probs(g, [4, 3])], None, {'reduction': 'sum', 'weight': w(g, [4, 3])}))
    add(f'{bce}/weight_column_3d_posWeight_mean', bce,
        lambda g: ([g.normal([2, 3, 4], 2.0), probs(g, [2, 3, 4])], None,
                   {'weight': w(g, [3, 1]), 'posWeight': w(g, [4], 0.5, 4.0)}))
    add(f'{bce}/1d_none', bce, lambda g: ([g.normal([6], 3.0), hard(g, [6])], None, {'reduction': 'none'}))
    return cases


def dump(cases):
    meta = {
        'generator': 'packages/loss/test/goldens/generate.py',
        'torch': torch.__version__,
        'convention': 'inputs/options/upstream: float32 (decode as float32); output/grads: float64 autograd, '
                      '7 significant digits; grads[i] = d sum(output*upstream) / d inputs[i]',
    }
    return G.cases_document(meta, cases)


def check(path):
    """Re-run every case in float32: shows the tolerance a float32 implementation needs."""
    with open(path) as f:
        doc = json.load(f)
    worst = (0.0, '')
    names = set()
    for c in doc['cases']:
        assert c['name'] not in names, 'duplicate name ' + c['name']
        names.add(c['name'])
        xs = [G.decode_f32(t, requires_grad=True) for t in c['inputs']]
        t = torch.tensor(c['targets'], dtype=torch.int64) if 'targets' in c else None
        out = run(c['fn'], xs, t, c['options'])
        up = G.decode_f32(c['upstream'])
        pairs = [(out, c['output'])] + list(zip(torch.autograd.grad((out * up).sum(), xs), c['grads']))
        for got, want in pairs:
            m = G.float32_error(got, want)
            if m > worst[0]:
                worst = (m, c['name'])
    print(f'{len(doc["cases"])} cases, worst float32 error |got-want|/(1e-3+|want|) = {worst[0]:.2e} ({worst[1]})')


def main():
    if '--check' in sys.argv[1:]:
        check(OUT)
        return
    cases = build_cases()
    text = dump(cases)
    with open(OUT, 'w') as f:
        f.write(text)
    print(f'wrote {len(cases)} cases, {len(text)} bytes to {os.path.relpath(OUT)}')


if __name__ == '__main__':
    main()
