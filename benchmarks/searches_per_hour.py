"""Searches per hour on this machine: the study's unit of work, each way of running it side by side, and the floor.

    python benchmarks/searches_per_hour.py --row study                      # C = 4, batch 16 (the new study)
    python benchmarks/searches_per_hour.py --row first --ways plain:1 plain:2 batched:1x8 batched:2x8
    python benchmarks/searches_per_hour.py --baseline ../darts-min-then --ways base:2 plain:2 batched:2x5


A search is a first-order train_search.py run on the digits (8 px, 3 cells, per-epoch validation, lambda_max at the
end), start-up included, each a process of its own as a sweep runs it. A way is P processes at once, each on
(cores / P) threads, each running K searches of different seeds: `plain:P` runs train_search.py (K = 1),
`batched:PxK` darts_min/study/batched.py, `base:P` the train_search.py of another checkout (--baseline: the code as
it was before a change, measured side by side with it). The last column of the table is each way's searches an hour
over the first way's. Every way runs --bench_epochs epochs (at least 3) and is projected to
--alpha_steps: its wall time plus the missing epochs at the rate of its middle epochs (neither the first, which
warms up, nor the last, which holds lambda_max). Searches per hour = P K 3600 / (the slowest process's projection).
With --rounds N the ways run N times, interleaved, each keeping its best: on a machine that other work shares, the
least disturbed of its runs (a plain:2 measured 13.8, 17.2 and 8.6 searches an hour in three calls here).

The floor: the multiply-adds of the whole search (torch.utils.flop_counter over one step, one validation pass and
one lambda_max product, times their counts) at this CPU's peak rate, that of a large fp32 matmul on all cores; each
way's ratio is its searches per hour over the floor's. Beside it, from one way's step in this process: the aten
calls of a step (torch.profiler) and the share of the step's time that does not grow with the batch (per-call
cost: 1 - (t(2B) - t(B)) / t(B), t the step's median time at batch B).
"""
import argparse
import glob
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from types import SimpleNamespace

import torch
import torch.nn as nn
from torch.utils.flop_counter import FlopCounterMode

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
from darts_min import data, dynamics, optimizers, search  # noqa: E402
from darts_min.architect import Architect  # noqa: E402
from darts_min.model_search import Network  # noqa: E402
from darts_min.study import batched  # noqa: E402
from darts_min.training import frozen  # noqa: E402

# the rows: the new study's setting and the first study's (docs/study.md), as the sweep runs their searches
# (--disjoint_validation: the evaluation's tenth held out)
COMMON = ['--dataset', 'digits', '--image_size', '8', '--init_channels', '4', '--layers', '3', '--holdout_portion', '0.1',
          '--workers', '0', '--device', 'cpu', '--report_freq', '1000']
ROWS = {'study': (['--batch_size', '16', '--data_on_device'], 1000),
        'first': (['--batch_size', '64'], 60)}


def parse():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--row', choices=list(ROWS), default='study')
    p.add_argument('--alpha_steps', type=int, help="the search's alpha steps (default: the row's; rounded up to epochs)")
    p.add_argument('--bench_epochs', type=int, default=3, help='epochs each way runs (at least 3)')
    p.add_argument('--ways', nargs='*', default=['plain:1', 'plain:2'], help='plain:P, batched:PxK or base:P')
    p.add_argument('--baseline', help="a checkout of darts-min whose train_search.py the ways base:P run")
    p.add_argument('--rounds', type=int, default=1,
                   help="run the ways this many times, interleaved, and keep each way's best (the least disturbed)")
    p.add_argument('--cores', type=int, default=os.cpu_count())
    p.add_argument('--repeats', type=int, default=5, help='timed steps for the per-call share')
    p.add_argument('--no_floor', action='store_true', help='skip the floor and the per-call share')
    p.add_argument('--step_sweep', type=int, nargs='*', default=[], metavar='K',
                   help="also time one step of K seeds (1: train_search's) on 1 thread and on all cores, for each K")
    p.add_argument('--search_args', nargs=argparse.REMAINDER, default=[], help='more train_search.py flags, last')
    a = p.parse_args()
    if a.bench_epochs < 3:
        p.error('--bench_epochs must be at least 3: the projection uses the epochs between the first and the last')
    baseline_script = os.path.join(a.baseline or '', 'train_search.py')
    if any(way.startswith('base:') for way in a.ways) and not (a.baseline and os.path.isfile(baseline_script)):
        p.error('the ways base:P need --baseline, a checkout with its train_search.py')
    return a


def search_argv(a, epochs):
    flags, _ = ROWS[a.row]
    return [*COMMON, *flags, '--epochs', str(epochs), '--hessian_every', str(epochs), *a.search_args]


def way_commands(way, argv, folder, cores, baseline=None):
    """[(command, env)] of one way: its processes, each given its share of the cores."""
    kind, _, spec = way.partition(':')
    processes, _, per = spec.partition('x')
    processes, per = int(processes), int(per or 1)
    root = baseline if kind == 'base' else ROOT
    env = {**os.environ, 'OMP_NUM_THREADS': str(max(1, cores // processes)), 'PYTHONPATH': root}
    commands = []
    for p in range(processes):
        seeds = [str(p * per + k) for k in range(per)]
        if kind in ('plain', 'base'):
            assert per == 1, 'plain runs one search a process'
            cmd = [sys.executable, os.path.join(root, 'train_search.py'), *argv, '--seed', seeds[0],
                   '--split_seed', seeds[0], '--save', os.path.join(folder, f'seed{seeds[0]}')]
        else:
            cmd = [sys.executable, '-m', 'darts_min.study.batched', '--seeds', *seeds, '--save', folder, *argv]
        commands.append((cmd, env))
    return processes, per, commands


def run_way(way, argv, cores, baseline=None):
    """Each process's (wall seconds, [per-epoch seconds of its first run], lambda_max iterations)."""
    with tempfile.TemporaryDirectory() as folder:
        processes, per, commands = way_commands(way, argv, folder, cores, baseline)
        started = [(time.perf_counter(), subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE))
                   for cmd, env in commands]
        walls = []
        for t0, proc in started:
            _, err = proc.communicate()
            walls.append(time.perf_counter() - t0)
            if proc.returncode:
                raise SystemExit(f'{way}: a process failed ({proc.returncode}): {err.decode()[-2000:]}')
        records = [[json.loads(line) for line in open(path)]
                   for path in sorted(glob.glob(os.path.join(folder, '*', 'metrics.jsonl')))]
    assert len(records) == processes * per, f'{way}: {len(records)} runs finished of {processes * per}'
    epochs = [[r['seconds'] for r in run] for run in records]
    iterations = statistics.mean(run[-1]['hessian_iterations'] for run in records)
    return processes, per, walls, epochs[::per], iterations


def projected(wall, epochs, target_epochs):
    """The wall time of a search of target_epochs: measured, plus the missing epochs at the middle epochs' rate."""
    return wall + (target_epochs - len(epochs)) * statistics.mean(epochs[1:-1])


# ---- the floor ----

def peak_flops(threads, n=2048, repeats=5):
    """This CPU's fp32 matmul rate on `threads` threads (flop/s, 2 n^3 per product), the best of `repeats`."""
    torch.set_num_threads(threads)
    x, y = torch.randn(n, n), torch.randn(n, n)
    x @ y
    best = min(_seconds(lambda: x @ y) for _ in range(repeats))
    return 2 * n ** 3 / best


def _seconds(fn):
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def flops(fn):
    counter = FlopCounterMode(display=False)
    with counter:
        fn()
    return counter.get_total_flops()


def setting(a, epochs):
    """(args, the search's loaders' sizes) of the row, as train_search.py parses them."""
    args = search.parse_args(search_argv(a, epochs))
    train_idx, valid_idx = data.search_split(args, data.load_dataset(args))
    return args, len(train_idx), len(valid_idx)


def plain_step(args, batch_size):
    """A first-order search step of train_search.py (alpha on a valid batch, w on a train batch) on random data."""
    torch.manual_seed(0)
    model = Network(args.init_channels, 10, args.layers, nn.CrossEntropyLoss())
    w_optimizer = optimizers.for_weights(args, model.parameters())
    architect = Architect(model, args)
    x, xv = torch.randn(2, batch_size, 3, args.image_size, args.image_size)
    y, yv = torch.randint(10, (2, batch_size))

    def step():
        architect.step(x, y, xv, yv, args.learning_rate, w_optimizer, False)
        with frozen(model.arch_parameters()):
            w_optimizer.zero_grad()
            loss = model._loss(x, y)
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), args.grad_clip)
            w_optimizer.step()
    return model, step


def batched_step(args, batch_size, K):
    """The same step of K seeds in darts_min/study/batched.py's wide supernet."""
    nets = []
    for seed in range(K):
        torch.manual_seed(seed)
        nets.append(Network(args.init_channels, 10, args.layers, nn.CrossEntropyLoss()))
    fresh = []
    for net in nets:
        optimizer = optimizers.for_weights(args, net.parameters())
        fresh.append(SimpleNamespace(net=net, optimizer=optimizer,
                                     arch_optimizer=optimizers.for_alphas(args, net.arch_parameters()),
                                     scheduler=torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, args.epochs)))
    batch = batched.Batch(fresh, args, torch.device('cpu'))
    x, xv = (torch.randn(batch_size, K * 3, args.image_size, args.image_size).contiguous(
        memory_format=batch.memory_format) for _ in range(2))
    y, yv = torch.randint(10, (2, batch_size, K))

    def step():
        batch.architect.step(x, y, xv, yv, args.learning_rate, batch.optimizer, False)
        batch.w_step(x, y, args.grad_clip)
    return step


def search_flops(args, n_train, n_valid, epochs, iterations):
    """The floating-point operations of a whole search: steps, validation passes, lambda_max's graph and products."""
    B = args.batch_size
    model, step = plain_step(args, B)
    x = torch.randn(B, 3, args.image_size, args.image_size)
    per_step = flops(step)
    model.eval()
    with torch.no_grad():
        per_image_valid = flops(lambda: model(x)) / B
    model.train()
    batches = [(x, torch.randint(10, (B,)))] * args.hessian_batches
    v = [torch.randn_like(alpha) for alpha in model.arch_parameters()]
    built = {}
    per_build = flops(lambda: built.setdefault('hessian', dynamics.alpha_hessian(model, batches)))  # once a lambda_max
    per_product = flops(lambda: built['hessian'](v))
    return epochs * (n_train / B * per_step + n_valid * per_image_valid) + per_build + iterations * per_product


def per_call(args, repeats, K):
    """(aten calls of one step of K seeds, the share of its time that does not grow with the batch, its seconds)."""
    def build(B):
        return plain_step(args, B)[1] if K == 1 else batched_step(args, B, K)
    times = {}
    for B in (args.batch_size, 2 * args.batch_size):
        step = build(B)
        step()
        times[B] = statistics.median(_seconds(step) for _ in range(repeats))
    step = build(args.batch_size)
    step()
    with torch.profiler.profile() as prof:
        step()
    calls = sum(e.count for e in prof.key_averages() if e.key.startswith('aten::'))
    t, t2 = times[args.batch_size], times[2 * args.batch_size]
    return calls, 1 - (t2 - t) / t, t


def step_sweep(args, Ks, cores, repeats):
    """The seconds of a first-order step of K seeds, per seed, on 1 thread and on all cores (in this process)."""
    print(f'\n| seeds K | threads | step s | s a seed-step | x K = 1 |\n|---:|---:|---:|---:|---:|')
    for threads in sorted({1, cores}):
        torch.set_num_threads(threads)
        alone = None
        for K in Ks:
            step = plain_step(args, args.batch_size)[1] if K == 1 else batched_step(args, args.batch_size, K)
            step()
            t = statistics.median(_seconds(step) for _ in range(repeats))
            alone = alone or (t if K == 1 else None)
            print(f'| {K} | {threads} | {t:.3f} | {t / K:.4f} | {alone / (t / K) if alone else float("nan"):.2f} |',
                  flush=True)


def main():
    a = parse()
    _, default_steps = ROWS[a.row]
    args, n_train, n_valid = setting(a, a.bench_epochs)
    steps_per_epoch = math.ceil(n_train / args.batch_size)
    target_epochs = math.ceil((a.alpha_steps or default_steps) / steps_per_epoch)
    print(f'# {a.row}: C={args.init_channels} layers={args.layers} batch={args.batch_size} {args.image_size} px, '
          f'{n_train}+{n_valid} images, {steps_per_epoch} steps an epoch; projected to {target_epochs} epochs '
          f'({target_epochs * steps_per_epoch} alpha steps) from {a.bench_epochs}; {a.cores} cores, '
          f'torch {torch.__version__}, load before: {open("/proc/loadavg").read().split()[0]}', flush=True)
    if a.step_sweep:
        step_sweep(args, a.step_sweep, a.cores, a.repeats)
    best, iterations = {}, []
    for _ in range(a.rounds):
        for way in a.ways:
            processes, per, walls, epochs, its = run_way(way, search_argv(a, a.bench_epochs), a.cores, a.baseline)
            iterations.append(its)
            hours = max(projected(w, e, target_epochs) for w, e in zip(walls, epochs)) / 3600
            row = {'way': way, 'processes': processes, 'searches_per_process': per,
                   'threads': max(1, a.cores // processes), 'wall_s': max(walls),
                   'epoch_s': statistics.mean(statistics.mean(e[1:-1]) for e in epochs),
                   'searches_per_hour': processes * per / hours}
            print(json.dumps(row), flush=True)
            if way not in best or row['searches_per_hour'] > best[way]['searches_per_hour']:
                best[way] = row
    rows = [best[way] for way in a.ways] if a.ways else []
    floor = {}
    if rows and not a.no_floor:
        peaks = {t: peak_flops(t) for t in sorted({1, a.cores})}
        torch.set_num_threads(1)
        total = search_flops(args, n_train, n_valid, target_epochs, statistics.mean(iterations))
        floor = {'search_gflop': total / 1e9, 'peak_gflops': {t: p / 1e9 for t, p in peaks.items()},
                 'floor_searches_per_hour': 3600 / (total / peaks[a.cores])}
        print(json.dumps(floor), flush=True)
        for K in sorted({r['searches_per_process'] for r in rows}):
            calls, share, step_s = per_call(args, a.repeats, K)
            floor[K] = {'step_aten_calls': calls, 'per_call_share': share, 'step_s_1_thread': step_s}
            print(json.dumps({'seeds': K, **floor[K]}), flush=True)
    if not rows:
        return
    print(f'\n| way | processes x searches, threads | epoch s | searches/hour | x {a.ways[0]} | / floor | '
          'step: aten calls, per-call share |')
    print('|---|---|---:|---:|---:|---:|---|')
    for r in rows:
        ratio = r['searches_per_hour'] / floor['floor_searches_per_hour'] if floor else float('nan')
        step = floor.get(r['searches_per_process'])
        calls = f"{step['step_aten_calls']:,}, {step['per_call_share']:.2f}" if step else '-'
        print(f"| {r['way']} | {r['processes']} x {r['searches_per_process']}, {r['threads']} | {r['epoch_s']:.2f} | "
              f"{r['searches_per_hour']:.1f} | {r['searches_per_hour'] / rows[0]['searches_per_hour']:.2f} | {ratio:.4f} | "
              f"{calls} |")


if __name__ == '__main__':
    main()
