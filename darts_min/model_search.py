"""The DARTS supernet (Liu et al., ICLR 2019, section 2.1-2.2): cells of mixed ops weighted by softmax(alpha).

Layout and names follow the original code, so `Network.state_dict()` keys, parameter order and
(for the same torch seed) initial weights match it. The alphas are plain leaf tensors, not
registered parameters: `parameters()` is w alone and `arch_parameters()` is alpha alone, as in the
original; `_apply` moves them along with the module (`.to()`, `.double()`).
"""
import contextlib
import itertools

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.func import functional_call
from torch.utils.checkpoint import checkpoint

from .genotypes import PRIMITIVES, Genotype
from .operations import OPS, FactorizedReduce, ReLUConvBN, Zero


class MixedOp(nn.Module):
    def __init__(self, C, stride, primitives=PRIMITIVES, ops=OPS, bn_after_pool=True):
        super().__init__()
        self.C, self.stride = C, stride
        self._ops = nn.ModuleList()
        for primitive in primitives:
            op = ops[primitive](C, stride, False)
            if bn_after_pool and 'pool' in primitive:
                op = nn.Sequential(op, nn.BatchNorm2d(C, affine=False))
            self._ops.append(op)
        # --checkpoint_cells keeps the terms of the leading ops without weights (the pools, and skip where it is
        # the identity): cheap to store, and a third of the work of recomputing an edge on a CPU (slow max-pooling)
        self._kept = next((i for i, op in enumerate(self._ops) if next(op.parameters(), None) is not None), len(self._ops))

    def forward(self, x, weights, start=0, stop=None, total=0):
        # DARTS Eq. 2: o_bar(x) = sum_o softmax(alpha)_o * o(x) (here total + the terms of ops start..stop-1).
        # The `none` term is exactly zero, so it is skipped: no work and no stored activation, and the sum is
        # bit-identical to including it.
        terms = itertools.islice(zip(weights, self._ops), start, stop)
        return sum((w * op(x) for w, op in terms if not isinstance(op, Zero)), total)

    def forward_checkpointed(self, x, weights):
        """Eq. 2 under activation checkpointing: the terms of the ops with weights are recomputed in the backward
        pass, in the same order, without counting their BatchNorm statistics twice, and with the tensors they
        use now (a functional_call at w' swaps plain tensors in, and out again before the backward)."""
        total = self(x, weights, 0, self._kept)
        context = lambda: (contextlib.nullcontext(), BatchNormStatsKept(self))  # noqa: E731
        args = (x, weights, self._kept, None, total)
        options = dict(use_reentrant=False, preserve_rng_state=False, context_fn=context)  # the ops draw no random numbers
        if all(isinstance(p, nn.Parameter) for p in self.parameters()):
            return checkpoint(self, *args, **options)
        state = {**dict(self.named_parameters()), **dict(self.named_buffers())}
        return checkpoint(functional_call, self, state, args, **options)


class Cell(nn.Module):
    def __init__(self, steps, multiplier, C_prev_prev, C_prev, C, reduction, reduction_prev):
        super().__init__()
        self.reduction = reduction
        if reduction_prev:
            self.preprocess0 = FactorizedReduce(C_prev_prev, C, affine=False)
        else:
            self.preprocess0 = ReLUConvBN(C_prev_prev, C, 1, 1, 0, affine=False)
        self.preprocess1 = ReLUConvBN(C_prev, C, 1, 1, 0, affine=False)
        self._steps = steps
        self._multiplier = multiplier
        self._ops = nn.ModuleList()
        for i in range(steps):
            for j in range(2 + i):
                stride = 2 if reduction and j < 2 else 1
                self._ops.append(MixedOp(C, stride))
        self.checkpointed = False

    def forward(self, s0, s1, weights):
        states = [self.preprocess0(s0), self.preprocess1(s1)]
        offset = 0
        for _ in range(self._steps):
            # DARTS Eq. 1: x_j = sum_{i<j} o_bar^(i,j)(x_i)
            s = sum(self._edge(self._ops[offset + j], h, weights[offset + j]) for j, h in enumerate(states))
            offset += len(states)
            states.append(s)
        return torch.cat(states[-self._multiplier:], dim=1)

    def _edge(self, op, h, w):
        return op.forward_checkpointed(h, w) if self.checkpointed and torch.is_grad_enabled() else op(h, w)


class Network(nn.Module):
    def __init__(self, C, num_classes, layers, criterion, steps=4, multiplier=4, stem_multiplier=3):
        super().__init__()
        self._C = C
        self._num_classes = num_classes
        self._layers = layers
        self._criterion = criterion
        self._steps = steps
        self._multiplier = multiplier

        C_curr = stem_multiplier * C
        self.stem = nn.Sequential(
            nn.Conv2d(3, C_curr, 3, padding=1, bias=False),
            nn.BatchNorm2d(C_curr),
        )
        C_prev_prev, C_prev, C_curr = C_curr, C_curr, C
        self.cells = nn.ModuleList()
        reduction_prev = False
        for i in range(layers):
            reduction = i in (layers // 3, 2 * layers // 3)
            if reduction:
                C_curr *= 2
            cell = Cell(steps, multiplier, C_prev_prev, C_prev, C_curr, reduction, reduction_prev)
            reduction_prev = reduction
            self.cells.append(cell)
            C_prev_prev, C_prev = C_prev, multiplier * C_curr
        self.global_pooling = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(C_prev, num_classes)

        num_edges = sum(2 + i for i in range(steps))
        self.alphas_normal = (1e-3 * torch.randn(num_edges, len(PRIMITIVES))).requires_grad_()
        self.alphas_reduce = (1e-3 * torch.randn(num_edges, len(PRIMITIVES))).requires_grad_()

    @property
    def checkpoint_cells(self):
        return self.cells[0].checkpointed

    @checkpoint_cells.setter
    def checkpoint_cells(self, on):
        """--checkpoint_cells: inside every cell keep the edges' inputs and outputs and the terms of the ops without
        weights; recompute the ops with weights, edge by edge, in the backward pass."""
        for cell in self.cells:
            cell.checkpointed = on

    def arch_parameters(self):
        return [self.alphas_normal, self.alphas_reduce]

    def _apply(self, fn, *args, **kwargs):
        super()._apply(fn, *args, **kwargs)
        with torch.no_grad():
            for a in self.arch_parameters():
                a.data = fn(a.data)  # keep the leaf tensors (the arch optimizer holds them)
        return self

    def forward(self, input):
        s0 = s1 = self.stem(input)
        for cell in self.cells:
            s0, s1 = s1, cell(s0, s1, self.op_weights(cell.reduction))
        out = self.global_pooling(s1)
        return self.classifier(out.flatten(1))

    arch_names = ('normal', 'reduce')

    def op_weights(self, index):
        """The mixed ops' weights softmax(alpha) (Eq. 2) of arch parameter `index` (a reduction cell: 1),
        computed per cell as the original does, so alpha's gradient sums in the same order, bit for bit.
        (SDARTS swaps in perturbed weights for its weight step.)"""
        return F.softmax(self.arch_parameters()[int(index)], dim=-1)

    def _loss(self, input, target):
        return self._criterion(self(input), target)

    def genotype(self):
        """DARTS section 2.4: per node keep the 2 strongest incoming edges, each with its best non-none op."""
        concat = list(range(2 + self._steps - self._multiplier, self._steps + 2))
        return Genotype(
            normal=parse_cell(F.softmax(self.alphas_normal, dim=-1).tolist(), self._steps),
            normal_concat=concat,
            reduce=parse_cell(F.softmax(self.alphas_reduce, dim=-1).tolist(), self._steps),
            reduce_concat=concat,
        )


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


def parse_cell(weights, steps):
    """weights: one row of op weights per edge (edges of node i follow those of node i-1).

    Ties go to the lower edge / op index, as in the original code.
    """
    none = PRIMITIVES.index('none')
    gene, start = [], 0
    for i in range(steps):
        rows = weights[start:start + 2 + i]
        best_op = [max((k for k in range(len(row)) if k != none), key=lambda k: (row[k], -k)) for row in rows]
        edges = sorted(range(2 + i), key=lambda j: -rows[j][best_op[j]])[:2]
        gene += [(PRIMITIVES[best_op[j]], j) for j in edges]
        start += 2 + i
    return gene
