"""The architecture step (DARTS section 2.3): one update of alpha on a validation batch.

First order (Eq. 7 with xi = 0): grad_alpha L_val(w, alpha).
Second order (`unrolled`): the derivative of L_val(w'(alpha), alpha) through one virtual step of w, with
g = grad_w L_train(w, alpha):
    Eq. 6 (the original code's, heavy-ball momentum mu, L2 decay wd):  w' = w - xi (mu buf + g + wd w)
    Eq. 7:  grad_alpha L_val(w', alpha) - xi grad2_{alpha,w} L_train(w, alpha) . grad_w' L_val(w', alpha)
    Eq. 8:  grad2_{alpha,w} L_train . u ~ (grad_alpha L_train(w + eps_fd u, alpha)
                                           - grad_alpha L_train(w - eps_fd u, alpha)) / 2 eps_fd,
            u = grad_w' L_val(w', alpha) (`grad_w_prime`), eps_fd = 0.01 / ||u||
Any other w optimizer (`virtual_step.next_step`) steps w' by torch's own update at learning rate xi, whose
Jacobian dw'/dg is diagonal but not -xi: there grad_w' L_val is scaled by (dw'/dg) / (-xi), so Eq. 7 keeps its form.
--unrolled_step gradient takes Eq. 6 as printed, w' = w - xi (g + wd w), whatever the w optimizer.
The network is evaluated at w' with `torch.func.functional_call` (no second Network is built), and the finite
differences perturb w in place and put it back, as the original code does. Each step also tallies, for
metrics.jsonl, the size of the alpha update and (second order) of Eq. 7's implicit term next to its direct term
(`epoch_stats`), from tensors the step computes anyway.
"""
import torch
from torch.func import functional_call

from . import optimizers
from .training import autocast, frozen
from .virtual_step import next_step

UNROLLED_STEPS = ('optimizer', 'gradient')  # --unrolled_step: what the virtual step w' is


def flat(tensors):
    return torch.cat([t.detach().flatten() for t in tensors])


def is_heavy_ball(optimizer):
    """Whether `optimizer` steps as the original code's Eq. 6 assumes: torch's SGD, heavy-ball momentum or none,
    without dampening, Nesterov or maximize."""
    return type(optimizer) is torch.optim.SGD and all(
        g['dampening'] == 0 and not g['nesterov'] and not g['maximize'] for g in optimizer.param_groups)


def heavy_ball_step(optimizer, weights, grads, xi):
    """w' of DARTS Eq. 6 for SGD with heavy-ball momentum mu and L2 decay wd, written as the original code's
    `theta - eta * (moment + dtheta)`: the step optimizer.step() would take next at learning rate xi."""
    group_of = {w: group for group in optimizer.param_groups for w in group['params']}
    w_prime = []
    for w, g in zip(weights, grads):
        mu, wd = group_of[w]['momentum'], group_of[w]['weight_decay']
        buf = optimizer.state.get(w, {}).get('momentum_buffer')  # none before the first weight step: moment 0
        d = g + wd * w.detach()  # the original's dtheta: L2 decay added to the gradient
        if buf is not None:
            d = buf * mu + d  # + the original's moment
        w_prime.append(torch.sub(w.detach(), d, alpha=xi))  # DARTS Eq. 6 with momentum: w' = w - xi (mu buf + g + wd w)
    return w_prime


class Architect:
    fd_scale = 1e-2  # DARTS section 2.3: eps_fd = 0.01 / ||grad_w' L_val||

    def __init__(self, model, args, regularizer=None):
        """alpha's optimizer (--arch_optimizer and its flags); the virtual step w' (--unrolled_step); bf16 autocast for
        the forward passes but the finite differences' (--amp). regularizer: a function of the alphas added to their
        loss (beta-DARTS's), or None."""
        self.model = model
        self.optimizer = optimizers.for_alphas(args, model.arch_parameters())
        self.unrolled_step, self.amp = args.unrolled_step, args.amp
        self.regularizer = regularizer
        self.tallies = {'alpha_step': [], 'implicit_ratio': []}  # one figure a step, on alpha's device (no sync)

    def _loss(self, input, target, weights=None):
        """The loss under --amp's autocast; at the weights `weights` ({name: tensor}) if given."""
        model = self.model
        with autocast(input.device, self.amp):
            if weights is None:
                return model._loss(input, target)
            buffers = {name: b.clone() for name, b in model.named_buffers()}  # BN statistics at w' are thrown away
            return model._criterion(functional_call(model, {**weights, **buffers}, (input,)), target)

    def step(self, input_train, target_train, input_valid, target_valid, xi, network_optimizer, unrolled):
        """One alpha update; xi is the virtual step's learning rate (Eq. 6). Afterwards each alpha's .grad holds the
        hypergradient that was applied."""
        self.optimizer.zero_grad()
        if unrolled:
            grads = self.unrolled_grad(input_train, target_train, input_valid, target_valid, xi, network_optimizer)
        else:
            # DARTS Eq. 7 with xi = 0: the first-order approximation w*(alpha) ~ w
            with frozen(self.model.parameters()):
                grads = torch.autograd.grad(self._loss(input_valid, target_valid), self.model.arch_parameters())
        if self.regularizer is not None:
            alphas = self.model.arch_parameters()
            grads = [g + r for g, r in zip(grads, torch.autograd.grad(self.regularizer(alphas), alphas))]
        for a, g in zip(self.model.arch_parameters(), grads):
            a.grad = g
        before = [a.detach().clone() for a in self.model.arch_parameters()]
        self.optimizer.step()
        change = [a.detach() - b for a, b in zip(self.model.arch_parameters(), before)]
        self.tallies['alpha_step'].append(self.norm(change))  # ||Delta alpha||_2

    def epoch_stats(self):
        """The means over the steps since the last call, which start anew: alpha_step, of the L2 norm of the alpha
        update (both cells' alpha as one vector); implicit_ratio, of ||xi grad2 L_train . u|| / ||grad_alpha L_val(w',
        alpha)||, Eq. 7's implicit term over its direct term (None at first order)."""
        means = {k: torch.stack(v).mean(0).tolist() if v else None for k, v in self.tallies.items()}
        for v in self.tallies.values():
            v.clear()
        return means

    def norm(self, tensors):
        """The L2 norm of alpha-shaped `tensors`, all of them as one vector."""
        return flat(tensors).norm()

    def virtual_step(self, input, target, xi, network_optimizer):
        """The virtual step w' of DARTS Eq. 6 and the diagonal of dw'/dg: ({name: w'}, [dw'/dg], or None where
        dw'/dg = -xi).

        --unrolled_step optimizer: the step the w optimizer would take next, from its present state, with learning
        rate xi (section 2.3: "when momentum is enabled ... equation 6 is modified accordingly"): the original code's
        formula for heavy-ball SGD (`heavy_ball_step`), torch's own update for any other optimizer (`next_step`).
        --unrolled_step gradient: Eq. 6 as printed, w' = w - xi (g + wd w) with the w optimizer's weight decay,
        whatever the optimizer. No gradient clipping, as in the original.
        """
        names, weights = zip(*self.model.named_parameters())
        with frozen(self.model.arch_parameters()):
            grads = torch.autograd.grad(self._loss(input, target), weights)
        if self.unrolled_step == 'gradient':  # plain SGD with the w optimizer's weight decay
            network_optimizer = torch.optim.SGD([{'params': group['params'], 'weight_decay': group['weight_decay']}
                                                 for group in network_optimizer.param_groups], lr=xi)
        if is_heavy_ball(network_optimizer):  # the original code's optimizer: Eq. 6 with momentum, above
            w_prime, jacobian = heavy_ball_step(network_optimizer, weights, grads, xi), None
        else:  # any other: torch's own next step, and dw'/dg by autograd through it (virtual_step.py)
            w_prime, jacobian = next_step(network_optimizer, weights, grads, xi)
        return {name: w.requires_grad_() for name, w in zip(names, w_prime)}, jacobian

    def unrolled_grad(self, input_train, target_train, input_valid, target_valid, xi, network_optimizer):
        alphas = self.model.arch_parameters()
        w_prime, jacobian = self.virtual_step(input_train, target_train, xi, network_optimizer)
        loss = self._loss(input_valid, target_valid, weights=w_prime)
        grads = torch.autograd.grad(loss, [*alphas, *w_prime.values()])
        dalpha, grad_w_prime = grads[:len(alphas)], grads[len(alphas):]
        if jacobian is not None:
            # u = ((dw'/dg) / (-xi)) grad_w' L_val, so that Eq. 7 below holds for any step (docs/second_order.md;
            # there too why the divisor is a tensor)
            minus_xi = jacobian[0].new_tensor(-xi)
            grad_w_prime = [d * j.div_(minus_xi) for d, j in zip(grad_w_prime, jacobian)]
        del w_prime, grads, jacobian
        implicit = self.fd_alpha_w_hessian_product(grad_w_prime, input_train, target_train)
        # Eq. 7's two terms: ||xi grad2_{alpha,w} L_train . u|| / ||grad_alpha L_val(w', alpha)||
        self.tallies['implicit_ratio'].append(xi * self.norm(implicit) / self.norm(dalpha))
        # DARTS Eq. 7: grad_alpha L_val(w', alpha) - xi * grad2_{alpha,w} L_train(w, alpha) . grad_w' L_val(w', alpha)
        return [g.sub(ig, alpha=xi) for g, ig in zip(dalpha, implicit)]

    def fd_alpha_w_hessian_product(self, u, input, target):
        """grad2_{alpha,w} L_train(w, alpha) . u by central finite differences (DARTS Eq. 8, u = grad_w' L_val):
        (grad_alpha L_train(w+, alpha) - grad_alpha L_train(w-, alpha)) / (2 eps_fd), w+- = w +- eps_fd * u,
        eps_fd = fd_scale / ||u||.

        ReLU and max-pool kinks crossed between w- and w+ make this differ from the exact product; with
        the paper's eps_fd that error can be of the order of the product itself on small networks
        (test_architect.py measures it).
        """
        model, weights = self.model, list(self.model.parameters())
        eps_fd = self.fd_epsilon(u)  # Eq. 8: fd_scale / ||u||
        grads = []
        for step in (eps_fd, -2 * eps_fd):  # to w+, then to w-
            with torch.no_grad():
                self.shift(weights, u, step)
            with frozen(weights):
                grads.append(torch.autograd.grad(model._loss(input, target), model.arch_parameters()))
        with torch.no_grad():
            self.shift(weights, u, eps_fd)  # back to w
        grads_p, grads_n = grads
        return [(p - n).div_(2 * eps_fd) for p, n in zip(grads_p, grads_n)]

    def fd_epsilon(self, u):
        """Eq. 8's eps_fd = fd_scale / ||u||, the norm of the concatenated u (the batched search takes one per seed)."""
        return (self.fd_scale / torch.cat([x.flatten() for x in u]).norm()).item()

    def shift(self, weights, u, eps):
        """w += eps * u, in place."""
        torch._foreach_add_(weights, u, alpha=eps)
