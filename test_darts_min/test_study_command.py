"""The study's one command (darts_min/study/command.py) at a toy budget on the digits: both phases, the second at the rates
the first tuned, the reports, study.json, and a rerun that runs nothing."""
import json
import os
import platform

import pytest
import torch
import torchvision

from conftest import ROOT
from darts_min.study import command

sklearn = pytest.importorskip('sklearn')
pytest.importorskip('submitit')

TOY = ['--subset', '2x2', '--seeds', '0', '--tune_seeds', '5', '--tune_rates', '2', '--random_cells', '2',
       '--epochs', '1', '--evaluate_epochs', '1', '--image_size', '8', '--init_channels', '4', '--layers', '3',
       '--eval_init_channels', '4', '--eval_layers', '3', '--hessian_every', '0', '--jobs_per_gpu', '2', '--no_plots',
       '--cluster', 'debug', '--device', 'cpu']


def outputs(save):
    """{metrics.jsonl path: its modification time} of every run of the study."""
    return {os.path.join(d, f): os.path.getmtime(os.path.join(d, f))
            for d, _, files in os.walk(save) for f in files if f == 'metrics.jsonl'}


@pytest.fixture(scope='module')
def studied(tmp_path_factory):
    save = str(tmp_path_factory.mktemp('study') / 'digits')
    with pytest.MonkeyPatch.context() as m:
        m.chdir(ROOT)
        m.setenv('OMP_NUM_THREADS', '1')
        assert command.main(['--save', save, *TOY]) == 0
        yield save


def test_the_first_order_grid_is_tuned_and_reported_with_the_random_baseline(studied):
    first = os.path.join(studied, 'first_order')
    tuned = json.load(open(os.path.join(first, 'tuning.json')))
    assert (tuned['rates'], tuned['seeds'], tuned['evaluate_epochs']) == (2, [5], 1)
    rates = tuned['chosen']['darts']
    assert sorted(rates['w']) == sorted(rates['arch']) == ['adam', 'momentum']
    text = open(os.path.join(first, 'report.md')).read()
    # the four pairs at their chosen rates, one seed each, and random search's row
    for w in ('momentum', 'adam'):
        for a in ('momentum', 'adam'):
            args = json.load(open(os.path.join(first, cell(w, rates['w'][w], a, rates['arch'][a]), 'args.json')))
            assert (args['learning_rate'], args['arch_learning_rate'], args['unrolled']) == (
                rates['w'][w], rates['arch'][a], False)
            assert (args['dataset'], args['image_size'], args['init_channels'], args['layers'], args['epochs']) == (
                'digits', 8, 4, 3, 1)
            assert row(w, rates['w'][w], a, rates['arch'][a]) in text
    assert '| random |' in text and '## Tuning of the rates' in text


def test_second_order_runs_at_the_rates_the_first_order_tuning_chose(studied):
    rates = json.load(open(os.path.join(studied, 'first_order', 'tuning.json')))['chosen']['darts']
    second = os.path.join(studied, 'second_order')
    names = sorted(d for d in os.listdir(second) if d.startswith('darts-') and not d.endswith('-eval'))
    assert names == sorted(cell(w, rates['w'][w], 'adam', rates['arch']['adam']) for w in ('adam', 'momentum'))
    for w in ('adam', 'momentum'):
        args = json.load(open(os.path.join(second, cell(w, rates['w'][w], 'adam', rates['arch']['adam']), 'args.json')))
        assert (args['learning_rate'], args['arch_learning_rate'], args['unrolled']) == (
            rates['w'][w], rates['arch']['adam'], True)
    text = open(os.path.join(second, 'report.md')).read()
    assert all(row(w, rates['w'][w], 'adam', rates['arch']['adam']) in text for w in ('adam', 'momentum'))
    assert '| random |' not in text


def test_study_json_records_versions_machine_and_wall_times_and_a_rerun_runs_nothing(studied, capsys):
    before = outputs(studied)
    # tuning, grid, second order (search + eval each); random: its 2 samples' evaluations, its choice and its evaluation
    assert len(before) == 7 * 2 + 4 * 2 + 2 * 2 + 4
    record = json.load(open(os.path.join(studied, 'study.json')))
    assert record['versions'] == {'python': platform.python_version(), 'torch': torch.__version__,
                                  'torchvision': torchvision.__version__, 'scikit-learn': sklearn.__version__}
    assert record['machine']['cpu_count'] == os.cpu_count() and record['command'][1:3] == ['--save', studied]
    assert set(record['wall_s']) == {'first_order', 'second_order', 'reports'}
    assert all(t > 0 for t in record['wall_s'].values())
    first_times = dict(record['wall_s'])
    capsys.readouterr()
    assert command.main(['--save', studied, *TOY]) == 0
    out = capsys.readouterr().out  # each phase: every cell finished, the tuning not run again
    assert out.count(' finished, 0 to run') == 2 and 'tuning: 7 cells' not in out
    assert outputs(studied) == before
    again = json.load(open(os.path.join(studied, 'study.json')))['wall_s']
    assert all(again[k] > first_times[k] for k in first_times)  # the rerun's (short) time added to each phase


@pytest.mark.smoke
def test_bad_input_is_one_line_and_exit_2(tmp_path, capsys):
    for argv in (['--save', str(tmp_path), '--subset', '3x3'], ['--save', str(tmp_path), '--w_optimizers', 'adam']):
        with pytest.raises(SystemExit) as e:
            command.main(argv)
        assert e.value.code == 2 and len(capsys.readouterr().err.strip().splitlines()) == 1


def test_help_lists_the_setting_with_its_reasons(capsys):
    with pytest.raises(SystemExit) as e:
        command.main(['--help'])
    out = capsys.readouterr().out
    assert e.value.code == 0 and '--evaluate_epochs' in out and '85-97 %' in out


def row(w, w_lr, a, a_lr):
    """A report's table row of darts with these optimizers at these rates (rates other than the default are named)."""
    return f'| darts | {w} {w_lr:g} | {a} {a_lr:g} |'


def cell(w, w_lr, a, a_lr):
    from darts_min.study.grid import point_name
    return point_name('darts', w, a, 0, w_lr, a_lr)
