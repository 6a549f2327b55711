"""Rates tuned at equal budget (darts_min/study/tuning.py) and the random baseline's best of N (random_search.py):
hand-made run directories with literal accuracies, one tiny real tuned sweep, and the refusals."""
import json
import os

import pytest

from conftest import ROOT, TINY
from darts_min import cli
from darts_min.study import plan, random_search, report, sweep, tuning
from darts_min.study.grid import points, run_status
from darts_min.study.results import Key
from darts_min.study.stats import reference_of

GENOTYPE = {'normal': [['sep_conv_3x3', 0], ['skip_connect', 1], ['sep_conv_3x3', 0], ['max_pool_3x3', 1],
                       ['sep_conv_3x3', 0], ['dil_conv_3x3', 2], ['avg_pool_3x3', 0], ['skip_connect', 3]],
            'normal_concat': [2, 3, 4, 5], 'reduce': [['max_pool_3x3', 0], ['max_pool_3x3', 1], ['skip_connect', 2],
                                                      ['max_pool_3x3', 0], ['max_pool_3x3', 0], ['skip_connect', 2],
                                                      ['skip_connect', 2], ['avg_pool_3x3', 0]], 'reduce_concat': [2, 3, 4, 5]}


def write_run(folder, records, genotype=GENOTYPE):
    """A 1-epoch run directory (finished where `records` holds its epoch): args.json, metrics.jsonl, genotype.json."""
    os.makedirs(folder, exist_ok=True)
    json.dump({'epochs': 1}, open(os.path.join(folder, 'args.json'), 'w'))
    json.dump(genotype, open(os.path.join(folder, 'genotype.json'), 'w'))
    open(os.path.join(folder, 'metrics.jsonl'), 'w').writelines(json.dumps({'epoch': e, **r}) + '\n' for e, r in enumerate(records))


def test_the_rate_grid_is_logarithmic_around_the_default():
    assert tuning.rate_grid(0.025, 3, 3.0) == [0.00833, 0.025, 0.075]
    assert tuning.rate_grid(3e-4, 4, 2.0) == [1.5e-4, 3e-4, 6e-4, 1.2e-3]  # an even K: one more above
    assert tuning.rate_grid(2e-3, 2, 3.0) == [2e-3, 6e-3]


def test_the_pick_takes_the_best_mean_and_breaks_ties_towards_the_default():
    assert tuning.pick({0.5: [71, 70], 1.0: [70, 70], 2.0: [70, 70]}, 1.0) == 0.5  # 70.5 beats 70
    assert tuning.pick({0.5: [60, 70], 1.0: [65, 65], 2.0: [70, 60]}, 1.0) == 1.0  # all 65: the default
    assert tuning.pick({0.25: [70], 1.0: [60], 2.0: [70]}, 1.0) == 2.0  # a tie: the nearer the default
    assert tuning.pick({0.5: [70, 70], 1.0: [60, 60], 2.0: [70, 70]}, 1.0) == 0.5  # as near: the smaller
    assert tuning.pick({0.5: [80, None], 1.0: [59, 59], 2.0: [60, 58]}, 1.0) == 1.0  # a failed seed loses


TUNED = ['--seeds', '0', '--tune_rates', '3', '--tune_seeds', '7', '8', '--w_optimizers', 'adam', '--arch_optimizers', 'sgd',
         '--evaluate_epochs', '1', '--dataset', 'fake', '--epochs', '1']


def recording(submitted, code):
    """A stand-in for sweep.submit: notes the paths of the cells it would run, returns `code`."""
    def submit(args, passthrough, run_args, eval_flags, grid):
        submitted.append([path for path, _ in plan.plan(args, passthrough, run_args, eval_flags, grid)])
        return code
    return submit


@pytest.mark.smoke
def test_tuning_chooses_what_hand_made_evaluations_say_and_keeps_its_choice(tmp_path, monkeypatch, capsys):
    args, passthrough, run_args, eval_flags = sweep.parse(['--save', str(tmp_path), *TUNED])
    # w: adam at 6.67e-4, 2e-3, 6e-3 with alpha by adam at 3e-4; alpha: sgd at 0.01, 0.03, 0.09 with w by momentum at 0.025
    accuracies = {'darts-w_adam_lr0.000667-a_adam': (50, 52), 'darts-w_adam-a_adam': (55, 47),
                  'darts-w_adam_lr0.006-a_adam': (60, None), 'darts-w_momentum-a_sgd_lr0.01': (40, 40),
                  'darts-w_momentum-a_sgd': (41, 41), 'darts-w_momentum-a_sgd_lr0.09': (45, 44)}
    assert sorted(c.name for c in tuning.tuning_points(args)) == sorted(
        f'tuning/{name}-seed{s}' for name in accuracies for s in (7, 8))
    for name, values in accuracies.items():
        for seed, value in zip((7, 8), values):
            path = tmp_path / 'tuning' / f'{name}-seed{seed}'
            write_run(path, [{}] if value is not None else [])  # None: the search diverged in its first epoch
            if value is not None:
                write_run(f'{path}-eval', [{'valid_acc': value}])
    submitted = []  # the diverged cell is tried again, and fails again
    monkeypatch.setattr(sweep, 'submit', recording(submitted, 1))
    grid = sweep.tune(args, passthrough, run_args, eval_flags)
    assert submitted == [[str(tmp_path / 'tuning' / 'darts-w_adam_lr0.006-a_adam-seed8')]]
    # adam on w: 51 at 6.67e-4 and at 2e-3 (a tie: the default), 6e-3 finished on one seed only; sgd on alpha: 44.5 at 0.09
    assert [c.name for c in grid] == ['darts-w_adam-a_sgd_lr0.09-seed0']
    tuned = json.load(open(tmp_path / 'tuning.json'))
    assert tuned['chosen'] == {'darts': {'w': {'adam': 2e-3}, 'arch': {'sgd': 0.09}}}
    assert {(r['optimizer'], r['rate']): r['valid_acc'] for r in tuned['results']}[('adam', 6e-3)] == {'7': 60, '8': None}
    assert 'tuning: darts: w adam 0.002; arch sgd 0.09' in capsys.readouterr().out
    # resumed after its first phase: the choice is read, never recomputed, even where the evaluations say otherwise now
    write_run(tmp_path / 'tuning' / 'darts-w_momentum-a_sgd-seed7-eval', [{'valid_acc': 99}])
    monkeypatch.setattr(sweep, 'submit', lambda *_: pytest.fail('no tuning cell is run again'))
    assert [c.name for c in sweep.tune(args, passthrough, run_args, eval_flags)] == ['darts-w_adam-a_sgd_lr0.09-seed0']
    lines = tuning.report_lines(str(tmp_path))
    assert '| darts | w | adam | **0.002** | 55.00 | 47.00 | 51.00 (2/2) |' in lines
    assert '| darts | w | adam | 0.006 | 60.00 | – | 60.00 (1/2) |' in lines
    assert '| darts | α | sgd | **0.09** | 45.00 | 44.00 | 44.50 (2/2) |' in lines
    # another tuning's settings on the same --save: refused in one line
    other, *rest = sweep.parse(['--save', str(tmp_path), *TUNED, '--tune_factor', '2'])
    with pytest.raises(cli.UserError, match='was tuned with --tune_factor 3.0: give the same, or another --save'):
        sweep.tune(other, *rest)
    other, *rest = sweep.parse(['--save', str(tmp_path), *TUNED, '--arch_optimizers', 'sgd', 'rmsprop'])
    with pytest.raises(cli.UserError, match=r'has no rate for rmsprop \(arch, darts\)'):
        sweep.tune(other, *rest)


def test_a_tuned_sweep_runs_in_two_phases_and_resumes_after_the_first(tmp_path, monkeypatch, capsys):
    """A tiny real tuned sweep (2 rates, one tuning seed, DARTS's pair): 3 tuning cells, then the grid's one."""
    monkeypatch.chdir(ROOT)
    monkeypatch.setenv('OMP_NUM_THREADS', '1')
    argv = ['--save', str(tmp_path), '--seeds', '0', '--tune_rates', '2', '--tune_seeds', '5', '--cluster', 'debug', *TINY,
            '--fake_size', '16', '--epochs', '1', '--evaluate_epochs', '1', '--eval_init_channels', '4', '--eval_layers',
            '3', '--eval_batch_size', '8']
    assert sweep.main(argv) == 0
    out = capsys.readouterr().out
    assert 'tuning: 3 cells, 0 finished, 3 to run' in out and '1 cells, 0 finished, 1 to run' in out
    assert sorted(os.listdir(tmp_path / 'tuning')) == sorted(
        n + e for n in ('darts-w_momentum-a_adam-seed5', 'darts-w_momentum_lr0.075-a_adam-seed5',
                        'darts-w_momentum-a_adam_lr0.0009-seed5') for e in ('', '-eval'))
    chosen = json.load(open(tmp_path / 'tuning.json'))['chosen']['darts']
    grid = f'darts-w_momentum{tuning_suffix(chosen["w"]["momentum"], 0.025)}-a_adam{tuning_suffix(chosen["arch"]["adam"], 3e-4)}-seed0'
    assert run_status(str(tmp_path / grid)) == run_status(str(tmp_path / (grid + '-eval'))) == 'done'
    # killed in its second phase: the same command runs the grid's cell alone, and no tuning cell again
    before = os.path.getmtime(tmp_path / 'tuning.json')
    os.remove(tmp_path / grid / 'metrics.jsonl')
    submitted = []
    monkeypatch.setattr(sweep, 'submit', recording(submitted, 0))
    assert sweep.main(argv) == 0
    assert submitted == [[str(tmp_path / grid)]] and os.path.getmtime(tmp_path / 'tuning.json') == before


def tuning_suffix(rate, default):
    return '' if rate == default else f'_lr{rate!r}'


@pytest.mark.parametrize('argv, message', [
    (['--tune_seeds', '0', '5'], "--tune_seeds and --seeds share 0: tune on other seeds than the study's"),
    (['--tune_seeds'], 'expected at least one argument'),
    (['--tune_rates', '1'], '--tune_rates must be at least 2'),
    (['--tune_rates', '-3'], '--tune_rates must be at least 2'),
    (['--tune_rates', 'x'], "invalid int value: 'x'"),
    (['--tune_factor', '1'], '--tune_factor must be above 1 and finite, got 1.0'),
    (['--tune_factor', 'inf'], '--tune_factor must be above 1 and finite, got inf'),
    (['--tune_seeds', '5', '5'], '--tune_seeds lists a seed twice'),
    (['--evaluate_epochs', '0'], '--tune_rates judges each rate by its evaluated cell: give --evaluate_epochs N'),
    (['--w_learning_rates', 'momentum=0.1'], '--tune_rates chooses the rates: drop --w_learning_rates'),
    (['--methods', 'random'], '--tune_rates needs a search method in --methods'),
    (['--learning_rate_min', '0.01'], '--learning_rate_min 0.01 exceeds the initial w learning rate 0.00833'),
])
def test_bad_tuning_arguments_are_one_line(argv, message, capsys):
    base = ['--save', 'never', '--dataset', 'fake', '--seeds', '0', '--tune_rates', '3', '--tune_seeds', '5',
            '--evaluate_epochs', '1']
    with pytest.raises(SystemExit) as e:
        sweep.parse([*base, *argv])
    err = capsys.readouterr().err
    assert e.value.code == 2 and message in err and err.count('\n') == 1, err


@pytest.mark.parametrize('argv, message', [
    (['--tune_seeds', '5'], '--tune_seeds and --tune_factor go with --tune_rates K'),
    (['--tune_factor', '2'], '--tune_seeds and --tune_factor go with --tune_rates K'),
    (['--methods', 'random', '--random_cells', '0', '--evaluate_epochs', '1'], '--random_cells must be positive, got 0'),
    (['--methods', 'random'], '--methods random trains its --random_cells candidates by the proxy to choose one'),
    (['--methods', 'random', '--evaluate_paper'], '--methods random trains its --random_cells candidates'),
    (['--methods', 'random', '--search_space', 'nb201'], 'give --nb201_table'),
])
def test_bad_sweep_arguments_without_tuning_are_one_line(argv, message, capsys):
    with pytest.raises(SystemExit) as e:
        sweep.parse(['--save', 'never', '--dataset', 'fake', '--seeds', '0', *argv])
    err = capsys.readouterr().err
    assert e.value.code == 2 and message in err and err.count('\n') == 1, err


def test_random_search_keeps_the_best_of_n_by_validation(tmp_path):
    save = tmp_path / 'random-seed0'
    assert random_search.main(['--samples', '4', '--seed', '0', '--evaluated', '--save', str(save)]) == 0
    assert run_status(str(save)) == 'started'  # drawn, not chosen yet
    samples = [json.load(open(save / 'samples' / str(k) / 'genotype.json')) for k in range(4)]
    for k, (valid, test) in enumerate([(50.0, 90.0), (62.5, 40.0), (62.5, 41.0), (40.0, 99.0)]):
        write_run(save / 'samples' / f'{k}-eval', [{'valid_acc': valid, 'test_acc': test}], samples[k])
    assert random_search.main(['--choose', '--save', str(save)]) == 0
    assert run_status(str(save)) == 'done'
    # 62.5 twice: the lower sample; never sample 3 (test 99)
    assert json.load(open(save / 'genotype.json')) == samples[1]
    [record] = [json.loads(line) for line in open(save / 'metrics.jsonl')]
    assert record['chosen_sample'] == 1 and [s['valid_acc'] for s in record['samples']] == [50.0, 62.5, 62.5, 40.0]
    # mean 53.75; deviations -3.75, 8.75, 8.75, -13.75: std sqrt(356.25 / 3) = 10.897
    assert report.main([str(tmp_path), '--no_plots']) == 0
    assert '| random-seed0 | 4 | 1 | 62.50 | 53.75 ± 10.90 | 40.00 | 62.50 |' in open(tmp_path / 'report.md').read()


def test_random_search_waits_for_every_sample(tmp_path, capsys):
    save = tmp_path / 'r'
    assert random_search.main(['--samples', '2', '--seed', '0', '--evaluated', '--save', str(save)]) == 0
    write_run(save / 'samples' / '0-eval', [{'valid_acc': 50.0}])
    with pytest.raises(SystemExit) as e:
        cli.run(lambda: random_search.main(['--choose', '--save', str(save)]))
    err = capsys.readouterr().err
    assert e.value.code == 2 and 'the evaluation of sample 1' in err and err.count('\n') == 1


def test_nb201_random_search_refuses_a_table_without_a_validation_column(tmp_path, capsys):
    table = tmp_path / 'test_only.csv'
    table.write_text('arch,cifar10\n|none~0|+|none~0|none~1|+|none~0|none~1|none~2|,10.0\n')
    with pytest.raises(SystemExit) as e:
        cli.run(lambda: random_search.main(['--samples', '2', '--search_space', 'nb201', '--nb201_table', str(table),
                                            '--save', str(tmp_path / 'r')]))
    err = capsys.readouterr().err
    assert e.value.code == 2 and 'has no validation column' in err and err.count('\n') == 1, err
    assert not os.path.exists(tmp_path / 'r')
    with pytest.raises(SystemExit) as e:  # and a sweep refuses it before it starts
        sweep.parse(['--save', 'never', '--methods', 'random', '--search_space', 'nb201', '--nb201_table', str(table),
                     '--dataset', 'fake'])
    err = capsys.readouterr().err
    assert e.value.code == 2 and 'has no validation column' in err and err.count('\n') == 1, err


def test_the_full_grids_tuning_cost_in_the_docs():
    """docs/study.md: the full grid (6 w and 5 alpha optimizers, 4 methods) with K = 3 and 2 tuning seeds adds 256
    searches to its 360: per method (6 + 5) x 3 - 1 trials (DARTS's pair at its defaults is a trial of both sides)."""
    args, *_ = sweep.parse(['--save', 'never', '--dataset', 'fake', '--methods', 'darts', 'sdarts_rs', 'darts_minus',
                            'beta_darts', '--w_optimizers', 'sgd', 'momentum', 'nesterov', 'rmsprop', 'adam', 'adamw',
                            '--arch_optimizers', 'sgd', 'momentum', 'rmsprop', 'adam', 'adamw', '--seeds', '0', '1', '2',
                            '--tune_rates', '3', '--tune_seeds', '100', '101', '--evaluate_epochs', '20'])
    assert len(tuning.tuning_points(args)) == 256 and len(points(args)) == 360


def test_a_sweeps_random_cell_trains_its_samples_and_keeps_the_best(tmp_path, monkeypatch):
    """A tiny real random-search cell: 2 samples trained by the proxy, the best kept and then evaluated."""
    monkeypatch.chdir(ROOT)
    monkeypatch.setenv('OMP_NUM_THREADS', '1')
    assert sweep.main(['--save', str(tmp_path), '--methods', 'random', '--random_cells', '2', '--seeds', '0',
                       '--cluster', 'debug', *TINY, '--fake_size', '16', '--evaluate_epochs', '1',
                       '--eval_init_channels', '4', '--eval_layers', '3', '--eval_batch_size', '8']) == 0
    cell = tmp_path / 'random-seed0'
    [record] = [json.loads(line) for line in open(cell / 'metrics.jsonl')]
    values = [json.loads(open(cell / 'samples' / f'{k}-eval' / 'metrics.jsonl').readline())['valid_acc'] for k in (0, 1)]
    assert [s['valid_acc'] for s in record['samples']] == values
    best = 1 if values[1] > values[0] else 0
    assert record['chosen_sample'] == best
    assert json.load(open(cell / 'genotype.json')) == json.load(open(cell / 'samples' / str(best) / 'genotype.json'))
    assert json.load(open(tmp_path / 'random-seed0-eval' / 'genotype.json')) == json.load(open(cell / 'genotype.json'))


def test_a_tuned_sweeps_rows_are_compared_with_darts_pair_at_its_chosen_rates():
    key = lambda w, w_lr, a, a_lr, method='darts': Key(method, w, w_lr, a, a_lr, ())
    tuned, adam = key('momentum', 0.075, 'adam', 3e-4), key('adam', 6e-3, 'adam', 3e-4)
    rows = {tuned: [], adam: [], key('-', None, '-', None, 'random'): []}
    assert reference_of(adam, rows) == tuned and reference_of(key('-', None, '-', None, 'random'), rows) == tuned
    default = key('momentum', 0.025, 'adam', 3e-4)  # a grid of rates holding the defaults: those
    assert reference_of(adam, {**rows, default: []}) == default
    assert reference_of(adam, {**rows, key('momentum', 0.01, 'adam', 3e-4): []}) is None  # two, neither default
