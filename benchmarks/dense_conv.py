"""The wide supernet's depthwise convolutions on this CPU: nn.Conv2d (oneDNN) against batched.dense_conv.

    OMP_NUM_THREADS=1 python benchmarks/dense_conv.py        # the first study's row: batch 64, 5 seeds, 8 px

For each depthwise convolution of DARTS's ops (sep_conv_3x3/5x5: dilation 1; dil_conv_3x3/5x5: dilation 2) on each
map it meets in the wide supernet of K seeds (C = 4, 3 cells, 8 px images: 8 x 8 in the normal cell, 8 -> 4 and
4 x 4 in the first reduction cell, 4 -> 2 and 2 x 2 in the second; channels_last as the batched search runs it), one
forward and the backward to the input and the weight, the median of --repeats after a first call, each way in turn.
"""
import argparse
import os
import statistics
import sys
import time

import torch
import torch.nn as nn

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from darts_min.study.batched import dense_conv  # noqa: E402


def seconds(fn, repeats):
    fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--batch_size', type=int, default=64)
    p.add_argument('--seeds', type=int, default=5)
    p.add_argument('--init_channels', type=int, default=4)
    p.add_argument('--repeats', type=int, default=20)
    a = p.parse_args()
    print(f'# batch {a.batch_size}, {a.seeds} seeds x C {a.init_channels}, channels_last, '
          f'{torch.get_num_threads()} thread(s), torch {torch.__version__}')
    print('| map | kernel | dilation | stride | nn.Conv2d ms | dense_conv ms | ratio |\n|---|---|---:|---:|---:|---:|---:|')
    # (channels a seed, input size, stride): the normal cell, the first reduction's input and inner edges, the second's
    maps = [(1, 8, 1), (2, 8, 2), (2, 4, 1), (4, 4, 2), (4, 2, 1)]
    total = [0.0, 0.0]
    for mult, size, stride in maps:
        C = a.seeds * a.init_channels * mult
        for k, d in ((3, 1), (5, 1), (3, 2), (5, 2)):
            torch.manual_seed(0)
            conv = nn.Conv2d(C, C, k, stride, d * (k - 1) // 2, d, groups=C, bias=False)
            x = torch.randn(a.batch_size, C, size, size).contiguous(memory_format=torch.channels_last).requires_grad_()
            grad = torch.randn_like(conv(x))
            times = [seconds(lambda: torch.autograd.grad(f(x), (x, conv.weight), grad), a.repeats)
                     for f in (conv, lambda x: dense_conv(conv, x))]
            total = [t + s for t, s in zip(total, times)]
            print(f'| {C} x {size} x {size} | {k} x {k} | {d} | {stride} | {times[0] * 1e3:.3f} | {times[1] * 1e3:.3f} | '
                  f'{times[0] / times[1]:.1f} |', flush=True)
    print(f'| all | | | | {total[0] * 1e3:.2f} | {total[1] * 1e3:.2f} | {total[0] / total[1]:.1f} |')


if __name__ == '__main__':
    main()
