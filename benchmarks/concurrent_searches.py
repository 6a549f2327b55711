"""Summed search-step throughput of K searches at once on one device (what the sweep's --jobs_per_gpu K buys).

    python benchmarks/concurrent_searches.py --device cuda --jobs 1 2 4          # paper size, first order
    python benchmarks/concurrent_searches.py --device cpu --init_channels 4 --layers 3 --batch_size 8 --seconds 5

For each K: K processes each build the paper-size supernet (search_step.setup, random data already on the device),
take two warm-up steps, wait for each other at a barrier, then count the steps they finish in --seconds. Prints
one JSON line per K: the steps per second of each process and their sum (and, once K = 1 ran, the sum over its). Data loading is
not counted (it is on the device, as with --data_on_device), so this is the GPU's share of the gain.
"""
import argparse
import json
import multiprocessing as mp
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import search_step  # noqa: E402
from darts_min import cli  # noqa: E402


def one_search(a, barrier, results):
    device = cli.resolve_device(a.device)
    step = search_step.setup(a, device)['second_order' if a.unrolled else 'first_order']
    for _ in range(2):
        step()
    search_step.sync(device)
    barrier.wait()
    steps, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < a.seconds:
        step()
        search_step.sync(device)
        steps += 1
    results.put(steps / (time.perf_counter() - t0))


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--jobs', type=int, nargs='+', default=[1, 2, 4])
    p.add_argument('--seconds', type=float, default=30)
    p.add_argument('--unrolled', action='store_true', help='second-order steps (default first order)')
    p.add_argument('--init_channels', type=int, default=16)
    p.add_argument('--layers', type=int, default=8)
    p.add_argument('--batch_size', type=int, default=64)
    p.add_argument('--device', default='auto')
    a = p.parse_args()
    a.image_size, a.dtype, a.channels_last, a.checkpoint_cells, a.w_optimizer = 32, 'fp32', False, False, 'momentum'
    ctx = mp.get_context('spawn')
    single = None
    for k in a.jobs:
        barrier, results = ctx.Barrier(k), ctx.Queue()
        procs = [ctx.Process(target=one_search, args=(a, barrier, results)) for _ in range(k)]
        for proc in procs:
            proc.start()
        rates = sorted(results.get() for _ in procs)
        for proc in procs:
            proc.join()
        single = rates[0] if k == 1 else single
        print(json.dumps({'jobs': k, 'steps_per_second': rates, 'summed': sum(rates),
                          'vs_one_job': sum(rates) / single if single else None,
                          'unrolled': a.unrolled, 'init_channels': a.init_channels, 'layers': a.layers,
                          'batch_size': a.batch_size, 'device': a.device}), flush=True)


if __name__ == '__main__':
    main()
