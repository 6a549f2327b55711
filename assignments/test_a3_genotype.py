"""Grader of assignment 3: the genotype of section 2.4, against a cell worked out by hand and darts_min's own."""
import torch

from darts_min.genotypes import PRIMITIVES
from darts_min.model_search import parse_cell
from grading import check, fail, load, tiny_network

a3 = load('a3_genotype')
P = PRIMITIVES.index


def strongest_with_none(op_weights, steps):
    """The cell a derivation makes that ranks edges by their largest weight *counting* `none` (the misconception),
    each kept edge with its best op other than `none`."""
    none, cell, start = PRIMITIVES.index('none'), [], 0
    for n in range(steps):
        rows = op_weights[start:start + 2 + n]
        kept = sorted(range(len(rows)), key=lambda i: -max(rows[i]))[:2]
        cell += [(PRIMITIVES[max((k for k in range(len(rows[i])) if k != none), key=lambda k: (rows[i][k], -k))], i)
                 for i in kept]
        start += len(rows)
    return cell


def grade(op_weights, steps, where):
    """Fail with the misconception the student's cell shows on `op_weights`, if it differs from darts-min's."""
    got, expected = a3.derive_cell(op_weights, steps, PRIMITIVES), parse_cell(op_weights, steps)
    check(isinstance(got, list) and len(got) == 2 * steps and all(isinstance(p, tuple) and len(p) == 2 for p in got),
          f'{where}: return a list of 2 (op name, input) pairs per intermediate node, {2 * steps} in all')
    if got == expected:
        return
    if any(op == 'none' for op, _ in got):
        fail(f'{where}: an edge kept `none`: section 2.4 derives the cell from the ops other than the zero op')
    if got == strongest_with_none(op_weights, steps):
        fail(f"{where}: the edges were ranked by a strength that counts `none`'s weight: section 2.4 ranks an edge "
             'by its strongest op other than the zero op')
    nodes = lambda cell: [cell[2 * n:2 * n + 2] for n in range(steps)]
    if [op for op, _ in got] == [op for op, _ in expected]:
        fail(f'{where}: the ops are right but not the input indices: 0 and 1 are the cell\'s inputs c_(k-2), c_(k-1), '
             'and intermediate node n is 2 + n (docs/walkthrough.md, section 1, and its figure)')
    if [sorted(node) for node in nodes(got)] == [sorted(node) for node in nodes(expected)]:
        fail(f'{where}: the right edges, but within a node the stronger edge must come first (the docstring)')
    node = next(n for n, (a, b) in enumerate(zip(nodes(got), nodes(expected))) if a != b)
    fail(f'{where}: node x_{node + 2} keeps {nodes(got)[node]}, not its 2 strongest edges with their strongest ops '
         'other than `none` (section 2.4; ties: the lower index, as the docstring says)')


def test_a_cell_worked_out_by_hand():
    alpha = torch.zeros(14, 8)
    alpha[0, P('sep_conv_3x3')] = 2.0   # edge (0, 2)
    alpha[1, P('skip_connect')] = 1.0   # edge (1, 2)
    alpha[2, P('none')] = 4.0           # edge (0, 3): `none` is strongest here
    alpha[2, P('max_pool_3x3')] = 3.0
    alpha[3, P('dil_conv_5x5')] = 1.5   # edge (1, 3)
    alpha[4, P('sep_conv_5x5')] = 1.0   # edge (2, 3)
    alpha[12, P('avg_pool_3x3')] = 5.0  # edge (3, 5)
    alpha[13, P('dil_conv_3x3')] = 0.5  # edge (4, 5)
    grade(torch.softmax(alpha, dim=-1).tolist(), 4, 'the cell of docs/walkthrough.md, section 7 (and two edges more)')


def test_none_is_never_chosen_even_when_it_dominates_every_edge():
    alpha = torch.zeros(5, 8)
    alpha[:, P('none')] = 10.0
    alpha[3, P('sep_conv_3x3')] = 1.0
    grade(torch.softmax(alpha, dim=-1).tolist(), 2, '`none` strongest on every edge')


def test_it_agrees_with_darts_min_on_random_alphas():
    for seed in range(20):
        model = tiny_network(seed, torch.float32)
        torch.manual_seed(100 + seed)
        with torch.no_grad():
            for a in model.arch_parameters():
                a.normal_()
        genotype = model.genotype()
        for alpha, cell in zip(model.arch_parameters(), (genotype.normal, genotype.reduce)):
            weights = torch.softmax(alpha, dim=-1).tolist()
            assert cell == parse_cell(weights, 2)  # the grader's reference is the network's genotype()
            grade(weights, 2, f'random α (seed {seed})')
