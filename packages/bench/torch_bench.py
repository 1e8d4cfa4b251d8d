#!/usr/bin/python3
"""PyTorch side of the seed-cnn benchmark. Run with Debian's interpreter:

    /usr/bin/python3 packages/bench/torch_bench.py --threads 1 --format nchw --mode train --warmup 5 --iters 30

Prints one JSON line:
    {"framework":"pytorch","threads":1,"format":"nchw","mode":"train","imagesPerSec":...,"msPerStep":...,
     "torch":"1.13.0a0", ...}
`--probe` prints which convolution kernels run (profiler op names) instead of timing.
"""

import argparse
import json
import statistics
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

BATCH = 64
CLASSES = 10
LR = 0.05


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--threads', type=int, default=1)
    p.add_argument('--format', choices=['nchw', 'channels_last'], default='nchw')
    p.add_argument('--mode', choices=['train', 'infer'], default='train')
    p.add_argument('--warmup', type=int, default=5)
    p.add_argument('--iters', type=int, default=20)
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--probe', action='store_true', help='print the aten ops one step runs, no timing')
    return p.parse_args(argv)


def seed_cnn():
    """seed-cnn: 3x32x32 -> conv3-8 relu -> conv8-8 relu -> maxpool2 -> conv8-16 relu -> maxpool2
    -> flatten(1024) -> linear 1024-128 relu -> linear 128-10."""
    return nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1),
        nn.ReLU(),
        nn.Conv2d(8, 8, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(8, 16, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(16 * 8 * 8, 128),
        nn.ReLU(),
        nn.Linear(128, CLASSES),
    )


def main(argv):
    args = parse_args(argv)
    if args.threads < 1 or args.iters < 1 or args.warmup < 0:
        sys.exit('torch_bench.py: --threads and --iters must be >= 1, --warmup >= 0')

    # Inter-op parallelism is irrelevant for one sequential model; it can only be set before any
    # parallel work has started, hence first thing.
    interop = True
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:
        interop = False
    torch.set_num_threads(args.threads)

    torch.manual_seed(args.seed)
    model = seed_cnn()
    x = torch.randn(BATCH, 3, 32, 32)
    y = torch.randint(0, CLASSES, (BATCH,))
    if args.format == 'channels_last':
        model = model.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)
    opt = torch.optim.SGD(model.parameters(), lr=LR)

    if args.mode == 'train':
        model.train()

        def step():
            opt.zero_grad()
            loss = F.cross_entropy(model(x), y)
            loss.backward()
            opt.step()
    else:
        model.eval()

        def step():
            with torch.inference_mode():
                model(x)

    if args.probe:
        step()
        with torch.autograd.profiler.profile() as prof:
            step()
        names = sorted({e.name for e in prof.function_events if 'conv' in e.name or 'mkldnn' in e.name})
        print(json.dumps({
            'framework': 'pytorch', 'format': args.format, 'mode': args.mode,
            'mkldnnAvailable': torch.backends.mkldnn.is_available(),
            'mkldnnEnabled': torch.backends.mkldnn.enabled,
            'convOps': names, 'torch': torch.__version__,
        }, separators=(',', ':')))
        return

    for _ in range(args.warmup):
        step()
    step_ms = []
    t0 = time.perf_counter()
    for _ in range(args.iters):
        t = time.perf_counter()
        step()
        step_ms.append(1000 * (time.perf_counter() - t))
    seconds = time.perf_counter() - t0

    print(json.dumps({
        'framework': 'pytorch',
        'threads': args.threads,
        'format': args.format,
        'mode': args.mode,
        'imagesPerSec': round(BATCH * args.iters / seconds, 2),
        'msPerStep': round(1000 * seconds / args.iters, 3),
        'msPerStepMedian': round(statistics.median(step_ms), 3),
        'torch': torch.__version__,
        'batch': BATCH,
        'warmup': args.warmup,
        'iters': args.iters,
        'mkldnn': torch.backends.mkldnn.is_available(),
        'interopThreads': torch.get_num_interop_threads() if interop else None,
    }, separators=(',', ':')))


if __name__ == '__main__':
    main(sys.argv[1:])
