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
from pathlib import Path

import numpy as np
import pytest

from darts_min import optimizers, toy
from darts_min.architect import Architect

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


@pytest.mark.smoke
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
    (['--grid', '--w_optimizer', 'adam'], '--w_optimizer: --grid runs every pair of the registry'),
])
def test_bad_arguments_are_one_line(argv, message, capsys):
    with pytest.raises(SystemExit) as e:
        toy.parse(argv)
    err = capsys.readouterr().err
    assert e.value.code == 2 and len(err.strip().splitlines()) == 1 and message in err, err


# Second order through the w optimizer's own step: dw'/dg = -xi c where the w step has settled (g = 0, w = alpha,
# no momentum left), so the hypergradient is (alpha - 2) + 2 xi c alpha and the fixed point alpha = 2 / (1 + 2 xi c)
# (docs/toy.md). Heavy-ball momentum: c = 1; Nesterov: w' = w - xi (g + mu (mu buf + g)), c = 1 + mu = 1.9.
@pytest.mark.parametrize('w_optimizer, c', [('sgd', 1), ('momentum', 1), ('nesterov', 1.9)])
@pytest.mark.parametrize('xi', [0.1, 0.5, 1])
def test_second_order_ends_at_2_over_1_plus_2_xi_c(w_optimizer, c, xi):
    _, args = toy.parse(['--w_optimizer', w_optimizer])
    path, diverged = toy.solve(args, xi, 2000 if w_optimizer == 'momentum' and xi < 0.5 else 300, bound=100)
    assert diverged is None
    np.testing.assert_allclose(path[-1], [2 / (1 + 2 * xi * c)] * 2, rtol=0, atol=1e-6)


def test_nesterov_at_xi_one_half_ends_at_0_6897():
    _, args = toy.parse(['--w_optimizer', 'nesterov'])
    path, _ = toy.solve(args, 0.5, 200, bound=100)
    assert path[-1] == pytest.approx((0.689655, 0.689655), abs=1e-6)  # 2 / 2.9, not the optimum (1, 1)
    path, _ = toy.solve(args, 0.263158, 200, bound=100)  # 2 xi (1 + mu) = 1: the optimum (docs/toy.md, exercise 7)
    assert path[-1] == pytest.approx((1, 1), abs=1e-6)


def adaptive_c(w_optimizer, state, group, g):
    """-(dw'/dg) / xi of RMSprop's or Adam's next step at gradient g, from the state before it (torch's update as
    docs/second_order.md writes it). At g = 0, docs/toy.md's c: RMSprop 1 / (sqrt(rho s) + eps), Adam
    (1 - beta1) / (b1 (sqrt(beta2 v / b2) + eps)), b = 1 - beta^(t + 1)."""
    eps = group['eps']
    if w_optimizer == 'rmsprop':
        rho = group['alpha']
        r = math.sqrt(rho * state['square_avg'].item() + (1 - rho) * g * g)
        return 1 / (r + eps) - (1 - rho) * g * g / (r * (r + eps) ** 2) if g else 1 / (r + eps)
    (beta1, beta2), t = group['betas'], state['step'].item() + 1
    b1, b2 = 1 - beta1 ** t, 1 - beta2 ** t
    m = beta1 * state['exp_avg'].item() + (1 - beta1) * g
    v = beta2 * state['exp_avg_sq'].item() + (1 - beta2) * g * g
    D = math.sqrt(v / b2) + eps
    return ((1 - beta1) / D - m * (1 - beta2) * g / (math.sqrt(v * b2) * D * D)) / b1


@pytest.mark.parametrize('w_optimizer', ['rmsprop', 'adam'])
def test_rmsprop_and_adam_on_w_settle_where_their_second_moment_puts_c(w_optimizer):
    # The fixed point moves as the second moment decays: alpha follows 2 / (1 + 2 xi c(state)), and c grows
    _, args = toy.parse(['--w_optimizer', w_optimizer])
    xi, cs = 0.5, []
    ends = {'rmsprop': (500, 0.172), 'adam': (1000, 1.599)}  # step, alpha there
    for step, (model, w_opt) in enumerate(toy.iterate(args, xi), 1):
        if step in (200, 500):
            state, group = w_opt.state[model.w], w_opt.param_groups[0]
            alpha, w = model.point()
            _, jacobian = Architect(model, args).virtual_step(toy.TRAIN, None, xi, w_opt)
            assert jacobian[0].item() == pytest.approx(-xi * adaptive_c(w_optimizer, state, group, 2 * (w - alpha)),
                                                       rel=1e-9)  # the code differentiates torch's step as derived
            cs.append(adaptive_c(w_optimizer, state, group, 0))
        if step == 500:
            assert alpha == pytest.approx(2 / (1 + 2 * xi * cs[-1]), abs=1e-3) and w == pytest.approx(alpha, abs=1e-2)
            assert cs[1] > 1.5 * cs[0]  # the second moment decays: c grows, the fixed point slides towards alpha = 0
        if step == ends[w_optimizer][0]:
            break
    assert model.point()[0] == pytest.approx(ends[w_optimizer][1], abs=5e-4)  # docs/toy.md's numbers


def run_grid_table(pairs, xis, steps=200):
    _, args = toy.parse([])
    return toy.table(toy.grid(args, xis, steps, bound=100, pairs=pairs), xis).splitlines()


def test_the_grid_says_where_each_pair_ends():
    lines = run_grid_table([('sgd', 'sgd'), ('nesterov', 'adam'), ('momentum', 'momentum'), ('adam', 'sgd')], [0, 0.5])
    assert lines == ['| w | α | ξ = 0 | ξ = 0.5 |', '| --- | --- | --- | --- |',
                     '| sgd | sgd | (2.000, 2.000) | (1.000, 1.000) |',
                     '| nesterov | adam | (2.000, 2.000) | (0.690, 0.690) |',  # 2 / (1 + 2 xi (1 + mu))
                     '| momentum | momentum | diverged at step 37 | diverged at step 53 |',
                     '| adam | sgd | (3.117, 2.574), still moving | (1.816, 1.900), still moving |']


def test_the_grid_command_runs_every_pair_and_draws_them(tmp_path, capsys):
    picture = tmp_path / 'grid.png'
    assert toy.main(['--grid', '--xi', '0.5', '--steps', '150', '--save', str(picture)]) == 0
    out = capsys.readouterr().out.splitlines()
    rows = {tuple(line.split(' | ')[:2]): line.split(' | ')[2] for line in out[2:-1]}
    names = list(optimizers.REGISTRY)
    assert list(rows) == [(f'| {w}', a) for w in names for a in names]
    for a in ('sgd', 'rmsprop', 'adam', 'adamw'):  # with SGD or Nesterov on w, 2 / (1 + 2 xi c) at xi = 0.5
        assert (rows['| sgd', a], rows['| nesterov', a]) == ('(1.000, 1.000) |', '(0.690, 0.690) |')
    assert out[-1] == str(picture) and picture.read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'
    assert sorted(p.name for p in tmp_path.iterdir()) == ['grid.png']


DOCS = Path(__file__).resolve().parents[1] / 'docs' / 'toy.md'


@pytest.mark.docs
def test_the_docs_table_is_the_codes():
    # every row of docs/toy.md's table of optimizer pairs, rerun: the docs fail this test when the code moves
    text = DOCS.read_text()
    lines = [line for line in text[text.index('## Other optimizers'):].splitlines() if line.startswith('|')]
    xis = [float(cell.split('=')[1]) for cell in lines[0].strip('| ').split(' | ')[2:]]
    pairs = [tuple(cell.strip() for cell in line.strip('|').split('|')[:2]) for line in lines[2:]]
    assert len(pairs) >= 6 and run_grid_table(pairs, xis) == lines


@pytest.mark.docs
def test_the_docs_run_is_the_codes(tmp_path, capsys):
    text = DOCS.read_text()
    block = text[text.index('    python -m darts_min.toy --save docs/toy.png\n\nprints'):].split('\n\n')[2]
    printed = [line[4:] for line in block.splitlines()]
    assert toy.main(['--save', str(tmp_path / 'toy.png')]) == 0
    assert capsys.readouterr().out.splitlines() == printed[:-1] + [str(tmp_path / 'toy.png')]
    assert printed[-1] == 'docs/toy.png'
