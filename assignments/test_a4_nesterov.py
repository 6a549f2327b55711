"""Grader of assignment 4: Nesterov's virtual step against torch.optim.SGD's own step, its Jacobian against autograd
through that step."""
import pytest
import torch

from grading import check, close, fail, load

a4 = load('a4_nesterov')
XI, MU, LAM = 0.1, 0.9, 3e-4
FIRST = pytest.mark.parametrize('first', [True, False], ids=['first_step', 'with_a_buffer'])


def state(seed, first, shape=(3, 4)):
    g = torch.Generator().manual_seed(seed)
    w, grad, buf = [torch.randn(shape, generator=g, dtype=torch.float64) for _ in range(3)]
    return w, grad, None if first else buf


def torch_step(w, g, buf, momentum=MU, nesterov=True, weight_decay=LAM):
    """What torch.optim.SGD's step() makes of w: the real step, on copies."""
    w = w.clone().requires_grad_()
    optimizer = torch.optim.SGD([w], lr=XI, momentum=momentum, nesterov=nesterov, weight_decay=weight_decay)
    if buf is not None:
        optimizer.state[w]['momentum_buffer'] = buf.clone()
    w.grad = g.clone()
    optimizer.step()
    return w.detach()


def autograd_jacobian(w, g, buf):
    """The diagonal of dw'/dg by autograd through torch's differentiable step. At the first step torch makes the
    buffer from a detached gradient, which autograd cannot see through; a zero buffer gives the same b' = d."""
    w = w.clone()
    g = g.clone().requires_grad_()
    optimizer = torch.optim.SGD([w], lr=XI, momentum=MU, nesterov=True, weight_decay=LAM, differentiable=True)
    optimizer.state[w]['momentum_buffer'] = torch.zeros_like(w) if buf is None else buf.clone()
    w.grad = g
    optimizer.step()
    return torch.autograd.grad(w, g, torch.ones_like(w))[0]


def call(w, g, buf):
    """The student's (w', dw'/dg), after checking that w, g and buf are as they were."""
    inputs = {'w': w.clone(), 'g': g.clone(), 'buf': None if buf is None else buf.clone()}
    result = a4.nesterov_virtual_step(w, g, buf, XI, MU, LAM)
    for name, now in (('w', w), ('g', g), ('buf', buf)):
        check(now is None or torch.equal(now, inputs[name]), f'{name} was changed in place: the virtual step of '
              "section 2.3 is a step the optimizer would take, and must leave w and the optimizer's state as they were")
    check(isinstance(result, tuple) and len(result) == 2, "return a pair (w', dw'/dg)")
    return result


@FIRST
def test_the_virtual_step_is_torchs_step(first):
    w, g, buf = state(0, first)
    w_prime, _ = call(w, g, buf)
    if close(w_prime, torch_step(w, g, buf), rtol=1e-12, atol=1e-15):
        return
    if close(w_prime, torch_step(w, g, buf, nesterov=False), rtol=1e-12, atol=1e-15):
        fail("w' is heavy-ball momentum's step: Nesterov's update takes the gradient plus the look-ahead of the new "
             'buffer (the update in the docstring)')
    if close(w_prime, torch_step(w, g, buf, weight_decay=0), rtol=1e-12, atol=1e-15):
        fail("w' leaves out the L2 weight decay, which torch's SGD adds to the gradient before anything else "
             '(d in the docstring)')
    fail("w' is not what torch.optim.SGD(nesterov=True).step() makes of w" +
         (' at the first step, when there is no buffer yet' if first else ''))


@FIRST
def test_the_jacobian_is_autograds_through_torchs_step(first):
    w, g, buf = state(1, first)
    _, jacobian = call(w, g, buf)
    check(torch.is_tensor(jacobian) and jacobian.shape == w.shape, "return the diagonal of dw'/dg, of w's shape")
    expected = autograd_jacobian(w, g, buf)
    if close(jacobian, expected, rtol=1e-12, atol=0):
        return
    if close(jacobian, -expected, rtol=1e-12, atol=0):
        fail("dw'/dg has the wrong sign: w' moves against the gradient")
    if close(jacobian, torch.full_like(w, -XI), rtol=1e-12, atol=0):
        if first:
            fail("at the first step dw'/dg is that of a buffer autograd cannot see through (question c: how does "
                 "torch make the first buffer?), or it leaves out μ's look-ahead: Nesterov's w' depends on g through "
                 "the new buffer as well (the docstring's update)")
        fail("dw'/dg leaves out μ's look-ahead: Nesterov's w' depends on g through the new buffer b' as well "
             "(the docstring's update; docs/second_order.md)")
    fail("dw'/dg is not the derivative of torch's Nesterov step in g" +
         (' at the first step' if first else ''))
