"""Helpers shared by dlf's golden generators (packages/*/test/goldens/generate.py).

A generator imports this module by path (it is not installed):

    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '../../../testing/python'))
    import dlf_goldens as G

The conventions every golden file follows (see each goldens/README.md):

* Random numbers come from numpy's legacy RandomState (a stream frozen across numpy versions) seeded
  with crc32 of a name, and torch runs single-threaded: re-running a generator gives the same bytes.
* Inputs are float32 values drawn with few decimals and stored as the shortest decimal that
  round-trips; results are computed in float64 and stored with a fixed number of significant digits.
"""

import json
import math
import zlib

import numpy as np
import torch

torch.set_num_threads(1)


def seeded(name):
    """numpy's legacy RandomState seeded with crc32 of `name`: adding a case never moves another's draws."""
    return np.random.RandomState(zlib.crc32(name.encode('utf-8')))


def round_f32(x, decimals=4):
    """float32 values with `decimals` decimals, so the stored strings stay short."""
    return np.round(np.asarray(x, dtype=np.float64), decimals).astype(np.float32)


class Gen:
    """Input draws for one case; generators subclass it for their own kinds of inputs."""

    def __init__(self, name):
        self.rs = seeded(name)

    f32 = staticmethod(round_f32)

    def normal(self, shape, scale=1.0):
        return round_f32(self.rs.standard_normal(shape) * scale)

    def uniform(self, shape, lo, hi, decimals=4):
        return round_f32(self.rs.uniform(lo, hi, size=shape), decimals)


def f32_list(arr):
    """Shortest decimal that round-trips each float32 value."""
    return [float(str(v)) for v in np.asarray(arr, dtype=np.float32).reshape(-1)]


def sig(v, digits):
    """`v` rounded to `digits` significant digits; never -0.0, never NaN or infinity."""
    assert math.isfinite(v), 'non-finite value in a golden'
    r = float('%.*g' % (digits, v))
    return 0.0 if r == 0 else r


def f64_list(t, digits=7):
    """A float64 torch tensor's values, flat, rounded to `digits` significant digits."""
    return [sig(v, digits) for v in t.detach().reshape(-1).tolist()]


def tensor_entry(shape, data):
    return {'shape': [int(s) for s in shape], 'data': data}


def upstream_and_grads(name, out, inputs):
    """The upstream gradient of a case (float32 draws seeded by `name + '/upstream'`) and, per input,
    d sum(out * upstream) / d input, or None for an input that does not require grad."""
    upstream = Gen(name + '/upstream').normal(tuple(out.shape))
    up = torch.tensor(upstream.astype(np.float64))
    differentiable = [t for t in inputs if t.requires_grad]
    grads = iter(torch.autograd.grad((out * up).sum(), differentiable)) if differentiable else iter(())
    return upstream, [next(grads) if t.requires_grad else None for t in inputs]


def compact(value):
    """One-line JSON with no spaces; NaN and infinity are refused."""
    return json.dumps(value, separators=(',', ':'), allow_nan=False)


def list_lines(items):
    """One compact JSON line per item, comma-terminated except the last: diffs stay per item."""
    return [compact(item) + (',' if i + 1 < len(items) else '') for i, item in enumerate(items)]


def cases_document(meta, cases):
    """The text of a `{"meta": ..., "cases": [...]}` golden file, one case per line."""
    lines = ['{"meta":' + compact(meta) + ',"cases":['] + list_lines(cases) + [']}']
    return '\n'.join(lines) + '\n'


def float32_error(got, want):
    """The largest |got - want| / (1e-3 + |want|) of a float32 torch result against a golden entry."""
    assert list(got.shape) == want['shape'], f'shape {list(got.shape)} but {want["shape"]} in the file'
    w = np.array(want['data'], dtype=np.float64).reshape(want['shape'])
    err = np.abs(got.detach().double().numpy() - w) / (1e-3 + np.abs(w))
    return float(err.max()) if err.size else 0.0


def decode_f32(entry, requires_grad=False):
    """A float32 torch tensor from a golden entry."""
    data = np.array(entry['data'], dtype=np.float32).reshape(entry['shape'])
    return torch.tensor(data, requires_grad=requires_grad)
