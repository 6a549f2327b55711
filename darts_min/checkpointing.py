"""--checkpoint_cells: activation checkpointing of the supernet's edges, beside the core (model_search.py).

A search step holds the output of every candidate op of every edge for its backward pass; that is most
of its memory. Checkpointed, an edge keeps its input, its output and the terms of its leading ops without
weights (max/avg pool, and skip where it is the identity: cheap to store, and on a CPU max-pooling costs as
much as six convolutions to recompute), and recomputes the terms of the ops with weights (the four
convolutions, and skip's factorized reduce on stride-2 edges) in the backward pass. About 0.3x the step
memory for 1.2x the time on a CPU (BENCHMARKS.md).

Exactness: Eq. 2's sum is split as `total = kept terms; total + recomputed terms`, the order of
MixedOp.forward's sum, so every gradient, weight and BatchNorm statistic is bit-identical to the plain
run (test_speed.py). The recomputation counts no BatchNorm statistics a second time, and uses the tensors
the edge was called with: under `functional_call` at w' (the second-order step) those are w', not w.
"""
import contextlib
import functools

import torch
import torch.nn as nn
from torch.func import functional_call
from torch.utils.checkpoint import checkpoint

from .model_search import MixedOp
from .operations import Zero


def checkpoint_edges(model, on=True):
    """Checkpoint (or, with on=False, stop checkpointing) every mixed op of `model`. Only the instances'
    forward changes: parameters, state_dict keys and modules stay as they are."""
    for op in model.modules():
        if isinstance(op, MixedOp):
            if on:
                op.forward = functools.partial(checkpointed_forward, op)
            else:
                op.__dict__.pop('forward', None)


def add_terms(total, ops, x, op_weights, states):
    """total + sum of op_weights[k] * ops[k](x), left to right as in MixedOp.forward (`none` skipped); each op
    at the tensors of `states[k]` (None: its own parameters)."""
    for weight, op, state in zip(op_weights, ops, states):
        if not isinstance(op, Zero):
            total = total + weight * (op(x) if state is None else functional_call(op, state, (x,)))
    return total


def checkpointed_forward(mixed_op, x, op_weights):
    """MixedOp.forward (DARTS Eq. 2), its ops with weights recomputed in the backward pass."""
    if not torch.is_grad_enabled():
        return MixedOp.forward(mixed_op, x, op_weights)
    ops = list(mixed_op._ops)
    kept = next((k for k, op in enumerate(ops) if next(op.parameters(), None) is not None), len(ops))
    total = add_terms(0, ops[:kept], x, op_weights[:kept], [None] * kept)
    # under functional_call (at w') the ops hold plain tensors now, and their own parameters again by the time
    # the backward pass recomputes them: hand the tensors of now to the recomputation
    swapped = not all(isinstance(p, nn.Parameter) for p in mixed_op.parameters())
    states = [{**dict(op.named_parameters()), **dict(op.named_buffers())} if swapped else None for op in ops[kept:]]
    context = lambda: (contextlib.nullcontext(), BatchNormStatsKept(mixed_op))  # noqa: E731
    return checkpoint(add_terms, total, ops[kept:], x, op_weights[kept:], states, use_reentrant=False,
                      preserve_rng_state=False, context_fn=context)  # the ops draw no random numbers


class BatchNormStatsKept:
    """While a checkpointed edge is recomputed for a backward pass, its BatchNorms (still in training mode) must not
    update their running statistics a second time: momentum 0 keeps them exactly. A double backward (the Hessian
    eigenvalue) recomputes the edge again, so the context can be entered more than once."""

    def __init__(self, module):
        self.bns = [m for m in module.modules() if isinstance(m, nn.BatchNorm2d)]

    def __enter__(self):
        self.saved = [(m.momentum, m.num_batches_tracked.clone()) for m in self.bns]
        for m in self.bns:
            m.momentum = 0.0

    def __exit__(self, *exc):
        for m, (momentum, tracked) in zip(self.bns, self.saved):
            m.momentum = momentum
            m.num_batches_tracked.copy_(tracked)
