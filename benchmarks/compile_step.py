"""torch.compile of the search supernet on this machine: what the compile costs and what a step gains.

    OMP_NUM_THREADS=1 python benchmarks/compile_step.py     # the new study's supernet: C 4, 3 cells, batch 16, 8 px

One forward+backward for every gradient (w and alpha) of the plain Network, eager and compiled (inductor, static
shapes), each the mean of --repeats after a first call; the compiled one's first call includes its compile.
"""
import argparse
import os
import sys
import time

import torch
import torch.nn as nn

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from darts_min.model_search import Network  # noqa: E402


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--init_channels', type=int, default=4)
    p.add_argument('--layers', type=int, default=3)
    p.add_argument('--batch_size', type=int, default=16)
    p.add_argument('--image_size', type=int, default=8)
    p.add_argument('--mode', default='default', help="torch.compile's mode")
    p.add_argument('--repeats', type=int, default=10)
    a = p.parse_args()
    torch.manual_seed(0)
    model = Network(a.init_channels, 10, a.layers, nn.CrossEntropyLoss())
    x, y = torch.randn(a.batch_size, 3, a.image_size, a.image_size), torch.randint(10, (a.batch_size,))
    params = list(model.parameters()) + model.arch_parameters()

    def step(m):
        torch.autograd.grad(nn.functional.cross_entropy(m(x), y), params)

    def seconds(m):
        t0 = time.perf_counter()
        for _ in range(a.repeats):
            step(m)
        return (time.perf_counter() - t0) / a.repeats

    step(model)
    eager = seconds(model)
    compiled = torch.compile(model, mode=a.mode, dynamic=False)
    t0 = time.perf_counter()
    step(compiled)
    first = time.perf_counter() - t0
    fast = seconds(compiled)
    print(f'{torch.get_num_threads()} thread(s), torch {torch.__version__}: eager {eager * 1e3:.1f} ms, compile and '
          f'first call {first:.1f} s, compiled {fast * 1e3:.1f} ms ({eager / fast:.2f}x)')


if __name__ == '__main__':
    main()
