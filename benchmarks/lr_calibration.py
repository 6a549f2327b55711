"""Calibrate the optimizer registry's default learning rates against DARTS's pair (docs/study.md).

    OMP_NUM_THREADS=1 python benchmarks/lr_calibration.py     # about 1,300 search steps: 20 minutes on one free core

A tiny first-order search (C=4, 3 cells, 16 px fake images, batch 16) runs --steps steps of
train_search's step (the alpha step, then the w step with gradient clipping), at a constant learning
rate, from the same initial w and alpha and on the same batches for every optimizer (one set per seed).

alpha side: how far alpha travels, ||alpha_K - alpha_0|| over all alphas, with w trained by DARTS's
momentum at 0.025. The calibrated rate is the one at which alpha travels as far as under DARTS's Adam at
3e-4 (log-log interpolation between the grid's rates).
w side: the search-train loss after K steps (the first 128 search-train images, BatchNorm in training
mode as the step sees it), alpha trained by DARTS's Adam at 3e-4. The calibrated rate is the smallest at
which the loss falls as low as under DARTS's momentum at 0.025 (log-log interpolation).
Prints one JSON line per run, then the table of both sides.
"""
import argparse
import json
import math
import os
import statistics
import sys

import torch
import torch.nn as nn

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import train_search  # noqa: E402
from darts_min import cli, data  # noqa: E402
from darts_min.architect import Architect  # noqa: E402
from darts_min.model_search import Network  # noqa: E402
from darts_min.optimizers import for_alphas, for_weights  # noqa: E402
from darts_min.training import weight_update  # noqa: E402

DARTS_W, DARTS_ALPHA = ('momentum', 0.025), ('adam', 3e-4)
ALPHA_GRID = {'adamw': [1e-4, 1e-3], 'rmsprop': [1e-5, 1e-4, 1e-3], 'sgd': [1e-2, 1e-1, 1.0],
              'momentum': [1e-3, 1e-2, 1e-1], 'nesterov': [1e-3, 1e-2, 1e-1]}
W_GRID = {'sgd': [0.025, 0.1, 0.4], 'nesterov': [0.025], 'rmsprop': [1e-4, 3e-4, 1e-3, 3e-3],
          'adam': [1e-4, 3e-4, 1e-3, 3e-3], 'adamw': [1e-4, 3e-4, 1e-3, 3e-3]}


def batches(count, batch_size, image_size, seed):
    """`count` (search-train, search-valid) batch pairs of fake images, unaugmented, in a seeded order."""
    images = data.FakeImages(2 * count * batch_size, image_size, transform=data.transform(image_size, train=False))
    x = torch.stack([images[i][0] for i in range(len(images))])
    y = torch.tensor([images[i][1] for i in range(len(images))])
    order = torch.randperm(len(images), generator=torch.Generator().manual_seed(seed))
    x, y = x[order].split(batch_size), y[order].split(batch_size)
    return list(zip(x[:count], y[:count], x[count:], y[count:]))


def search(w, w_lr, a, a_lr, seed, cfg):
    """(alpha distance, search-train loss) after cfg.steps steps of the first-order search."""
    args = train_search.parse_args(['--w_optimizer', w, '--learning_rate', str(w_lr), '--learning_rate_min', str(w_lr),
                                    '--arch_optimizer', a, '--arch_learning_rate', str(a_lr), '--device', 'cpu'])
    cli.seed_everything(seed, torch.device('cpu'))
    model = Network(cfg.init_channels, 10, cfg.layers, nn.CrossEntropyLoss())
    optimizer, architect = for_weights(args, model.parameters()), Architect(model, args)
    alpha_0 = torch.cat([p.detach().flatten() for p in model.arch_parameters()])
    steps = batches(cfg.steps, cfg.batch_size, cfg.image_size, seed)
    model.train()
    for step, (x, y, xv, yv) in enumerate(steps):
        architect.step(x, y, xv, yv, w_lr, optimizer, False)
        optimizer.zero_grad()
        weight_update(model._loss(x, y), optimizer, args.grad_clip, 0, step)
    with torch.no_grad():
        loss = statistics.mean(model._loss(x, y).item() for x, y, _, _ in steps[:128 // cfg.batch_size])
    distance = (torch.cat([p.detach().flatten() for p in model.arch_parameters()]) - alpha_0).norm().item()
    return distance, loss


def crossing(points, target, rising):
    """The smallest rate at which the measured curve [(rate, value)] reaches `target` (from below where
    `rising`, else from above), interpolated in log rate and log value, as text."""
    reached = [(v - target) * (1 if rising else -1) >= 0 for _, v in points]
    if reached[0]:
        return f'at most {points[0][0]:g}'
    if not any(reached):
        return 'not reached on the grid'
    k = reached.index(True)
    (r0, v0), (r1, v1) = points[k - 1], points[k]
    t = (math.log(target) - math.log(v0)) / (math.log(v1) - math.log(v0))
    return f'{math.exp(math.log(r0) + t * (math.log(r1) - math.log(r0))):.3g}'


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--steps', type=int, default=20)
    p.add_argument('--seeds', type=int, nargs='+', default=[0, 1])
    p.add_argument('--init_channels', type=int, default=4)
    p.add_argument('--layers', type=int, default=3)
    p.add_argument('--batch_size', type=int, default=16)
    p.add_argument('--image_size', type=int, default=16)
    cfg = p.parse_args()
    torch.set_num_threads(1)

    def measure(w, w_lr, a, a_lr):
        runs = [search(w, w_lr, a, a_lr, seed, cfg) for seed in cfg.seeds]
        result = {'w': w, 'w_lr': w_lr, 'alpha': a, 'alpha_lr': a_lr,
                  'alpha_distance': statistics.mean(r[0] for r in runs), 'train_loss': statistics.mean(r[1] for r in runs),
                  'per_seed': runs}
        print(json.dumps(result), flush=True)
        return result

    reference = measure(*DARTS_W, *DARTS_ALPHA)
    lines = [f'reference: w {DARTS_W[0]} {DARTS_W[1]}, alpha {DARTS_ALPHA[0]} {DARTS_ALPHA[1]}: alpha distance '
             f'{reference["alpha_distance"]:.4g}, search-train loss {reference["train_loss"]:.4f}', '',
             'side   optimizer  rate: measured                                          calibrated rate']
    for name, rates in ALPHA_GRID.items():
        points = [(r, measure(*DARTS_W, name, r)['alpha_distance']) for r in rates]
        lines.append(f'alpha  {name:9}  ' + ', '.join(f'{r:g}: {v:.4g}' for r, v in points).ljust(60)
                     + crossing(points, reference['alpha_distance'], rising=True))
    for name, rates in W_GRID.items():
        points = [(r, measure(name, r, *DARTS_ALPHA)['train_loss']) for r in rates]
        lines.append(f'w      {name:9}  ' + ', '.join(f'{r:g}: {v:.4f}' for r, v in points).ljust(60)
                     + crossing(points, reference['train_loss'], rising=False))
    print('\n'.join(lines))


if __name__ == '__main__':
    main()
