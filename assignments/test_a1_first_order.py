"""Grader of assignment 1: the first-order alpha step."""
import copy

import torch

from darts_min import search as train_search
from darts_min.architect import Architect
from grading import load, tiny_batch, tiny_network

a1 = load('a1_first_order')


def alpha_loss_by_finite_differences(model, x, y, index, entry, h=1e-6):
    """d L_val / d alpha[index][entry] by a central difference (float64): independent of autograd."""
    alpha = model.arch_parameters()[index]
    values = []
    for step in (h, -h):
        with torch.no_grad():
            alpha.view(-1)[entry] += step
            values.append(model._loss(x, y).item())
            alpha.view(-1)[entry] -= step
    return (values[0] - values[1]) / (2 * h)


def test_the_gradient_is_that_of_the_validation_loss_in_alpha():
    model, (x, y) = tiny_network(), tiny_batch()
    optimizer = torch.optim.SGD(model.arch_parameters(), lr=0.0)  # lr 0: alpha stays where the differences are taken
    grads = a1.first_order_alpha_step(model, optimizer, x, y)
    assert [tuple(g.shape) for g in grads] == [tuple(a.shape) for a in model.arch_parameters()]
    for index, entry in ((0, 0), (0, 13), (1, 7), (1, 30)):
        expected = alpha_loss_by_finite_differences(model, x, y, index, entry)
        assert abs(grads[index].view(-1)[entry].item() - expected) < 1e-7 * max(1.0, abs(expected)), (index, entry)


def test_the_step_is_the_architects_first_order_step_and_w_is_untouched():
    model, (xt, yt), (xv, yv) = tiny_network(), tiny_batch(seed=1), tiny_batch(seed=2)
    twin = copy.deepcopy(model)
    args = train_search.parse_args([])  # DARTS: Adam on alpha, 3e-4
    architect = Architect(model, args)
    w_before = [p.detach().clone() for p in model.parameters()]
    grads = a1.first_order_alpha_step(model, architect.optimizer, xv, yv)
    reference = Architect(twin, args)
    w_optimizer = torch.optim.SGD(twin.parameters(), lr=0.025)
    reference.step(xt, yt, xv, yv, 0.025, w_optimizer, False)  # darts-min's own first-order step
    for a, b, g in zip(model.arch_parameters(), twin.arch_parameters(), grads):
        assert torch.allclose(g, b.grad, rtol=1e-10, atol=1e-14), 'the gradient differs from the architect\'s'
        assert torch.equal(a.grad, g), 'each alpha.grad must hold the gradient that was applied'
        assert torch.allclose(a, b, rtol=0, atol=1e-12), 'alpha after the step differs from the architect\'s'
    assert all(torch.equal(p, p0) and p.grad is None for p, p0 in zip(model.parameters(), w_before)), 'w was touched'
