"""The architect against exact autograd: first order, the virtual step, and the unrolled hypergradient."""
import pytest
import torch
from torch.func import functional_call

import train_search
from conftest import batch, tiny_network
from darts_min import model_search, optimizers
from darts_min.architect import Architect

D = torch.float64


def setup(w_optimizer='momentum', arch_optimizer='adam', warm_steps=1, seed=0, w_args=()):
    """A float64 tiny network, its w optimizer after `warm_steps` steps (so a momentum buffer exists)."""
    model = tiny_network(seed=seed, dtype=D)
    args = train_search.parse_args(['--w_optimizer', w_optimizer, '--arch_optimizer', arch_optimizer,
                                    '--w_optimizer_args', *w_args])
    w_opt = optimizers.for_weights(args, model.parameters())
    xt, yt = batch(dtype=D, seed=1)
    for _ in range(warm_steps):
        w_opt.zero_grad()
        model._loss(xt, yt).backward()
        w_opt.step()
    return model, args, w_opt


def exact_hypergradient(model, w_opt, xt, yt, xv, yv, eta):
    """d/d alpha of L_val(w'(alpha), alpha), w' = w - eta (m buf + grad_w L_train + wd w), by double backprop."""
    names, weights = zip(*model.named_parameters())
    grads = torch.autograd.grad(model._loss(xt, yt), weights, create_graph=True)
    group = w_opt.param_groups[0]
    unrolled = {}
    for n, w, g in zip(names, weights, grads):
        buf = w_opt.state.get(w, {}).get('momentum_buffer')
        moment = group['momentum'] * buf if buf is not None and isinstance(w_opt, torch.optim.SGD) else 0
        unrolled[n] = w - eta * (moment + g + group['weight_decay'] * w)
    buffers = {n: b.clone() for n, b in model.named_buffers()}
    loss = model._criterion(functional_call(model, {**unrolled, **buffers}, (xv,)), yv)
    return torch.autograd.grad(loss, model.arch_parameters())


def rel_err(a, b):
    a, b = torch.cat([x.flatten() for x in a]), torch.cat([x.flatten() for x in b])
    return ((a - b).norm() / b.norm()).item()


def unrolled_vs_exact(w_optimizer, eta, fd_scale=None, n=4, size=8):
    """(error of the architect's hypergradient, error of the first-order gradient), both against exact."""
    model, args, w_opt = setup(w_optimizer)
    xt, yt = batch(n=n, size=size, dtype=D, seed=1)
    xv, yv = batch(n=n, size=size, dtype=D, seed=2)
    exact = exact_hypergradient(model, w_opt, xt, yt, xv, yv, eta)
    first_order = torch.autograd.grad(model._loss(xv, yv), model.arch_parameters())
    architect = Architect(model, args)
    if fd_scale is not None:
        architect.fd_scale = fd_scale
    architect.step(xt, yt, xv, yv, eta, w_opt, unrolled=True)
    return rel_err([a.grad for a in model.arch_parameters()], exact), rel_err(first_order, exact)


@pytest.mark.parametrize('w_optimizer', ['momentum', 'adam'])
@pytest.mark.parametrize('eta', [0.025, 0.5])
def test_unrolled_hypergradient_matches_exact_autograd(w_optimizer, eta):
    # A finite-difference radius too small to cross a ReLU/max-pool kink: what is left is the formula itself.
    unrolled_err, first_order_err = unrolled_vs_exact(w_optimizer, eta, fd_scale=1e-7)
    assert unrolled_err < 1e-3
    assert first_order_err > 0.1  # the second-order term matters here: the test would notice it missing


def test_paper_epsilon_is_exact_where_the_network_is_smooth(monkeypatch):
    # With the paper's eps = 0.01/||v||, the only error left on a smooth network is the O(eps^2) of central
    # differences. (On the real ops, kinks crossed within eps can make it as large as the term itself.)
    monkeypatch.setattr(torch.nn.ReLU, 'forward', lambda self, x: torch.nn.functional.softplus(x))
    monkeypatch.setattr(torch.nn.MaxPool2d, 'forward', lambda self, x: torch.nn.functional.avg_pool2d(x, 3, self.stride, 1))
    unrolled_err, first_order_err = unrolled_vs_exact('momentum', 0.025, n=8, size=16)
    assert Architect.fd_scale == 1e-2
    assert unrolled_err < 1e-3
    assert first_order_err > 0.1


def test_first_order_gradient_is_grad_alpha_of_val_loss_exactly():
    model, args, w_opt = setup()
    xt, yt = batch(dtype=D, seed=1)
    xv, yv = batch(dtype=D, seed=2)
    expected = torch.autograd.grad(model._loss(xv, yv), model.arch_parameters())
    Architect(model, args).step(xt, yt, xv, yv, 0.025, w_opt, unrolled=False)
    for a, e in zip(model.arch_parameters(), expected):
        assert torch.equal(a.grad, e)


def test_step_applies_the_stored_gradient_with_the_arch_optimizer():
    model, args, w_opt = setup()
    before = [a.detach().clone() for a in model.arch_parameters()]
    xt, yt = batch(dtype=D, seed=1)
    xv, yv = batch(dtype=D, seed=2)
    architect = Architect(model, args)
    architect.step(xt, yt, xv, yv, 0.025, w_opt, unrolled=True)
    # replay: DARTS's Adam (lr 3e-4, betas (0.5, 0.999), wd 1e-3) on copies, with the stored .grad
    replay = [b.clone().requires_grad_() for b in before]
    adam = torch.optim.Adam(replay, lr=3e-4, betas=(0.5, 0.999), weight_decay=1e-3)
    for r, a in zip(replay, model.arch_parameters()):
        r.grad = a.grad.clone()
    adam.step()
    for r, a, b in zip(replay, model.arch_parameters(), before):
        assert torch.equal(r, a)
        assert not torch.equal(a, b)


def test_virtual_step_uses_the_momentum_buffer_as_the_original():
    model, args, w_opt = setup('momentum', warm_steps=2)
    xt, yt = batch(dtype=D, seed=1)
    names, weights = zip(*model.named_parameters())
    grads = torch.autograd.grad(model._loss(xt, yt), weights)
    unrolled = Architect(model, args).virtual_step(xt, yt, 0.1, w_opt)
    for n, w, g in zip(names, weights, grads):
        buf = w_opt.state[w]['momentum_buffer']
        assert torch.allclose(unrolled[n], w - 0.1 * (0.9 * buf + g + 3e-4 * w), rtol=0, atol=1e-14)
    assert any(w_opt.state[w]['momentum_buffer'].abs().sum() > 0 for w in weights)


@pytest.mark.parametrize('w_optimizer, overrides', [('momentum', []), ('nesterov', []), ('momentum', ['dampening=0.5'])])
@pytest.mark.parametrize('warm_steps', [0, 2])
def test_virtual_step_is_the_next_step_of_an_sgd_w_optimizer(w_optimizer, overrides, warm_steps):
    model, args, w_opt = setup(w_optimizer, warm_steps=warm_steps, w_args=overrides)
    xt, yt = batch(dtype=D, seed=1)
    unrolled = Architect(model, args).virtual_step(xt, yt, 0.1, w_opt)
    w_opt.zero_grad()
    model._loss(xt, yt).backward()
    for group in w_opt.param_groups:
        group['lr'] = 0.1
    w_opt.step()
    for name, w in model.named_parameters():
        assert torch.allclose(unrolled[name], w, rtol=0, atol=1e-14), name


def test_virtual_step_before_any_weight_step_and_for_adaptive_optimizers_is_a_gradient_step():
    for name, warm in [('momentum', 0), ('rmsprop', 1), ('adam', 1)]:
        model, args, w_opt = setup(name, warm_steps=warm)
        xt, yt = batch(dtype=D, seed=1)
        names, weights = zip(*model.named_parameters())
        grads = torch.autograd.grad(model._loss(xt, yt), weights)
        unrolled = Architect(model, args).virtual_step(xt, yt, 0.1, w_opt)
        wd = w_opt.param_groups[0]['weight_decay']
        for n, w, g in zip(names, weights, grads):
            assert torch.allclose(unrolled[n], w - 0.1 * (g + wd * w), rtol=0, atol=1e-14), name


def test_unrolled_step_builds_no_network_and_restores_the_weights(monkeypatch):
    model, args, w_opt = setup()
    architect = Architect(model, args)
    weights = [w.detach().clone() for w in model.parameters()]
    built = []
    init = model_search.Network.__init__
    monkeypatch.setattr(model_search.Network, '__init__', lambda self, *a, **k: built.append(1) or init(self, *a, **k))
    xt, yt = batch(dtype=D, seed=1)
    xv, yv = batch(dtype=D, seed=2)
    architect.step(xt, yt, xv, yv, 0.025, w_opt, unrolled=True)
    assert built == []
    for w, w0 in zip(model.parameters(), weights):  # +R v, -2R v, +R v leaves only rounding behind
        assert torch.allclose(w, w0, rtol=0, atol=1e-12)
