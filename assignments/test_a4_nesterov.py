"""Grader of assignment 4: Nesterov's virtual step against torch.optim.SGD's own step, its Jacobian against autograd."""
import pytest
import torch

from grading import load

a4 = load('a4_nesterov')
XI, MU, LAM = 0.1, 0.9, 3e-4


def state(seed, shape=(3, 4)):
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(shape, generator=g, dtype=torch.float64) for _ in range(3)]  # w, g, buffer


def torch_step(w, g, buf):
    """What torch.optim.SGD(nesterov=True).step() makes of w: the real step, on copies."""
    w = w.clone().requires_grad_()
    optimizer = torch.optim.SGD([w], lr=XI, momentum=MU, nesterov=True, weight_decay=LAM)
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


@pytest.mark.parametrize('first', [True, False], ids=['first_step', 'with_a_buffer'])
def test_the_virtual_step_is_torchs_step(first):
    w, g, buf = state(0)
    buf = None if first else buf
    inputs = [t.clone() for t in (w, g)] + [None if buf is None else buf.clone()]
    w_prime, _ = a4.nesterov_virtual_step(w, g, buf, XI, MU, LAM)
    assert torch.allclose(w_prime, torch_step(w, g, buf), rtol=1e-12, atol=1e-15)
    assert all(b is None or torch.equal(a, b) for a, b in zip((w, g, buf), inputs)), 'w, g or buf was changed'


@pytest.mark.parametrize('first', [True, False], ids=['first_step', 'with_a_buffer'])
def test_the_jacobian_is_autograds_through_torchs_step(first):
    w, g, buf = state(1)
    buf = None if first else buf
    _, jacobian = a4.nesterov_virtual_step(w, g, buf, XI, MU, LAM)
    assert jacobian.shape == w.shape
    assert torch.allclose(jacobian, autograd_jacobian(w, g, buf), rtol=1e-12, atol=0)
    assert torch.allclose(jacobian, torch.full_like(w, -0.19), rtol=1e-12, atol=0)  # worked by hand: -0.1 (1 + 0.9)
