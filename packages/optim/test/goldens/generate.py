#!/usr/bin/python3
"""Generate PyTorch reference values ("goldens") for @dlf/optim.

    /usr/bin/python3 packages/optim/test/goldens/generate.py   # writes optim.json next to this file

Two sections:

* `trajectories`: a fixed small problem (a 3-4-3 tanh MLP with cross-entropy on 8 fixed examples, plus
  one parameter that never receives a gradient) trained for 50 steps by each optimizer and option set,
  some with a learning-rate schedule stepped after every optimizer step. The initial parameters and
  data are float32 values; PyTorch runs the trajectory in float64 from them, and the file keeps the
  parameters (8 significant digits) at checkpoint steps and the loss of every step. The largest
  relative deviation of PyTorch's own float32 run from the float64 one is recorded per trajectory
  (`float32Deviation`) as the scale of rounding noise.
* `schedules`: each learning-rate schedule run by PyTorch 1.13 for a number of steps: the rate after
  construction and after every step (exact doubles), the momentum / beta1 for OneCycleLR, and the metric
  fed to ReduceLROnPlateau.

numpy's legacy RandomState seeded with crc32 of a name; torch single-threaded: re-running gives a
byte-identical file.
"""

import os
import sys
import warnings

import numpy as np
import torch
import torch.nn.functional as F
from torch.optim import SGD, Adam, AdamW, lr_scheduler as L

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, '..', '..', '..', 'testing', 'python'))
import dlf_goldens as G  # noqa: E402  (found through the path above)

OUT = os.path.join(HERE, 'optim.json')
STEPS = 50
CHECKPOINTS = [1, 2, 3, 5, 10, 20, 30, 40, 50]
SIG_DIGITS = 8

warnings.filterwarnings('ignore')  # PyTorch's "step(epoch) is deprecated" from SequentialLR


def sig(v):
    return G.sig(v, SIG_DIGITS)


# ---------------------------------------------------------------------------------------------------
# the problem

def make_problem():
    g = G.seeded('optim/problem')
    x = G.round_f32(g.standard_normal((8, 3)))
    y = g.randint(0, 3, size=8)
    params = {
        'fc1.weight': G.round_f32(g.uniform(-0.6, 0.6, (4, 3))),
        'fc1.bias': G.round_f32(g.uniform(-0.6, 0.6, (4,))),
        'fc2.weight': G.round_f32(g.uniform(-0.5, 0.5, (3, 4))),
        'fc2.bias': G.round_f32(g.uniform(-0.5, 0.5, (3,))),
        'unused': G.round_f32(g.uniform(-1, 1, (2,))),  # never receives a gradient: every optimizer must skip it
    }
    return x, y, params


def forward(ps, x, y):
    h = torch.tanh(F.linear(x, ps[0], ps[1]))
    return F.cross_entropy(F.linear(h, ps[2], ps[3]), y)


def make_optimizer(spec, params):
    o = dict(spec['options'])
    kind = spec['type']
    if kind == 'SGD':
        return SGD(params, lr=o['lr'], momentum=o.get('momentum', 0), dampening=o.get('dampening', 0),
                   nesterov=o.get('nesterov', False), weight_decay=o.get('weightDecay', 0))
    kw = {'lr': o.get('lr', 1e-3), 'betas': tuple(o.get('betas', (0.9, 0.999))), 'eps': o.get('eps', 1e-8),
          'amsgrad': o.get('amsgrad', False)}
    if kind == 'Adam':
        return Adam(params, weight_decay=o.get('weightDecay', 0), **kw)
    if kind == 'AdamW':
        return AdamW(params, weight_decay=o.get('weightDecay', 1e-2), **kw)
    raise ValueError(kind)


def make_scheduler(spec, opt):
    kind = spec['type']
    o = spec.get('options', {})
    if kind == 'StepLR':
        return L.StepLR(opt, step_size=o['stepSize'], gamma=o.get('gamma', 0.1))
    if kind == 'MultiStepLR':
        return L.MultiStepLR(opt, milestones=o['milestones'], gamma=o.get('gamma', 0.1))
    if kind == 'ExponentialLR':
        return L.ExponentialLR(opt, gamma=o['gamma'])
    if kind == 'CosineAnnealingLR':
        return L.CosineAnnealingLR(opt, T_max=o['tMax'], eta_min=o.get('etaMin', 0))
    if kind == 'LinearLR':
        return L.LinearLR(opt, start_factor=o.get('startFactor', 1 / 3), end_factor=o.get('endFactor', 1.0),
                          total_iters=o.get('totalIters', 5))
    if kind == 'OneCycleLR':
        return L.OneCycleLR(opt, max_lr=o['maxLr'], total_steps=o.get('totalSteps'), epochs=o.get('epochs'),
                            steps_per_epoch=o.get('stepsPerEpoch'), pct_start=o.get('pctStart', 0.3),
                            anneal_strategy=o.get('annealStrategy', 'cos'),
                            cycle_momentum=o.get('cycleMomentum', True), base_momentum=o.get('baseMomentum', 0.85),
                            max_momentum=o.get('maxMomentum', 0.95), div_factor=o.get('divFactor', 25.0),
                            final_div_factor=o.get('finalDivFactor', 1e4), three_phase=o.get('threePhase', False))
    if kind == 'ReduceLROnPlateau':
        return L.ReduceLROnPlateau(opt, mode=o.get('mode', 'min'), factor=o.get('factor', 0.1),
                                   patience=o.get('patience', 10), threshold=o.get('threshold', 1e-4),
                                   threshold_mode=o.get('thresholdMode', 'rel'), cooldown=o.get('cooldown', 0),
                                   min_lr=o.get('minLr', 0), eps=o.get('eps', 1e-8))
    if kind == 'SequentialLR':
        children = [make_scheduler(c, opt) for c in o['schedulers']]
        return L.SequentialLR(opt, schedulers=children, milestones=o['milestones'])
    if kind == 'Chained':
        return [make_scheduler(c, opt) for c in o['schedulers']]  # stepped together, in order
    raise ValueError(kind)


def step_scheduler(sched, metric=None):
    if isinstance(sched, list):
        for s in sched:
            s.step()
    elif isinstance(sched, L.ReduceLROnPlateau):
        sched.step(metric)
    else:
        sched.step()


def run_trajectory(spec, x, y, init, dtype):
    ps = [torch.tensor(init[k].astype(np.float64), dtype=dtype, requires_grad=True) for k in init]
    xt = torch.tensor(x.astype(np.float64), dtype=dtype)
    yt = torch.tensor(y, dtype=torch.int64)
    opt = make_optimizer(spec['optimizer'], ps)
    sched = make_scheduler(spec['scheduler'], opt) if 'scheduler' in spec else None
    losses, checkpoints = [], {}
    for step in range(1, STEPS + 1):
        opt.zero_grad()
        loss = forward(ps, xt, yt)
        loss.backward()
        opt.step()
        if sched is not None:
            step_scheduler(sched)
        losses.append(loss.item())
        if step in CHECKPOINTS:
            checkpoints[step] = [p.detach().double().numpy().reshape(-1).copy() for p in ps]
    assert ps[4].grad is None
    return losses, checkpoints


TRAJECTORIES = [
    ('sgd/plain', {'type': 'SGD', 'options': {'lr': 0.1}}),
    ('sgd/momentum', {'type': 'SGD', 'options': {'lr': 0.05, 'momentum': 0.9}}),
    ('sgd/momentum_dampening', {'type': 'SGD', 'options': {'lr': 0.05, 'momentum': 0.9, 'dampening': 0.3}}),
    ('sgd/nesterov', {'type': 'SGD', 'options': {'lr': 0.05, 'momentum': 0.9, 'nesterov': True}}),
    ('sgd/weight_decay', {'type': 'SGD', 'options': {'lr': 0.1, 'weightDecay': 0.01}}),
    ('sgd/nesterov_weight_decay', {'type': 'SGD', 'options': {'lr': 0.05, 'momentum': 0.8, 'nesterov': True,
                                                              'weightDecay': 0.05}}),
    ('adam/lr', {'type': 'Adam', 'options': {'lr': 0.01}}),
    ('adam/betas_eps', {'type': 'Adam', 'options': {'lr': 0.02, 'betas': [0.8, 0.99], 'eps': 1e-6}}),
    ('adam/weight_decay', {'type': 'Adam', 'options': {'lr': 0.01, 'weightDecay': 0.1}}),
    ('adam/amsgrad', {'type': 'Adam', 'options': {'lr': 0.01, 'amsgrad': True}}),
    ('adam/amsgrad_weight_decay', {'type': 'Adam', 'options': {'lr': 0.01, 'amsgrad': True, 'weightDecay': 0.05,
                                                               'betas': [0.85, 0.995]}}),
    ('adamw/default_decay', {'type': 'AdamW', 'options': {'lr': 0.01}}),
    ('adamw/weight_decay', {'type': 'AdamW', 'options': {'lr': 0.01, 'weightDecay': 0.3}}),
    ('adamw/amsgrad_betas_eps', {'type': 'AdamW', 'options': {'lr': 0.01, 'amsgrad': True, 'weightDecay': 0.1,
                                                               'betas': [0.9, 0.99], 'eps': 1e-7}}),
]
SCHEDULED = [
    ('sgd/momentum+StepLR', {'type': 'SGD', 'options': {'lr': 0.1, 'momentum': 0.9}},
     {'type': 'StepLR', 'options': {'stepSize': 10, 'gamma': 0.5}}),
    ('sgd/nesterov+OneCycleLR', {'type': 'SGD', 'options': {'lr': 0.1, 'momentum': 0.9, 'nesterov': True}},
     {'type': 'OneCycleLR', 'options': {'maxLr': 0.3, 'totalSteps': 50}}),
    ('adam+OneCycleLR_three_phase_linear', {'type': 'Adam', 'options': {'lr': 0.01}},
     {'type': 'OneCycleLR', 'options': {'maxLr': 0.03, 'totalSteps': 60, 'pctStart': 0.25, 'threePhase': True,
                                        'annealStrategy': 'linear'}}),
    ('adamw+SequentialLR_warmup_cosine', {'type': 'AdamW', 'options': {'lr': 0.02, 'weightDecay': 0.05}},
     {'type': 'SequentialLR', 'options': {
         'schedulers': [{'type': 'LinearLR', 'options': {'startFactor': 0.1, 'totalIters': 5}},
                        {'type': 'CosineAnnealingLR', 'options': {'tMax': 45, 'etaMin': 1e-4}}],
         'milestones': [5]}}),
]


# ---------------------------------------------------------------------------------------------------
# schedules alone

class Dummy(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.w = torch.nn.Parameter(torch.zeros(1))


def plateau_metrics(name, n):
    g = G.seeded(name)
    base = np.concatenate([np.linspace(1.0, 0.5, n // 3), np.full(n - n // 3, 0.5)])
    return [float(v) for v in np.round(base + g.uniform(-0.02, 0.02, n), 4)]


SCHEDULES = [
    ('StepLR', 'SGD', 0.1, {'type': 'StepLR', 'options': {'stepSize': 7, 'gamma': 0.5}}, 40),
    ('StepLR_default_gamma', 'SGD', 0.05, {'type': 'StepLR', 'options': {'stepSize': 3}}, 20),
    ('MultiStepLR_repeated_milestone', 'SGD', 0.1,
     {'type': 'MultiStepLR', 'options': {'milestones': [12, 5, 12, 30], 'gamma': 0.3}}, 40),
    ('ExponentialLR', 'SGD', 0.1, {'type': 'ExponentialLR', 'options': {'gamma': 0.9}}, 60),
    ('CosineAnnealingLR_past_tMax', 'SGD', 0.1, {'type': 'CosineAnnealingLR', 'options': {'tMax': 10,
                                                                                          'etaMin': 0.001}}, 45),
    ('CosineAnnealingLR', 'Adam', 0.003, {'type': 'CosineAnnealingLR', 'options': {'tMax': 25}}, 25),
    ('LinearLR_warmup', 'SGD', 0.1, {'type': 'LinearLR', 'options': {'startFactor': 0.25, 'totalIters': 8}}, 20),
    ('LinearLR_defaults', 'SGD', 0.05, {'type': 'LinearLR'}, 10),
    # PyTorch's recursive form lands on -2.2e-18 here, not 0 (dlf clamps rates at 0)
    ('LinearLR_to_zero', 'SGD', 0.1, {'type': 'LinearLR', 'options': {'startFactor': 0.3, 'endFactor': 0.0,
                                                                       'totalIters': 3}}, 8),
    ('LinearLR_decay', 'SGD', 0.1, {'type': 'LinearLR', 'options': {'startFactor': 1.0, 'endFactor': 0.1,
                                                                     'totalIters': 10}}, 15),
    ('OneCycleLR_sgd', 'SGD', 0.1, {'type': 'OneCycleLR', 'options': {'maxLr': 0.5, 'totalSteps': 40}}, 40),
    ('OneCycleLR_adam_three_phase_linear', 'Adam', 0.001,
     {'type': 'OneCycleLR', 'options': {'maxLr': 0.01, 'totalSteps': 50, 'pctStart': 0.25, 'threePhase': True,
                                        'annealStrategy': 'linear', 'baseMomentum': 0.8, 'maxMomentum': 0.9}}, 50),
    ('OneCycleLR_epochs_no_momentum', 'SGD', 0.1,
     {'type': 'OneCycleLR', 'options': {'maxLr': 0.2, 'epochs': 5, 'stepsPerEpoch': 7, 'cycleMomentum': False,
                                        'divFactor': 10.0, 'finalDivFactor': 100.0, 'pctStart': 0.4}}, 35),
    ('ReduceLROnPlateau_min', 'SGD', 0.1,
     {'type': 'ReduceLROnPlateau', 'options': {'patience': 2, 'factor': 0.5, 'cooldown': 1, 'threshold': 0.01}}, 40),
    ('ReduceLROnPlateau_max_abs_minLr', 'SGD', 0.1,
     {'type': 'ReduceLROnPlateau', 'options': {'mode': 'max', 'thresholdMode': 'abs', 'threshold': 0.05,
                                               'patience': 1, 'factor': 0.3, 'minLr': 0.005, 'eps': 1e-3}}, 40),
    ('SequentialLR_warmup_cosine', 'SGD', 0.1,
     {'type': 'SequentialLR', 'options': {
         'schedulers': [{'type': 'LinearLR', 'options': {'startFactor': 0.1, 'totalIters': 5}},
                        {'type': 'CosineAnnealingLR', 'options': {'tMax': 20}}],
         'milestones': [5]}}, 30),
    ('SequentialLR_three', 'SGD', 0.1,
     {'type': 'SequentialLR', 'options': {
         'schedulers': [{'type': 'LinearLR', 'options': {'startFactor': 0.5, 'totalIters': 3}},
                        {'type': 'ExponentialLR', 'options': {'gamma': 0.8}},
                        {'type': 'StepLR', 'options': {'stepSize': 4, 'gamma': 0.5}}],
         'milestones': [3, 10]}}, 25),
    ('chained_Exponential_Step', 'SGD', 0.1,
     {'type': 'Chained', 'options': {'schedulers': [{'type': 'ExponentialLR', 'options': {'gamma': 0.9}},
                                                    {'type': 'StepLR', 'options': {'stepSize': 5, 'gamma': 0.5}}]}},
     20),
]


def run_schedule(name, opt_type, lr, spec, steps):
    params = Dummy().parameters()
    opt = SGD(params, lr=lr, momentum=0.9) if opt_type == 'SGD' else Adam(params, lr=lr)
    sched = make_scheduler(spec, opt)
    is_plateau = spec['type'] == 'ReduceLROnPlateau'
    metrics = plateau_metrics(name, steps) if is_plateau else None
    group = opt.param_groups[0]

    def momentum():
        return group['betas'][0] if 'betas' in group else group['momentum']

    lrs, moms = [group['lr']], [momentum()]
    for i in range(steps):
        step_scheduler(sched, metrics[i] if is_plateau else None)
        lrs.append(group['lr'])
        moms.append(momentum())
    out = {'name': name, 'optimizer': {'type': opt_type, 'lr': lr}, 'scheduler': spec, 'steps': steps, 'lrs': lrs}
    if spec['type'] == 'OneCycleLR':
        out['momentum'] = moms
    if is_plateau:
        out['metrics'] = metrics
    return out


# ---------------------------------------------------------------------------------------------------

def main():
    x, y, init = make_problem()
    trajectories = []
    for name, opt_spec, *rest in [t + (None,) if len(t) == 2 else t for t in TRAJECTORIES + SCHEDULED]:
        spec = {'optimizer': opt_spec}
        if rest[0] is not None:
            spec['scheduler'] = rest[0]
        losses, cps = run_trajectory(spec, x, y, init, torch.float64)
        _, cps32 = run_trajectory(spec, x, y, init, torch.float32)
        dev = 0.0
        for s in CHECKPOINTS:
            for a, b in zip(cps[s], cps32[s]):
                dev = max(dev, float(np.max(np.abs(a - b) / (np.abs(a) + 1e-6))))
        trajectories.append({
            'name': name,
            **spec,
            'float32Deviation': float('%.2g' % dev),
            'losses': [sig(v) for v in losses],
            'checkpoints': [{'step': s, 'params': [[sig(v) for v in p] for p in cps[s]]} for s in CHECKPOINTS],
        })
    schedules = [run_schedule(*s) for s in SCHEDULES]
    doc = {
        'meta': {
            'generator': 'packages/optim/test/goldens/generate.py',
            'torch': torch.__version__,
            'steps': STEPS,
            'convention': 'problem: float32 values; trajectories: float64 PyTorch run from them, parameters '
                          'after the given step (8 significant digits), losses[i] = loss before step i+1; '
                          'schedules: lrs[0] after construction, lrs[i] after i steps (exact doubles)',
        },
        'problem': {
            'x': {'shape': list(x.shape), 'data': G.f32_list(x)},
            'y': [int(v) for v in y],
            'params': [{'name': k, 'shape': list(v.shape), 'data': G.f32_list(v)} for k, v in init.items()],
        },
    }
    lines = ['{"meta":' + G.compact(doc['meta']) + ',', '"problem":' + G.compact(doc['problem']) + ',',
             '"trajectories":[', *G.list_lines(trajectories), '],', '"schedules":[', *G.list_lines(schedules), ']}']
    text = '\n'.join(lines) + '\n'
    with open(OUT, 'w') as f:
        f.write(text)
    worst = max(trajectories, key=lambda t: t['float32Deviation'])
    print(f'wrote {len(trajectories)} trajectories, {len(schedules)} schedules, {len(text)} bytes to '
          f'{os.path.relpath(OUT)}; PyTorch float32 vs float64: worst {worst["float32Deviation"]} ({worst["name"]})')


if __name__ == '__main__':
    main()
