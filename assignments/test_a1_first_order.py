"""Grader of assignment 1: the first-order alpha step, against finite differences and darts-min's Architect."""
import copy

import torch

from darts_min import search as train_search
from darts_min.architect import Architect
from grading import check, close, fail, load, tiny_batch, tiny_network

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


def step_with_darts_min(model, xv, yv):
    """(alphas, gradients) after darts-min's own first-order step on a copy of `model`, from a fresh Adam."""
    twin = copy.deepcopy(model)
    reference = Architect(twin, train_search.parse_args([]))
    xt, yt = tiny_batch(seed=9)  # the training batch: unused at first order
    reference.step(xt, yt, xv, yv, 0.025, torch.optim.SGD(twin.parameters(), lr=0.025), False)
    return twin.arch_parameters(), [a.grad for a in twin.arch_parameters()]


def test_the_gradient_is_that_of_the_validation_loss_in_alpha():
    model, (x, y) = tiny_network(), tiny_batch()
    optimizer = torch.optim.SGD(model.arch_parameters(), lr=0.0)  # lr 0: alpha stays where the differences are taken
    grads = a1.first_order_alpha_step(model, optimizer, x, y)
    check(len(grads) == 2 and [tuple(g.shape) for g in grads] == [tuple(a.shape) for a in model.arch_parameters()],
          'return one gradient per architecture parameter, of its shape')
    for index, entry in ((0, 0), (0, 13), (1, 7), (1, 30)):
        expected = alpha_loss_by_finite_differences(model, x, y, index, entry)
        got = grads[index].view(-1)[entry].item()
        if abs(got + expected) < 1e-7 * max(1.0, abs(expected)) < abs(expected):
            fail('the returned gradient has the wrong sign: it is the gradient of L_val, which the α optimizer '
                 'descends (Eq. 7 with ξ = 0)')
        check(abs(got - expected) < 1e-7 * max(1.0, abs(expected)),
              f'the returned gradient is not ∇_α L_val(w, α) on the given batch (Eq. 7 with ξ = 0): entry {entry} '
              f'of α {index} is off by {abs(got - expected):.1e} from a finite difference of the loss')


def test_each_alpha_grad_holds_the_gradient_of_this_step_alone():
    model, (x, y) = tiny_network(), tiny_batch()
    optimizer = torch.optim.SGD(model.arch_parameters(), lr=0.0)
    stale = [torch.ones_like(a) for a in model.arch_parameters()]  # what an earlier step left in .grad
    for a, s in zip(model.arch_parameters(), stale):
        a.grad = s.clone()
    grads = a1.first_order_alpha_step(model, optimizer, x, y)
    got = [a.grad for a in model.arch_parameters()]
    if close(got, [g + s for g, s in zip(grads, stale)]):
        fail("α's .grad held the earlier gradient plus this one (a backward pass adds to .grad): each α step "
             'applies the hypergradient of its own batch alone (Algorithm 1, step 1)')
    check(close(got, [g.detach() for g in grads], rtol=0, atol=0),
          "each α's .grad must hold the gradient that was applied, the one returned")


def test_w_is_untouched():
    model, (x, y) = tiny_network(), tiny_batch()
    w_before = [p.detach().clone() for p in model.parameters()]
    a1.first_order_alpha_step(model, torch.optim.Adam(model.arch_parameters(), lr=3e-4), x, y)
    check(all(torch.equal(p, p0) for p, p0 in zip(model.parameters(), w_before)),
          'the weights w changed: step 1 of Algorithm 1 updates α alone (w has its own step, step 2)')
    if any(p.grad is not None for p in model.parameters()):
        fail("w's .grad was filled (a backward pass through the whole network?): the first-order α step "
             "differentiates L_val in α alone (Eq. 7 with ξ = 0); w's .grad belongs to w's own step (Algorithm 1, "
             'step 2), which would find these gradients there')


def test_the_step_is_darts_mins_first_order_step():
    model, (x, y) = tiny_network(), tiny_batch(seed=2)
    before = [a.detach().clone() for a in model.arch_parameters()]
    expected_alphas, expected_grads = step_with_darts_min(model, x, y)
    optimizer = Architect(model, train_search.parse_args([])).optimizer  # DARTS's: Adam on alpha, 3e-4
    grads = a1.first_order_alpha_step(model, optimizer, x, y)
    check(close([g.detach() for g in grads], expected_grads), "the gradient differs from darts-min's first-order one "
          '(Architect.step without unrolled)')
    if all(torch.equal(a, b) for a, b in zip(model.arch_parameters(), before)):
        fail('α did not move: the α optimizer took no step (Algorithm 1, step 1)')
    check(close(list(model.arch_parameters()), expected_alphas, rtol=0, atol=1e-12),
          "α after the step is not that of one step of the α optimizer with this gradient (Algorithm 1, step 1)")
