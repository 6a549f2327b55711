"""Grader of assignment 5's mechanics: shapes, weights in (0, 1), gradients that reach alpha, plugged into the supernet.
What the relaxations do to a search is the open part, for a report."""
import pytest
import torch

from grading import load, tiny_batch, tiny_network

a5 = load('a5_relaxation')


@pytest.mark.parametrize('kind', ['sigmoid', 'gumbel'])
def test_weights_are_in_the_open_unit_interval_and_differentiable(kind):
    torch.manual_seed(0)
    alpha = (3 * torch.randn(14, 8, dtype=torch.float64)).requires_grad_()
    weights = a5.relaxed_op_weights(alpha, kind, 0.5)
    assert weights.shape == alpha.shape
    assert bool(((weights > 0) & (weights < 1)).all())
    (weights * torch.arange(8.0, dtype=torch.float64)).sum().backward()
    assert alpha.grad is not None and torch.isfinite(alpha.grad).all() and alpha.grad.abs().sum() > 0


def test_sigmoid_is_each_ops_own_weight():
    alpha = torch.tensor([[0.0, 2.0, -1.0]])
    assert torch.allclose(a5.relaxed_op_weights(alpha, 'sigmoid', 2.0), torch.tensor([[0.5, 0.7310586, 0.3775407]]))
    assert torch.equal(a5.relaxed_op_weights(alpha, 'sigmoid'), a5.relaxed_op_weights(alpha, 'sigmoid'))


def test_gumbel_rows_sum_to_one_and_each_call_draws_new_noise():
    torch.manual_seed(0)
    alpha = torch.zeros(14, 8, dtype=torch.float64)
    first, second = a5.relaxed_op_weights(alpha, 'gumbel'), a5.relaxed_op_weights(alpha, 'gumbel')
    assert torch.allclose(first.sum(-1), torch.ones(14, dtype=torch.float64))
    assert not torch.equal(first, second)
    # the argmax of a Gumbel-softmax sample is distributed as softmax(alpha): op 0 of [log 3, 0] wins 3 times in 4
    torch.manual_seed(1)
    alpha = torch.tensor([[torch.log(torch.tensor(3.0)), 0.0]]).expand(4000, 2)
    wins = (a5.relaxed_op_weights(alpha, 'gumbel', 0.1).argmax(-1) == 0).float().mean().item()
    assert abs(wins - 0.75) < 0.03


def test_an_unknown_kind_is_refused():
    with pytest.raises(ValueError):
        a5.relaxed_op_weights(torch.zeros(2, 8), 'sparsemax')


@pytest.mark.parametrize('kind', ['sigmoid', 'gumbel'])
def test_plugged_into_the_supernet_the_loss_reaches_alpha(kind):
    model, (x, y) = tiny_network(), tiny_batch()
    a5.plug_in(model, kind)
    model._loss(x, y).backward()
    for a in model.arch_parameters():
        assert a.grad is not None and torch.isfinite(a.grad).all() and a.grad.abs().sum() > 0
