"""Time one training step of the evaluation network (train_eval.py's step) on random data.

    python benchmarks/eval_step.py --device cpu                      # the paper's network: C=36, 20 cells, batch 96
    python benchmarks/eval_step.py --device cpu --init_channels 16 --layers 8 --batch_size 64

The step is train_eval.py's: forward with the auxiliary head and drop path, loss + 0.4 auxiliary loss, backward,
gradient clipping, SGD with momentum. Median seconds over --repeats after a warm-up (search_step.timed). Prints
one JSON line.
"""
import argparse
import json
import os
import sys

import torch
import torch.nn as nn

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from darts_min import cli, genotypes, optimizers  # noqa: E402
from darts_min.model import NetworkCIFAR  # noqa: E402
from darts_min.training import check_finite  # noqa: E402
from search_step import timed  # noqa: E402


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--init_channels', type=int, default=36)
    p.add_argument('--layers', type=int, default=20)
    p.add_argument('--batch_size', type=int, default=96)
    p.add_argument('--arch', default='DARTS_V2', choices=list(genotypes.GENOTYPES))
    p.add_argument('--device', default='auto')
    p.add_argument('--repeats', type=int, default=3)
    a = p.parse_args()
    device = cli.resolve_device(a.device)
    cli.seed_everything(0, device)
    net = NetworkCIFAR(a.init_channels, 10, a.layers, True, genotypes.GENOTYPES[a.arch]).to(device)
    net.drop_path_prob = 0.2 * 0.5  # halfway through the ramp
    optimizer = optimizers.build('momentum', net.parameters(), 0.025, 3e-4, {'momentum': 0.9})
    criterion = nn.CrossEntropyLoss()
    x = torch.randn(a.batch_size, 3, 32, 32, device=device)
    y = torch.randint(10, (a.batch_size,), device=device)

    def step():
        optimizer.zero_grad()
        logits, logits_aux = net(x)
        loss = criterion(logits, y) + 0.4 * criterion(logits_aux, y)
        check_finite(loss, 0, 0)  # the program's stop on a non-finite loss (a device sync)
        loss.backward()
        nn.utils.clip_grad_norm_(net.parameters(), 5.0)
        optimizer.step()

    seconds = timed({'step': step}, device, a.repeats)['step']
    name = torch.cuda.get_device_name(device) if device.type == 'cuda' else f'CPU ({torch.get_num_threads()} threads)'
    print(json.dumps({'step': 'eval_train_step', 'seconds': seconds, 'device': name, 'torch': torch.__version__,
                      'init_channels': a.init_channels, 'layers': a.layers, 'batch_size': a.batch_size, 'arch': a.arch}))


if __name__ == '__main__':
    main()
