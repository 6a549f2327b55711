"""Grader of assignment 2: Eq. 8's product against double backpropagation on a smooth model, and against darts_min's.

Every call goes through `product`, which records where loss_fn was evaluated and checks first that w was put back,
so that a mistake is named where it happens, not by its consequences in a later check."""
import torch
import torch.nn.functional as F

from darts_min import search as train_search
from darts_min.architect import Architect
from grading import check, fail, flat, load, relative_error, tiny_batch, tiny_network

a2 = load('a2_hessian_vector')
NOT_PUT_BACK = ('w was not put back after the finite differences: Eq. 8 takes both gradients around the same w, '
                'and the search goes on from that w (the weights after the call must be those before)')


def smooth_problem(seed=0):
    """(loss_fn, weights, alphas, u): two mixed edges of smooth ops (tanh, softplus, linear), float64. The tensors of
    u have norms from about 1 to 10, so that a radius per tensor is far from the radius of the whole vector."""
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

    u = [(0.3 + 0.6 * k) * torch.randn(w.shape, generator=g, dtype=torch.float64) for k, w in enumerate(weights)]
    return loss_fn, weights, alphas, u


def exact_product(loss_fn, weights, alphas, u):
    """grad2_{alpha,w} L . u = grad_alpha (grad_w L . u): double backpropagation."""
    grad_w = torch.autograd.grad(loss_fn(), weights, create_graph=True)
    return torch.autograd.grad(sum((g * u_w).sum() for g, u_w in zip(grad_w, u)), alphas)


def product(loss_fn, weights, alphas, u, scale=0.01):
    """(the student's product, the offsets from w of the points where loss_fn was evaluated), after checking that
    w is as it was."""
    before = [w.detach().clone() for w in weights]
    points = []

    def recording_loss_fn():
        points.append([w.detach() - b for w, b in zip(weights, before)])
        return loss_fn()

    got = a2.fd_hessian_vector_product(recording_loss_fn, weights, alphas, u, scale)
    check(all(torch.allclose(w, b, rtol=0, atol=1e-14) for w, b in zip(weights, before)), NOT_PUT_BACK)
    check(all(w.requires_grad for w in weights), 'the weights no longer require grad: move them in place, under '
          'torch.no_grad(), and leave them the leaf tensors they were')
    check(isinstance(got, (list, tuple)) and [tuple(t.shape) for t in got] == [tuple(a.shape) for a in alphas],
          'return one tensor per α, of its shape')
    return got, points


def coefficients(offset, u):
    """c with offset ~ c_i u_i in each tensor i (least squares), and whether that fits: None if it does not."""
    c = [((d * v).sum() / (v * v).sum()).item() for d, v in zip(offset, u)]
    fits = all(torch.allclose(d, ci * v, rtol=0, atol=1e-12) for d, ci, v in zip(offset, c, u))
    return c if fits else None


def test_w_is_put_back_and_the_two_points_are_w_plus_and_minus_eps_fd_u():
    loss_fn, weights, alphas, u = smooth_problem(1)
    _, points = product(loss_fn, weights, alphas, u)
    eps_fd = 0.01 / flat(u).norm().item()
    per_tensor = [0.01 / v.norm().item() for v in u]
    found = [c for c in (coefficients(offset, u) for offset in points) if c is not None]
    near = lambda c, radii: all(abs(abs(ci) - r) < 1e-9 * r for ci, r in zip(c, radii))
    signs = sorted(round(c[0] / eps_fd) for c in found if near(c, [eps_fd] * len(c)))
    if signs == [-1, 1]:
        return
    if any(all(abs(ci) < 1e-15 for ci in c) for c in found):
        fail('one of the gradients was taken at w itself: a one-sided difference, whose error is O(ε_fd) '
             '(Eq. 8 is the central difference; docs/walkthrough.md, section 5)')
    if any(near(c, per_tensor) for c in found):
        fail("ε_fd was taken from each tensor's own norm: Eq. 8 moves w along the whole vector u, with one radius "
             'from the norm of all of u (the docstring, DARTS section 2.3)')
    fail(f'loss_fn was evaluated at {len(points)} points, which are not w + ε_fd u and w − ε_fd u with '
         'ε_fd = scale/‖u‖ (Eq. 8)')


def test_the_product_is_the_exact_one_up_to_eps_fd_squared_on_a_smooth_model():
    loss_fn, weights, alphas, u = smooth_problem()
    exact = exact_product(loss_fn, weights, alphas, u)
    got, _ = product(loss_fn, weights, alphas, u)
    error = relative_error(got, exact)
    if error > 1e-5:
        ratio = (flat(got) @ flat(exact) / (flat(exact) @ flat(exact))).item()
        if abs(ratio + 1) < 1e-3:
            fail('the product has the wrong sign: the central difference of Eq. 8 is taken the wrong way round')
        if abs(ratio - 2) < 1e-3 or abs(ratio - 0.5) < 1e-3:
            fail(f'the product is {ratio:g} times the exact one: the divisor of the central difference (Eq. 8; '
                 'how far apart are the two points?)')
        fail(f'relative error {error:.1e} at the paper\'s scale 0.01: expected the O(eps_fd^2) of Eq. 8\'s central '
             'difference')
    smaller, _ = product(loss_fn, weights, alphas, u, scale=1e-3)
    ratio = error / relative_error(smaller, exact)
    if 3 < ratio < 30:
        fail(f'the error falls like eps_fd, not eps_fd^2 (÷{ratio:.0f} when the scale falls ÷10): a one-sided '
             'difference? (Eq. 8, question a)')
    check(30 < ratio < 300, f'error {error:.1e} at scale 1e-2 and ÷{ratio:.3g} at 1e-3: not the O(eps_fd^2) of Eq. 8')


def test_it_is_darts_mins_product_on_the_supernet():
    model, (x, y) = tiny_network(), tiny_batch()
    g = torch.Generator().manual_seed(5)
    u = [torch.randn(p.shape, generator=g, dtype=torch.float64) for p in model.parameters()]
    architect = Architect(model, train_search.parse_args([]))
    expected = architect.fd_alpha_w_hessian_product(u, x, y)
    got, _ = product(lambda: model._loss(x, y), list(model.parameters()), model.arch_parameters(), u)
    error = relative_error(got, expected)
    check(error < 1e-8, f"on the supernet the product differs from darts-min's (Architect.fd_alpha_w_hessian_product) "
          f'by {error:.1e} of its size: both take Eq. 8 at the same points, kinks of ReLU included')
