"""Time the pieces of a DARTS search step on random data, one after the other in this process.

    python benchmarks/search_step.py --init_channels 8 --layers 5 --batch_size 16 --device cpu
    python benchmarks/search_step.py --device cuda            # paper size: C=16, 8 cells, batch 64

Figures (median seconds over --repeats after one warm-up): one forward+backward of the supernet for
all gradients (F), one for alpha gradients only (F_alpha), a first-order step (alpha step + w step)
and a second-order step. The lower bound of a first-order step is 2F, of a second-order step
3F + 2F_alpha (virtual step, valid loss at w', w step, and the two finite-difference passes).
Memory: the peak during the steps above what was in use before them (CUDA: allocator peak; CPU: peak RSS).
"""
import argparse
import json
import os
import resource
import statistics
import sys
import time

import torch
import torch.nn as nn

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import train_search  # noqa: E402
from darts_min import cli, optimizers  # noqa: E402
from darts_min.architect import Architect  # noqa: E402
from darts_min.model_search import Network  # noqa: E402


def timed(fn, device, repeats):
    fn()  # warm-up (cuDNN autotuning, allocator)
    times = []
    for _ in range(repeats):
        if device.type == 'cuda':
            torch.cuda.synchronize(device)
        t0 = time.perf_counter()
        fn()
        if device.type == 'cuda':
            torch.cuda.synchronize(device)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def memory_mark(device):
    if device.type == 'cuda':
        torch.cuda.reset_peak_memory_stats(device)
        return torch.cuda.memory_allocated(device)
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def memory_peak_mb(device, mark):
    peak = torch.cuda.max_memory_allocated(device) if device.type == 'cuda' else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    return (peak - mark) / 2 ** 20


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--init_channels', type=int, default=16)
    p.add_argument('--layers', type=int, default=8)
    p.add_argument('--batch_size', type=int, default=64)
    p.add_argument('--image_size', type=int, default=32)
    p.add_argument('--device', default='auto')
    p.add_argument('--repeats', type=int, default=5)
    a = p.parse_args()
    device = cli.resolve_device(a.device)
    cli.seed_everything(0, device)

    args = train_search.parse_args([])
    model = Network(a.init_channels, 10, a.layers, nn.CrossEntropyLoss()).to(device)
    w_opt = optimizers.for_weights(args, model.parameters())
    architect = Architect(model, args)
    x = torch.randn(a.batch_size, 3, a.image_size, a.image_size, device=device)
    y = torch.randint(10, (a.batch_size,), device=device)
    xv, yv = torch.randn_like(x), torch.randint(10, (a.batch_size,), device=device)

    def fwd_bwd():
        w_opt.zero_grad()
        model._loss(x, y).backward()

    def fwd_bwd_alpha():
        torch.autograd.grad(model._loss(x, y), model.arch_parameters())

    def search_step(unrolled):
        architect.step(x, y, xv, yv, 0.025, w_opt, unrolled)
        w_opt.zero_grad()
        model._loss(x, y).backward()
        nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        w_opt.step()

    rows, F = [], None
    for step, fn in [('fwd_bwd', fwd_bwd), ('fwd_bwd_alpha', fwd_bwd_alpha),
                     ('first_order', lambda: search_step(False)), ('second_order', lambda: search_step(True))]:
        mark = memory_mark(device)
        seconds = timed(fn, device, a.repeats)
        row = {'step': step, 'seconds': seconds, 'step_memory_mb': memory_peak_mb(device, mark)}
        if step == 'fwd_bwd':
            F = seconds
        elif step == 'fwd_bwd_alpha':
            Fa = seconds
        else:
            row['limit_ratio'] = seconds / (2 * F if step == 'first_order' else 3 * F + 2 * Fa)
        rows.append(row)

    name = torch.cuda.get_device_name(device) if device.type == 'cuda' else f'CPU ({torch.get_num_threads()} threads)'
    print(f'# {name}, torch {torch.__version__}, C={a.init_channels}, layers={a.layers}, batch {a.batch_size}, '
          f'{a.image_size} px, fp32')
    print(f'{"step":<14}{"seconds":>10}{"limit ratio":>13}{"memory MB":>11}')
    for r in rows:
        ratio = f'{r["limit_ratio"]:.2f}' if 'limit_ratio' in r else '-'
        print(f'{r["step"]:<14}{r["seconds"]:>10.4f}{ratio:>13}{r["step_memory_mb"]:>11.0f}')
    for r in rows:
        print(json.dumps({**r, 'device': name, 'init_channels': a.init_channels, 'layers': a.layers,
                          'batch_size': a.batch_size, 'image_size': a.image_size}))


if __name__ == '__main__':
    main()
