"""The evaluation networks: parameter counts of the paper, shapes, auxiliary head, drop path, genotype JSON."""
import json
import re

import pytest
import torch

from darts_min import genotypes
from darts_min.model import Cell, NetworkCIFAR, NetworkImageNet, count_parameters, drop_path


@pytest.mark.smoke
def test_darts_v2_parameter_counts_match_the_original():
    assert count_parameters(NetworkCIFAR(36, 10, 20, True, genotypes.DARTS_V2)) == 3_349_342  # the paper's 3.3M
    assert count_parameters(NetworkCIFAR(36, 10, 20, False, genotypes.DARTS_V2)) == 3_349_342
    assert count_parameters(NetworkImageNet(48, 1000, 14, True, genotypes.DARTS_V2)) == 4_718_752  # 4.7M


def test_cifar_forward_with_and_without_auxiliary_head():
    x = torch.randn(2, 3, 32, 32)
    with_aux = NetworkCIFAR(8, 10, 5, True, genotypes.DARTS_V2)
    logits, aux = with_aux(x)
    assert logits.shape == aux.shape == (2, 10)
    with_aux.eval()
    logits, aux = with_aux(x)
    assert logits.shape == (2, 10) and aux is None  # the head only serves the training loss
    plain = NetworkCIFAR(8, 10, 5, False, genotypes.DARTS_V1)
    assert plain(x)[1] is None and not hasattr(plain, 'auxiliary_head')
    assert [i for i, c in enumerate(plain.cells) if c.reduction] == [1, 3]


def test_imagenet_forward_shapes():
    net = NetworkImageNet(8, 7, 3, True, genotypes.DARTS_V2)
    logits, aux = net(torch.randn(2, 3, 224, 224))
    assert logits.shape == aux.shape == (2, 7)


def test_drop_path_zeroes_whole_samples_at_the_rate_and_rescales_the_rest():
    torch.manual_seed(0)
    x = torch.ones(20000, 3, 2, 2)
    y = drop_path(x, 0.3)
    per_sample = y.flatten(1)
    dropped = (per_sample == 0).all(dim=1)
    kept = torch.isclose(per_sample, torch.tensor(1 / 0.7)).all(dim=1)
    assert (dropped | kept).all()  # a sample is either wholly dropped or wholly kept
    assert dropped.float().mean().item() == pytest.approx(0.3, abs=0.015)
    assert y.mean().item() == pytest.approx(1.0, abs=0.03)  # the expectation is unchanged


def test_cell_applies_drop_path_only_in_training_and_never_to_identity():
    torch.manual_seed(0)
    skip_only = genotypes.Genotype(normal=[('skip_connect', 0), ('skip_connect', 1)] * 4, normal_concat=[2, 3, 4, 5],
                                   reduce=[('max_pool_3x3', 0)] * 8, reduce_concat=[2, 3, 4, 5])
    cell = Cell(skip_only, 4, 4, 4, reduction=False, reduction_prev=False)
    s0, s1 = torch.randn(8, 4, 6, 6), torch.randn(8, 4, 6, 6)
    cell.train()
    assert torch.equal(cell(s0, s1, 0.9), cell(s0, s1, 0.0))  # only identities: nothing to drop
    conv = genotypes.Genotype(normal=[('sep_conv_3x3', 0), ('sep_conv_3x3', 1)] * 4, normal_concat=[2, 3, 4, 5],
                              reduce=skip_only.reduce, reduce_concat=[2, 3, 4, 5])
    cell = Cell(conv, 4, 4, 4, reduction=False, reduction_prev=False)
    assert not torch.equal(cell(s0, s1, 0.5), cell(s0, s1, 0.0))
    cell.eval()
    assert torch.equal(cell(s0, s1, 0.5), cell(s0, s1, 0.0))


def test_genotype_round_trips_through_json(tmp_path):
    path = tmp_path / 'genotype.json'
    for g in genotypes.GENOTYPES.values():
        path.write_text(json.dumps(genotypes.to_dict(g)))
        assert genotypes.load(path) == genotypes.from_dict(genotypes.to_dict(g))
        assert [tuple(x) for x in genotypes.load(path).normal] == list(g.normal)


@pytest.mark.parametrize('text, message', [
    ('{', 'is not a readable genotype file'),
    ('[1, 2]', 'must be a JSON object'),
    ('{"normal": []}', 'lacks normal_concat, reduce, reduce_concat'),
    ('{"normal": [["conv_9x9", 0], ["skip_connect", 1]], "normal_concat": [2], '
     '"reduce": [["skip_connect", 0], ["skip_connect", 1]], "reduce_concat": [2]}', "unknown op 'conv_9x9'"),
    ('{"normal": [[["sep_conv_3x3"], 0], ["skip_connect", 1]], "normal_concat": [2], '
     '"reduce": [["skip_connect", 0], ["skip_connect", 1]], "reduce_concat": [2]}', "unknown op ['sep_conv_3x3']"),
    ('{"normal": [["skip_connect", 2], ["skip_connect", 1]], "normal_concat": [2], '
     '"reduce": [["skip_connect", 0], ["skip_connect", 1]], "reduce_concat": [2]}', 'input 2 must be an int in [0, 2)'),
    ('{"normal": [["skip_connect", 0], ["skip_connect", 1]], "normal_concat": [7], '
     '"reduce": [["skip_connect", 0], ["skip_connect", 1]], "reduce_concat": [2]}', "'normal_concat' must be"),
])
def test_malformed_genotypes_are_refused_with_the_reason(tmp_path, text, message):
    path = tmp_path / 'genotype.json'
    path.write_text(text)
    with pytest.raises(genotypes.GenotypeError, match=re.escape(message)):
        genotypes.load(path)
