"""Time and measure the pieces of a DARTS search step on random data.

    python benchmarks/search_step.py --device cpu --init_channels 8 --layers 5 --batch_size 16
    python benchmarks/search_step.py --device cuda --dtype bf16 --channels_last   # paper size by default
    python benchmarks/search_step.py --device cpu --init_channels 8 --layers 5 --batch_size 16 --w_optimizer adam

Times, in this process, in rounds of one call of each (median seconds over --repeats rounds after a warm-up
round, so that a slower spell of a shared machine weighs on every figure alike): one forward+backward of the
supernet for all gradients (F), one for alpha gradients only (F_alpha), a first-order step (alpha step + w
step) and a second-order step. The limit of a first-order step is 2F, of a second-order step 3F + 2F_alpha
(virtual step, valid loss at w', w step, and the two finite-difference passes). F_alpha freezes w, as the
architect does. --w_optimizer (a registry name,
default DARTS's momentum) is the w optimizer of the steps; the second-order step's virtual step is its
next step. Step memory: the peak during three steps of one kind above what was in use before them, after
one warm-up step, in a fresh process per kind (CUDA: the allocator's peak; CPU: peak RSS, with glibc's
mmap threshold fixed so that freed activations leave RSS, and the peak reset after the warm-up, whose
one-time allocations are not step memory).
Prints a table, then one JSON line per figure.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

import torch
import torch.nn as nn

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from darts_min import cli, optimizers  # noqa: E402
from darts_min import search as train_search  # noqa: E402
from darts_min.architect import Architect  # noqa: E402
from darts_min.checkpointing import checkpoint_edges  # noqa: E402
from darts_min.model_search import Network  # noqa: E402
from darts_min.training import autocast, frozen  # noqa: E402

STEPS = ['fwd_bwd', 'fwd_bwd_alpha', 'first_order', 'second_order']


def parse():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--init_channels', type=int, default=16)
    p.add_argument('--layers', type=int, default=8)
    p.add_argument('--batch_size', type=int, default=64)
    p.add_argument('--image_size', type=int, default=32)
    p.add_argument('--device', default='auto')
    p.add_argument('--dtype', choices=['fp32', 'bf16'], default='fp32', help='bf16: autocast for the forward passes')
    p.add_argument('--channels_last', action='store_true')
    p.add_argument('--checkpoint_cells', action='store_true')
    p.add_argument('--w_optimizer', default='momentum', choices=list(optimizers.REGISTRY))
    p.add_argument('--repeats', type=int, default=5)
    p.add_argument('--memory_of', choices=STEPS, help=argparse.SUPPRESS)  # the child process of one memory figure
    return p.parse_args()


def setup(a, device):
    cli.seed_everything(0, device)
    argv = ['--amp' if a.dtype == 'bf16' else '--no-amp'] + (['--channels_last'] if a.channels_last else [])
    args = train_search.parse_args(argv + ['--device', str(device), '--w_optimizer', a.w_optimizer])
    model = Network(a.init_channels, 10, a.layers, nn.CrossEntropyLoss()).to(device)
    checkpoint_edges(model, a.checkpoint_cells)
    fmt = torch.channels_last if a.channels_last else torch.contiguous_format
    model.to(memory_format=fmt)
    w_opt = optimizers.for_weights(args, model.parameters())
    architect = Architect(model, args)
    x = torch.randn(a.batch_size, 3, a.image_size, a.image_size, device=device).to(memory_format=fmt)
    y = torch.randint(10, (a.batch_size,), device=device)
    xv, yv = torch.randn_like(x), torch.randint(10, (a.batch_size,), device=device)
    amp = a.dtype == 'bf16'

    def fwd_bwd():
        w_opt.zero_grad()
        with autocast(device, amp):
            loss = model._loss(x, y)
        loss.backward()

    def fwd_bwd_alpha():
        with frozen(model.parameters()), autocast(device, amp):
            torch.autograd.grad(model._loss(x, y), model.arch_parameters())

    def search_step(unrolled):
        architect.step(x, y, xv, yv, 0.025, w_opt, unrolled)
        with frozen(model.arch_parameters()):
            fwd_bwd()
        nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        w_opt.step()

    return {'fwd_bwd': fwd_bwd, 'fwd_bwd_alpha': fwd_bwd_alpha,
            'first_order': lambda: search_step(False), 'second_order': lambda: search_step(True)}


def sync(device):
    if device.type == 'cuda':
        torch.cuda.synchronize(device)


def timed(fns, device, repeats):
    """{name: median seconds} of the functions `fns`, timed in rounds of one call each after a warm-up round (cuDNN
    autotuning, the allocator): a slower spell of a shared machine then weighs on every figure alike, and the
    ratios between them hold."""
    times = {name: [] for name in fns}
    for warm_up_done in [False] + [True] * repeats:
        for name, fn in fns.items():
            sync(device)
            t0 = time.perf_counter()
            fn()
            sync(device)
            if warm_up_done:
                times[name].append(time.perf_counter() - t0)
    return {name: statistics.median(t) for name, t in times.items()}


def rss_bytes(field='VmRSS'):
    """This process's resident memory now (VmRSS) or at its peak (VmHWM). Not getrusage's ru_maxrss: Linux
    carries the parent's peak over fork and exec into it."""
    with open('/proc/self/status') as f:
        return next(int(line.split()[1]) * 1024 for line in f if line.startswith(field + ':'))


def memory_mb(fn, device):
    """Peak memory of three calls of fn above what was in use before them, after a warm-up call (run in a
    fresh process; on CPU with MALLOC_MMAP_THRESHOLD_ set, see main)."""
    fn()
    if device.type == 'cuda':
        sync(device)
        torch.cuda.reset_peak_memory_stats(device)
        before = torch.cuda.memory_allocated(device)
    else:
        with open('/proc/self/clear_refs', 'w') as f:
            f.write('5')  # Linux: reset VmHWM to the current RSS
        before = rss_bytes()
    for _ in range(3):
        fn()
    if device.type == 'cuda':
        sync(device)
        return (torch.cuda.max_memory_allocated(device) - before) / 2 ** 20
    return (rss_bytes('VmHWM') - before) / 2 ** 20


def main():
    a = parse()
    device = cli.resolve_device(a.device)
    steps = setup(a, device)
    if a.memory_of:
        print(memory_mb(steps[a.memory_of], device))
        return
    seconds = timed(steps, device, a.repeats)
    del steps
    memory = {}
    # A fresh process each, so one kind's peak does not hide another's; glibc returns blocks of 128 KiB and more to
    # the system when they are freed, so that RSS follows the live tensors instead of keeping the warm-up's peak.
    env = {**os.environ, 'MALLOC_MMAP_THRESHOLD_': str(128 * 1024)}
    for name in STEPS:
        child = subprocess.run([sys.executable, *sys.argv, '--device', str(device), '--memory_of', name],
                               capture_output=True, text=True, check=True, env=env)
        memory[name] = float(child.stdout.split()[-1])
    F, Fa = seconds['fwd_bwd'], seconds['fwd_bwd_alpha']
    limits = {'first_order': 2 * F, 'second_order': 3 * F + 2 * Fa}

    name = torch.cuda.get_device_name(device) if device.type == 'cuda' else f'CPU ({torch.get_num_threads()} threads)'
    config = {'init_channels': a.init_channels, 'layers': a.layers, 'batch_size': a.batch_size,
              'image_size': a.image_size, 'dtype': a.dtype, 'channels_last': a.channels_last,
              'checkpoint_cells': a.checkpoint_cells, 'w_optimizer': a.w_optimizer}
    print(f'# {name}, torch {torch.__version__}, ' + ', '.join(f'{k}={v}' for k, v in config.items()))
    print(f'{"step":<14}{"seconds":>10}{"limit ratio":>13}{"memory MB":>11}')
    for step in STEPS:
        ratio = f'{seconds[step] / limits[step]:.3f}' if step in limits else '-'
        print(f'{step:<14}{seconds[step]:>10.4f}{ratio:>13}{memory[step]:>11.0f}')
    for step in STEPS:
        row = {'step': step, 'seconds': seconds[step], 'step_memory_mb': memory[step], 'device': name, **config}
        if step in limits:
            row['limit_ratio'] = seconds[step] / limits[step]
        print(json.dumps(row))


if __name__ == '__main__':
    main()
