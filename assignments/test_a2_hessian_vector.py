"""Grader of assignment 2: Eq. 8's product against double backpropagation on a smooth model, and against darts_min's."""
import torch
import torch.nn.functional as F

from darts_min import search as train_search
from darts_min.architect import Architect
from grading import load, tiny_batch, tiny_network

a2 = load('a2_hessian_vector')


def smooth_problem(seed=0):
    """(loss_fn, weights, alphas, u): two mixed edges of smooth ops (tanh, softplus, linear), float64."""
    g = torch.Generator().manual_seed(seed)
    r = lambda *shape: (0.5 * torch.randn(*shape, generator=g, dtype=torch.float64)).requires_grad_()
    x, y = torch.randn(16, 5, generator=g, dtype=torch.float64), torch.randint(3, (16,), generator=g)
    weights = [r(5, 5) for _ in range(6)] + [r(5, 3)]
    alphas = [r(2, 3)]
    ops = (torch.tanh, F.softplus, lambda z: z)

    def loss_fn():
        h = x
        for edge in range(2):  # Eq. 2 on each edge: sum_o softmax(alpha)_o o(h W_o)
            p = torch.softmax(alphas[0][edge], dim=-1)
            h = sum(p[o] * op(h @ weights[3 * edge + o]) for o, op in enumerate(ops))
        return F.cross_entropy(h @ weights[6], y)

    u = [torch.randn(w.shape, generator=g, dtype=torch.float64) for w in weights]
    return loss_fn, weights, alphas, u


def exact_product(loss_fn, weights, alphas, u):
    """grad2_{alpha,w} L . u = grad_alpha (grad_w L . u): double backpropagation."""
    grad_w = torch.autograd.grad(loss_fn(), weights, create_graph=True)
    return torch.autograd.grad(sum((g * u_w).sum() for g, u_w in zip(grad_w, u)), alphas)


def relative_error(got, exact):
    flat = lambda ts: torch.cat([t.flatten() for t in ts])
    return ((flat(got) - flat(exact)).norm() / flat(exact).norm()).item()


def test_the_product_is_the_exact_one_up_to_eps_fd_squared_on_a_smooth_model():
    loss_fn, weights, alphas, u = smooth_problem()
    exact = exact_product(loss_fn, weights, alphas, u)
    got = a2.fd_hessian_vector_product(loss_fn, weights, alphas, u)
    assert [tuple(t.shape) for t in got] == [(2, 3)]
    error = relative_error(got, exact)
    assert error < 1e-5, f'relative error {error:.1e} at the paper scale 0.01: expected the O(eps_fd^2) of Eq. 8'
    smaller = relative_error(a2.fd_hessian_vector_product(loss_fn, weights, alphas, u, scale=1e-3), exact)
    assert 30 < error / smaller < 300, f'error {error:.1e} at scale 1e-2, {smaller:.1e} at 1e-3: not O(eps_fd^2)'


def test_the_weights_are_left_as_they_were():
    loss_fn, weights, alphas, u = smooth_problem(1)
    before = [w.detach().clone() for w in weights]
    a2.fd_hessian_vector_product(loss_fn, weights, alphas, u)
    assert all(torch.allclose(w, b, rtol=0, atol=1e-14) for w, b in zip(weights, before))
    assert all(w.requires_grad for w in weights)


def test_it_is_darts_mins_product_on_the_supernet():
    model, (x, y) = tiny_network(), tiny_batch()
    g = torch.Generator().manual_seed(5)
    u = [torch.randn(p.shape, generator=g, dtype=torch.float64) for p in model.parameters()]
    architect = Architect(model, train_search.parse_args([]))
    expected = architect.fd_alpha_w_hessian_product(u, x, y)
    got = a2.fd_hessian_vector_product(lambda: model._loss(x, y), list(model.parameters()), model.arch_parameters(), u)
    assert relative_error(got, expected) < 1e-8
