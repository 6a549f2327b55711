"""The search space and supernet: ops, cells, parameter counts, Eq. 2, genotype derivation."""
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from conftest import batch, tiny_network
from darts_min import genotypes, operations
from darts_min.model_search import MixedOp, Network, parse_cell


def test_primitives_are_the_papers_eight_in_order():
    assert genotypes.PRIMITIVES == ['none', 'max_pool_3x3', 'avg_pool_3x3', 'skip_connect',
                                    'sep_conv_3x3', 'sep_conv_5x5', 'dil_conv_3x3', 'dil_conv_5x5']


@pytest.mark.parametrize('name', genotypes.PRIMITIVES)
@pytest.mark.parametrize('stride', [1, 2])
def test_every_op_keeps_channels_and_divides_resolution_by_stride(name, stride):
    op = operations.OPS[name](6, stride, False)
    assert op(torch.randn(2, 6, 8, 8)).shape == (2, 6, 8 // stride, 8 // stride)


def test_op_structure_follows_the_paper():
    sep = operations.OPS['sep_conv_3x3'](4, 1, False).op
    assert [type(m).__name__ for m in sep] == ['ReLU', 'Conv2d', 'Conv2d', 'BatchNorm2d'] * 2
    assert sep[1].groups == 4 and sep[2].kernel_size == (1, 1) and not sep[3].affine
    dil = operations.OPS['dil_conv_5x5'](4, 2, False).op
    assert [type(m).__name__ for m in dil] == ['ReLU', 'Conv2d', 'Conv2d', 'BatchNorm2d']
    assert dil[1].dilation == (2, 2) and dil[1].stride == (2, 2) and dil[1].padding == (4, 4)
    assert isinstance(operations.OPS['skip_connect'](4, 2, False), operations.FactorizedReduce)
    assert isinstance(operations.OPS['skip_connect'](4, 1, False), operations.Identity)


@pytest.mark.smoke
def test_default_search_network_has_the_original_parameter_count():
    model = Network(16, 10, 8, nn.CrossEntropyLoss())
    assert sum(p.numel() for p in model.parameters()) == 1_930_618
    assert [tuple(a.shape) for a in model.arch_parameters()] == [(14, 8), (14, 8)]
    assert all(a.requires_grad and a.is_leaf for a in model.arch_parameters())
    assert not any(p is a for p in model.parameters() for a in model.arch_parameters())


def test_network_layout_stem_cells_and_batchnorm():
    model = Network(16, 10, 8, nn.CrossEntropyLoss())
    assert model.stem[0].out_channels == 48
    assert [i for i, c in enumerate(model.cells) if c.reduction] == [8 // 3, 2 * 8 // 3]
    assert all(len(c._ops) == 14 for c in model.cells)
    bns = [m for name, m in model.named_modules() if isinstance(m, nn.BatchNorm2d) and not name.startswith('stem')]
    assert bns and not any(bn.affine for bn in bns)
    pooled = model.cells[0]._ops[0]._ops[genotypes.PRIMITIVES.index('max_pool_3x3')]
    assert isinstance(pooled[1], nn.BatchNorm2d)  # a BN after pooling in the mixed op
    assert isinstance(model.cells[3].preprocess0, operations.FactorizedReduce)  # after a reduction cell


def test_state_dict_names_match_the_original_code():
    keys = Network(4, 10, 3, nn.CrossEntropyLoss()).state_dict().keys()
    for k in ['stem.0.weight', 'cells.0.preprocess0.op.1.weight', 'cells.0._ops.0._ops.4.op.1.weight',
              'cells.1._ops.0._ops.3.conv_1.weight', 'cells.1.preprocess1.op.1.weight', 'classifier.weight']:
        assert k in keys


def test_init_is_deterministic_and_alphas_are_small():
    a, b = tiny_network(seed=5), tiny_network(seed=5)
    for x, y in zip(a.state_dict().values(), b.state_dict().values()):
        assert torch.equal(x, y)
    assert torch.equal(a.alphas_normal, b.alphas_normal)
    assert 1e-4 < a.alphas_normal.abs().max() < 1e-2


def test_mixed_op_is_the_softmax_weighted_sum_of_all_ops():
    torch.manual_seed(0)
    op = MixedOp(4, 1)
    x = torch.randn(2, 4, 8, 8)
    w = F.softmax(torch.randn(8), dim=-1)
    expected = sum(wi * o(x) for wi, o in zip(w, op._ops))  # DARTS Eq. 2 with the `none` term included
    assert torch.equal(op(x, w), expected)


def test_forward_shapes_and_devices_move_with_alphas():
    model = tiny_network()
    x, _ = batch()
    assert model(x).shape == (4, 10)
    model.double()
    assert model.alphas_normal.dtype == torch.float64 and model(x.double()).dtype == torch.float64


def test_genotype_on_hand_set_alphas():
    model = tiny_network()
    P = genotypes.PRIMITIVES.index
    with torch.no_grad():
        for a in model.arch_parameters():
            a.zero_()
        a = model.alphas_normal
        a[:, P('none')] = 10.0  # `none` is never chosen, however strong
        # node 0 (edges 0, 1): sep_conv_3x3 from input 1 beats skip from input 0
        a[0, P('skip_connect')], a[1, P('sep_conv_3x3')] = 2.0, 3.0
        # node 1 (edges 2-4): dil_conv_5x5 from node 0 (edge 4) and max_pool from input 0 (edge 2)
        a[2, P('max_pool_3x3')], a[3, P('avg_pool_3x3')], a[4, P('dil_conv_5x5')] = 2.0, 1.0, 4.0
        model.alphas_reduce[:, P('skip_connect')] = 1.0
    g = model.genotype()
    assert g.normal[:4] == [('sep_conv_3x3', 1), ('skip_connect', 0), ('dil_conv_5x5', 2), ('max_pool_3x3', 0)]
    # ties go to the lower index, as in the original: first non-none op, first edges
    assert g.normal[4:] == [('max_pool_3x3', 0), ('max_pool_3x3', 1), ('max_pool_3x3', 0), ('max_pool_3x3', 1)]
    assert g.reduce == [('skip_connect', 0), ('skip_connect', 1)] * 4
    assert g.normal_concat == g.reduce_concat == [2, 3, 4, 5]


def test_parse_cell_ranks_edges_by_their_best_non_none_weight():
    rows = [[0.9, 0.1, 0, 0, 0, 0, 0, 0], [0.0, 0, 0, 0, 0, 0, 0.3, 0], [0.0, 0, 0.2, 0, 0, 0, 0, 0]]
    assert parse_cell(rows[:2] + rows, 2) == [('dil_conv_3x3', 1), ('max_pool_3x3', 0),
                                              ('dil_conv_3x3', 1), ('avg_pool_3x3', 2)]
