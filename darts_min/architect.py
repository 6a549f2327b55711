"""The architecture step (DARTS section 2.3): one update of alpha on a validation batch.

First order (Eq. 7 with xi = 0): grad_alpha L_val(w, alpha).
Second order (`unrolled`, Eqs. 6-8): the derivative of L_val(w'(alpha), alpha) through one virtual step of w,
    grad_alpha L_val(w', alpha) + grad2_{alpha,w} L_train(w, alpha) . v,   v = (dw'/dg)^T grad_w' L_val(w', alpha),
with g = grad_w L_train(w, alpha). By default (--unrolled_step optimizer) w' is the w optimizer's own next step at
learning rate xi; with --unrolled_step gradient it is Eq. 6 as printed, w' = w - xi (g + wd w), for which
dw'/dg = -xi and the formula is Eq. 7. torch.optim's updates are elementwise, so dw'/dg is diagonal; autograd takes
it through torch's own step (`next_step`). The Hessian-vector product is by central finite differences (Eq. 8).
The network is evaluated at w' with `torch.func.functional_call` (no second Network is built), and the finite
differences perturb w in place and put it back, as the original code does.
"""
import torch
from torch.func import functional_call

from . import optimizers
from .training import autocast, frozen

UNROLLED_STEPS = ('optimizer', 'gradient')  # --unrolled_step: what the virtual step w' is


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
        if sgd and not group['maximize']:
            # The original code's d = g + wd * w, rounded twice; torch's SGD fuses it into one multiply-add, which
            # can differ in the last bit. The same update, as in SGD's definition: L2 decay added to the gradient.
            hyper['weight_decay'] = 0
            w.grad = g + group['weight_decay'] * w
        else:
            w.grad = g
        states[w] = {k: torch.cat([optimizer.state[v][k].reshape(-1) for v in ws]) if _elementwise(s, ws[0])
                     else s.to(torch.float64, copy=True) if torch.is_tensor(s) else s  # a step count, see below
                     for k, s in optimizer.state.get(ws[0], {}).items()}
        if fresh:
            # torch's first momentum step sets buf = d.detach(), which autograd does not see through; a zero buffer
            # without dampening gives the same buf = 0 * momentum + 1 * d, to the bit, and its derivative
            states[w]['momentum_buffer'] = torch.zeros_like(w)
            hyper['dampening'] = 0
        groups.append({**hyper, 'params': [w]})
        flat_w.append(w)
        flat_g.append(g)
    virtual = type(optimizer)(groups, differentiable=True)
    virtual.state.update(states)
    # Step counts in double precision, new ones too: the differentiable step computes Adam's bias corrections in the
    # step count's dtype, the regular step in Python floats (in float32 Adam's first update would change by 1e-5).
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
            shared = tuple((k, 'elementwise' if _elementwise(v, w) else v.item() if torch.is_tensor(v) else v)
                           for k, v in sorted(state.items()))
            buckets.setdefault((i, fresh, shared), []).append(w)
    return buckets


def _elementwise(state, w):
    """Whether an optimizer's state entry holds one value per element of w (a moment, a momentum buffer)."""
    return torch.is_tensor(state) and state.shape == w.shape


class Architect:
    fd_scale = 1e-2  # DARTS section 2.3: eps = 0.01 / ||v||

    def __init__(self, model, args):
        self.model = model
        self.optimizer = optimizers.for_alphas(args, model.arch_parameters())
        self.regularizer = None  # a function of the alphas added to the alpha loss (beta-DARTS sets one)
        self.amp = bool(getattr(args, 'amp', False))  # bf16 forward passes, but the finite differences in fp32
        self.unrolled_step = getattr(args, 'unrolled_step', 'optimizer')

    def _loss(self, input, target, weights=None):
        """The loss under --amp's autocast; at the weights `weights` ({name: tensor}) if given."""
        model = self.model
        with autocast(input.device, self.amp):
            if weights is None:
                return model._loss(input, target)
            buffers = {name: b.clone() for name, b in model.named_buffers()}  # BN statistics at w' are thrown away
            return model._criterion(functional_call(model, {**weights, **buffers}, (input,)), target)

    def step(self, input_train, target_train, input_valid, target_valid, eta, network_optimizer, unrolled):
        """One alpha update; afterwards each alpha's .grad holds the hypergradient that was applied."""
        self.optimizer.zero_grad()
        if unrolled:
            grads = self.unrolled_grad(input_train, target_train, input_valid, target_valid, eta, network_optimizer)
        else:
            # DARTS Eq. 7 with xi = 0: the first-order approximation w*(alpha) ~ w
            with frozen(self.model.parameters()):
                grads = torch.autograd.grad(self._loss(input_valid, target_valid), self.model.arch_parameters())
        if self.regularizer is not None:
            alphas = self.model.arch_parameters()
            grads = [g + r for g, r in zip(grads, torch.autograd.grad(self.regularizer(alphas), alphas))]
        for a, g in zip(self.model.arch_parameters(), grads):
            a.grad = g
        self.optimizer.step()

    def virtual_step(self, input, target, xi, network_optimizer):
        """The virtual step w' of DARTS Eq. 6 and the diagonal of dw'/dg: ({name: w'}, [dw'/dg]).

        --unrolled_step optimizer: the step the w optimizer would take next, from its present state, with learning
        rate xi (section 2.3: "when momentum is enabled ... equation 6 is modified accordingly"; the original code
        adds SGD's momentum buffer). --unrolled_step gradient: Eq. 6 as printed, w' = w - xi (g + wd w) with the
        w optimizer's weight decay, whatever the optimizer. No gradient clipping, as in the original.
        """
        names, weights = zip(*self.model.named_parameters())
        with frozen(self.model.arch_parameters()):
            grads = torch.autograd.grad(self._loss(input, target), weights)
        if self.unrolled_step == 'gradient':
            network_optimizer = torch.optim.SGD([{'params': group['params'], 'weight_decay': group['weight_decay']}
                                                 for group in network_optimizer.param_groups], lr=xi)
        w_prime, jacobian = next_step(network_optimizer, weights, grads, xi)
        return {name: w.requires_grad_() for name, w in zip(names, w_prime)}, jacobian

    def unrolled_grad(self, input_train, target_train, input_valid, target_valid, xi, network_optimizer):
        alphas = self.model.arch_parameters()
        w_prime, jacobian = self.virtual_step(input_train, target_train, xi, network_optimizer)
        loss = self._loss(input_valid, target_valid, weights=w_prime)
        grads = torch.autograd.grad(loss, [*alphas, *w_prime.values()])
        dalpha = grads[:len(alphas)]
        # v / (-xi) with v = (dw'/dg)^T grad_w' L_val: grad_w' L_val itself, to the bit, where dw'/dg = -xi (a
        # gradient step, heavy-ball momentum), so that eps and w+- of Eq. 8 are the original code's there.
        # A tensor divisor: CUDA divides by a Python number through its reciprocal, which can miss 1 by a bit.
        minus_xi = jacobian[0].new_tensor(-xi)
        vector = [d * j.div_(minus_xi) for d, j in zip(grads[len(alphas):], jacobian)]
        del w_prime, grads, jacobian
        implicit = self.fd_alpha_w_hessian_product(vector, input_train, target_train)
        # DARTS Eq. 7 for this w': grad_alpha L_val(w', alpha) - xi * grad2_{alpha,w} L_train(w, alpha) . (v / (-xi))
        return [g.sub(ig, alpha=xi) for g, ig in zip(dalpha, implicit)]

    def fd_alpha_w_hessian_product(self, vector, input, target):
        """grad2_{alpha,w} L_train(w, alpha) . vector by central finite differences (DARTS Eq. 8):
        (grad_alpha L_train(w+, alpha) - grad_alpha L_train(w-, alpha)) / (2 eps), w+- = w +- eps * vector,
        eps = fd_scale / ||vector||.

        ReLU and max-pool kinks crossed between w- and w+ make this differ from the exact product; with
        the paper's eps that error can be of the order of the product itself on small networks
        (test_architect.py measures it).
        """
        model, weights = self.model, list(self.model.parameters())
        # the norm of the concatenated vector, as the original: the same eps to the last bit
        eps = (self.fd_scale / torch.cat([v.flatten() for v in vector]).norm()).item()
        grads = []
        for step in (eps, -2 * eps):  # to w+, then to w-
            with torch.no_grad():
                torch._foreach_add_(weights, vector, alpha=step)
            with frozen(weights):
                grads.append(torch.autograd.grad(model._loss(input, target), model.arch_parameters()))
        with torch.no_grad():
            torch._foreach_add_(weights, vector, alpha=eps)  # back to w
        grads_p, grads_n = grads
        return [(p - n).div_(2 * eps) for p, n in zip(grads_p, grads_n)]
