"""The study end to end: a 2 x 2 sweep on fake data through submitit's local executor, its report, a resume."""
import os

import pytest

from conftest import ROOT, TINY, run_script
from darts_min import report, sweep

GRID = ['--w_optimizers', 'sgd', 'momentum', '--arch_optimizers', 'adam', 'rmsprop', '--seeds', '0',
        '--cluster', 'local', *TINY, '--epochs', '1']


@pytest.fixture(scope='module')
def swept(tmp_path_factory):
    save = str(tmp_path_factory.mktemp('sweep') / 'grid')
    result = run_script('-m', 'darts_min.sweep', '--save', save, *GRID)
    assert result.returncode == 0, result.stdout + result.stderr
    assert '4 cells, 0 finished, 4 to run' in result.stdout
    return save


def test_sweep_runs_every_cell_in_its_own_directory(swept):
    cells = sorted(d for d in os.listdir(swept) if d.startswith('darts-'))
    assert cells == ['darts-w_momentum-a_adam-seed0', 'darts-w_momentum-a_rmsprop-seed0',
                     'darts-w_sgd-a_adam-seed0', 'darts-w_sgd-a_rmsprop-seed0']
    assert all(sweep.cell_status(os.path.join(swept, c)) == 'done' for c in cells)


def test_report_has_one_row_per_optimizer_pair_and_the_plots(swept):
    assert report.main([swept]) == 0
    text = open(os.path.join(swept, 'report.md')).read()
    rows = [line for line in text.splitlines() if line.startswith('| darts |')]
    assert [r.split(' | ')[1:3] for r in rows] == [['momentum', 'adam'], ['momentum', 'rmsprop'],
                                                  ['sgd', 'adam'], ['sgd', 'rmsprop']]
    assert all(r.split(' | ')[3] == '1' for r in rows)  # one seed each
    plots = os.listdir(os.path.join(swept, 'plots'))
    assert 'heatmap_darts.png' in plots and 'darts-w_sgd-a_adam-seed0_alphas.png' in plots
    assert '![heatmap_darts.png](plots/heatmap_darts.png)' in text


def test_a_resumed_sweep_runs_only_the_missing_cells(swept):
    import shutil
    kept = os.path.join(swept, 'darts-w_sgd-a_adam-seed0', 'metrics.jsonl')
    before = os.path.getmtime(kept)
    shutil.rmtree(os.path.join(swept, 'darts-w_momentum-a_rmsprop-seed0'))
    result = run_script('-m', 'darts_min.sweep', '--save', swept, *GRID)
    assert result.returncode == 0, result.stderr
    assert '4 cells, 3 finished, 1 to run' in result.stdout
    assert sweep.cell_status(os.path.join(swept, 'darts-w_momentum-a_rmsprop-seed0')) == 'done'
    assert os.path.getmtime(kept) == before


def test_cell_status_and_plan(tmp_path):
    import json
    cell = tmp_path / 'c'
    assert sweep.cell_status(str(cell)) == 'new'
    cell.mkdir()
    (cell / 'args.json').write_text(json.dumps({'epochs': 3}))
    (cell / 'metrics.jsonl').write_text('{"epoch": 0}\n{"epoch": 1}\n')
    assert sweep.cell_status(str(cell)) == 'started'
    (cell / 'metrics.jsonl').write_text('{"epoch": 0}\n{"epoch": 1}\n{"epoch": 2}\n')
    assert sweep.cell_status(str(cell)) == 'done'


def test_bad_sweep_arguments_are_one_line():
    for argv, message in [(['--w_optimizers', 'lion'], '--w_optimizers: unknown lion'),
                          (['--methods', 'nope'], '--methods: unknown nope'),
                          (['--seed', '3'], '--seed is set by the sweep for each cell'),
                          (['--learning_rate', '0'], '--learning_rate must be positive')]:
        result = run_script('-m', 'darts_min.sweep', '--save', os.path.join(ROOT, 'runs', 'never'), *argv)
        assert result.returncode == 2 and message in result.stderr and result.stderr.count('\n') == 1, result.stderr
    assert not os.path.exists(os.path.join(ROOT, 'runs', 'never'))


def test_sweep_cells_name_a_gradient_virtual_step():
    argv = ['--save', 'x', '--seeds', '0', '--w_optimizers', 'adam', '--dataset', 'fake', '--unrolled']
    for extra, name in [([], 'darts-w_adam-a_adam-seed0'),
                        (['--unrolled_step', 'gradient'], 'darts-w_adam-a_adam-unrolled_gradient-seed0')]:
        args, passthrough, space = sweep.parse(argv + extra)
        assert [c[0] for c in sweep.cells(args)] == [name]
        (path, cell), = sweep.plan(args, passthrough, space)
        assert path == os.path.join('x', name) and cell[:4 + len(extra)] == ['search', '--dataset', 'fake', '--unrolled', *extra]
