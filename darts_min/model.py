"""The evaluation networks (DARTS section 3.2, appendix A.2): a searched cell stacked and trained from scratch.

Module names follow the original code, so parameter counts and state_dict keys match it.
"""
import torch
import torch.nn as nn

from .operations import OPS, FactorizedReduce, Identity, ReLUConvBN


def drop_path(x, drop_prob):
    """Zero whole samples with probability drop_prob, scale the rest by 1 / (1 - drop_prob) (FractalNet's drop path)."""
    keep = 1.0 - drop_prob
    mask = torch.empty(x.size(0), 1, 1, 1, device=x.device, dtype=x.dtype).bernoulli_(keep)
    return x / keep * mask


class Cell(nn.Module):
    def __init__(self, genotype, C_prev_prev, C_prev, C, reduction, reduction_prev):
        super().__init__()
        if reduction_prev:
            self.preprocess0 = FactorizedReduce(C_prev_prev, C)
        else:
            self.preprocess0 = ReLUConvBN(C_prev_prev, C, 1, 1, 0)
        self.preprocess1 = ReLUConvBN(C_prev, C, 1, 1, 0)
        genes, concat = (genotype.reduce, genotype.reduce_concat) if reduction else (genotype.normal, genotype.normal_concat)
        op_names, self._indices = zip(*genes)
        self._steps = len(op_names) // 2
        self._concat = list(concat)
        self.multiplier = len(concat)
        self.reduction = reduction
        # an edge from an input node of a reduction cell has stride 2
        self._ops = nn.ModuleList(OPS[name](C, 2 if reduction and j < 2 else 1, True)
                                  for name, j in zip(op_names, self._indices))

    def forward(self, s0, s1, drop_prob):
        states = [self.preprocess0(s0), self.preprocess1(s1)]
        for i in range(self._steps):
            s = 0
            for k in (2 * i, 2 * i + 1):  # each node sums its two chosen (op, input) pairs
                h = self._ops[k](states[self._indices[k]])
                if self.training and drop_prob > 0 and not isinstance(self._ops[k], Identity):
                    h = drop_path(h, drop_prob)
                s = s + h
            states.append(s)
        return torch.cat([states[i] for i in self._concat], dim=1)


class AuxiliaryHeadCIFAR(nn.Module):
    """Auxiliary classifier on the 8x8 feature map after the second reduction (appendix A.2, weight 0.4)."""

    def __init__(self, C, num_classes):
        super().__init__()
        self.features = nn.Sequential(
            nn.ReLU(inplace=True),
            nn.AvgPool2d(5, stride=3, padding=0, count_include_pad=False),  # 8x8 -> 2x2
            nn.Conv2d(C, 128, 1, bias=False),
            nn.BatchNorm2d(128),
            nn.ReLU(inplace=True),
            nn.Conv2d(128, 768, 2, bias=False),
            nn.BatchNorm2d(768),
            nn.ReLU(inplace=True),
        )
        self.classifier = nn.Linear(768, num_classes)

    def forward(self, x):
        return self.classifier(self.features(x).flatten(1))


class AuxiliaryHeadImageNet(nn.Module):
    """Auxiliary classifier on the 14x14 map; without a BN after the 2x2 conv, as in the paper's experiments."""

    def __init__(self, C, num_classes):
        super().__init__()
        self.features = nn.Sequential(
            nn.ReLU(inplace=True),
            nn.AvgPool2d(5, stride=2, padding=0, count_include_pad=False),
            nn.Conv2d(C, 128, 1, bias=False),
            nn.BatchNorm2d(128),
            nn.ReLU(inplace=True),
            nn.Conv2d(128, 768, 2, bias=False),
            nn.ReLU(inplace=True),
        )
        self.classifier = nn.Linear(768, num_classes)

    def forward(self, x):
        return self.classifier(self.features(x).flatten(1))


class _Network(nn.Module):
    """Cells from a genotype, reduction cells at layers//3 and 2*layers//3, auxiliary head after the second."""

    def _build_cells(self, genotype, layers, C_prev_prev, C_prev, C_curr, reduction_prev, auxiliary, head, num_classes):
        self._layers, self._auxiliary = layers, auxiliary
        self.drop_path_prob = 0.0  # set by the training loop each epoch
        self.cells = nn.ModuleList()
        for i in range(layers):
            reduction = i in (layers // 3, 2 * layers // 3)
            if reduction:
                C_curr *= 2
            cell = Cell(genotype, C_prev_prev, C_prev, C_curr, reduction, reduction_prev)
            reduction_prev = reduction
            self.cells.append(cell)
            C_prev_prev, C_prev = C_prev, cell.multiplier * C_curr
            if i == 2 * layers // 3:
                C_to_auxiliary = C_prev
        if auxiliary:
            self.auxiliary_head = head(C_to_auxiliary, num_classes)
        return C_prev

    def _cells_forward(self, s0, s1):
        logits_aux = None
        for i, cell in enumerate(self.cells):
            s0, s1 = s1, cell(s0, s1, self.drop_path_prob)
            if i == 2 * self._layers // 3 and self._auxiliary and self.training:
                logits_aux = self.auxiliary_head(s1)
        return s1, logits_aux


class NetworkCIFAR(_Network):
    def __init__(self, C, num_classes, layers, auxiliary, genotype):
        super().__init__()
        stem_multiplier = 3
        C_curr = stem_multiplier * C
        self.stem = nn.Sequential(nn.Conv2d(3, C_curr, 3, padding=1, bias=False), nn.BatchNorm2d(C_curr))
        C_prev = self._build_cells(genotype, layers, C_curr, C_curr, C, False, auxiliary, AuxiliaryHeadCIFAR, num_classes)
        self.global_pooling = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(C_prev, num_classes)

    def forward(self, input):
        """(logits, auxiliary logits or None: only in training mode with an auxiliary head)."""
        s = self.stem(input)
        s1, logits_aux = self._cells_forward(s, s)
        return self.classifier(self.global_pooling(s1).flatten(1)), logits_aux


class NetworkImageNet(_Network):
    def __init__(self, C, num_classes, layers, auxiliary, genotype):
        super().__init__()
        self.stem0 = nn.Sequential(
            nn.Conv2d(3, C // 2, kernel_size=3, stride=2, padding=1, bias=False),
            nn.BatchNorm2d(C // 2),
            nn.ReLU(inplace=True),
            nn.Conv2d(C // 2, C, 3, stride=2, padding=1, bias=False),
            nn.BatchNorm2d(C),
        )
        self.stem1 = nn.Sequential(
            nn.ReLU(inplace=True),
            nn.Conv2d(C, C, 3, stride=2, padding=1, bias=False),
            nn.BatchNorm2d(C),
        )
        C_prev = self._build_cells(genotype, layers, C, C, C, True, auxiliary, AuxiliaryHeadImageNet, num_classes)
        self.global_pooling = nn.AvgPool2d(7)
        self.classifier = nn.Linear(C_prev, num_classes)

    def forward(self, input):
        """224x224 input: the stems reduce 8x, the two reduction cells 4x more, to the 7x7 the pooling expects."""
        s0 = self.stem0(input)
        s1, logits_aux = self._cells_forward(s0, self.stem1(s0))
        return self.classifier(self.global_pooling(s1).flatten(1)), logits_aux


def count_parameters(model):
    """Weights without the auxiliary head, as the original code (and the paper's 3.3M) counts them."""
    return sum(p.numel() for name, p in model.named_parameters() if 'auxiliary' not in name)
