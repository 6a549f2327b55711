"""Shared helpers: tiny networks and tiny search runs (C=4, 3 cells, 16 px, a handful of images), and the runs that
several tests only read, made once per session."""
import contextlib
import json
import os
import subprocess
import sys

import pytest
import torch
import torch.nn as nn

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from darts_min.model_search import Network  # noqa: E402

# the thread count this process was started with: OMP_NUM_THREADS as asked (torch caps it at the cores, which
# torch.set_num_threads does not), else torch's own
STARTED_THREADS = int(os.environ.get('OMP_NUM_THREADS') or 0) or torch.get_num_threads()
if 'PYTEST_XDIST_WORKER' in os.environ:  # pytest -n N (setup.cfg): each worker its share of the cores, since two torch
    # processes of a thread per core each would thrash; a test's own processes get 1 thread (run_script)
    torch.set_num_threads(max(1, len(os.sched_getaffinity(0)) // int(os.environ['PYTEST_XDIST_WORKER_COUNT'])))

TINY = ['--dataset', 'fake', '--device', 'cpu', '--init_channels', '4', '--layers', '3', '--batch_size', '8', '--image_size', '16',
        '--fake_size', '32', '--workers', '0', '--report_freq', '1']


def tiny_network(seed=0, dtype=torch.float32, C=4, layers=3, num_classes=10, steps=4):
    """A supernet of C=4, 3 cells; `steps=2` (two nodes a cell, every op on each of its 5 edges) where a test runs
    many cases of a computation whose size does not matter."""
    torch.manual_seed(seed)
    return Network(C, num_classes, layers, nn.CrossEntropyLoss(), steps=steps, multiplier=steps).to(dtype)


def batch(n=4, size=8, num_classes=10, dtype=torch.float32, seed=1):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, 3, size, size, generator=g, dtype=dtype), torch.randint(num_classes, (n,), generator=g)


def read_metrics(run_dir):
    with open(os.path.join(run_dir, 'metrics.jsonl')) as f:
        return [json.loads(line) for line in f]


def checkpoints_equal(a, b):
    """Two loaded checkpoints (nested dicts, lists, tensors, numbers) hold the same values, tensors to the bit."""
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(checkpoints_equal(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(checkpoints_equal(x, y) for x, y in zip(a, b))
    return torch.equal(a, b) if isinstance(a, torch.Tensor) else a == b


def chi_square(counts, categories):
    """Pearson's statistic of `counts` ({category: count}) against equally likely `categories`."""
    n = sum(counts.values())
    return sum((counts.get(c, 0) - n / len(categories)) ** 2 / (n / len(categories)) for c in categories)


def chi2_999(categories):
    """The statistic's critical value at p = 0.001 for `categories` (len - 1 degrees of freedom): a uniform draw
    exceeds it one run in a thousand."""
    from scipy import stats
    return stats.chi2.ppf(0.999, len(categories) - 1)


@contextlib.contextmanager
def threads(n):
    """torch with `n` intra-op threads inside (a run that a test compares to the bit with one made by run_script, in a
    process of 1 thread), as before afterwards."""
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def run_script(*argv, timeout=300):
    """Run a root script in a fresh process with 1 thread (two torch processes on 2 cores thrash)."""
    env = {**os.environ, 'OMP_NUM_THREADS': '1', 'MKL_NUM_THREADS': '1'}
    return subprocess.run([sys.executable, *argv], cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope='session')
def tiny_search(tmp_path_factory):
    """A finished search of 2 epochs of 2 steps (TINY), for the tests that read one: none may write into it."""
    from darts_min import search as train_search
    save = str(tmp_path_factory.mktemp('tiny_search') / 'run')
    assert train_search.main(TINY + ['--epochs', '2', '--save', save]) == 0
    return save
