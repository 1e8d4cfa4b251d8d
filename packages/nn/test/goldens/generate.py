#!/usr/bin/python3
"""Generate PyTorch reference values ("goldens") for dlf's functional ops.

    /usr/bin/python3 packages/nn/test/goldens/generate.py           # writes ops.json next to this file
    /usr/bin/python3 packages/nn/test/goldens/generate.py --check   # re-reads ops.json, checks it in float32

Every case holds inputs, attrs, the forward output, an `upstream` tensor and, per input, the gradient
d(sum(output * upstream)) / d(input) from PyTorch autograd. Conventions (see README.md):

* Inputs and upstream are float32 values: each stored decimal is the shortest string that round-trips
  to that float32 (they are drawn with few decimals, so the strings are short). Decode them as float32.
* Forward and backward run in float64 on those float32 values; output and grads are rounded to 7
  significant digits.
* Random numbers come from numpy's legacy RandomState (stream frozen across numpy versions), seeded per
  case by crc32 of the case name, and torch runs single-threaded: re-running gives a byte-identical file.
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

OUT = os.path.join(HERE, 'ops.json')


# --------------------------------------------------------------------------------------------------
# input generators: all return float32 numpy arrays whose values have few decimals


class Gen(G.Gen):
    def away_from_zero(self, shape, lo=0.05, hi=2.0):
        """|x| in [lo, hi], random sign: keeps relu/leakyRelu/div away from their kinks and poles."""
        mag = self.rs.uniform(lo, hi, size=shape)
        sign = np.where(self.rs.uniform(size=shape) < 0.5, -1.0, 1.0)
        return self.f32(sign * mag)

    def distinct(self, shape, lo=-2.0, hi=2.0):
        """All values distinct, spaced >= (hi-lo)/n apart: no ties for max / maxPool2d."""
        n = int(np.prod(shape)) if len(shape) else 1
        grid = lo + (hi - lo) * (np.arange(n) + 0.5) / n
        vals = self.f32(self.rs.permutation(grid).reshape(shape))
        assert len(np.unique(vals)) == n, 'distinct() produced ties'
        return vals


# --------------------------------------------------------------------------------------------------
# op implementations: dlf op name -> torch (same code for generation in float64 and check in float32


def _sum_like(fn):
    def run(inputs, attrs):
        (x,) = inputs
        axis = attrs['axis']
        keep = attrs['keepDims']
        if axis is None:
            if keep:
                return fn(x, dim=tuple(range(x.dim())), keepdim=True)
            return fn(x)
        dims = tuple(axis) if isinstance(axis, list) else (axis,)
        return fn(x, dim=dims, keepdim=keep)

    return run


def _conv2d(inputs, attrs):
    x, w = inputs[0], inputs[1]
    b = inputs[2] if attrs['bias'] else None
    return F.conv2d(x, w, b, stride=tuple(attrs['stride']), padding=tuple(attrs['padding']),
                    dilation=tuple(attrs['dilation']), groups=attrs['groups'])


def _linear(inputs, attrs):
    bias = attrs.get('bias', True)
    return F.linear(inputs[0], inputs[1], inputs[2] if bias else None)


def _batchnorm_stats(attrs, dtype):
    rm = torch.tensor(attrs['runningMean'], dtype=torch.float32).to(dtype)
    rv = torch.tensor(attrs['runningVar'], dtype=torch.float32).to(dtype)
    return rm, rv


def _batchnorm(inputs, attrs, stats=None):
    x, w, b = inputs
    rm, rv = stats if stats is not None else _batchnorm_stats(attrs, x.dtype)
    return F.batch_norm(x, rm, rv, w, b, training=attrs['training'], momentum=attrs['momentum'],
                        eps=attrs['eps'])


OPS = {
    'add': lambda i, a: i[0] + i[1],
    'sub': lambda i, a: i[0] - i[1],
    'mul': lambda i, a: i[0] * i[1],
    'div': lambda i, a: i[0] / i[1],
    'neg': lambda i, a: -i[0],
    'exp': lambda i, a: torch.exp(i[0]),
    'log': lambda i, a: torch.log(i[0]),
    'sqrt': lambda i, a: torch.sqrt(i[0]),
    'abs': lambda i, a: torch.abs(i[0]),
    'relu': lambda i, a: torch.relu(i[0]),
    'relu6': lambda i, a: F.relu6(i[0]),
    'addRelu': lambda i, a: torch.relu(i[0] + i[1]),
    'sigmoid': lambda i, a: torch.sigmoid(i[0]),
    'tanh': lambda i, a: torch.tanh(i[0]),
    'leakyRelu': lambda i, a: F.leaky_relu(i[0], a['negativeSlope']),
    'gelu': lambda i, a: F.gelu(i[0]),
    'silu': lambda i, a: F.silu(i[0]),
    'hardswish': lambda i, a: F.hardswish(i[0]),
    'pow': lambda i, a: torch.pow(i[0], a['exponent']),
    'matmul': lambda i, a: torch.matmul(i[0], i[1]),
    'sum': _sum_like(torch.sum),
    'mean': _sum_like(torch.mean),
    'max': lambda i, a: torch.amax(i[0], dim=a['axis'], keepdim=a['keepDims']),
    'reshape': lambda i, a: i[0].reshape(a['shape']),
    'flatten': lambda i, a: torch.flatten(i[0], start_dim=a['startDim']),
    'transpose': lambda i, a: torch.transpose(i[0], a['dim0'], a['dim1']),
    'permute': lambda i, a: i[0].permute(*a['dims']),
    'concat': lambda i, a: torch.cat(list(i), dim=a['axis']),
    'softmax': lambda i, a: torch.softmax(i[0], dim=a['axis']),
    'logSoftmax': lambda i, a: torch.log_softmax(i[0], dim=a['axis']),
    'linear': _linear,
    'conv2d': _conv2d,
    'maxPool2d': lambda i, a: F.max_pool2d(i[0], tuple(a['kernelSize']), tuple(a['stride']),
                                           tuple(a['padding'])),
    'avgPool2d': lambda i, a: F.avg_pool2d(i[0], tuple(a['kernelSize']), tuple(a['stride']),
                                           tuple(a['padding']), ceil_mode=False, count_include_pad=True),
    'adaptiveAvgPool2d': lambda i, a: F.adaptive_avg_pool2d(i[0], tuple(a['outputSize'])),
    'batchNorm2d': _batchnorm,
}


# --------------------------------------------------------------------------------------------------
# serialisation


def make_case(name, op, inputs, attrs, differentiable=None, extra_fn=None):
    """inputs: list of float32 numpy arrays. differentiable: per-input bools (default all True)."""
    if differentiable is None:
        differentiable = [True] * len(inputs)
    ts = [torch.tensor(x.astype(np.float64), requires_grad=d) for x, d in zip(inputs, differentiable)]
    out = OPS[op](ts, attrs)
    upstream, grads = G.upstream_and_grads(name, out, ts)
    case = {
        'name': name,
        'op': op,
        'inputs': [G.tensor_entry(x.shape, G.f32_list(x)) for x in inputs],
        'attrs': attrs,
        'output': G.tensor_entry(out.shape, G.f64_list(out)),
        'upstream': G.tensor_entry(upstream.shape, G.f32_list(upstream)),
        'grads': [G.tensor_entry(t.shape, G.f64_list(g)) if g is not None else None for t, g in zip(ts, grads)],
    }
    if extra_fn is not None:
        case['extra'] = extra_fn(inputs, attrs)
    return case


# --------------------------------------------------------------------------------------------------
# the cases


def build_cases():
    cases = []

    def add(name, op, make_inputs, attrs=None, **kw):
        g = Gen(name)
        cases.append(make_case(name, op, make_inputs(g), attrs if attrs is not None else {}, **kw))

    # ---- binary ops with NumPy broadcasting
    binary_shapes = [
        ('same_shape', [3, 4], [3, 4]),
        ('scalar_like_rhs', [3, 4], [1]),
        ('scalar_like_lhs', [1], [2, 3]),
        ('row_broadcast', [3, 4], [4]),
        ('row_broadcast_lhs', [4], [3, 4]),
        ('column_times_row', [3, 1], [1, 4]),
        ('bias_4d', [2, 3, 4, 5], [1, 3, 1, 1]),
        ('batch1', [2, 3, 4], [1, 3, 4]),
        ('rank_mismatch', [2, 1, 4], [3, 1]),
        # one value per row of the other (a squeeze-and-excitation gate): its own fast path
        ('channel_gate', [2, 3, 4, 5], [2, 3, 1, 1]),
        ('channel_gate_lhs', [2, 3, 1, 1], [2, 3, 4, 5]),
        ('row_gate', [3, 7], [3, 1]),
    ]
    for op in ['add', 'sub', 'mul', 'div']:
        for tag, sa, sb in binary_shapes:
            if op == 'div':
                add(f'{op}/{tag}', op, lambda g, sa=sa, sb=sb: [g.normal(sa), g.away_from_zero(sb, 0.5, 2.0)])
            else:
                add(f'{op}/{tag}', op, lambda g, sa=sa, sb=sb: [g.normal(sa), g.normal(sb)])

    # ---- unary ops
    for op in ['neg', 'exp', 'sigmoid', 'tanh', 'gelu', 'silu']:
        add(f'{op}/2d', op, lambda g: [g.normal([3, 4])])
        add(f'{op}/3d', op, lambda g: [g.normal([2, 3, 4], 2.0)])
    for op in ['log', 'sqrt']:
        add(f'{op}/2d', op, lambda g: [g.uniform([3, 4], 0.5, 2.0)])
        add(f'{op}/3d', op, lambda g: [g.uniform([2, 3, 4], 0.5, 2.0)])
    add('relu/2d', 'relu', lambda g: [g.away_from_zero([3, 4])])
    add('relu/4d', 'relu', lambda g: [g.away_from_zero([2, 3, 2, 2])])
    # b is small: a + b keeps a's sign and stays clear of ReLU's kink
    add('addRelu/2d', 'addRelu', lambda g: [g.away_from_zero([3, 4]), g.uniform([3, 4], -0.02, 0.02)])
    add('addRelu/4d', 'addRelu', lambda g: [g.away_from_zero([2, 3, 2, 2]), g.uniform([2, 3, 2, 2], -0.02, 0.02)])
    # relu6 has kinks at 0 and 6: inputs on both sides of each, clear of them
    add('relu6/2d', 'relu6', lambda g: [g.away_from_zero([3, 4], 0.05, 5.5)])
    add('relu6/tails', 'relu6', lambda g: [g.away_from_zero([2, 3, 4], 6.5, 9.0)])
    add('abs/2d', 'abs', lambda g: [g.away_from_zero([3, 4])])
    add('abs/3d', 'abs', lambda g: [g.away_from_zero([2, 3, 4])])
    add('leakyRelu/2d', 'leakyRelu', lambda g: [g.away_from_zero([3, 4])], {'negativeSlope': 0.1})
    add('leakyRelu/3d', 'leakyRelu', lambda g: [g.away_from_zero([2, 3, 4])], {'negativeSlope': 0.1})
    # hardswish has kinks at -3 and 3: inputs stay clear of them
    add('hardswish/middle', 'hardswish', lambda g: [g.uniform([3, 4], -2.5, 2.5)])
    add('hardswish/tails', 'hardswish', lambda g: [g.away_from_zero([2, 3, 4], 3.5, 6.0)])
    add('pow/exp2.5', 'pow', lambda g: [g.uniform([3, 4], 0.5, 2.0)], {'exponent': 2.5})
    add('pow/exp-1', 'pow', lambda g: [g.away_from_zero([3, 4], 0.5, 2.0)], {'exponent': -1})
    add('pow/exp3', 'pow', lambda g: [g.normal([3, 4])], {'exponent': 3})

    # ---- matmul
    add('matmul/3x4_4x5', 'matmul', lambda g: [g.normal([3, 4]), g.normal([4, 5])])
    add('matmul/1x4_4x1', 'matmul', lambda g: [g.normal([1, 4]), g.normal([4, 1])])
    add('matmul/batched', 'matmul', lambda g: [g.normal([2, 3, 4]), g.normal([2, 4, 5])])
    add('matmul/broadcast_batch', 'matmul', lambda g: [g.normal([2, 3, 4]), g.normal([4, 5])])

    # ---- reductions
    red = [
        ('all', [3, 4], None, False),
        ('all_keepdims', [2, 3, 4], None, True),
        ('axis0', [3, 4], 0, False),
        ('axis1_keepdims', [3, 4], 1, True),
        ('axis_neg1', [2, 3, 4], -1, False),
        ('axis_neg2_keepdims', [2, 3, 4], -2, True),
        ('axes_0_2', [2, 3, 4], [0, 2], False),
        ('axes_neg1_1_keepdims', [2, 3, 4, 5], [-1, 1], True),
    ]
    for op in ['sum', 'mean']:
        for tag, shape, axis, keep in red:
            add(f'{op}/{tag}', op, lambda g, shape=shape: [g.normal(shape)], {'axis': axis, 'keepDims': keep})
    for tag, shape, axis, keep in [
        ('axis0', [3, 4], 0, False),
        ('axis1_keepdims', [3, 4], 1, True),
        ('axis_neg1', [2, 3, 4], -1, False),
        ('axis1_3d_keepdims', [2, 3, 4], 1, True),
        ('axis_neg3', [2, 3, 4], -3, False),
    ]:
        add(f'max/{tag}', 'max', lambda g, shape=shape: [g.distinct(shape)], {'axis': axis, 'keepDims': keep})

    # ---- shape ops
    add('reshape/3d_to_2d', 'reshape', lambda g: [g.normal([2, 3, 4])], {'shape': [6, 4]})
    add('reshape/infer_dim', 'reshape', lambda g: [g.normal([2, 3, 4])], {'shape': [4, -1]})
    add('reshape/to_1d', 'reshape', lambda g: [g.normal([3, 4])], {'shape': [12]})
    add('flatten/4d', 'flatten', lambda g: [g.normal([2, 3, 2, 2])], {'startDim': 1})
    add('flatten/3d', 'flatten', lambda g: [g.normal([2, 3, 4])], {'startDim': 1})
    add('transpose/2d', 'transpose', lambda g: [g.normal([3, 4])], {'dim0': 0, 'dim1': 1})
    add('transpose/3d_1_2', 'transpose', lambda g: [g.normal([2, 3, 4])], {'dim0': 1, 'dim1': 2})
    add('permute/nchw_to_nhwc', 'permute', lambda g: [g.normal([2, 3, 2, 4])], {'dims': [0, 2, 3, 1]})
    add('permute/3d', 'permute', lambda g: [g.normal([2, 3, 4])], {'dims': [2, 0, 1]})
    add('concat/two_axis0', 'concat', lambda g: [g.normal([2, 3]), g.normal([1, 3])], {'axis': 0})
    add('concat/two_axis1', 'concat', lambda g: [g.normal([2, 3]), g.normal([2, 4])], {'axis': 1})
    add('concat/three_axis0', 'concat', lambda g: [g.normal([1, 2, 2]), g.normal([2, 2, 2]), g.normal([1, 2, 2])],
        {'axis': 0})
    add('concat/three_axis1', 'concat', lambda g: [g.normal([2, 1, 3]), g.normal([2, 2, 3]), g.normal([2, 3, 3])],
        {'axis': 1})

    # ---- softmax / logSoftmax
    for op in ['softmax', 'logSoftmax']:
        add(f'{op}/last_axis', op, lambda g: [g.normal([3, 5])], {'axis': -1})
        add(f'{op}/axis1_3d', op, lambda g: [g.normal([2, 4, 3])], {'axis': 1})
        add(f'{op}/axis1_2d', op, lambda g: [g.normal([4, 3])], {'axis': 1})
        add(f'{op}/large_logits', op, lambda g: [g.uniform([3, 6], -50.0, 50.0, decimals=3)], {'axis': -1})

    # ---- linear
    add('linear/basic', 'linear', lambda g: [g.normal([4, 6]), g.normal([5, 6], 0.5), g.normal([5], 0.5)])
    add('linear/no_bias', 'linear', lambda g: [g.normal([4, 6]), g.normal([5, 6], 0.5)], {'bias': False})
    add('linear/n1', 'linear', lambda g: [g.normal([1, 6]), g.normal([3, 6], 0.5), g.normal([3], 0.5)])

    # ---- conv2d
    def conv(name, n, c, h, w, k, kh, kw, stride=(1, 1), padding=(0, 0), dilation=(1, 1), groups=1, bias=True):
        def inputs(g):
            xs = [g.normal([n, c, h, w]), g.normal([k, c // groups, kh, kw], 0.5)]
            if bias:
                xs.append(g.normal([k], 0.5))
            return xs

        add(f'conv2d/{name}', 'conv2d', inputs, {'stride': list(stride), 'padding': list(padding),
                                                 'dilation': list(dilation), 'groups': groups, 'bias': bias})

    conv('basic_3x3_pad1', 2, 3, 5, 5, 4, 3, 3, padding=(1, 1))
    conv('stride2_pad1', 2, 3, 6, 6, 4, 3, 3, stride=(2, 2), padding=(1, 1))
    conv('stride2_nopad_odd', 1, 2, 7, 7, 3, 3, 3, stride=(2, 2))
    conv('kernel3x2_input7x6', 2, 2, 7, 6, 3, 3, 2, padding=(1, 0))
    conv('asym_stride_pad', 1, 2, 7, 6, 3, 3, 2, stride=(2, 1), padding=(0, 1))
    conv('dilation2', 1, 2, 7, 7, 3, 3, 3, dilation=(2, 2), padding=(2, 2))
    conv('dilation2_nopad', 2, 2, 7, 6, 2, 3, 3, dilation=(2, 2))
    conv('groups2', 2, 4, 5, 5, 6, 3, 3, padding=(1, 1), groups=2)
    conv('depthwise', 2, 3, 5, 5, 3, 3, 3, padding=(1, 1), groups=3)
    conv('depthwise_multiplier2', 1, 3, 5, 5, 6, 3, 3, stride=(2, 2), padding=(1, 1), groups=3)
    conv('no_bias', 2, 3, 5, 5, 4, 3, 3, padding=(1, 1), bias=False)
    conv('batch1', 1, 3, 6, 6, 4, 3, 3, padding=(1, 1))
    conv('kernel1x1', 2, 4, 4, 4, 3, 1, 1)
    conv('seed_cnn_shapes', 2, 3, 8, 8, 8, 3, 3, padding=(1, 1))
    # Depthwise kernels (nn/conv_depthwise.cc): stride 2 on odd sizes, dilation, 5x5, multiplier 3.
    conv('depthwise_stride2_odd', 2, 5, 9, 11, 5, 3, 3, stride=(2, 2), padding=(1, 1), groups=5)
    conv('depthwise_5x5_dilation2', 1, 4, 12, 10, 4, 5, 5, padding=(2, 2), dilation=(2, 2), groups=4)
    conv('depthwise_multiplier3_stride1x2', 2, 2, 7, 9, 6, 3, 3, stride=(1, 2), groups=2, bias=False)
    # Batched im2col + GEMM (nn/conv_gemm.cc): several images per GEMM, a short last batch,
    # a grouped 1x1 (no im2col).
    conv('batched_stride2_small_planes', 3, 8, 7, 7, 12, 3, 3, stride=(2, 2), padding=(1, 1))
    conv('batched_groups2_short_last_batch', 5, 4, 14, 14, 6, 3, 3, groups=2)
    conv('batched_pointwise_groups2', 3, 6, 5, 7, 4, 1, 1, groups=2)
    # One case per algorithm of the native chooser (nn/conv.cc's conv_plan; conv-goldens.test.ts runs
    # them on every kernel table and checks that each algorithm of each pass is reached): Winograd
    # F(4x4,3x3) (3x3 and 5x5 kernels), the direct stride-1 kernels, the channel-vectorised strided kernels (a 3x3 stride-2
    # layer and a 7x7 stem), one dense matrix per image (2x2 and 1x1 planes), a grouped layer one group
    # at a time, a strided 1x1 layer on the GEMM path.
    conv('path_winograd_pad2_odd', 2, 17, 11, 14, 18, 3, 3, padding=(2, 2), bias=False)
    # 5x5 kernels on the Winograd path as four 3x3 blocks: few input channels, no padding, padding
    # 1 x 3 (the input gradient then pads 3 x 1, shifted blocks -2 x 0 ... 3 x 1).
    conv('path_winograd_5x5_pad2_odd', 2, 5, 13, 18, 17, 5, 5, padding=(2, 2))
    conv('path_winograd_5x5_pad0', 2, 3, 19, 21, 16, 5, 5, bias=False)
    conv('path_winograd_5x5_pad1x3', 3, 4, 12, 11, 16, 5, 5, padding=(1, 3))
    conv('path_direct', 2, 8, 12, 20, 12, 3, 3, padding=(1, 1))
    conv('path_direct_5x5', 2, 3, 9, 18, 6, 5, 5, padding=(2, 2))
    conv('path_channel_vectorised_3x3_s2', 2, 10, 9, 24, 20, 3, 3, stride=(2, 2), padding=(1, 1))
    conv('path_channel_vectorised_7x7_s2', 2, 3, 18, 17, 16, 7, 7, stride=(2, 2), padding=(3, 3), bias=False)
    conv('path_dense_2x2', 3, 20, 2, 2, 24, 3, 3, padding=(1, 1))
    conv('path_dense_1x1', 2, 12, 1, 1, 8, 3, 3, padding=(1, 1))
    conv('path_grouped_direct', 2, 12, 6, 16, 16, 3, 3, padding=(1, 1), groups=4)
    conv('path_gemm_pointwise_s2', 2, 8, 9, 9, 12, 1, 1, stride=(2, 2))

    # ---- pooling
    def pool(op, name, shape, k, s, p):
        add(f'{op}/{name}', op, lambda g: [g.distinct(shape)],
            {'kernelSize': list(k), 'stride': list(s), 'padding': list(p)})

    pool('maxPool2d', '2x2_s2', [2, 3, 8, 8], (2, 2), (2, 2), (0, 0))
    pool('maxPool2d', '3x3_s2_p1', [1, 2, 7, 7], (3, 3), (2, 2), (1, 1))
    pool('maxPool2d', 'kernel2x3_s2x1', [2, 2, 6, 7], (2, 3), (2, 1), (0, 0))
    pool('maxPool2d', 'kernel3x2_s1x2_p1x0', [1, 2, 5, 6], (3, 2), (1, 2), (1, 0))
    pool('maxPool2d', 'odd_input_2x2_s2', [1, 2, 7, 9], (2, 2), (2, 2), (0, 0))
    pool('maxPool2d', 'overlap_3x3_s1', [1, 1, 5, 5], (3, 3), (1, 1), (0, 0))
    pool('avgPool2d', '2x2_s2', [2, 3, 6, 6], (2, 2), (2, 2), (0, 0))
    pool('avgPool2d', '3x3_s1_p1', [1, 2, 5, 5], (3, 3), (1, 1), (1, 1))
    pool('avgPool2d', 'odd_input_2x2_s2', [1, 2, 7, 5], (2, 2), (2, 2), (0, 0))
    pool('avgPool2d', 'kernel3x2_s2x1_p1x0', [1, 2, 6, 5], (3, 2), (2, 1), (1, 0))
    add('adaptiveAvgPool2d/1x1', 'adaptiveAvgPool2d', lambda g: [g.normal([2, 3, 5, 5])], {'outputSize': [1, 1]})
    add('adaptiveAvgPool2d/1x1_nonsquare', 'adaptiveAvgPool2d', lambda g: [g.normal([1, 4, 3, 6])],
        {'outputSize': [1, 1]})

    # ---- batchNorm2d
    def bn(name, shape, training):
        c = shape[1]
        g0 = Gen(f'batchNorm2d/{name}/stats')
        attrs = {
            'training': training,
            'eps': 1e-5,
            'momentum': 0.1,
            'runningMean': G.f32_list(g0.normal([c], 0.5)),
            'runningVar': G.f32_list(g0.uniform([c], 0.5, 2.0)),
        }

        def extra(inputs, attrs):
            x = torch.tensor(inputs[0].astype(np.float64))
            rm, rv = _batchnorm_stats(attrs, torch.float64)
            w = torch.tensor(inputs[1].astype(np.float64))
            b = torch.tensor(inputs[2].astype(np.float64))
            _batchnorm([x, w, b], attrs, (rm, rv))  # updates rm/rv in place when training
            return {'runningMeanAfter': G.f64_list(rm), 'runningVarAfter': G.f64_list(rv)}

        add(f'batchNorm2d/{name}', 'batchNorm2d',
            lambda g: [g.normal(shape, 2.0) + np.float32(0.5), g.uniform([c], 0.5, 1.5), g.normal([c], 0.5)],
            attrs, extra_fn=extra)

    bn('train', [2, 3, 4, 5], True)
    bn('train_batch1', [1, 2, 3, 3], True)
    bn('eval', [2, 3, 4, 5], False)

    return cases


# --------------------------------------------------------------------------------------------------


def dump(cases):
    meta = {
        'generator': 'packages/nn/test/goldens/generate.py',
        'torch': torch.__version__,
        'convention': 'inputs/upstream: float32 (decode as float32); output/grads: float64 autograd, '
                      '7 significant digits; grads[i] = d sum(output*upstream) / d inputs[i]',
    }
    return G.cases_document(meta, cases)


def check(path):
    """Re-run every case in float32 from the decoded file: the file is self-consistent and this shows
    what tolerance a float32 implementation needs."""
    with open(path) as f:
        doc = json.load(f)
    worst = (0.0, '')
    names = set()
    for c in doc['cases']:
        assert c['name'] not in names, 'duplicate name ' + c['name']
        names.add(c['name'])
        xs = [G.decode_f32(t, requires_grad=g is not None) for t, g in zip(c['inputs'], c['grads'])]
        out = OPS[c['op']](xs, c['attrs'])
        up = G.decode_f32(c['upstream'])
        assert list(up.shape) == c['output']['shape'], c['name']
        pairs = [(out, c['output'])]
        diff = [x for x in xs if x.requires_grad]
        gs = iter(torch.autograd.grad((out * up).sum(), diff))
        for x, g in zip(xs, c['grads']):
            if g is not None:
                pairs.append((next(gs), g))
        for got, want in pairs:
            m = G.float32_error(got, want)
            if m > worst[0]:
                worst = (m, c['name'])
    print(f'{len(doc["cases"])} cases, worst float32 error |got-want|/(1e-3+|want|) = {worst[0]:.2e} ({worst[1]})')
    if worst[0] > 1e-3:
        sys.exit(1)


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
