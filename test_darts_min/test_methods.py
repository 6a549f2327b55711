"""The variants, each against its definition: SDARTS-RS/ADV, DARTS-, beta-DARTS, and their schedules."""
import math

import pytest
import torch
import torch.nn as nn

from conftest import TINY, batch, read_metrics, tiny_network
from darts_min import cli, methods
from darts_min import search as train_search
from darts_min.architect import Architect
from darts_min.model_nb201 import NB201Cell, NB201Network
from darts_min.model_search import Cell


def args_for(method, *extra):
    return train_search.parse_args(['--method', method, '--epochs', '10', *extra])


def simplex_rows(w):
    return bool(((w >= 0) & (w <= 1)).all()) and torch.allclose(w.sum(-1), torch.ones(w.shape[0]))


def test_rs_noise_is_uniform_in_the_eps_box_and_the_result_back_on_the_simplex(monkeypatch):
    torch.manual_seed(0)
    abar = torch.softmax(torch.randn(14, 8), dim=-1)
    for eps in (0.03, 0.3):
        assert simplex_rows(methods.random_perturbation(abar, eps))
    # the noise itself (before the projection): U[-eps, eps], whose quartiles are -eps/2, 0, eps/2 (a draw of 40,000
    # has a standard error of about 0.005 eps on each)
    with monkeypatch.context() as m:
        m.setattr(methods, 'to_simplex', lambda p, fallback: p)
        noise = (methods.random_perturbation(abar.repeat(200, 1), 0.1) - abar.repeat(200, 1)).flatten() / 0.1
    assert noise.abs().max() <= 1 and torch.quantile(noise, torch.tensor([0.25, 0.5, 0.75])).tolist() == pytest.approx(
        [-0.5, 0.0, 0.5], abs=0.02)
    # clipped to [0, 1] and renormalised, by hand: [0.9, 0.1] + [0.3, -0.3] -> [1.2, -0.2] -> [1, 0];
    # [0.5, 0.5] + [0.3, -0.3] -> [0.8, 0.2], already on the simplex
    monkeypatch.setattr(torch.Tensor, 'uniform_', lambda t, a, b: t.copy_(torch.tensor([b, a]).expand_as(t)))
    p = methods.random_perturbation(torch.tensor([[0.9, 0.1], [0.5, 0.5]]), 0.3)
    assert torch.allclose(p, torch.tensor([[1.0, 0.0], [0.8, 0.2]]), rtol=0, atol=1e-7)
    # a row clipped to all zeros keeps A_bar instead of dividing by zero
    assert torch.equal(methods.to_simplex(-torch.ones(1, 8), abar[:1]), abar[:1])


def test_rs_weight_step_uses_the_perturbed_weights_and_restores_alpha_bit_exactly():
    model = tiny_network()
    method = methods.build(args_for('sdarts_rs'))
    method.schedule(9)
    x, y = batch()
    alphas = [a.detach().clone() for a in model.arch_parameters()]
    plain = model._loss(x, y).item()
    seen = {}  # the op weights each kind of cell is called with
    for cell in model.cells:
        cell.register_forward_hook(lambda cell, args, out: seen.update({cell.reduction: args[-1]}))
    with method.op_weights_for_w_step(model, x, y):
        perturbed = model._loss(x, y)
        perturbed.backward()
        weights = [seen[False], seen[True]]
    assert perturbed.item() != plain
    for w, a in zip(weights, alphas):
        assert simplex_rows(w) and not torch.allclose(w, torch.softmax(a, -1))
    for a, before in zip(model.arch_parameters(), alphas):
        assert torch.equal(a, before)
    assert not any(cell._forward_pre_hooks for cell in model.cells) and model._loss(x, y).item() == plain


@pytest.mark.parametrize('space', ['darts', 'nb201'])
def test_swapped_op_weights_reach_every_cell_of_either_space_and_go_once_the_context_ends(space):
    torch.manual_seed(0)
    model = tiny_network() if space == 'darts' else NB201Network(4, 10, 1, nn.CrossEntropyLoss())
    swapped = [torch.rand_like(a) for a in model.arch_parameters()]
    seen = []  # (reduction cell, op weights) of each cell called with op weights
    for cell in model.cells:
        if isinstance(cell, (Cell, NB201Cell)):
            cell.register_forward_hook(lambda cell, args, out: seen.append((getattr(cell, 'reduction', 0), args[-1])))
    x, y = batch(size=16)
    with methods.use_op_weights(model, swapped):
        model._loss(x, y)
    # three cells either way: darts's normal, reduction, reduction, each with its own tensor; NB-201's all normal
    assert [bool(reduction) for reduction, _ in seen] == ([False, True, True] if space == 'darts' else [False] * 3)
    assert all(weights is swapped[int(reduction)] for reduction, weights in seen)
    seen.clear()
    model._loss(x, y)  # after the context: softmax(alpha) again (Eq. 2)
    assert len(seen) == 3 and all(torch.equal(weights, torch.softmax(model.arch_parameters()[int(reduction)], -1))
                                  for reduction, weights in seen)


def test_adv_attack_does_not_decrease_the_training_loss_and_stays_feasible():
    model = tiny_network()
    x, y = batch(n=8)
    abars = [torch.softmax(a.detach(), -1) for a in model.arch_parameters()]
    model.train()
    torch.manual_seed(0)
    for eps in (0.03, 0.3):
        perturbed = methods.adversarial_perturbation(model, x, y, abars, eps)
        assert model.training  # back in train mode after the attack (which ran in eval mode)
        model.eval()
        with torch.no_grad():
            with methods.use_op_weights(model, perturbed):
                attacked = model._loss(x, y).item()
            with methods.use_op_weights(model, abars):
                clean = model._loss(x, y).item()
        model.train()
        assert attacked > clean
        for p in perturbed:
            assert simplex_rows(p)


def test_adv_falls_back_to_the_unperturbed_weights_when_the_attack_fails(monkeypatch):
    model = tiny_network()
    x, y = batch()
    abars = [torch.softmax(a.detach(), -1) for a in model.arch_parameters()]
    # an 'attack' that descends instead of ascending cannot raise the loss
    monkeypatch.setattr(torch.Tensor, 'sign', lambda g: -torch.sign(g))
    perturbed = methods.adversarial_perturbation(model, x, y, abars, 0.3)
    assert all(p is a for p, a in zip(perturbed, abars))


class LinearCell(Cell):
    """A cell of 100 two-op edges whose output is linear in its op weights: w_0 - w_1, summed over the edges."""

    def __init__(self):
        nn.Module.__init__(self)  # no ops
        self.reduction = False

    def forward(self, x, op_weights):
        return (op_weights @ torch.tensor([1.0, -1.0])).sum()


class LinearInWeights(nn.Module):
    """A stand-in supernet of one LinearCell, A_bar = [1/2, 1/2] on each edge: its training loss is linear in the
    op weights, so the worst point of the eps-ball on the simplex is [1/2 + eps, 1/2 - eps] on every edge.
    Records the mode of each loss it computes, and the op weights of the last."""

    def __init__(self):
        super().__init__()
        self.alphas = torch.zeros(100, 2, requires_grad=True)
        self.cells = nn.ModuleList([LinearCell()])
        self.cells[0].register_forward_hook(lambda cell, args, out: setattr(self, 'op_weights', args[-1]))
        self.modes = []

    def arch_parameters(self):
        return [self.alphas]

    def _loss(self, x, y):
        self.modes.append(self.training)
        return self.cells[0](x, torch.softmax(self.alphas, dim=-1))


def worst_point(eps):
    return torch.tensor([0.5 + eps, 0.5 - eps]).expand(100, 2)


def test_adv_attack_reaches_the_edge_of_the_eps_ball_from_a_random_start_in_eval_mode():
    model = LinearInWeights().train()
    abars = [torch.softmax(model.alphas.detach(), dim=-1)]
    torch.manual_seed(0)
    for eps in (0.03, 0.3):
        rng = torch.get_rng_state()
        [p] = methods.adversarial_perturbation(model, None, None, abars, eps)
        assert not torch.equal(torch.get_rng_state(), rng)  # a random start was drawn
        # seven sign steps of 2 eps / 7 reach the far edge from any start in the ball, and the clamp stops them
        # there (steps of eps / 7 would leave the edges that started below 1/2 short of it)
        assert torch.allclose(p, worst_point(eps), atol=1e-6)
        assert model.modes and not any(model.modes) and model.training  # every loss in eval mode, train after
        model.modes.clear()


def test_adv_weight_step_trains_w_at_the_attack_with_the_epochs_eps():
    method = methods.build(args_for('sdarts_adv', '--epsilon_alpha', '0.3'))
    model = LinearInWeights()
    for epoch, eps in ((0, 0.03), (9, 0.03 + 0.27 * 0.9)):
        assert method.schedule(epoch)['epsilon_alpha'] == pytest.approx(eps)
        with method.op_weights_for_w_step(model, None, None):
            model._loss(None, None)
            assert torch.allclose(model.op_weights, worst_point(eps), atol=1e-6)
    model._loss(None, None)
    assert torch.equal(model.op_weights, torch.full((100, 2), 0.5))  # softmax(alpha) again after the step


def test_sdarts_eps_schedule_grows_linearly_from_0_03():
    method = methods.build(args_for('sdarts_adv', '--epsilon_alpha', '0.3'))
    assert [round(method.schedule(e)['epsilon_alpha'], 10) for e in (0, 5, 10)] == [0.03, 0.165, 0.3]


def test_darts_minus_beta_schedule_linear_and_cosine():
    linear = methods.build(args_for('darts_minus'))
    linear.setup(tiny_network())
    assert [linear.schedule(e)['aux_skip_beta'] for e in (0, 5, 9)] == [1.0, 0.5, pytest.approx(0.1)]
    cosine = methods.build(args_for('darts_minus', '--aux_skip_decay', 'cosine', '--aux_skip_beta', '2'))
    cosine.setup(tiny_network())
    assert cosine.schedule(0)['aux_skip_beta'] == 2.0
    assert cosine.schedule(5)['aux_skip_beta'] == pytest.approx(1.0)
    assert cosine.schedule(9)['aux_skip_beta'] == pytest.approx(2 * (1 + math.cos(math.pi * 0.9)) / 2)


def test_darts_minus_aux_path_vanishes_at_beta_zero_and_adds_beta_times_aux():
    plain, minus = tiny_network(seed=3), tiny_network(seed=3)
    method = methods.build(args_for('darts_minus'))
    method.setup(minus)
    assert len(method.skips) == 3 * 14
    reduce_skip = minus.cells[1]._ops[0]
    assert type(reduce_skip.aux).__name__ == 'FactorizedReduce' and type(minus.cells[0]._ops[0].aux).__name__ == 'Identity'
    assert any(n.endswith('aux.conv_1.weight') for n, _ in minus.named_parameters())  # trained with w
    assert minus.genotype() == plain.genotype()  # alpha and the derivation are unchanged
    x, _ = batch()
    for skip in method.skips:
        skip.beta = 0.0
    assert torch.equal(minus(x), plain(x))
    # at beta = 1 the edge output is the mixed op plus its input (stride 1)
    edge_in = torch.randn(2, 4, 8, 8)
    w = torch.softmax(minus.alphas_normal, -1)[0]
    skip = minus.cells[0]._ops[0]
    skip.beta = 1.0
    assert torch.allclose(skip(edge_in, w), skip.mixed(edge_in, w) + edge_in)


def test_beta_darts_adds_lambda_softmax_over_edges_to_the_alpha_gradient():
    args = args_for('beta_darts', '--beta_decay_weight', '50')
    method = methods.build(args)
    assert method.schedule(4)['beta_decay_lambda'] == 50 * 4 / 10
    x, y = batch(dtype=torch.float64, seed=2)

    def alpha_grads(regularizer, unrolled):
        model = tiny_network(seed=1, dtype=torch.float64)
        with torch.no_grad():
            torch.manual_seed(5)
            for a in model.arch_parameters():
                a.normal_()  # far from uniform, so softmax(alpha) differs across ops
        before = [a.detach().clone() for a in model.arch_parameters()]
        architect = Architect(model, args, regularizer)
        architect.step(x, y, x, y, 0.025, torch.optim.SGD(model.parameters(), lr=0.1), unrolled=unrolled)
        return before, [a.grad for a in model.arch_parameters()]

    for unrolled in (False, True):  # the term is added to the hypergradient of either order
        before, plain = alpha_grads(None, unrolled)
        _, regularised = alpha_grads(method.arch_regularizer, unrolled)
        edges = sum(a.shape[0] for a in before)
        assert edges == 28
        for b, g0, g1 in zip(before, plain, regularised):
            assert torch.allclose(g1 - g0, method.lam * torch.softmax(b, -1) / edges, rtol=1e-9, atol=1e-12)


def test_metrics_record_each_methods_schedule(tmp_path):
    # epochs t = 0, 1 of T = 2: SDARTS eps_t = 0.03 + (0.3 - 0.03) t / T, DARTS- beta_t = 1 - t / T,
    # beta-DARTS lambda_t = 50 t / T
    for method, key, expected in [('darts', None, None), ('sdarts_rs', 'epsilon_alpha', [0.03, 0.165]),
                                  ('sdarts_adv', 'epsilon_alpha', [0.03, 0.165]),
                                  ('darts_minus', 'aux_skip_beta', [1.0, 0.5]), ('beta_darts', 'beta_decay_lambda', [0.0, 25.0])]:
        save = str(tmp_path / method)
        assert train_search.main(TINY + ['--fake_size', '16', '--epochs', '2', '--method', method, '--save', save]) == 0
        metrics = read_metrics(save)
        if key:
            assert [m[key] for m in metrics] == pytest.approx(expected, rel=1e-12)
        else:
            assert not {'epsilon_alpha', 'aux_skip_beta', 'beta_decay_lambda'} & metrics[0].keys()


@pytest.mark.parametrize('argv, message', [
    (['--method', 'pc_darts'], "unknown method 'pc_darts' (choose from darts, sdarts_rs, sdarts_adv, darts_minus, beta_darts)"),
    (['--method', 'sdarts_rs', '--unrolled'], '--method sdarts_rs defines no second-order (--unrolled) search'),
    (['--method', 'sdarts_adv', '--unrolled'], '--method sdarts_adv defines no second-order (--unrolled) search'),
    (['--aux_skip_decay', 'step'], '--aux_skip_decay must be linear or cosine'),
    (['--epsilon_alpha', '0.01'], '--epsilon_alpha must be at least its starting 0.03'),
])
def test_bad_method_arguments_are_one_line(argv, message, capsys):
    with pytest.raises(SystemExit) as e:
        cli.run(lambda: train_search.main(TINY + argv))
    err = capsys.readouterr().err
    assert e.value.code == 2 and message in err and err.count('\n') == 1


@pytest.mark.smoke
def test_second_order_variants_run(tmp_path):
    for method in ('darts_minus', 'beta_darts'):
        assert train_search.main(TINY + ['--epochs', '1', '--unrolled', '--method', method,
                                         '--save', str(tmp_path / method)]) == 0
