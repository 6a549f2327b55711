"""The DARTS variants of the study, each a small class found by name in METHODS (`--method`).

A method can change the supernet once (`setup`), add a term of alpha alone to the alpha loss
(`arch_regularizer`), perturb the op weights that the w step trains at (`op_weights_for_w_step`), and has
per-epoch schedule values (`schedule`, recorded in metrics.jsonl). Plain DARTS does none of these.
"""
import contextlib
import math

import torch
import torch.nn as nn

from .model_nb201 import NB201Cell
from .model_search import Cell, MixedOp
from .operations import FactorizedReduce, Identity
from .training import frozen


class Method:
    """DARTS itself (Liu et al., ICLR 2019)."""
    name = 'darts'
    second_order = True  # whether --unrolled is defined for the method
    arch_regularizer = None

    def __init__(self, args):
        self.args = args

    def setup(self, model):
        """Change the supernet before its optimizer is built."""

    def schedule(self, epoch):
        """Set this epoch's schedule values; returns them by name (for metrics.jsonl)."""
        return {}

    def op_weights_for_w_step(self, model, x, y):
        """A context for the forward/backward of the w step, in which the supernet uses the op weights this method
        trains w at (DARTS: softmax(alpha) itself, so nothing changes)."""
        return contextlib.nullcontext()


# ---- SDARTS (Chen & Hsieh, ICML 2020): perturb the op weights for the w step ----

def swap_op_weights(model, op_weights):
    """Make each cell of the supernet take op_weights(index) (index: 1 for a reduction cell, else 0) instead of the
    softmax(alpha) that the model computes (Eq. 2): a forward pre-hook on each cell swaps its last argument, the op
    weights, so the model itself stays the paper's. Returns the hooks' handles (handle.remove() undoes it)."""
    def swap(cell, args):
        reduction = isinstance(cell, Cell) and cell.reduction  # NB-201's cells are all normal
        return *args[:-1], op_weights(int(reduction))
    return [m.register_forward_pre_hook(swap) for m in model.modules() if isinstance(m, (Cell, NB201Cell))]


@contextlib.contextmanager
def use_op_weights(model, op_weights):
    """Forward the supernet with these op weights (one tensor per arch parameter) instead of softmax(alpha);
    alpha itself is untouched."""
    handles = swap_op_weights(model, lambda index: op_weights[index])
    try:
        yield
    finally:
        for handle in handles:
            handle.remove()


def to_simplex(p, fallback):
    """SDARTS: clip each row to [0, 1] and renormalise it to sum 1 (a row clipped to all zeros keeps `fallback`)."""
    p = p.clamp(0, 1)
    total = p.sum(dim=-1, keepdim=True)
    return torch.where(total > 0, p / total, fallback)


def random_perturbation(abar, eps):
    """SDARTS-RS: A_bar + U[-eps, eps], then back onto the simplex."""
    return to_simplex(abar + torch.empty_like(abar).uniform_(-eps, eps), abar)


def adversarial_perturbation(model, x, y, abars, eps, steps=7):
    """SDARTS-ADV: PGD on L_train within the eps-ball around A_bar (sign steps of 2 eps / steps, random start),
    projected and put back onto the simplex after each step, the model in eval mode. Returns A_bar itself
    where the attack does not raise the loss."""
    def loss_at(op_weights):
        with use_op_weights(model, op_weights):
            return model._loss(x, y)

    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            perturbed = [random_perturbation(a, eps) for a in abars]
        for _ in range(steps):
            perturbed = [p.requires_grad_() for p in perturbed]
            with frozen(model.parameters()):
                grads = torch.autograd.grad(loss_at(perturbed), perturbed)
            with torch.no_grad():
                perturbed = [to_simplex(a + (p + 2 * eps / steps * g.sign() - a).clamp(-eps, eps), a)
                             for a, p, g in zip(abars, perturbed, grads)]
        with torch.no_grad():
            raised = loss_at(perturbed) > loss_at(abars)
    finally:
        model.train(was_training)
    return perturbed if raised else abars


class SDARTSRS(Method):
    """SDARTS-RS: the weight step sees softmax(alpha) plus uniform noise, eps growing over the epochs."""
    name = 'sdarts_rs'
    second_order = False  # the paper defines the perturbation for first-order DARTS's weight step only

    def schedule(self, epoch):
        # SDARTS: eps grows linearly from 0.03 to --epsilon_alpha
        self.epsilon = 0.03 + (self.args.epsilon_alpha - 0.03) * epoch / self.args.epochs
        return {'epsilon_alpha': self.epsilon}

    def perturb(self, model, x, y, abars):
        with torch.no_grad():
            return [random_perturbation(a, self.epsilon) for a in abars]

    @contextlib.contextmanager
    def op_weights_for_w_step(self, model, x, y):
        abars = [torch.softmax(a.detach(), dim=-1) for a in model.arch_parameters()]
        with use_op_weights(model, self.perturb(model, x, y, abars)):
            yield


class SDARTSADV(SDARTSRS):
    """SDARTS-ADV: the weight step sees the worst perturbation of softmax(alpha) PGD finds in the eps-ball."""
    name = 'sdarts_adv'

    def perturb(self, model, x, y, abars):
        return adversarial_perturbation(model, x, y, abars, self.epsilon)


# ---- DARTS- (Chu et al., ICLR 2021): an auxiliary skip connection with a decaying weight ----

class AuxiliarySkip(nn.Module):
    """A mixed op plus beta * aux(x): identity on stride-1 edges, a factorized reduce (trained with w) on
    stride-2 edges. beta is not learned and not part of alpha."""

    def __init__(self, mixed_op):
        super().__init__()
        self.mixed = mixed_op
        self.aux = Identity() if mixed_op.stride == 1 else FactorizedReduce(mixed_op.C, mixed_op.C, affine=False)
        self.beta = 1.0

    def forward(self, x, op_weights):
        out = self.mixed(x, op_weights)
        return out if self.beta == 0 else out + self.beta * self.aux(x)


class DARTSMinus(Method):
    name = 'darts_minus'
    skips = ()

    def setup(self, model):
        for cell in model.cells:
            for i, op in enumerate(getattr(cell, '_ops', ())):
                if isinstance(op, MixedOp):
                    cell._ops[i] = AuxiliarySkip(op)
        self.skips = [m for m in model.modules() if isinstance(m, AuxiliarySkip)]

    def schedule(self, epoch):
        # DARTS-: beta decays from --aux_skip_beta to 0 over the search, linearly or by a cosine
        progress = epoch / self.args.epochs
        decay = 1 - progress if self.args.aux_skip_decay == 'linear' else (1 + math.cos(math.pi * progress)) / 2
        beta = self.args.aux_skip_beta * decay
        for skip in self.skips:
            skip.beta = beta
        return {'aux_skip_beta': beta}


# ---- beta-DARTS (Ye et al., CVPR 2022): beta-decay regularisation of the alpha loss ----

class BetaDARTS(Method):
    name = 'beta_darts'

    def schedule(self, epoch):
        # beta-DARTS: lambda_t ramps linearly from 0 to --beta_decay_weight
        self.lam = self.args.beta_decay_weight * epoch / self.args.epochs
        return {'beta_decay_lambda': self.lam}

    def arch_regularizer(self, alphas):
        """lambda_t * mean over the edges E (of both cells) of logsumexp(alpha_e).

        Its gradient on edge e is lambda_t * softmax(alpha_e) / |E|: it lowers every alpha of the edge in
        proportion to its weight, the largest most, which pushes each edge's alphas toward uniform.
        """
        return self.lam * torch.cat([torch.logsumexp(a, dim=-1) for a in alphas]).mean()


METHODS = {m.name: m for m in (Method, SDARTSRS, SDARTSADV, DARTSMinus, BetaDARTS)}


def build(args):
    return METHODS[args.method](args)
