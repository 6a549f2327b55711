"""Grader of assignment 3: the genotype of section 2.4, against a cell worked out by hand and darts_min's own."""
import torch

from darts_min.genotypes import PRIMITIVES
from darts_min.model_search import parse_cell
from grading import load, tiny_network

a3 = load('a3_genotype')
P = PRIMITIVES.index


def test_a_cell_worked_out_by_hand():
    alpha = torch.zeros(14, 8)
    alpha[0, P('sep_conv_3x3')] = 2.0   # edge (0, 2)
    alpha[1, P('skip_connect')] = 1.0   # edge (1, 2)
    alpha[2, P('none')] = 4.0           # edge (0, 3): `none` is strongest but never chosen; max_pool is its best op
    alpha[2, P('max_pool_3x3')] = 3.0
    alpha[3, P('dil_conv_5x5')] = 1.5   # edge (1, 3)
    alpha[4, P('sep_conv_5x5')] = 1.0   # edge (2, 3)
    alpha[12, P('avg_pool_3x3')] = 5.0  # edge (3, 5)
    alpha[13, P('dil_conv_3x3')] = 0.5  # edge (4, 5)
    cell = a3.derive_cell(torch.softmax(alpha, dim=-1).tolist(), 4, PRIMITIVES)
    assert cell == [('sep_conv_3x3', 0), ('skip_connect', 1),      # node x_2: both of its edges
                    ('dil_conv_5x5', 1), ('sep_conv_5x5', 2),      # node x_3: 0.39 and 0.28 beat max_pool's 0.25
                    ('max_pool_3x3', 0), ('max_pool_3x3', 1),      # node x_4: all tied, the lowest op and edges
                    ('avg_pool_3x3', 3), ('dil_conv_3x3', 4)]      # node x_5


def test_none_is_never_chosen_even_when_it_dominates_every_edge():
    alpha = torch.zeros(5, 8)
    alpha[:, P('none')] = 10.0
    alpha[3, P('sep_conv_3x3')] = 1.0
    cell = a3.derive_cell(torch.softmax(alpha, dim=-1).tolist(), 2, PRIMITIVES)
    assert all(op != 'none' for op, _ in cell)
    assert cell[2] == ('sep_conv_3x3', 1)


def test_it_agrees_with_darts_min_on_random_alphas():
    for seed in range(20):
        model = tiny_network(seed, torch.float32)
        torch.manual_seed(100 + seed)
        with torch.no_grad():
            for a in model.arch_parameters():
                a.normal_()
        genotype = model.genotype()
        for alpha, expected in zip(model.arch_parameters(), (genotype.normal, genotype.reduce)):
            weights = torch.softmax(alpha, dim=-1).tolist()
            assert a3.derive_cell(weights, 2, PRIMITIVES) == expected == parse_cell(weights, 2)
