"""Grader of assignment 5's mechanics: shapes, weights in (0, 1), gradients that reach alpha, plugged into the supernet.
What the relaxations do to a search is the open part, for a report."""
import pytest
import torch

from grading import check, close, fail, load, tiny_batch, tiny_network

a5 = load('a5_relaxation')
KINDS = pytest.mark.parametrize('kind', ['sigmoid', 'gumbel'])


def weights_of(alpha, kind, temperature=1.0):
    weights = a5.relaxed_op_weights(alpha, kind, temperature)
    check(torch.is_tensor(weights) and weights.shape == alpha.shape, f"{kind}: return a tensor of alpha's shape")
    return weights


@KINDS
def test_weights_are_in_the_open_unit_interval_and_differentiable(kind):
    torch.manual_seed(0)
    alpha = (3 * torch.randn(14, 8, dtype=torch.float64)).requires_grad_()
    weights = weights_of(alpha, kind, 0.5)
    check(bool(torch.isfinite(weights).all()), f'{kind}: some weights are not finite (the log of a uniform draw of '
          'exactly 0 or 1?)')
    check(bool(((weights > 0) & (weights < 1)).all()), f'{kind}: every op weight must lie strictly between 0 and 1')
    check(weights.requires_grad, f'{kind}: the weights are cut from α (detach, .data, numpy or a new tensor): the α step '
          "differentiates the loss through Eq. 2's op weights, so they must stay a function of α")
    (weights * torch.arange(8.0, dtype=torch.float64)).sum().backward()
    check(alpha.grad is not None and bool(torch.isfinite(alpha.grad).all()) and alpha.grad.abs().sum() > 0,
          f'{kind}: no finite, non-zero gradient reaches α through the weights (Eq. 2 is differentiated in α)')


def test_sigmoid_is_each_ops_own_weight():
    alpha = torch.tensor([[0.0, 2.0, -1.0]])
    weights = weights_of(alpha, 'sigmoid', 2.0)
    if close(weights.sum(-1), torch.ones(1), rtol=1e-6, atol=0):
        fail("sigmoid: an edge's weights sum to 1, so its ops still compete for one unit of weight: FairDARTS's "
             'relaxation gives each op a weight of its own (the docstring)')
    if close(weights, torch.sigmoid(alpha), rtol=1e-6, atol=0):
        fail('sigmoid: the temperature T was not applied (the docstring: sigmoid(α_o / T))')
    check(close(weights, torch.tensor([[0.5, 0.7310586, 0.3775407]]), rtol=1e-6, atol=0),
          'sigmoid: the weights are not sigmoid(α_o / T) (the docstring, FairDARTS)')
    check(torch.equal(weights, weights_of(alpha, 'sigmoid', 2.0)), 'sigmoid: two calls gave different weights: '
          'the sigmoid relaxation draws no noise')


def test_gumbel_rows_sum_to_one_and_each_call_draws_new_noise():
    torch.manual_seed(0)
    alpha = torch.zeros(14, 8, dtype=torch.float64)
    first, second = weights_of(alpha, 'gumbel'), weights_of(alpha, 'gumbel')
    check(close(first.sum(-1), torch.ones(14, dtype=torch.float64)), "gumbel: an edge's weights must sum to 1 "
          '(Gumbel-softmax is a softmax over the ops of the edge)')
    check(not torch.equal(first, second), 'gumbel: two calls drew the same noise (a generator seeded in the function, '
          'or noise drawn once?): Gumbel-softmax draws new noise at every forward pass')


def test_gumbel_samples_follow_softmax_alpha():
    # the argmax of a Gumbel-softmax sample is distributed as softmax(alpha): ops of softmax 4/7, 2/7, 1/7 win as often
    # (three ops: with two, noise of the wrong sign would pass, the difference of two such noises being symmetric)
    torch.manual_seed(1)
    expected = torch.tensor([4.0, 2.0, 1.0]) / 7
    wins = torch.bincount(weights_of(expected.log().expand(20000, 3), 'gumbel', 0.1).argmax(-1), minlength=3) / 20000
    check(bool(((wins - expected).abs() < 0.015).all()), f'gumbel: ops with softmax(α) = 0.571, 0.286, 0.143 win '
          f'{", ".join(f"{x:.3f}" for x in wins.tolist())} of 20000 draws: the noise is not standard Gumbel noise added '
          'to α (the Gumbel-max trick, Jang et al. and Maddison et al., 2017)')


def test_an_unknown_kind_is_refused():
    with pytest.raises(ValueError):
        a5.relaxed_op_weights(torch.zeros(2, 8), 'sparsemax')


@KINDS
def test_plugged_into_the_supernet_the_loss_reaches_alpha(kind):
    model, (x, y) = tiny_network(), tiny_batch()
    a5.plug_in(model, kind)
    model._loss(x, y).backward()
    for a in model.arch_parameters():
        check(a.grad is not None and bool(torch.isfinite(a.grad).all()) and a.grad.abs().sum() > 0,
              f'{kind}: plugged into the supernet, the loss does not reach α (Network.op_weights is where Eq. 2 '
              'turns α into op weights)')
