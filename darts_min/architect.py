"""The architecture step (DARTS section 2.3): one update of alpha on a validation batch.

First order (Eq. 5 with xi = 0): grad_alpha L_val(w, alpha).
Second order (`unrolled`, Eqs. 6-8): the gradient through one virtual step of w,
    grad_alpha L_val(w', alpha) - xi * grad2_{alpha,w} L_train(w, alpha) . grad_w' L_val(w', alpha),
with the Hessian-vector product by central finite differences. The virtual step evaluates the
network at w' with `torch.func.functional_call` (no second Network is built), and the finite
difference perturbs w in place and puts it back, as the original code does.
"""
import torch
from torch.func import functional_call

from . import optimizers
from .training import autocast, frozen


class Architect:
    fd_scale = 1e-2  # DARTS section 2.3: eps = 0.01 / ||grad_w' L_val(w', alpha)||

    def __init__(self, model, args):
        self.model = model
        self.optimizer = optimizers.for_alphas(args, model.arch_parameters())
        self.regularizer = None  # a function of the alphas added to the alpha loss (beta-DARTS sets one)
        self.amp = bool(getattr(args, 'amp', False))  # bf16 forward passes, but the finite differences in fp32

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
            # DARTS Eq. 5 with xi = 0: the first-order approximation w*(alpha) ~ w
            with frozen(self.model.parameters()):
                grads = torch.autograd.grad(self._loss(input_valid, target_valid), self.model.arch_parameters())
        if self.regularizer is not None:
            alphas = self.model.arch_parameters()
            grads = [g + r for g, r in zip(grads, torch.autograd.grad(self.regularizer(alphas), alphas))]
        for a, g in zip(self.model.arch_parameters(), grads):
            a.grad = g
        self.optimizer.step()

    def virtual_step(self, input, target, eta, network_optimizer):
        """DARTS Eq. 6: w' = w - xi * (momentum * buf + grad_w L_train(w, alpha) + wd * w), xi = eta.

        For an SGD w optimizer with momentum this is the step it would take next, as in the original code: its
        momentum buffer (none before the first weight step), with SGD's dampening and Nesterov's look-ahead
        where they are set. Any other w optimizer gets a plain gradient step with its weight decay.
        Returns {name: w'}.
        """
        names, weights = zip(*self.model.named_parameters())
        with frozen(self.model.arch_parameters()):
            grads = torch.autograd.grad(self._loss(input, target), weights)
        group = network_optimizer.param_groups[0]
        momentum = group['momentum'] if isinstance(network_optimizer, torch.optim.SGD) else 0
        unrolled = {}
        with torch.no_grad():
            for name, w, g in zip(names, weights, grads):
                dw = g + group['weight_decay'] * w
                if momentum:
                    buf = network_optimizer.state.get(w, {}).get('momentum_buffer')
                    buf = dw if buf is None else torch.add(buf * momentum, dw, alpha=1 - group['dampening'])
                    dw = dw + momentum * buf if group['nesterov'] else buf
                unrolled[name] = torch.sub(w, dw, alpha=eta).requires_grad_()
        return unrolled

    def unrolled_grad(self, input_train, target_train, input_valid, target_valid, eta, network_optimizer):
        alphas = self.model.arch_parameters()
        unrolled = self.virtual_step(input_train, target_train, eta, network_optimizer)
        loss = self._loss(input_valid, target_valid, weights=unrolled)
        grads = torch.autograd.grad(loss, [*alphas, *unrolled.values()])
        dalpha, vector = grads[:len(alphas)], grads[len(alphas):]
        implicit = self.hessian_vector_product(vector, input_train, target_train)
        # DARTS Eq. 7: grad_alpha L_val(w', alpha) - xi * grad2_{alpha,w} L_train(w, alpha) grad_w' L_val(w', alpha)
        return [g.sub(ig, alpha=eta) for g, ig in zip(dalpha, implicit)]

    def hessian_vector_product(self, vector, input, target):
        """DARTS Eq. 8: (grad_alpha L_train(w+, alpha) - grad_alpha L_train(w-, alpha)) / (2 eps),
        w+- = w +- eps * vector, eps = fd_scale / ||vector||.

        ReLU and max-pool kinks crossed between w- and w+ make this differ from the exact product; with
        the paper's eps that error can be of the order of the product itself on small networks
        (test_architect.py measures it).
        """
        model, weights = self.model, list(self.model.parameters())
        # the norm of the concatenated vector, as the original: the same eps to the last bit
        R = (self.fd_scale / torch.cat([v.flatten() for v in vector]).norm()).item()
        grads = []
        for step in (R, -2 * R):  # to w+, then to w-
            with torch.no_grad():
                torch._foreach_add_(weights, vector, alpha=step)
            with frozen(weights):
                grads.append(torch.autograd.grad(model._loss(input, target), model.arch_parameters()))
        with torch.no_grad():
            torch._foreach_add_(weights, vector, alpha=R)  # back to w
        grads_p, grads_n = grads
        return [(p - n).div_(2 * R) for p, n in zip(grads_p, grads_n)]
