"""The DARTS supernet (Liu et al., ICLR 2019, sections 2.1-2.2; its genotype, section 2.4): cells of mixed ops
weighted by softmax(alpha).

Layout and names follow the original code, so `Network.state_dict()` keys, parameter order and
(for the same torch seed) initial weights match it. The alphas are plain leaf tensors, not
registered parameters: `parameters()` is w alone and `arch_parameters()` is alpha alone, as in the
original; `_apply` moves them along with the module (`.to()`, `.double()`).
"""
import torch
import torch.nn as nn
import torch.nn.functional as F

from .genotypes import PRIMITIVES, Genotype
from .operations import OPS, FactorizedReduce, ReLUConvBN, Zero


class MixedOp(nn.Module):
    """One edge (i, j) of a cell, from node i to node j: every candidate op, weighted by softmax(alpha^(i,j))
    (DARTS section 2.2)."""

    def __init__(self, C, stride, primitives=PRIMITIVES, ops=OPS, bn_after_pool=True):
        super().__init__()
        self.C, self.stride = C, stride
        self._ops = nn.ModuleList()
        for primitive in primitives:
            op = ops[primitive](C, stride, False)
            if bn_after_pool and 'pool' in primitive:  # the original code's choice (the paper does not say)
                op = nn.Sequential(op, nn.BatchNorm2d(C, affine=False))
            self._ops.append(op)

    def forward(self, x, op_weights):
        # DARTS Eq. 2: o_bar(x) = sum_o softmax(alpha)_o * o(x); `none`, zero, is skipped (no work, no activation)
        return sum(weight * op(x) for weight, op in zip(op_weights, self._ops) if not isinstance(op, Zero))


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
        # DARTS section 2.1: nodes 0 and 1 are the cell's inputs, node j >= 2 has an edge (i, j) from every i < j
        for j in range(2, 2 + steps):
            for i in range(j):
                stride = 2 if reduction and i < 2 else 1  # a reduction cell halves its inputs
                self._ops.append(MixedOp(C, stride))

    def forward(self, s0, s1, op_weights):
        """op_weights: one row of softmax(alpha) per edge (i, j), ordered by j, then i: (0, 2), (1, 2), (0, 3), ..."""
        states = [self.preprocess0(s0), self.preprocess1(s1)]
        offset = 0  # the index of edge (0, j)
        for _ in range(self._steps):
            # DARTS Eq. 1: x_j = sum_{i<j} o_bar^(i,j)(x_i), j = len(states)
            x_j = sum(self._ops[offset + i](x_i, op_weights[offset + i]) for i, x_i in enumerate(states))
            offset += len(states)
            states.append(x_j)
        return torch.cat(states[-self._multiplier:], dim=1)


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
        # alpha starts at 1e-3 * N(0, 1), as in the original code (the paper's text says zero: exactly uniform op weights)
        self.alphas_normal = (1e-3 * torch.randn(num_edges, len(PRIMITIVES))).requires_grad_()
        self.alphas_reduce = (1e-3 * torch.randn(num_edges, len(PRIMITIVES))).requires_grad_()

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
            # DARTS Eq. 2: the op weights softmax(alpha), per cell as the original code
            op_weights = F.softmax(self.alphas_reduce if cell.reduction else self.alphas_normal, dim=-1)
            s0, s1 = s1, cell(s0, s1, op_weights)
        out = self.global_pooling(s1)
        return self.classifier(out.flatten(1))

    arch_names = ('normal', 'reduce')

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


def parse_cell(op_weights, steps):
    """The genotype of one cell: a (op, i) per kept edge (i, j), node j's two in a row, j = 2, 3, ...
    op_weights: one row of softmax(alpha) per edge (i, j), ordered by j, then i (as Cell).

    Ties go to the lower edge / op index, as in the original code.
    """
    none = PRIMITIVES.index('none')
    gene, start = [], 0
    for j in range(2, 2 + steps):
        rows = op_weights[start:start + j]  # the edges (0, j) ... (j - 1, j)
        best_op = [max((k for k in range(len(row)) if k != none), key=lambda k: (row[k], -k)) for row in rows]
        inputs = sorted(range(j), key=lambda i: -rows[i][best_op[i]])[:2]
        gene += [(PRIMITIVES[best_op[i]], i) for i in inputs]
        start += j
    return gene
