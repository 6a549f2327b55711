"""Whether the seed or the optimizer decides the cell: the share of the edges two genotypes have in common, for the
seeds of one row, for the rows of one seed, and for two cells drawn uniformly from the space (random_search's draw).

An edge is (cell, target node, input node, op): a DARTS genotype has 8 in each of its normal and reduction cells
(16), an NB201 cell 6. Two genotypes share |E_a & E_b| / |E_a| of them.
"""
import itertools
import statistics
from collections import Counter
from fractions import Fraction

from ..model_nb201 import NB201Genotype
from .random_search import DARTS_OPS, NB201_OPS


def edges(genotype):
    """The edges of a genotype dict (a DARTS genotype's or NB201's {'arch': string}), as a multiset."""
    if 'arch' in genotype:
        nodes = NB201Genotype.from_string(genotype['arch']).nodes
        return Counter(('cell', j, i, op) for j, node in enumerate(nodes, start=1) for op, i in node)
    # two genes a node, nodes 2, 3, ... after the cell's two inputs
    return Counter((cell, 2 + k // 2, i, op) for cell in ('normal', 'reduce') for k, (op, i) in enumerate(genotype[cell]))


def shared(a, b):
    """The share of genotype a's edges that genotype b holds too."""
    ea, eb = edges(a), edges(b)
    return sum((ea & eb).values()) / sum(ea.values())


def mean_shared(pairs):
    """The mean share over pairs of genotypes; None for no pair."""
    values = [shared(a, b) for a, b in pairs]
    return statistics.mean(values) if values else None


def seeds_agreement(genotypes):
    """The mean share over every pair of a row's genotypes (one a seed); None below two."""
    return mean_shared(itertools.combinations(genotypes, 2))


def same_seed_agreement(row, others):
    """The mean share between a row's genotype of each seed and every other row's of the same seed; rows are
    {seed: genotype}; None where no other row holds one of its seeds."""
    return mean_shared((g, other[seed]) for seed, g in row.items() for other in others if seed in other)


def random_agreement(space='darts', steps=4):
    """The expected share of two cells drawn by random_search, exactly. DARTS: an edge (op, input) of a node with m
    candidate inputs is in the other cell with probability (2 / m)(1 / ops), two distinct inputs and an op each
    drawn uniformly, so the share is the mean over the nodes; NB201: 1 / ops on each edge."""
    if space == 'nb201':
        return Fraction(1, len(NB201_OPS))
    return sum(Fraction(2, m) / len(DARTS_OPS) for m in range(2, 2 + steps)) / steps
