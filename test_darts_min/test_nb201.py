"""The NAS-Bench-201 search space: shapes, op set, the arch string, the true-accuracy table, every method."""
import pytest
import torch

from conftest import TINY, batch, read_metrics
from darts_min import dynamics
from darts_min import search as train_search
from darts_min.study.results import short
from darts_min.genotypes import GenotypeError
from darts_min.model_nb201 import EDGES, NB201_PRIMITIVES, NB201Genotype, NB201Network

NB201 = [a for a in TINY if a not in ('--layers', '3')] + ['--search_space', 'nb201', '--layers', '1']
ARCH = '|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|'


@pytest.mark.smoke
def test_cell_has_four_nodes_six_edges_and_the_five_ops():
    assert NB201_PRIMITIVES == ['none', 'skip_connect', 'nor_conv_1x1', 'nor_conv_3x3', 'avg_pool_3x3']
    assert EDGES == [(0, 1), (0, 2), (1, 2), (0, 3), (1, 3), (2, 3)]
    net = NB201Network(16, 10, 5, torch.nn.CrossEntropyLoss())
    assert [tuple(a.shape) for a in net.arch_parameters()] == [(6, 5)]
    assert sum(type(c).__name__ == 'NB201Cell' for c in net.cells) == 15  # 5 cells per stage
    assert [type(c).__name__ for c in net.cells].count('ResNetBasicBlock') == 2
    assert net.classifier.in_features == 64  # 16 -> 32 -> 64 channels
    x, _ = batch(n=2, size=32)
    assert net(x).shape == (2, 10)


def test_arch_string_round_trip_and_derivation():
    g = NB201Genotype.from_string(ARCH)
    assert str(g) == ARCH and g.to_dict() == {'arch': ARCH}
    assert dynamics.skip_counts(g) == {'skip_normal': 2}
    for bad in ('|nor_conv_3x3~0|', '|conv~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|none~0|none~1|none~2|',
                '|none~0|+|none~1|none~0|+|none~0|none~1|none~2|'):
        with pytest.raises(GenotypeError):
            NB201Genotype.from_string(bad)
    net = NB201Network(4, 10, 1, torch.nn.CrossEntropyLoss())
    with torch.no_grad():
        net.alphas_normal.zero_()
        net.alphas_normal[:, NB201_PRIMITIVES.index('none')] = 1.0  # none wins where it is strongest
        net.alphas_normal[5, NB201_PRIMITIVES.index('nor_conv_3x3')] = 2.0
    assert str(net.genotype()) == '|none~0|+|none~0|none~1|+|none~0|none~1|nor_conv_3x3~2|'
    with torch.no_grad():  # the largest alpha wins even where float32 softmax rounds the two weights to a tie
        net.alphas_normal.zero_()
        net.alphas_normal[:, NB201_PRIMITIVES.index('nor_conv_3x3')] = 1e-8
    assert str(net.genotype()) == '|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|'


def test_search_logs_the_true_accuracies_from_a_table(tmp_path):
    table = tmp_path / 'nb201.csv'
    save = str(tmp_path / 'nb')
    assert train_search.main(NB201 + ['--epochs', '1', '--save', str(tmp_path / 'probe')]) == 0
    found = read_metrics(str(tmp_path / 'probe'))[0]['genotype']['arch']
    table.write_text(f'arch,cifar10,cifar100,ImageNet16-120\n{found},93.5,70.25,44.0\n{ARCH},90,60,30\n')
    assert train_search.main(NB201 + ['--epochs', '1', '--nb201_table', str(table), '--save', save]) == 0
    m = read_metrics(save)[0]
    assert m['genotype']['arch'] == found
    assert (m['nb201_cifar10'], m['nb201_cifar100'], m['nb201_ImageNet16-120']) == (93.5, 70.25, 44.0)
    assert m['op_weights_normal'] and 'op_weights_reduce' not in m and m['skip_normal'] == found.count('skip_connect')
    assert short(m['genotype']) == found


@pytest.mark.parametrize('method, unrolled', [('darts', True), ('sdarts_adv', False), ('darts_minus', True),
                                              ('beta_darts', False), ('sdarts_rs', False)])
def test_every_method_runs_in_the_nb201_space(tmp_path, method, unrolled):
    argv = NB201 + ['--epochs', '1', '--method', method, '--save', str(tmp_path / method)]
    assert train_search.main(argv + (['--unrolled'] if unrolled else [])) == 0
    assert NB201Genotype.from_string(read_metrics(str(tmp_path / method))[0]['genotype']['arch'])


def test_bad_nb201_arguments(tmp_path, capsys):
    from darts_min import cli
    bad = tmp_path / 'bad.csv'
    bad.write_text('arch,cifar10\n|none~0|,high\n')
    for argv, message in [(['--nb201_table', str(bad)], 'line 2: expected 2 columns, the accuracies as numbers'),
                          (['--nb201_table', str(tmp_path / 'none.csv')], 'No such file'),
                          (['--search_space', 'nb301'], "unknown search space 'nb301'"),
                          (['--nb201_table', str(tmp_path / 'NAS-Bench-201.pth')], 'pip install nas-bench-201'),
                          (['--checkpoint_cells'], '--checkpoint_cells is for the darts space')]:
        with pytest.raises(SystemExit) as e:
            cli.run(lambda: train_search.main(NB201 + argv))
        err = capsys.readouterr().err
        assert e.value.code == 2 and message in err and err.count('\n') == 1, err
