"""Train a searched cell from scratch (DARTS section 3.2, appendix A.2): the evaluation of an architecture.

    python train_eval.py --arch DARTS_V2 --auxiliary --cutout            # the paper's CIFAR-10 setting
    python train_eval.py --genotype runs/search-XXXX --auxiliary --cutout  # the cell a search found
    torchrun --standalone --nproc_per_node 4 train_eval.py --arch DARTS_V2 --auxiliary --cutout

The evaluation itself (its flags, its loop) is in darts_min/evaluation.py; `python train_eval.py --help` lists the flags.
"""
import darts_min  # noqa: F401  first: without torch installed, one line saying how to install it
from darts_min import cli, evaluation

if __name__ == '__main__':
    cli.run(evaluation.main)
