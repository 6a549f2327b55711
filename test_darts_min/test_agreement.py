"""How far two cells agree: shares of edges counted by hand, and two random cells' expected share, exact against the
random search's own draw."""
import statistics
from fractions import Fraction

import pytest
import torch

from darts_min import genotypes
from darts_min.study import agreement, random_search

BASE = genotypes.to_dict(genotypes.DARTS_V2)


def changed(genotype, cell, edges, op='dil_conv_5x5'):  # an op DARTS_V2 has nowhere
    """The genotype with the op of the given edges (indices into its cell's genes) replaced by `op`."""
    out = {**genotype, cell: [list(gene) for gene in genotype[cell]]}
    for k in edges:
        out[cell][k][0] = op
    return out


def test_shares_count_edges_of_both_cells_with_op_input_and_node():
    assert agreement.shared(BASE, BASE) == 1
    assert agreement.shared(BASE, changed(BASE, 'normal', [0])) == 15 / 16
    assert agreement.shared(changed(BASE, 'reduce', [0, 1]), changed(BASE, 'normal', [4, 5, 6, 7])) == 10 / 16
    # the same (op, input) pairs at other nodes are other edges: node 4's sep_conv_3x3 from 1 and node 5's
    # dil_conv_3x3 from 2 swapped
    moved = {**BASE, 'normal': [list(g) for g in BASE['normal']]}
    moved['normal'][4], moved['normal'][7] = BASE['normal'][7], BASE['normal'][4]
    assert BASE['normal'][4] != BASE['normal'][7] and agreement.shared(BASE, moved) == 14 / 16
    # the order of a node's two edges carries no meaning
    swapped = {**BASE, 'normal': [BASE['normal'][1], BASE['normal'][0], *BASE['normal'][2:]]}
    assert agreement.shared(BASE, swapped) == 1
    # NB201: one op per edge of 6
    a, b = {'arch': '|skip_connect~0|+|none~0|nor_conv_1x1~1|+|skip_connect~0|none~1|avg_pool_3x3~2|'}, \
        {'arch': '|skip_connect~0|+|none~0|nor_conv_3x3~1|+|none~0|none~1|avg_pool_3x3~2|'}
    assert agreement.shared(a, b) == 4 / 6


def test_seeds_and_same_seed_agreement_are_means_over_pairs():
    one, four = changed(BASE, 'normal', [0]), changed(BASE, 'normal', [4, 5, 6, 7])
    assert agreement.seeds_agreement([BASE, BASE, one]) == pytest.approx((1 + 15 / 16 + 15 / 16) / 3)
    assert agreement.seeds_agreement([BASE]) is None
    row, others = {0: BASE, 1: one, 2: BASE}, [{0: four, 1: BASE}, {1: BASE}]
    # seed 0 with the first other row's seed 0 (12 of 16), seed 1 with both rows' seed 1 (15, 15); seed 2 with none
    assert agreement.same_seed_agreement(row, others) == pytest.approx((12 + 15 + 15) / 48)
    assert agreement.same_seed_agreement({5: BASE}, others) is None


def test_two_random_cells_share_an_exact_expected_share_that_the_random_search_draws():
    # DARTS, by hand: (1 / 7) x mean over the nodes of 2 / m, m = 2..5 inputs = (1/7)(1/4)(1 + 2/3 + 1/2 + 2/5) = 77 / 840
    assert agreement.random_agreement('darts') == Fraction(77, 840) and agreement.random_agreement('nb201') == Fraction(1, 4)
    g = torch.Generator().manual_seed(0)
    for space, draw, pairs in (('darts', random_search.sample_darts, 2000), ('nb201', random_search.sample_nb201, 1000)):
        shares = [agreement.shared(*(draw(g).to_dict() for _ in range(2))) for _ in range(pairs)]
        error = statistics.stdev(shares) / pairs ** 0.5
        assert abs(statistics.mean(shares) - agreement.random_agreement(space)) < 4 * error, space
