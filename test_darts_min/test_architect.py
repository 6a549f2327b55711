"""The architect against exact autograd: first order, the virtual step, and the unrolled hypergradient."""
import copy

import pytest
import torch
from torch.func import functional_call

from conftest import batch, checkpoints_equal, tiny_network
from darts_min import cli, model_search, optimizers
from darts_min import search as train_search
from darts_min.architect import Architect, heavy_ball_step, is_heavy_ball
from darts_min.virtual_step import next_step

D = torch.float64

# every registry entry, and the settings that change its update rule: constructor overrides
# (--w_optimizer_args) and, for AdamW's decoupled decay, a larger --weight_decay
CASES = [('sgd', ()), ('momentum', ()), ('momentum', ('dampening=0.5',)), ('nesterov', ()), ('rmsprop', ()),
         ('rmsprop', ('centered=true', 'momentum=0.5')), ('adam', ()), ('adam', ('amsgrad=true',)),
         ('adamw', ('--weight_decay', '0.1'))]
CASE_IDS = [' '.join((name, *overrides)) for name, overrides in CASES]


def setup(w_optimizer='momentum', arch_optimizer='adam', warm_steps=1, seed=0, w_args=(), dtype=D, argv=()):
    """A tiny network, its w optimizer after `warm_steps` steps (so its state, e.g. a momentum buffer, exists)."""
    model = tiny_network(seed=seed, dtype=dtype, steps=2)
    flags = [a for a in w_args if '=' not in a]  # a flag and its value, the others constructor overrides
    args = train_search.parse_args(['--w_optimizer', w_optimizer, '--arch_optimizer', arch_optimizer, *argv, *flags,
                                    '--w_optimizer_args', *[a for a in w_args if a not in flags]])
    w_opt = optimizers.for_weights(args, model.parameters())
    for seed in range(warm_steps):
        x, y = batch(dtype=dtype, seed=10 + seed)
        w_opt.zero_grad()
        model._loss(x, y).backward()
        w_opt.step()
    return model, args, w_opt


def val_loss_at(model, w_prime, xv, yv):
    buffers = {n: b.clone() for n, b in model.named_buffers()}
    return model._criterion(functional_call(model, {**w_prime, **buffers}, (xv,)), yv)


def exact_hypergradient(model, w_opt, xt, yt, xv, yv, xi, monkeypatch):
    """(d/d alpha of L_val(w'(alpha), alpha), grad_alpha L_val(w', alpha)) by double backprop through torch's own
    step: a copy of the w optimizer with differentiable=True and lr = xi, on copies of w and of its state, given
    grad_w L_train with its graph. No formula of the update is written here."""
    names, weights = zip(*model.named_parameters())
    grads = torch.autograd.grad(model._loss(xt, yt), weights, create_graph=True)
    for g in grads:  # the architect's convention where autograd's derivative of the step is 0/0 (see virtual_step.next_step)
        g.register_hook(lambda cotangent: cotangent.nan_to_num(nan=0.0))
    w_prime = [w.detach().clone() for w in weights]
    group = {**w_opt.param_groups[0], 'params': w_prime, 'lr': xi, 'differentiable': True}
    virtual = type(w_opt)([group], differentiable=True)
    for w, c, g in zip(weights, w_prime, grads):  # step counts in double, as the regular step's Python floats
        virtual.state[c] = {k: v.to(D, copy=True) if torch.is_tensor(v) else v for k, v in w_opt.state.get(w, {}).items()}
        c.grad = g
    with monkeypatch.context() as m:
        # torch's first momentum step sets its buffer to grad.detach().clone(); undone, autograd sees the whole step
        m.setattr(torch.Tensor, 'detach', lambda t: t)
        torch.set_default_dtype(D)  # new step counts in double too
        try:
            virtual.step()
        finally:
            torch.set_default_dtype(torch.float32)
    exact = torch.autograd.grad(val_loss_at(model, dict(zip(names, w_prime)), xv, yv), model.arch_parameters())
    direct = torch.autograd.grad(val_loss_at(model, {n: w.detach() for n, w in zip(names, w_prime)}, xv, yv),
                                 model.arch_parameters())
    return exact, direct


def flat(tensors):
    return torch.cat([t.flatten() for t in tensors])


def implicit_error(w_optimizer, w_args, warm_steps, monkeypatch, xi=0.1, fd_scale=None, n=4, size=8):
    """||architect's hypergradient - exact|| / ||exact - grad_alpha L_val(w', alpha)||: the error of the implicit
    term alone, and that term's size relative to the whole hypergradient."""
    model, args, w_opt = setup(w_optimizer, warm_steps=warm_steps, w_args=w_args)
    xt, yt = batch(n=n, size=size, dtype=D, seed=1)
    xv, yv = batch(n=n, size=size, dtype=D, seed=2)
    exact, direct = map(flat, exact_hypergradient(model, w_opt, xt, yt, xv, yv, xi, monkeypatch))
    architect = Architect(model, args)
    if fd_scale is not None:
        architect.fd_scale = fd_scale
    architect.step(xt, yt, xv, yv, xi, w_opt, unrolled=True)
    got = flat(a.grad for a in model.arch_parameters())
    return ((got - exact).norm() / (exact - direct).norm()).item(), ((exact - direct).norm() / exact.norm()).item()


@pytest.mark.parametrize('w_optimizer, w_args', CASES, ids=CASE_IDS)
@pytest.mark.parametrize('warm_steps', [0, 2])
def test_unrolled_hypergradient_matches_double_backprop_through_torchs_step(w_optimizer, w_args, warm_steps, monkeypatch):
    # A finite-difference radius too small to cross a ReLU/max-pool kink: what is left is the formula itself.
    err, size = implicit_error(w_optimizer, w_args, warm_steps, monkeypatch, fd_scale=1e-7)
    print(f'{w_optimizer} {" ".join(w_args)} warm {warm_steps}: implicit term {size:.2e} of the hypergradient, '
          f'its relative error {err:.1e}')
    assert err < 1e-3
    assert size > 1e-4  # the implicit term is there to be checked


@pytest.mark.parametrize('w_optimizer', ['momentum', 'adam'])
def test_paper_epsilon_is_exact_where_the_network_is_smooth(w_optimizer, monkeypatch):
    # With the paper's eps_fd = 0.01/||u||, the only error left on a smooth network is the O(eps_fd^2) of central
    # differences. (On the real ops, kinks crossed within eps_fd can make it as large as the term itself.)
    monkeypatch.setattr(torch.nn.ReLU, 'forward', lambda self, x: torch.nn.functional.softplus(x))
    monkeypatch.setattr(torch.nn.MaxPool2d, 'forward', lambda self, x: torch.nn.functional.avg_pool2d(x, 3, self.stride, 1))
    err, size = implicit_error(w_optimizer, (), 2, monkeypatch, xi=0.025, n=8, size=16)
    print(f'{w_optimizer}, paper eps, smooth network: implicit term {size:.2e}, its relative error {err:.1e}')
    assert Architect.fd_scale == 1e-2
    assert err < 1e-3


def next_weights(w_opt, model, x, y, lr):
    """What network_optimizer.step() does at learning rate lr: {name: w after the step}."""
    w_opt.zero_grad()
    model._loss(x, y).backward()
    for group in w_opt.param_groups:
        group['lr'] = lr
    w_opt.step()
    return {name: w.detach().clone() for name, w in model.named_parameters()}


@pytest.mark.parametrize('w_optimizer, w_args', CASES, ids=CASE_IDS)
@pytest.mark.parametrize('warm_steps', [0, 2])
def test_virtual_step_is_the_w_optimizers_next_step_and_leaves_it_untouched(w_optimizer, w_args, warm_steps):
    model, args, w_opt = setup(w_optimizer, warm_steps=warm_steps, w_args=w_args)
    xt, yt = batch(dtype=D, seed=1)
    state = copy.deepcopy(w_opt.state_dict())  # state_dict() holds the live tensors
    weights = [w.detach().clone() for w in model.parameters()]
    w_prime, _ = Architect(model, args).virtual_step(xt, yt, 0.1, w_opt)
    assert checkpoints_equal(w_opt.state_dict(), state)  # to the bit, and no state entry added
    assert all(torch.equal(w, w0) for w, w0 in zip(model.parameters(), weights))
    expected = next_weights(w_opt, model, xt, yt, 0.1)  # from the raw gradient: no clipping in the virtual step
    assert not checkpoints_equal(w_opt.state_dict(), state)
    for name, w in expected.items():
        assert torch.allclose(w_prime[name], w, rtol=0, atol=1e-14), name


@pytest.mark.smoke
def test_unrolled_step_leaves_the_w_optimizer_and_w_untouched_and_builds_no_network(monkeypatch):
    model, args, w_opt = setup('adam', warm_steps=2)
    state, weights = copy.deepcopy(w_opt.state_dict()), [w.detach().clone() for w in model.parameters()]
    built = []
    init = model_search.Network.__init__
    monkeypatch.setattr(model_search.Network, '__init__', lambda self, *a, **k: built.append(1) or init(self, *a, **k))
    xt, yt = batch(dtype=D, seed=1)
    xv, yv = batch(dtype=D, seed=2)
    Architect(model, args).step(xt, yt, xv, yv, 0.025, w_opt, unrolled=True)
    assert built == []
    assert checkpoints_equal(w_opt.state_dict(), state)
    for w, w0 in zip(model.parameters(), weights):  # +eps_fd u, -2 eps_fd u, +eps_fd u leaves only rounding behind
        assert torch.allclose(w, w0, rtol=0, atol=1e-12)


def original_hypergradient(model, w_opt, xt, yt, xv, yv, xi):
    """The original DARTS code's second-order alpha gradient for heavy-ball SGD (architect.py of Liu et al.), as
    darts-min computed it before the virtual step became the optimizer's own: the frozen reference."""
    weights, alphas = list(model.parameters()), model.arch_parameters()
    grads = torch.autograd.grad(model._loss(xt, yt), weights)
    group = w_opt.param_groups[0]
    w_prime = {}
    with torch.no_grad():
        for (name, w), g in zip(model.named_parameters(), grads):
            d = g + group['weight_decay'] * w
            buf = w_opt.state.get(w, {}).get('momentum_buffer')
            d = d if buf is None else torch.add(buf * group['momentum'], d, alpha=1)
            w_prime[name] = torch.sub(w, d, alpha=xi).requires_grad_()
    out = torch.autograd.grad(val_loss_at(model, w_prime, xv, yv), [*alphas, *w_prime.values()])
    dalpha, u = out[:len(alphas)], out[len(alphas):]
    eps_fd = (1e-2 / torch.cat([x.flatten() for x in u]).norm()).item()
    sides = []
    for step in (eps_fd, -2 * eps_fd):
        with torch.no_grad():
            torch._foreach_add_(weights, u, alpha=step)
        sides.append(torch.autograd.grad(model._loss(xt, yt), alphas))
    with torch.no_grad():
        torch._foreach_add_(weights, u, alpha=eps_fd)
    return [g.sub((p - n).div_(2 * eps_fd), alpha=xi) for g, p, n in zip(dalpha, *sides)]


@pytest.mark.parametrize('dtype', [torch.float32, torch.float64])
@pytest.mark.parametrize('warm_steps', [0, 2])
def test_heavy_ball_hypergradient_is_the_originals_to_the_bit(dtype, warm_steps, xi=0.5, weight_decay=0.1):
    # xi and weight decay large enough that g + wd w rounded once (as torch's SGD does) instead of twice changes w'
    grads = []
    for compute in ('architect', 'original'):
        model, args, w_opt = setup('momentum', warm_steps=warm_steps, dtype=dtype, argv=['--weight_decay', str(weight_decay)])
        xt, yt = batch(dtype=dtype, seed=1)
        xv, yv = batch(dtype=dtype, seed=2)
        if compute == 'architect':
            Architect(model, args).step(xt, yt, xv, yv, xi, w_opt, unrolled=True)
            grads.append([a.grad for a in model.arch_parameters()])
        else:
            grads.append(original_hypergradient(model, w_opt, xt, yt, xv, yv, xi))
    assert all(torch.equal(a, b) for a, b in zip(*grads))


@pytest.mark.smoke
@pytest.mark.parametrize('dtype', [torch.float32, torch.float64])
@pytest.mark.parametrize('warm_steps', [0, 2])
def test_heavy_ball_formula_is_torchs_next_step_to_the_bit(dtype, warm_steps):
    # architect.py's Eq. 6 in a few lines and virtual_step.next_step (torch's own update, differentiated) agree on
    # momentum SGD with L2 decay: w' to the bit, and dw'/dg is -xi exactly, so u is grad_w' L_val on both paths
    model, _, w_opt = setup('momentum', warm_steps=warm_steps, dtype=dtype, argv=['--weight_decay', '0.1'])
    assert is_heavy_ball(w_opt)
    xt, yt = batch(dtype=dtype, seed=1)
    weights = list(model.parameters())
    grads = torch.autograd.grad(model._loss(xt, yt), weights)
    formula = heavy_ball_step(w_opt, weights, grads, 0.5)
    general, jacobian = next_step(w_opt, weights, grads, 0.5)
    assert all(torch.equal(a, b) for a, b in zip(formula, general))
    assert all(torch.equal(j, torch.full_like(j, -0.5)) for j in jacobian)
    # and the formula is the step itself: the momentum buffer and the decay are in it
    expected = next_weights(w_opt, model, xt, yt, 0.5)
    assert all(torch.allclose(a, e, rtol=0, atol=1e-6 if dtype == torch.float32 else 1e-14)
               for a, e in zip(formula, expected.values()))


@pytest.mark.parametrize('w_optimizer, w_args, heavy_ball', [
    ('sgd', (), True), ('momentum', (), True), ('momentum', ('dampening=0.5',), False), ('nesterov', (), False),
    ('momentum', ('maximize=true',), False), ('adam', (), False), ('rmsprop', ('momentum=0.9',), False)])
def test_the_formula_is_taken_exactly_for_the_originals_optimizer(w_optimizer, w_args, heavy_ball):
    _, _, w_opt = setup(w_optimizer, warm_steps=0, w_args=w_args)
    assert is_heavy_ball(w_opt) == heavy_ball


def test_unrolled_step_gradient_is_eq6_as_printed_whatever_the_w_optimizer(monkeypatch):
    model, args, w_opt = setup('adam', warm_steps=2, argv=['--unrolled', '--unrolled_step', 'gradient'])
    xt, yt = batch(dtype=D, seed=1)
    xv, yv = batch(dtype=D, seed=2)
    names, weights = zip(*model.named_parameters())
    grads = torch.autograd.grad(model._loss(xt, yt), weights)
    architect = Architect(model, args)
    w_prime, jacobian = architect.virtual_step(xt, yt, 0.1, w_opt)
    wd = w_opt.param_groups[0]['weight_decay']
    assert jacobian is None  # dw'/dg = -xi: Eq. 7 as printed
    for n, w, g in zip(names, weights, grads):
        assert torch.equal(w_prime[n], torch.sub(w, g + wd * w, alpha=0.1)), n  # DARTS Eq. 6 with weight decay
    # its hypergradient: double backprop through torch's plain SGD step with that weight decay
    sgd = torch.optim.SGD(model.parameters(), lr=0.1, weight_decay=wd)
    exact, direct = map(flat, exact_hypergradient(model, sgd, xt, yt, xv, yv, 0.1, monkeypatch))
    architect.fd_scale = 1e-7
    architect.step(xt, yt, xv, yv, 0.1, w_opt, unrolled=True)
    assert (flat(a.grad for a in model.arch_parameters()) - exact).norm() / (exact - direct).norm() < 1e-3


def test_unrolled_step_flag():
    assert train_search.parse_args([]).unrolled_step == 'optimizer'
    assert train_search.parse_args(['--unrolled', '--unrolled_step', 'gradient']).unrolled_step == 'gradient'


@pytest.mark.parametrize('argv, message', [
    (['--unrolled', '--unrolled_step', 'adam'], "--unrolled_step must be one of optimizer, gradient, got 'adam'"),
    (['--unrolled_step', 'gradient'], '--unrolled_step goes with --unrolled'),
])
def test_bad_unrolled_step_is_one_line(argv, message, capsys):
    with pytest.raises(SystemExit) as e:
        cli.run(lambda: train_search.main(argv))
    err = capsys.readouterr().err
    assert e.value.code == 2 and message in err and err.count('\n') == 1, err


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
