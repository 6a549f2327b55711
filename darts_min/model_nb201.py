"""The NAS-Bench-201 search space (Dong & Yang, ICLR 2020): a second space, one with a ground truth.

One cell type: 4 nodes, node j = sum over i < j of a mixed op on node i (6 edges), output node 3; five
candidate ops. The network: a 3x3 stem with C channels, three stages of N cells (C, 2C, 4C channels)
joined by ResNet basic blocks of stride 2, BN-ReLU, global pooling, a linear classifier. Every edge of
the derived cell keeps its strongest op, `none` included, as the benchmark's DARTS baselines do; the
genotype prints as the benchmark's architecture string.
"""
import re

import torch
import torch.nn as nn
import torch.nn.functional as F

from .genotypes import GenotypeError
from .model_search import MixedOp
from .operations import Identity, ReLUConvBN, Zero

NB201_PRIMITIVES = ['none', 'skip_connect', 'nor_conv_1x1', 'nor_conv_3x3', 'avg_pool_3x3']
NB201_OPS = {
    'none': lambda C, stride, affine: Zero(stride),
    'skip_connect': lambda C, stride, affine: Identity(),
    'nor_conv_1x1': lambda C, stride, affine: ReLUConvBN(C, C, 1, stride, 0, affine=affine),
    'nor_conv_3x3': lambda C, stride, affine: ReLUConvBN(C, C, 3, stride, 1, affine=affine),
    'avg_pool_3x3': lambda C, stride, affine: nn.AvgPool2d(3, stride=stride, padding=1, count_include_pad=False),
}
NODES = 4
EDGES = [(i, j) for j in range(1, NODES) for i in range(j)]  # (input, node): 0>1, 0>2, 1>2, 0>3, 1>3, 2>3


class NB201Genotype:
    """The derived cell: for nodes 1..3, the op on the edge from every earlier node."""

    def __init__(self, nodes):
        self.nodes = [list(node) for node in nodes]  # [[(op, input), ...] for node 1, 2, 3]

    def __str__(self):
        """The benchmark's architecture string, e.g. |nor_conv_3x3~0|+|skip_connect~0|none~1|+|...|"""
        return '+'.join('|' + '|'.join(f'{op}~{i}' for op, i in node) + '|' for node in self.nodes)

    __repr__ = __str__

    def __eq__(self, other):
        return isinstance(other, NB201Genotype) and self.nodes == other.nodes

    @classmethod
    def from_string(cls, text):
        parts = text.split('+')
        if len(parts) != NODES - 1:
            raise GenotypeError(f'{text!r} is not a NAS-Bench-201 architecture string (3 nodes joined by +)')
        nodes = []
        for j, part in enumerate(parts, start=1):
            genes = re.findall(r'\|([a-z0-9_]+)~(\d+)', part)
            if [int(i) for _, i in genes] != list(range(j)) or any(op not in NB201_PRIMITIVES for op, _ in genes):
                raise GenotypeError(f'node {j} of {text!r} must list one op of {", ".join(NB201_PRIMITIVES)} '
                                    f'per input 0..{j - 1}')
            nodes.append([(op, int(i)) for op, i in genes])
        return cls(nodes)

    def to_dict(self):
        return {'arch': str(self)}

    def cells(self):
        return {'normal': self.nodes}


class NB201Cell(nn.Module):
    def __init__(self, C):
        super().__init__()
        self._ops = nn.ModuleList(MixedOp(C, 1, NB201_PRIMITIVES, NB201_OPS, bn_after_pool=False) for _ in EDGES)

    def forward(self, x, weights):
        nodes = [x]
        for j in range(1, NODES):
            nodes.append(sum(self._ops[e](nodes[i], weights[e]) for e, (i, node) in enumerate(EDGES) if node == j))
        return nodes[-1]


class ResNetBasicBlock(nn.Module):
    """The stage transition: two 3x3 ReLU-conv-BN (the first of stride 2) plus an avg-pool + 1x1 conv shortcut."""

    def __init__(self, C_in, C_out):
        super().__init__()
        self.conv_a = ReLUConvBN(C_in, C_out, 3, 2, 1)
        self.conv_b = ReLUConvBN(C_out, C_out, 3, 1, 1)
        self.downsample = nn.Sequential(nn.AvgPool2d(2, stride=2), nn.Conv2d(C_in, C_out, 1, bias=False))

    def forward(self, x):
        return self.downsample(x) + self.conv_b(self.conv_a(x))


class NB201Network(nn.Module):
    """The supernet: `layers` cells per stage (5 in the benchmark), C = 16; one alpha (6 edges x 5 ops)."""
    arch_names = ('normal',)

    def __init__(self, C, num_classes, layers, criterion):
        super().__init__()
        self._criterion = criterion
        self.stem = nn.Sequential(nn.Conv2d(3, C, 3, padding=1, bias=False), nn.BatchNorm2d(C))
        self.cells = nn.ModuleList()
        for stage in range(3):
            if stage:
                self.cells.append(ResNetBasicBlock(C, 2 * C))
                C *= 2
            self.cells.extend(NB201Cell(C) for _ in range(layers))
        self.lastact = nn.Sequential(nn.BatchNorm2d(C), nn.ReLU(inplace=True))
        self.global_pooling = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(C, num_classes)
        self.alphas_normal = (1e-3 * torch.randn(len(EDGES), len(NB201_PRIMITIVES))).requires_grad_()

    def arch_parameters(self):
        return [self.alphas_normal]

    def _apply(self, fn, *args, **kwargs):
        super()._apply(fn, *args, **kwargs)
        with torch.no_grad():
            self.alphas_normal.data = fn(self.alphas_normal.data)
        return self

    def forward(self, input):
        s = self.stem(input)
        for cell in self.cells:
            s = cell(s, F.softmax(self.alphas_normal, dim=-1)) if isinstance(cell, NB201Cell) else cell(s)  # Eq. 2
        return self.classifier(self.global_pooling(self.lastact(s)).flatten(1))

    def _loss(self, input, target):
        return self._criterion(self(input), target)

    def genotype(self):
        """Each edge keeps its op of largest alpha (largest softmax weight, without float32 rounding ties), none
        included, as the benchmark's DARTS code; exact ties go to the lower op index."""
        weights = self.alphas_normal.tolist()
        ops = [NB201_PRIMITIVES[max(range(len(w)), key=lambda k: (w[k], -k))] for w in weights]
        return NB201Genotype([[(ops[e], i) for e, (i, node) in enumerate(EDGES) if node == j] for j in range(1, NODES)])


class Table:
    """True test accuracies by arch string: `columns`, and `get(arch)` -> {column: accuracy} or None."""

    def __init__(self, columns, get):
        self.columns, self.get = columns, get


def load_table(path):
    """A CSV (header: arch, then one column per accuracy; one row per architecture), or the official
    benchmark file (.pth) read through its API package `nas_201_api` (pip install nas-bench-201)."""
    if not path.endswith('.csv'):
        return _load_benchmark(path)
    import csv
    try:
        with open(path, newline='') as f:
            rows = list(csv.reader(f))
    except OSError as e:
        raise GenotypeError(f'--nb201_table {path}: {e.strerror or e}') from None
    if len(rows) < 2 or len(rows[0]) < 2:
        raise GenotypeError(f'--nb201_table {path}: needs a header (arch, then accuracy columns) and one row per architecture')
    header, table = rows[0], {}
    for n, row in enumerate(rows[1:], start=2):
        try:
            table[row[0]] = {name: float(v) for name, v in zip(header[1:], row[1:], strict=True)}
        except ValueError:
            raise GenotypeError(f'--nb201_table {path}, line {n}: expected {len(header)} columns, the accuracies as numbers') from None
    return Table(header[1:], table.get)


def _load_benchmark(path):
    try:
        from nas_201_api import NASBench201API
    except ImportError:
        raise GenotypeError(f'--nb201_table {path}: not a .csv, and reading the benchmark file needs its API '
                            'package: pip install nas-bench-201 (or convert it to a CSV, see docs/nb201.md)') from None
    try:
        api = NASBench201API(path, verbose=False)
    except Exception as e:  # a missing or foreign file: whatever the API raises, one line
        raise GenotypeError(f'--nb201_table {path}: the NAS-Bench-201 API cannot read it ({e})') from None
    columns = ['cifar10', 'cifar100', 'ImageNet16-120']

    def get(arch):
        index = api.query_index_by_arch(arch)
        if index < 0:
            return None
        return {c: api.get_more_info(index, c, hp='200', is_random=False)['test-accuracy'] for c in columns}
    return Table(columns, get)
