"""What the graders share: the module under test, tiny inputs, and failures that name a misconception.

`load('a1_first_order')` imports the student's file assignments/a1_first_order.py; with the environment variable
DARTS_ASSIGNMENTS=solutions it imports assignments/solutions/a1_first_order.py instead, the project's reference
solution (test_darts_min/test_assignments.py runs the graders both ways, and on copies of the solutions with a
mistake planted, so that they cannot rot). DARTS_ASSIGNMENTS may also be any folder holding the files.

A grader fails with `fail(message)`: one line that says what went wrong and, where the symptom is that of a known
misconception, names it and points to the paper's equation or section, never to the fix. No traceback of the
grader's own lines is shown, so nothing the grader computes to compare with is printed.
"""
import importlib.util
import os

import pytest
import torch
import torch.nn as nn

from darts_min.model_search import Network  # the repository's root is on sys.path: conftest.py

HERE = os.path.dirname(os.path.abspath(__file__))


def load(name):
    """The module `name` under test: the student's, or the reference solution's (DARTS_ASSIGNMENTS=solutions)."""
    folder = os.path.join(HERE, os.environ.get('DARTS_ASSIGNMENTS', ''))
    path = os.path.join(folder, f'{name}.py')
    spec = importlib.util.spec_from_file_location(f'{os.path.basename(folder) or "student"}_{name}', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def fail(message):
    """Fail the grader with `message` alone (no traceback through the grader's lines)."""
    pytest.fail(message, pytrace=False)


def check(condition, message):
    if not condition:
        fail(message)


def close(a, b, rtol=1e-10, atol=1e-14):
    """Whether two tensors (or lists of tensors) agree to rounding."""
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(close(x, y, rtol, atol) for x, y in zip(a, b))
    return torch.is_tensor(a) and a.shape == b.shape and torch.allclose(a, b, rtol=rtol, atol=atol)


def flat(tensors):
    return torch.cat([t.detach().flatten() for t in tensors])


def relative_error(got, exact):
    return ((flat(got) - flat(exact)).norm() / flat(exact).norm()).item()


def tiny_network(seed=0, dtype=torch.float64):
    """A DARTS supernet small enough for a grader: C = 4, 3 cells, 2 nodes a cell."""
    torch.manual_seed(seed)
    return Network(4, 10, 3, nn.CrossEntropyLoss(), steps=2, multiplier=2).to(dtype)


def tiny_batch(seed=1, dtype=torch.float64, n=4, size=8):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, 3, size, size, generator=g, dtype=dtype), torch.randint(10, (n,), generator=g)
