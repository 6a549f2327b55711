"""The paper's baselines: random search (uniform, never `none`, valid cells) and the Table 1 comparison cells."""
import json
import os
from collections import Counter

import pytest
import torch

from conftest import chi2_999, chi_square
from darts_min import genotypes
from darts_min import evaluation as train_eval
from darts_min.study import grid, plan, random_search, report, sweep
from darts_min.model import NetworkCIFAR, count_parameters
from darts_min.model_nb201 import NB201Genotype

def test_darts_samples_are_uniform_over_ops_and_inputs_and_never_none():
    g = torch.Generator().manual_seed(0)
    samples = [random_search.sample_darts(g) for _ in range(1500)]
    ops = Counter(op for s in samples for op, _ in s.normal + s.reduce)
    assert 'none' not in ops and set(ops) == set(random_search.DARTS_OPS)
    assert chi_square(ops, random_search.DARTS_OPS) < chi2_999(random_search.DARTS_OPS)
    last_node = [s.normal[6:8] for s in samples]  # node 3: two distinct inputs among 0..4, each with p = 2/5
    assert all(a[1] != b[1] for a, b in last_node)
    inputs = Counter(j for genes in last_node for _, j in genes)
    assert chi_square(inputs, range(5)) < chi2_999(range(5))
    for s in samples[:20]:
        assert genotypes.from_dict(s.to_dict()) == s  # valid cells of the space


def test_nb201_samples_are_uniform_and_never_none():
    g = torch.Generator().manual_seed(1)
    ops = Counter(op for _ in range(1000) for node in random_search.sample_nb201(g).nodes for op, _ in node)
    assert 'none' not in ops and chi_square(ops, random_search.NB201_OPS) < chi2_999(random_search.NB201_OPS)


def test_sampled_cells_build_evaluation_networks():
    g = torch.Generator().manual_seed(2)
    for _ in range(3):
        net = NetworkCIFAR(4, 10, 3, False, random_search.sample_darts(g))
        assert net(torch.randn(2, 3, 16, 16))[0].shape == (2, 10)


def test_comparison_cells_parameter_counts():
    assert count_parameters(NetworkCIFAR(36, 10, 20, True, genotypes.NASNet)) == 3_830_950
    assert count_parameters(NetworkCIFAR(36, 10, 20, True, genotypes.AmoebaNet)) == 3_145_078
    for name in ('NASNet', 'AmoebaNet'):
        assert train_eval.load_genotype(train_eval.parse_args(['--arch', name])) is genotypes.GENOTYPES[name]


@pytest.mark.smoke
def test_random_search_writes_run_directories_and_picks_the_best_by_validation(tmp_path):
    first = str(tmp_path / 'plain')
    assert random_search.main(['--samples', '6', '--seed', '3', '--search_space', 'nb201', '--save', first]) == 0
    archs = [json.load(open(os.path.join(first, 'samples', str(k), 'genotype.json')))['arch'] for k in range(6)]
    assert all(NB201Genotype.from_string(a) for a in archs)
    table = tmp_path / 'table.csv'
    # validation accuracy peaks at sample 4, test accuracy at sample 0: the choice must follow validation
    rows = [f'{a},{90 - k},{50 + (10 if k == 4 else k)}' for k, a in enumerate(archs)]
    table.write_text('arch,cifar10,cifar10-valid\n' + '\n'.join(rows) + '\n')
    save = str(tmp_path / 'table')
    assert random_search.main(['--samples', '6', '--seed', '3', '--search_space', 'nb201',
                               '--nb201_table', str(table), '--save', save]) == 0
    line = json.loads(open(os.path.join(save, 'metrics.jsonl')).read())
    assert line['chosen_sample'] == 4 and line['genotype']['arch'] == archs[4]
    assert line['nb201_cifar10'] == 86 and line['nb201_cifar10-valid'] == 60
    assert [s['nb201_cifar10'] for s in line['samples']] == [90, 89, 88, 87, 86, 85]
    assert json.load(open(os.path.join(save, 'genotype.json')))['arch'] == archs[4]


def test_random_search_never_overwrites_a_run(tmp_path, capsys):
    from darts_min import cli
    save = str(tmp_path / 'r')
    assert random_search.main(['--samples', '2', '--save', save]) == 0
    before = open(os.path.join(save, 'metrics.jsonl')).read()
    with pytest.raises(SystemExit) as e:
        cli.run(lambda: random_search.main(['--samples', '3', '--save', save]))
    assert e.value.code == 2 and 'already holds a run' in capsys.readouterr().err
    assert open(os.path.join(save, 'metrics.jsonl')).read() == before


def test_report_leaves_out_a_broken_run_with_a_warning(tmp_path, capsys):
    assert random_search.main(['--samples', '2', '--seed', '0', '--save', str(tmp_path / 'random-seed0')]) == 0
    broken = tmp_path / 'broken'
    broken.mkdir()
    # a finished search (its one epoch logged) whose genotype is unreadable, and a torn last line
    (broken / 'args.json').write_text(json.dumps({'w_optimizer': 'sgd', 'arch_optimizer': 'adam', 'epochs': 1}))
    (broken / 'metrics.jsonl').write_text('{"epoch": 0, "genotype": {"normal": []}}\n{"epo')
    assert report.main([str(tmp_path), '--no_plots']) == 0
    assert 'leaving out broken: its genotype is unreadable' in capsys.readouterr().err
    assert '1 searches in 1 rows' in open(tmp_path / 'report.md').read()


def test_random_search_has_its_own_row_in_a_report(tmp_path):
    assert random_search.main(['--samples', '2', '--seed', '0', '--save', str(tmp_path / 'random-seed0')]) == 0
    assert report.main([str(tmp_path), '--no_plots']) == 0
    rows = [r for r in open(tmp_path / 'report.md').read().splitlines() if r.startswith('| random |')]
    assert len(rows) == 1 and rows[0].split(' | ')[1:4] == ['-', '-', '1/1']


def test_sweep_plans_one_random_cell_per_seed():
    args, passthrough, run_args, _ = sweep.parse(['--save', 'x', '--methods', 'darts', 'random', '--seeds', '0', '1',
                                            '--w_optimizers', 'sgd', 'adam', '--random_cells', '5', '--evaluate_epochs', '1',
                                            '--dataset', 'fake'])
    names = [c[0] for c in grid.points(args)]
    assert sorted(names) == ['darts-w_adam-a_adam-seed0', 'darts-w_adam-a_adam-seed1', 'darts-w_sgd-a_adam-seed0',
                             'darts-w_sgd-a_adam-seed1', 'random-seed0', 'random-seed1']
    todo = dict(plan.plan(args, passthrough, run_args))
    cell = os.path.join('x', 'random-seed1')
    chain = todo[cell]  # draw 5; train each by the proxy, as a search's cell; keep the best; evaluate it as every cell
    assert chain[0] == ['random', '--samples', '5', '--seed', '1', '--search_space', 'darts', '--evaluated', '--save', cell]
    trained = [(step[0], step[step.index('--genotype') + 1], step[step.index('--save') + 1], step[step.index('--seed') + 1],
                step[step.index('--epochs') + 1]) for step in chain[1:6]]
    assert trained == [('eval', os.path.join(cell, 'samples', k), os.path.join(cell, 'samples', k + '-eval'), '1', '1')
                       for k in '01234']
    assert chain[6] == ['random', '--choose', '--save', cell]
    assert chain[7][chain[7].index('--genotype') + 1:] == [cell, '--save', cell + '-eval'] and len(chain) == 8


def test_bad_random_search_arguments(capsys):
    from darts_min import cli
    for argv, message in [(['--samples', '0'], '--samples must be positive'),
                          (['--search_space', 'x'], "unknown search space 'x'"),
                          (['--nb201_table', 't.csv'], '--nb201_table goes with --search_space nb201'),
                          (['--choose'], '--choose needs --save'),
                          (['--choose', '--save', '/nonexistent/r'], "no random search's args.json at /nonexistent/r"),
                          (['--evaluated', '--search_space', 'nb201'], '--evaluated is for the darts space')]:
        with pytest.raises(SystemExit) as e:
            cli.run(lambda: random_search.main(argv))
        err = capsys.readouterr().err
        assert e.value.code == 2 and message in err and err.count('\n') == 1, err
