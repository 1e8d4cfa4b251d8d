#!/usr/bin/python3
"""PyTorch side of the benchmark zoo (models in torch_models.py). Run with Debian's interpreter:

    /usr/bin/python3 packages/bench/torch_bench.py --model vgg-bn --batch 64 --threads 1 --format nchw \
        --mode train --warmup 5 --iters 30

Prints one JSON line:
    {"framework":"pytorch","threads":1,"format":"nchw","mode":"train","imagesPerSec":...,"msPerStep":...,
     "torch":"1.13.0a0","blas":"...openblas...","peakRssMB":..., ...}
`blas` is the BLAS library the process mapped (linear layers run on it; convolutions run on oneDNN).
`--probe` prints which convolution kernels run (profiler op names) instead of timing; `--ops` prints
the ops that take the step's time (self CPU time per step) instead of timing.
"""

import argparse
import json
import os
import resource
import statistics
import sys
import time

import torch
import torch.nn.functional as F

from torch_models import CLASSES, MODELS, build_model

LR = 0.05


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--model', choices=MODELS, default='seed-cnn')
    p.add_argument('--batch', type=int, default=64)
    p.add_argument('--threads', type=int, default=1)
    p.add_argument('--format', choices=['nchw', 'channels_last'], default='nchw')
    p.add_argument('--mode', choices=['train', 'infer'], default='train')
    p.add_argument('--warmup', type=int, default=5)
    p.add_argument('--iters', type=int, default=20)
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--size', type=int, default=32, help='input height and width')
    p.add_argument('--seconds', type=float, default=float('inf'),
                   help='stop timing after this many seconds (at least 3 steps); warm-up stops at half')
    p.add_argument('--probe', action='store_true', help='print the aten ops one step runs, no timing')
    p.add_argument('--ops', action='store_true',
                   help='print the ops that take the time (self CPU time per step, torch profiler), no timing')
    return p.parse_args(argv)



def loaded_blas():
    """The BLAS shared library this process mapped (torch links libblas.so.3, which Debian's
    alternatives point at the reference BLAS or at OpenBLAS)."""
    with open('/proc/self/maps') as maps:
        libs = {line.split()[-1] for line in maps if 'blas' in line.split()[-1].lower()}
    core = sorted(lib for lib in libs if 'openblas' in lib.rsplit('/', 1)[-1]) or sorted(libs)
    return ', '.join(core) or 'none mapped'


def print_op_times(args, step, rows=20):
    """The ops that took the most self CPU time over min(--iters, 5) profiled steps after the warm-up,
    per step: where PyTorch spends a step, beside dlf_bench.mjs --profile's per-layer table."""
    for _ in range(max(args.warmup, 1)):
        step()
    steps = min(args.iters, 5)
    with torch.autograd.profiler.profile() as prof:
        for _ in range(steps):
            step()
    events = sorted(prof.key_averages(), key=lambda e: e.self_cpu_time_total, reverse=True)
    total = sum(e.self_cpu_time_total for e in events) or 1
    print(f'{args.model}, batch {args.batch}, {args.threads} thread(s), {args.format}, {args.mode}: self CPU time '
          f'per step over {steps} profiled steps (the profiler adds its own overhead); '
          f'GLIBC_TUNABLES={os.environ.get("GLIBC_TUNABLES", "(unset)")}')
    print(f'{"op":<48} {"ms/step":>9} {"share":>6} {"calls/step":>10}')
    for e in events[:rows]:
        print(f'{e.key[:48]:<48} {e.self_cpu_time_total / 1000 / steps:9.3f} {100 * e.self_cpu_time_total / total:5.1f}% '
              f'{e.count / steps:10.1f}')
    print(f'{"total":<48} {total / 1000 / steps:9.3f}')


def main(argv):
    args = parse_args(argv)
    if args.threads < 1 or args.iters < 1 or args.warmup < 0 or args.batch < 1:
        sys.exit('torch_bench.py: --threads, --batch and --iters must be >= 1, --warmup >= 0')
    if not 8 <= args.size <= 512:
        sys.exit(f'torch_bench.py: --size must be from 8 to 512, got {args.size}')

    # Inter-op parallelism is irrelevant for one sequential model; it can only be set before any
    # parallel work has started, hence first thing.
    interop = True
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:
        interop = False
    torch.set_num_threads(args.threads)

    torch.manual_seed(args.seed)
    model = build_model(args.model, args.size)
    x = torch.randn(args.batch, 3, args.size, args.size)
    y = torch.randint(0, CLASSES, (args.batch,))
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

    if args.ops:
        print_op_times(args, step)
        return

    warm_start = time.perf_counter()
    for i in range(args.warmup):
        if i > 0 and time.perf_counter() - warm_start >= args.seconds / 2:
            break
        step()
    step_ms = []
    cpu0 = time.process_time()
    t0 = time.perf_counter()
    for i in range(args.iters):
        if i >= 3 and time.perf_counter() - t0 >= args.seconds:
            break
        t = time.perf_counter()
        step()
        step_ms.append(1000 * (time.perf_counter() - t))
    seconds = time.perf_counter() - t0
    cpu_seconds = time.process_time() - cpu0
    args.iters = len(step_ms)

    print(json.dumps({
        'framework': 'pytorch',
        'model': args.model,
        'threads': args.threads,
        'format': args.format,
        'mode': args.mode,
        'imagesPerSec': round(args.batch * args.iters / seconds, 2),
        'msPerStep': round(1000 * seconds / args.iters, 3),
        'msPerStepMedian': round(statistics.median(step_ms), 3),
        'cpuMsPerStep': round(1000 * cpu_seconds / args.iters, 3),
        'torch': torch.__version__,
        'batch': args.batch,
        'peakRssMB': round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        'blas': loaded_blas(),
        'glibcTunables': os.environ.get('GLIBC_TUNABLES'),
        'warmup': args.warmup,
        'iters': args.iters,
        'mkldnn': torch.backends.mkldnn.is_available(),
        'interopThreads': torch.get_num_interop_threads() if interop else None,
    }, separators=(',', ':')))


if __name__ == '__main__':
    main(sys.argv[1:])
