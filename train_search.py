"""DARTS architecture search (Liu et al., ICLR 2019, Algorithm 1) with a choice of optimizer for w and alpha.

    python train_search.py --unrolled --arch_optimizer rmsprop
    python train_search.py --dataset fake --epochs 2 --init_channels 8 --layers 5 --batch_size 16

The search itself (its flags, its loop) is in darts_min/search.py; `python train_search.py --help` lists the flags.
"""
import darts_min  # noqa: F401  first: without torch installed, one line saying how to install it
from darts_min import cli, search

if __name__ == '__main__':
    cli.run(search.main)
