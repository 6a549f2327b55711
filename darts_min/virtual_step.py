"""Any torch.optim optimizer's next step and its Jacobian in the gradient: the general virtual step of DARTS Eq. 6.

DARTS section 2.3 says that "when momentum is enabled for weight optimisation, the one-step unrolled learning
objective in equation 6 is modified accordingly". `architect.py` writes that step out for the original code's w
optimizer, SGD with heavy-ball momentum; for any other w optimizer (Nesterov, dampening, RMSprop, Adam, AdamW, ...)
`next_step` takes w' from torch's own update rather than a formula written here, and dw'/dg from autograd through
it. docs/second_order.md tabulates what torch computes for each optimizer of the registry.
"""
import torch


def next_step(optimizer, weights, grads, lr):
    """(w', dw'/dg): the step `optimizer` would take next from `weights` with the gradients g = `grads` at learning
    rate lr, and the diagonal of its Jacobian in g, one tensor per weight. Torch's own update, run with
    differentiable=True on copies of the weights and of the optimizer's state, then differentiated by autograd; the
    optimizer itself is left untouched. torch.optim's updates are elementwise, so each bucket of weights
    (`_buckets`) is stepped as one flat tensor: a few dozen operations instead of as many per weight.
    """
    sgd = isinstance(optimizer, torch.optim.SGD)
    grad_of = dict(zip(weights, grads))
    buckets = _buckets(optimizer, sgd)
    groups, states, flat_w, flat_g = [], {}, [], []
    for (i, fresh, _), ws in buckets.items():
        group = optimizer.param_groups[i]
        hyper = {**group, 'lr': lr, 'differentiable': True, 'foreach': False}
        w = torch.cat([v.detach().reshape(-1) for v in ws])  # a copy, stepped in place into w'
        g = torch.cat([grad_of[v].reshape(-1) for v in ws]).requires_grad_()
        if sgd and not group['maximize']:  # d = g + wd w, as the original code adds L2 decay (docs/second_order.md)
            hyper['weight_decay'] = 0
            w.grad = g + group['weight_decay'] * w
        else:
            w.grad = g
        states[w] = {k: torch.cat([optimizer.state[v][k].reshape(-1) for v in ws]) if _elementwise(k, s, ws[0])
                     else s.to(torch.float64, copy=True) if torch.is_tensor(s) else s  # a step count, see below
                     for k, s in optimizer.state.get(ws[0], {}).items()}
        if fresh:
            # torch's first momentum step sets buf = d.detach(), which autograd does not see through; a zero buffer
            # without dampening gives the same buf = 0 * momentum + 1 * d, and its derivative
            states[w]['momentum_buffer'] = torch.zeros_like(w)
            hyper['dampening'] = 0
        groups.append({**hyper, 'params': [w]})
        flat_w.append(w)
        flat_g.append(g)
    virtual = type(optimizer)(groups, differentiable=True)
    virtual.state.update(states)
    # Adam's bias corrections in double, as the regular step's Python floats: every step count in double, new ones too
    default_dtype = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        virtual.step()
    finally:
        torch.set_default_dtype(default_dtype)
    jacobian = torch.autograd.grad(flat_w, flat_g, [torch.ones_like(w) for w in flat_w])
    w_prime, diagonal = {}, {}
    for ws, w, j in zip(buckets.values(), flat_w, jacobian):
        # Autograd's 0/0 where the square root of a zero second moment meets a zero gradient (Adam, RMSprop, for a
        # weight whose gradient has been exactly zero so far) is taken as 0, see docs/second_order.md.
        j.nan_to_num_(nan=0.0)
        sizes = [v.numel() for v in ws]
        for v, w_part, j_part in zip(ws, w.detach().split(sizes), j.split(sizes)):
            w_prime[v] = torch.empty_like(v).copy_(w_part.view(v.shape))  # in v's memory format
            diagonal[v] = j_part.view(v.shape)
    return [w_prime[w] for w in weights], [diagonal[w] for w in weights]


def _buckets(optimizer, sgd):
    """{(param group index, fresh, shared state): weights}: the weights that one flat tensor can step together, those
    of one param group with the same non-elementwise state (a step count) and, for SGD with momentum, all with a
    momentum buffer or all without one yet (`fresh`)."""
    buckets = {}
    for i, group in enumerate(optimizer.param_groups):
        for w in group['params']:
            state = optimizer.state.get(w, {})  # not state[w]: the optimizer's state is a defaultdict
            fresh = sgd and group['momentum'] != 0 and state.get('momentum_buffer') is None
            shared = tuple((k, 'elementwise' if _elementwise(k, v, w) else v.item() if torch.is_tensor(v) else v)
                           for k, v in sorted(state.items()))
            buckets.setdefault((i, fresh, shared), []).append(w)
    return buckets


def _elementwise(key, state, w):
    """Whether an optimizer's state entry holds one value per element of w (a moment, a momentum buffer). Not torch's
    step count 'step', a scalar tensor, even where w is a scalar too (the toy's w): it is stepped in double."""
    return key != 'step' and torch.is_tensor(state) and state.shape == w.shape
