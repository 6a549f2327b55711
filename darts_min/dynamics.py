"""Search-dynamics metrics, logged per epoch: what the study compares across optimizer pairs.

Skip connections in the genotype (the collapse DARTS-, SDARTS and beta-DARTS fight), the entropy of the
architecture weights, how far alpha has travelled (its spread on each edge, the largest op weight), how much
the genotype moved, and the largest eigenvalue of the Hessian of the validation loss with respect to alpha
(RobustDARTS' collapse indicator: Zela et al., ICLR 2020).
"""
import contextlib
import math
from collections import Counter

import torch

from .training import frozen


def skip_counts(genotype):
    """Skip connections per cell of the genotype: {'skip_normal': n, 'skip_reduce': n}."""
    return {f'skip_{cell}': sum(op == 'skip_connect' for node in nodes for op, _ in node)
            for cell, nodes in genotype.cells().items()}


def entropy(op_weights):
    """Mean normalised entropy of the op weights over the edges, each edge's scaled to sum 1 (softmax(alpha)'s do):
    H = -(1/|E|) sum_e sum_k p log p / log K, in [0, 1]."""
    p = op_weights.detach().double()
    p = p / p.sum(-1, keepdim=True)
    h = -(p * torch.log(p.clamp_min(1e-300))).sum(-1) / math.log(p.shape[-1])
    return h.mean().item()


def alpha_spread(alpha):
    """Mean over the edges of max - min of alpha on the edge (= log p_max - log p_min of softmax(alpha), so the log of
    op weights gives the same): how far alpha has travelled from its near-equal start (0: every op weighted alike)."""
    a = alpha.detach().double()
    return (a.amax(-1) - a.amin(-1)).mean().item()


def max_op_weight(op_weights):
    """The largest op weight of any edge, each edge's scaled to sum 1 (softmax(alpha)'s do; uniform: 1 / ops)."""
    p = op_weights.detach().double()
    return (p / p.sum(-1, keepdim=True)).max().item()


def genotype_changes(before, after):
    """How many of the chosen (op, input) edges differ between two genotypes, node by node (order within a node ignored)."""
    changed = 0
    for cell, nodes in after.cells().items():
        for new, old in zip(nodes, before.cells()[cell]):
            changed += sum((Counter(map(tuple, new)) - Counter(map(tuple, old))).values())
    return changed


def epoch_metrics(model, genotype, previous, op_weights):
    """The cheap metrics of every epoch; op_weights: the supernet's, one tensor per alpha (methods.op_weights)."""
    named = list(zip(model.arch_names, model.arch_parameters(), op_weights))
    return {**skip_counts(genotype), **{f'entropy_{name}': entropy(w) for name, _, w in named},
            **{f'alpha_spread_{name}': alpha_spread(a) for name, a, _ in named},
            **{f'max_op_weight_{name}': max_op_weight(w) for name, _, w in named},
            'genotype_changes': genotype_changes(previous, genotype)}


def alpha_hessian(model, batches):
    """The operator v -> grad2_alpha L_val . v, exactly (double backprop), L_val the mean loss over `batches`.
    grad_alpha L_val's graph is built once for each batch and kept while the operator lives: a power iteration's
    products are then one backward each, not a forward and two backwards, at the memory of len(batches) forward
    passes with their backward (--checkpoint_cells keeps its edges' inputs only, and recomputes them each time)."""
    alphas = model.arch_parameters()
    with frozen(model.parameters()):
        grads = [torch.autograd.grad(model._loss(x, y), alphas, create_graph=True) for x, y in batches]

    def product(vector):
        total = [torch.zeros_like(a) for a in alphas]
        with frozen(model.parameters()):  # a recomputed (checkpointed) edge must see w as its forward did
            for g in grads:
                dot = sum((gi * v).sum() for gi, v in zip(g, vector))
                for t, h in zip(total, torch.autograd.grad(dot, alphas, retain_graph=True)):
                    t.add_(h, alpha=1 / len(grads))
        return total
    return product


def power_iteration(product, v, iters, tol):
    """(eigenvalue, iterations, converged): the eigenvalue of largest magnitude of the symmetric operator `product`
    (a list of tensors to a list of tensors), as the Rayleigh quotient v^T H v of the iterate, started from v; it
    stops when that changes by at most tol, relatively, or after iters products."""
    value = None
    for it in range(1, iters + 1):
        norm = torch.sqrt(sum((x * x).sum() for x in v))
        v = [x / norm for x in v]
        hv = product(v)
        new = sum((x * h).sum() for x, h in zip(v, hv)).item()
        if value is not None and abs(new - value) <= tol * abs(new):
            return new, it, True
        value, v = new, hv
    return value, iters, False


def hessian_eigenvalue(model, batches, iters=20, tol=1e-3, seed=0):
    """lambda_max, the largest eigenvalue of grad2_alpha L_val (RobustDARTS' indicator), by power iteration on exact
    Hessian-vector products. Returns (eigenvalue, iterations, converged).

    Power iteration finds the eigenvalue of largest magnitude. Where that one is negative (the Hessian is
    indefinite early in a search), it is lambda_min, and lambda_max - lambda_min is the eigenvalue of largest
    magnitude of H - lambda_min I: a second power iteration finds it. The supernet is in training mode throughout
    (batch statistics, as in the alpha step) and goes back to its mode afterwards; its BatchNorm running
    statistics and the global random state are left as they were.
    """
    g = torch.Generator(device='cpu').manual_seed(seed)

    def start():
        return [torch.randn(a.shape, generator=g, dtype=a.dtype).to(a.device) for a in model.arch_parameters()]

    with measuring(model):
        hessian = alpha_hessian(model, batches)
        eigenvalue, iterations, converged = power_iteration(hessian, start(), iters, tol)
        if eigenvalue < 0:
            lowest = eigenvalue
            shifted = lambda v: [h - lowest * x for h, x in zip(hessian(v), v)]  # noqa: E731
            top, more, top_converged = power_iteration(shifted, start(), iters, tol)
            eigenvalue, iterations, converged = lowest + top, iterations + more, converged and top_converged
    return eigenvalue, iterations, converged


@contextlib.contextmanager
def measuring(model):
    """The supernet in training mode for a measurement (batch statistics, as the alpha step sees it); afterwards its
    mode and its buffers (BatchNorm's running statistics) are as they were."""
    was_training, buffers = model.training, [b.clone() for b in model.buffers()]
    model.train()
    try:
        yield
    finally:
        model.train(was_training)
        with torch.no_grad():
            for b, saved in zip(model.buffers(), buffers):
                b.copy_(saved)
