"""The toy bilevel problem of DARTS section 2.3: the project's Architect and optimizers reach the fixed points that the
algebra predicts, every optimizer pair runs and says truly where it ended, the picture is written.

With plain SGD (learning rates a for alpha, b for w) one step of Algorithm 1 is linear in (alpha, w). The virtual
step is w' = w - xi dL_train/dw = w - 2 xi (w - alpha), and the hypergradient (DARTS Eq. 7) is
    dL_val/dalpha (w', alpha) - xi d2L_train/(dalpha dw) dL_val/dw' = (w' - 2) - xi (-2) alpha
                                                                    = (1 - 2 xi) w + 4 xi alpha - 2.
At a fixed point the w step stops, so w = alpha, w' = alpha, and the hypergradient is (alpha - 2) + 2 xi alpha = 0:
alpha = w = 2 / (1 + 2 xi). First order (xi = 0) stops at (2, 2); xi = 0.5 reaches the bilevel optimum (1, 1).
"""
import math

import numpy as np
import pytest

from darts_min import optimizers, toy

SGD = ['--learning_rate', '0.1', '--arch_learning_rate', '0.1']


def sgd_step_matrix(xi, a=0.1, b=0.1):
    """(M, c) with (alpha, w) <- M (alpha, w) + c: the alpha step, then the w step on the new alpha."""
    alpha_step = np.array([[1 - 4 * xi * a, -a * (1 - 2 * xi), 2 * a], [0, 1, 0], [0, 0, 1]])
    w_step = np.array([[1, 0, 0], [2 * b, 1 - 2 * b, 0], [0, 0, 1]])  # w <- w - b (2 w - 2 alpha)
    step = w_step @ alpha_step
    return step[:2, :2], step[:2, 2]


@pytest.mark.parametrize('xi', [0, 0.1, 0.5, 1])
def test_sgd_follows_algorithm_1_to_the_predicted_fixed_point(xi):
    _, args = toy.parse(SGD)
    steps = 150
    path, diverged = toy.solve(args, xi, steps, bound=100)
    assert diverged is None and len(path) == steps + 1
    M, c = sgd_step_matrix(xi)
    expected = [np.array(toy.START)]
    for _ in range(steps):
        expected.append(M @ expected[-1] + c)
    # every step is the alpha step and then the w step, as train_search.py's loop (float64: exact to rounding)
    np.testing.assert_allclose(path, expected, rtol=0, atol=1e-12)
    fixed = np.full(2, 2 / (1 + 2 * xi))
    np.testing.assert_allclose(np.linalg.solve(np.eye(2) - M, c), fixed, rtol=1e-12)
    # the error after T steps is M^T e_0, so the end point is within ||M^T|| ||e_0|| of the fixed point
    tolerance = np.linalg.norm(np.linalg.matrix_power(M, steps), 2) * np.linalg.norm(np.array(toy.START) - fixed)
    assert tolerance < 1e-5  # the run is long enough to have converged
    assert np.linalg.norm(np.array(path[-1]) - fixed) <= tolerance + 1e-12


def check_report(xi, path, diverged, bound):
    """The report is true: an end point is finite and in bounds; a divergence is flagged at the first point out."""
    inside = [all(math.isfinite(v) and abs(v) <= bound for v in p) for p in path]
    line = toy.describe(xi, path, diverged)
    if diverged is None:
        assert all(inside) and 'ended at' in line
    else:
        assert all(inside[:-1]) and not inside[-1] and len(path) == diverged + 1
        assert f'diverged at step {diverged}' in line


@pytest.mark.parametrize('w', list(optimizers.REGISTRY))
def test_every_optimizer_pair_runs_and_reports_where_it_ended(w):
    for arch in optimizers.REGISTRY:
        _, args = toy.parse(['--w_optimizer', w, '--arch_optimizer', arch])
        assert (type(args.w_optimizer), args.w_optimizer, args.arch_optimizer) == (str, w, arch)
        for xi in (0, 0.5):
            path, diverged = toy.solve(args, xi, 20, bound=100)
            check_report(xi, path, diverged, 100)
            assert diverged is not None or len(path) == 21


@pytest.mark.parametrize('argv, bound', [(['--learning_rate', '1.5'], 100),  # w <- w - 3 (w - alpha): |w| grows
                                         (['--learning_rate', '1e38', '--arch_learning_rate', '1e38'], 1e307)])
def test_a_divergence_is_flagged_where_it_happens(argv, bound):
    _, args = toy.parse(argv)
    for xi in (0, 0.5):
        path, diverged = toy.solve(args, xi, 200, bound)
        assert diverged is not None
        check_report(xi, path, diverged, bound)


def test_the_command_prints_every_run_and_writes_the_picture(tmp_path, capsys):
    picture = tmp_path / 'toy.png'
    assert toy.main(['--xi', '0', '0.5', '--steps', '150', '--save', str(picture),
                     '--w_optimizer_args', 'dampening=0']) == 0
    first, second, saved = capsys.readouterr().out.splitlines()
    assert first.startswith('xi 0 (first order): ended at alpha 2.000000, w 2.000000 after 150 steps (the last moved ')
    assert second.startswith('xi 0.5 (second order): ended at alpha 1.000000, w 1.000000 after 150 steps')
    assert saved == str(picture)
    assert picture.read_bytes()[:8] == b'\x89PNG\r\n\x1a\n' and picture.stat().st_size > 20_000
    assert sorted(p.name for p in tmp_path.iterdir()) == ['toy.png']  # written atomically: no temporary file left


@pytest.mark.parametrize('argv, message', [
    (['--epochs', '3'], '--epochs: not a flag of the toy'),
    (['--xi', '-1'], '--xi must be non-negative'),
    (['--steps', '0'], '--steps and --bound must be positive'),
    (['--arch_optimizer', 'lbfgs'], "--arch_optimizer: unknown optimizer 'lbfgs'"),
])
def test_bad_arguments_are_one_line(argv, message, capsys):
    with pytest.raises(SystemExit) as e:
        toy.parse(argv)
    err = capsys.readouterr().err
    assert e.value.code == 2 and len(err.strip().splitlines()) == 1 and message in err, err
