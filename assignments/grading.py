"""What the graders share: the module under test and tiny inputs.

`load('a1_first_order')` imports the student's file assignments/a1_first_order.py; with the environment variable
DARTS_ASSIGNMENTS=solutions it imports assignments/solutions/a1_first_order.py instead, the project's reference
solution (test_darts_min/test_assignments.py runs the graders both ways, so that they cannot rot).
"""
import importlib.util
import os
import sys

import torch
import torch.nn as nn

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))  # the repository's darts_min, however pytest was started

from darts_min.model_search import Network  # noqa: E402


def load(name):
    """The module `name` under test: the student's, or the reference solution's (DARTS_ASSIGNMENTS=solutions)."""
    folder = os.path.join(HERE, os.environ.get('DARTS_ASSIGNMENTS', ''))
    path = os.path.join(folder, f'{name}.py')
    spec = importlib.util.spec_from_file_location(f'{os.path.basename(folder) or "student"}_{name}', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def tiny_network(seed=0, dtype=torch.float64):
    """A DARTS supernet small enough for a grader: C = 4, 3 cells, 2 nodes a cell."""
    torch.manual_seed(seed)
    return Network(4, 10, 3, nn.CrossEntropyLoss(), steps=2, multiplier=2).to(dtype)


def tiny_batch(seed=1, dtype=torch.float64, n=4, size=8):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, 3, size, size, generator=g, dtype=dtype), torch.randint(10, (n,), generator=g)
