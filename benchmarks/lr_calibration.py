"""Calibrate the optimizer registry's default learning rates against DARTS's pair (docs/study.md).

    OMP_NUM_THREADS=1 python benchmarks/lr_calibration.py     # 3,300 search steps: about 30 CPU minutes

A tiny first-order search (C=4, 3 cells, batch 16, 16 px fake images with Gaussian noise of std --noise
added, so that the loss does not reach zero within the run) runs --steps steps of train_search's step
(the alpha step, then the w step with gradient clipping) at a constant learning rate, from the same
initial w and alpha and on the same batches for every optimizer (one set per seed, every batch new).

alpha side: how far alpha travels per step once the optimizers' warm-up is over: ||alpha_K - alpha_K/2||
over all alphas, the second half of the search. DARTS's pair (w: momentum at 0.025, alpha: Adam at 3e-4)
runs once per seed and records the hypergradient of every step; each alpha optimizer is then fed the
same hypergradients (torch.optim's own step, alpha's weight decay 1e-3 included) and its rate is the one
at which alpha travels as far as under Adam (bisection). Fed the recorded gradients, Adam retraces the
search's alphas exactly (checked); the others do not change the gradients they are fed (no feedback).
w side: the search-train loss after K steps (the first 128 search-train images, BatchNorm in training mode
as the step sees it), alpha trained by DARTS's Adam at 3e-4. The calibrated rate is the smallest at which
the loss falls as low as under DARTS's momentum at 0.025 (log-log interpolation between the grid's rates).
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
from darts_min import cli, data, optimizers  # noqa: E402
from darts_min import search as train_search  # noqa: E402
from darts_min.architect import Architect  # noqa: E402
from darts_min.model_search import Network  # noqa: E402

DARTS_W, DARTS_ALPHA = ('momentum', 0.025), ('adam', 3e-4)
ALPHA_SIDE = ['sgd', 'momentum', 'nesterov', 'rmsprop', 'adamw']
W_GRID = {'sgd': [0.025], 'rmsprop': [1e-4, 3e-4, 1e-3], 'adam': [3e-4, 1e-3, 3e-3], 'adamw': [3e-4, 1e-3, 3e-3]}


def batches(count, batch_size, image_size, noise, seed):
    """`count` (search-train, search-valid) batch pairs of fake images, unaugmented, with Gaussian pixel noise of
    std `noise` added (in normalised units: the plain fake images are learnt in a few dozen steps), in a seeded
    order; every image is seen once."""
    images = data.FakeImages(2 * count * batch_size, image_size, transform=data.transform(image_size, train=False))
    g = torch.Generator().manual_seed(seed)
    x = torch.stack([images[i][0] for i in range(len(images))])
    x = x + noise * torch.randn(x.shape, generator=g)
    y = torch.tensor([images[i][1] for i in range(len(images))])
    order = torch.randperm(len(images), generator=g)
    x, y = x[order].split(batch_size), y[order].split(batch_size)
    return list(zip(x[:count], y[:count], x[count:], y[count:]))


def search(w, w_lr, a, a_lr, seed, cfg):
    """(alpha_0, alphas after each step, hypergradient of each step, search-train loss at the end)."""
    args = train_search.parse_args(['--w_optimizer', w, '--learning_rate', str(w_lr), '--learning_rate_min', str(w_lr),
                                    '--arch_optimizer', a, '--arch_learning_rate', str(a_lr), '--device', 'cpu'])
    cli.seed_everything(seed, torch.device('cpu'))
    model = Network(cfg.init_channels, 10, cfg.layers, nn.CrossEntropyLoss())
    optimizer, architect = optimizers.for_weights(args, model.parameters()), Architect(model, args)
    flat = lambda tensors: torch.cat([t.detach().flatten() for t in tensors])
    alpha_0, alphas, grads = flat(model.arch_parameters()), [], []
    steps = batches(cfg.steps, cfg.batch_size, cfg.image_size, cfg.noise, seed)
    model.train()
    for x, y, xv, yv in steps:
        architect.step(x, y, xv, yv, w_lr, optimizer, False)
        grads.append([p.grad.clone() for p in model.arch_parameters()])
        alphas.append(flat(model.arch_parameters()))
        optimizer.zero_grad()
        model._loss(x, y).backward()
        nn.utils.clip_grad_norm_(model.parameters(), args.grad_clip)
        optimizer.step()
    with torch.no_grad():
        loss = statistics.mean(model._loss(x, y).item() for x, y, _, _ in steps[:128 // cfg.batch_size])
    return alpha_0, alphas, grads, loss


def replay(name, lr, alpha_0, grads, shapes):
    """The alphas after each step when optimizer `name` at rate `lr` is fed the recorded hypergradients."""
    alphas = [t.view(s).clone().requires_grad_() for t, s in zip(alpha_0.split([math.prod(s) for s in shapes]), shapes)]
    optimizer = optimizers.build(name, alphas, lr, 1e-3)  # train_search's --arch_weight_decay
    path = []
    for step in grads:
        for p, g in zip(alphas, step):
            p.grad = g
        optimizer.step()
        path.append(torch.cat([p.detach().flatten() for p in alphas]))
    return path


def second_half(path):
    return (path[-1] - path[len(path) // 2 - 1]).norm().item()


def matching_rate(name, target, references):
    """The rate at which optimizer `name`, fed each seed's hypergradients, travels `target` (mean over seeds) in the
    second half: bisection on log rate."""
    travel = lambda lr: statistics.mean(second_half(replay(name, lr, a0, g, s)) for a0, g, s in references)
    low, high = math.log(1e-7), math.log(10.0)
    for _ in range(50):
        mid = (low + high) / 2
        low, high = (mid, high) if travel(math.exp(mid)) < target else (low, mid)
    return math.exp((low + high) / 2)


def crossing(points, target):
    """The smallest rate at which the measured loss [(rate, loss)] falls to `target`, interpolated in log rate and
    log loss, as text."""
    reached = [v <= target for _, v in points]
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
    p.add_argument('--steps', type=int, default=150)
    p.add_argument('--seeds', type=int, nargs='+', default=[0, 1])
    p.add_argument('--init_channels', type=int, default=4)
    p.add_argument('--layers', type=int, default=3)
    p.add_argument('--batch_size', type=int, default=16)
    p.add_argument('--image_size', type=int, default=16)
    p.add_argument('--noise', type=float, default=3.0, help='std of the Gaussian noise added to the fake images')
    p.add_argument('--reference_only', action='store_true', help="DARTS's pair alone (to choose --noise)")
    cfg = p.parse_args()
    torch.set_num_threads(1)

    def measure(w, w_lr, a, a_lr):
        runs = [search(w, w_lr, a, a_lr, seed, cfg) for seed in cfg.seeds]
        result = {'w': w, 'w_lr': w_lr, 'alpha': a, 'alpha_lr': a_lr, 'train_loss': statistics.mean(r[3] for r in runs),
                  'alpha_travel': statistics.mean(second_half(r[1]) for r in runs),
                  'per_seed': [(r[3], second_half(r[1])) for r in runs]}
        print(json.dumps(result), flush=True)
        return result, runs

    reference, runs = measure(*DARTS_W, *DARTS_ALPHA)
    if cfg.reference_only:
        return
    shapes = [a.shape for a in Network(cfg.init_channels, 10, cfg.layers, nn.CrossEntropyLoss()).arch_parameters()]
    recorded = [(alpha_0, grads, shapes) for alpha_0, _, grads, _ in runs]
    for (alpha_0, alphas, grads, _) in runs:  # fed its own gradients, Adam retraces the search's alphas
        assert torch.allclose(replay(*DARTS_ALPHA, alpha_0, grads, shapes)[-1], alphas[-1], atol=1e-6)
    print(f'reference, w {DARTS_W[0]} {DARTS_W[1]} and alpha {DARTS_ALPHA[0]} {DARTS_ALPHA[1]}, {cfg.steps} steps, '
          f'seeds {cfg.seeds}: alpha travels {reference["alpha_travel"]:.4g} in the second half, search-train loss '
          f'{reference["train_loss"]:.4f}\n\nalpha side: the rate at which alpha travels as far', flush=True)
    for name in ALPHA_SIDE:
        print(f'  {name:9} {matching_rate(name, reference["alpha_travel"], recorded):.3g}', flush=True)
    lines = ['', 'w side: loss after the steps at each rate; the smallest rate reaching the reference loss']
    for name, rates in W_GRID.items():
        points = [(r, measure(name, r, *DARTS_ALPHA)[0]['train_loss']) for r in rates]
        lines.append(f'  {name:9} ' + ', '.join(f'{r:g}: {v:.4f}' for r, v in points).ljust(50)
                     + crossing(points, reference['train_loss']))
    print('\n'.join(lines), flush=True)


if __name__ == '__main__':
    main()
