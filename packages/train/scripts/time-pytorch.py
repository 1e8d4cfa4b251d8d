"""PyTorch 1.13's time for the cifar10-fast recipe's training step, to compare with dlf's
(packages/train/scripts/time-dlf.mjs prints the same lines for dlf).

Builds fast-cifar from the PyTorch definition the zoo goldens use (packages/nn/test/goldens/zoo.py),
then times training steps at the recipe's settings (packages/train/src/recipes.ts): batch 1024, SGD
with Nesterov momentum 0.85, lr 1.5, weight decay 1.3e-3, batch-norm parameters in a group at 64x
the rate (decay divided by 64), frozen parameters (the whitening stem's kernels, BN scales) left out,
cross-entropy with label smoothing 0.2, optionally an EMA of the weights and BN statistics. The data are synthetic tensors made once (random normal images, random labels), so
decoding, batch assembly and augmentation (crop, flip) cost nothing here: this is the model's step
alone. The one-cycle schedule's per-step cost is negligible and left out.

Prints, for each thread count, ms per step and the projected training time of the recipe's epochs
over 50,000 images (steps per epoch x ms per step x epochs; no evaluation, no decoding).

    nice -n 10 /usr/bin/python3 packages/train/scripts/time-pytorch.py --steps 20 --threads 1,2

Measure on an idle machine: figures taken while other work runs are only indicative.
"""

import argparse
import os
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ beside the goldens
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, '..', '..', 'nn', 'test', 'goldens'))
sys.path.insert(0, os.path.join(HERE, '..', '..', 'bench'))

import torch  # noqa: E402
import torch.nn as nn  # noqa: E402

from torch_bench import loaded_blas  # noqa: E402
from zoo import FastCifar  # noqa: E402

IMAGES = 50_000


def parse():
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--steps', type=int, default=20, help='timed steps per thread count (default 20)')
    p.add_argument('--warmup', type=int, default=3, help='untimed steps first (default 3)')
    p.add_argument('--threads', default='1,2', help='thread counts, comma-separated (default 1,2)')
    p.add_argument('--batch-size', type=int, default=1024, help='the recipe: 1024')
    p.add_argument('--epochs', type=int, default=12, help="the recipe's epochs: 12")
    p.add_argument('--layouts', default='nchw,channels_last',
                   help='memory formats to time, comma-separated (default nchw,channels_last)')
    p.add_argument('--ema', type=float, default=0.0, help='also update an EMA with this decay (default 0: none)')
    return p.parse_args()


def time_steps(threads, layout, args):
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    fmt = torch.channels_last if layout == 'channels_last' else torch.contiguous_format
    model = FastCifar().train().to(memory_format=fmt)
    lr, wd, bn_scale = 1.5, 1.3e-3, 64
    bn = [p for m in model.modules() if isinstance(m, nn.BatchNorm2d) for p in m.parameters() if p.requires_grad]
    bn_ids = {id(p) for p in bn}
    rest = [p for p in model.parameters() if p.requires_grad and id(p) not in bn_ids]
    opt = torch.optim.SGD([dict(params=rest), dict(params=bn, lr=lr * bn_scale, weight_decay=wd / bn_scale)],
                          lr=lr, momentum=0.85, nesterov=True, weight_decay=wd)
    loss_fn = nn.CrossEntropyLoss(label_smoothing=0.2)
    x = torch.randn(args.batch_size, 3, 32, 32).contiguous(memory_format=fmt)
    y = torch.randint(0, 10, (args.batch_size,))
    averaged = [t.detach().clone() for t in model.state_dict().values() if t.is_floating_point()]
    sources = [t for t in model.state_dict().values() if t.is_floating_point()]

    def step():
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
        if args.ema:
            with torch.no_grad():
                torch._foreach_mul_(averaged, args.ema)
                torch._foreach_add_(averaged, sources, alpha=1 - args.ema)
        return loss.item()

    for _ in range(args.warmup):
        step()
    start = time.perf_counter()
    for _ in range(args.steps):
        step()
    return (time.perf_counter() - start) * 1000 / args.steps


def main():
    args = parse()
    steps_per_epoch = IMAGES / args.batch_size
    print(f'PyTorch {torch.__version__}: fast-cifar training step, batch {args.batch_size}, SGD Nesterov, '
          f'label smoothing 0.2{f", EMA {args.ema}" if args.ema else ""}; synthetic tensors (no decoding, '
          f'no augmentation cost); {args.warmup} warm-up + {args.steps} timed steps')
    for threads in [int(t) for t in args.threads.split(',')]:
        for layout in args.layouts.split(','):
            ms = time_steps(threads, layout, args)
            epoch = ms * steps_per_epoch / 1000
            print(f'  {threads} thread{"s" if threads > 1 else " "} {layout:13}: {ms:8.1f} ms/step  '
                  f'{args.batch_size * 1000 / ms:6.0f} images/s  epoch of {IMAGES:,} images {epoch:6.1f} s  '
                  f'{args.epochs} epochs {epoch * args.epochs / 60:5.1f} min')
    print(f'BLAS loaded: {loaded_blas()}; mkldnn: {torch.backends.mkldnn.is_available()}')
    print(f'load average while measuring: {" ".join(f"{v:.2f}" for v in os.getloadavg())}')


if __name__ == '__main__':
    main()
