"""The study end to end: a 2 x 2 sweep on fake data through submitit's local executor, its report, a resume; the
learning-rate grids, the jobs of --jobs_per_gpu and their concurrency (on a stub, not on real searches)."""
import contextlib
import io
import json
import os
import shutil

import pytest
import torch

from conftest import ROOT, TINY, read_metrics
from darts_min import cli, optimizers
from darts_min.study import batched, grid, launch, plan, report, sweep

GRID = ['--w_optimizers', 'sgd', 'momentum', '--arch_optimizers', 'adam', 'rmsprop', '--seeds', '0',
        '--cluster', 'local', *TINY, '--fake_size', '16', '--image_size', '8', '--epochs', '1',
        '--evaluate_epochs', '1', '--eval_init_channels', '4', '--eval_layers', '3', '--eval_batch_size', '8']


@pytest.fixture(scope='module')
def swept(tmp_path_factory):
    """The sweep as a user runs it, through submitit's local executor (a job in a process of its own), two cells at
    once (each in a process of its own); its command line in this process (python -m darts_min.study.sweep runs in
    test_resume_after_kill.py)."""
    save, out = str(tmp_path_factory.mktemp('sweep') / 'grid'), io.StringIO()
    with pytest.MonkeyPatch.context() as m, contextlib.redirect_stdout(out):
        m.chdir(ROOT)  # the job's process imports this worktree's package from here
        m.setenv('OMP_NUM_THREADS', '1')
        assert sweep.main(['--save', save, *GRID, '--jobs_per_gpu', '2']) == 0
    assert '4 cells, 0 finished, 4 to run' in out.getvalue() and '2 cell(s) at once' in out.getvalue()
    return save


def test_sweep_runs_every_cell_in_its_own_directory(swept, capsys):
    cells = sorted(d for d in os.listdir(swept) if d.startswith('darts-') and not d.endswith('-eval'))
    assert cells == ['darts-w_momentum-a_adam-seed0', 'darts-w_momentum-a_rmsprop-seed0',
                     'darts-w_sgd-a_adam-seed0', 'darts-w_sgd-a_rmsprop-seed0']
    assert all(grid.run_status(os.path.join(swept, c)) == 'done' for c in cells)
    # each found cell trained from scratch beside its search: its genotype, 1 epoch, a held-out tenth judged
    for cell in cells:
        evaluation = os.path.join(swept, cell + '-eval')
        assert grid.run_status(evaluation) == 'done'
        assert json.load(open(os.path.join(evaluation, 'genotype.json'))) == json.load(
            open(os.path.join(swept, cell, 'genotype.json')))
        eval_args = json.load(open(os.path.join(evaluation, 'args.json')))
        assert (eval_args['kind'], eval_args['epochs'], eval_args['valid_portion'], eval_args['seed']) == ('eval', 1, 0.1, 0)
        assert (eval_args['init_channels'], eval_args['layers'], eval_args['fake_size']) == (4, 3, 16)
        [epoch] = read_metrics(evaluation)
        assert 0 <= epoch['valid_acc'] <= 100 and 0 <= epoch['test_acc'] <= 100
    args = json.load(open(os.path.join(swept, 'darts-w_sgd-a_rmsprop-seed0', 'args.json')))
    assert (args['learning_rate'], args['arch_learning_rate']) == (optimizers.default_lr('sgd', 'w'),
                                                                  optimizers.default_lr('rmsprop', 'arch'))


@pytest.mark.smoke
def test_report_has_one_row_per_optimizer_pair_and_the_plots(swept):
    assert report.main([swept]) == 0
    text = open(os.path.join(swept, 'report.md')).read()
    rows = [line for line in text.split('## The searches')[0].splitlines() if line.startswith('| darts |')]
    rate = lambda name, side: f'{name} {optimizers.default_lr(name, side):g}'
    assert [r.split(' | ')[1:3] for r in rows] == [[rate('momentum', 'w'), rate('adam', 'arch')],
                                                  [rate('momentum', 'w'), rate('rmsprop', 'arch')],
                                                  [rate('sgd', 'w'), rate('adam', 'arch')],
                                                  [rate('sgd', 'w'), rate('rmsprop', 'arch')]]
    assert all(r.split(' | ')[3:5] == ['1/1', '1'] for r in rows)  # one seed each, finished, its cell evaluated
    plots = os.listdir(os.path.join(swept, 'plots'))
    assert 'heatmap_darts.png' in plots and 'darts-w_sgd-a_adam-seed0_alphas.png' in plots
    assert '![heatmap_darts.png](plots/heatmap_darts.png)' in text


def test_a_resumed_sweep_runs_only_the_missing_cells(swept, capsys):
    kept = os.path.join(swept, 'darts-w_sgd-a_adam-seed0', 'metrics.jsonl')
    before = os.path.getmtime(kept)
    shutil.rmtree(os.path.join(swept, 'darts-w_momentum-a_rmsprop-seed0'))
    debug = GRID[:GRID.index('--cluster')] + ['--cluster', 'debug'] + GRID[GRID.index('--cluster') + 2:]
    assert sweep.main(['--save', swept, *debug]) == 0  # its job in this process (no job's process to start)
    assert '4 cells, 3 finished, 1 to run' in capsys.readouterr().out
    assert grid.run_status(os.path.join(swept, 'darts-w_momentum-a_rmsprop-seed0')) == 'done'
    assert os.path.getmtime(kept) == before


def test_cell_status(tmp_path):
    cell = tmp_path / 'c'
    assert grid.run_status(str(cell)) == 'new'
    cell.mkdir()
    (cell / 'args.json').write_text(json.dumps({'epochs': 3}))
    (cell / 'metrics.jsonl').write_text('{"epoch": 0}\n{"epoch": 1}\n')
    assert grid.run_status(str(cell)) == 'started'
    (cell / 'metrics.jsonl').write_text('{"epoch": 0}\n{"epoch": 1}\n{"epoch": 2}\n')
    assert grid.run_status(str(cell)) == 'done'
    (cell / 'status.json').write_text(json.dumps({'status': 'diverged', 'epoch': 1}))
    assert grid.run_status(str(cell)) == 'diverged'


@pytest.mark.parametrize('changed, message', [
    (['--epochs', '2'], 'seed0 was run with other flags: --epochs 1 (now 2); give the sweep'),
    (['--unrolled'], 'seed0 was run with other flags: --unrolled false (now true)'),
    (['--evaluate_epochs', '2'], 'seed0-eval was run with other flags: --epochs 1 (now 2)'),
    (['--eval_layers', '4'], '-eval was run with other flags: --layers 3 (now 4)'),
    (['--split_seed', '7'], 'seed0 was run with other flags: --split_seed 0 (now 7)'),
])
def test_a_sweep_under_other_flags_refuses_to_take_the_runs_there_as_its_own(swept, changed, message, capsys):
    """Nothing is run: the refusal comes before anything is submitted. With the same flags all is done (resumed test)."""
    argv = [*GRID, *changed]
    if changed[0] == '--evaluate_epochs':
        argv[argv.index('--evaluate_epochs') + 1] = changed[1]
        argv = argv[:-2]
    before = sorted(os.listdir(swept))
    with pytest.raises(cli.UserError) as e:
        sweep.main(['--save', swept, *argv])
    assert message in str(e.value) and '\n' not in str(e.value) and sorted(os.listdir(swept)) == before
    assert 'seeds' not in capsys.readouterr().out  # nothing planned, nothing printed


def test_a_rerun_with_the_same_flags_runs_nothing(swept, capsys):
    assert sweep.main(['--save', swept, *GRID]) == 0
    assert '4 cells, 4 finished, 0 to run' in capsys.readouterr().out


def test_a_diverged_search_is_not_run_again_nor_evaluated(tmp_path):
    args, passthrough, run_args, eval_flags = sweep.parse(['--save', str(tmp_path), '--seeds', '0', '1', '--dataset', 'fake',
                                                        '--evaluate_epochs', '2'])
    cells = grid.points(args)
    path = os.path.join(tmp_path, cells[0].name)
    os.makedirs(path)
    search, _ = plan.planned_args(args, passthrough, run_args, eval_flags, cells[0], path)  # what a real run writes
    json.dump({'kind': 'search', **search}, open(os.path.join(path, 'args.json'), 'w'))
    json.dump({'status': 'diverged', 'epoch': 0, 'num_classes': 10}, open(os.path.join(path, 'status.json'), 'w'))
    assert [p for p, _ in plan.plan(args, passthrough, run_args, eval_flags)] == [os.path.join(tmp_path, cells[1].name)]


def test_disjoint_validation_gives_the_searches_the_evaluations_holdout():
    base = ['--save', 'x', '--seeds', '4', '--dataset', 'fake', '--evaluate_epochs', '2', '--disjoint_validation']
    for extra, portion in (([], '0.1'), (['--eval_valid_portion', '0.25'], '0.25')):
        args, passthrough, run_args, eval_flags = sweep.parse(base + extra)
        [(_, [search, evaluation])] = plan.plan(args, passthrough, run_args, eval_flags)
        assert search[search.index('--holdout_portion') + 1] == portion
        after = lambda argv, flag: argv[len(argv) - 1 - argv[::-1].index(flag) + 1]  # the last value given wins
        assert (after(evaluation, '--valid_portion'), after(evaluation, '--split_seed'), after(search, '--split_seed')) == \
            (portion, '4', '4')
    args, passthrough, run_args, eval_flags = sweep.parse(base[:-1])
    [(_, [search, _])] = plan.plan(args, passthrough, run_args, eval_flags)
    assert '--holdout_portion' not in search


def test_learning_rate_grids_multiply_the_grid_and_name_their_cells():
    args, passthrough, run_args, _ = sweep.parse(['--save', 'x', '--w_optimizers', 'momentum', 'adam', '--arch_optimizers',
                                            'adam', 'sgd', '--w_learning_rates', 'adam=1e-3,3e-4',
                                            '--arch_learning_rates', 'sgd=0.5', '--seeds', '0', '--dataset', 'fake'])
    adam_w = optimizers.default_lr('adam', 'w')
    expected = {('momentum', 0.025, 'adam', 3e-4), ('momentum', 0.025, 'sgd', 0.5), ('adam', 1e-3, 'adam', 3e-4),
                ('adam', 1e-3, 'sgd', 0.5), ('adam', 3e-4, 'adam', 3e-4), ('adam', 3e-4, 'sgd', 0.5)}
    cells = grid.points(args)
    assert {(c.w_optimizer, c.w_lr, c.arch_optimizer, c.arch_lr) for c in cells} == expected and len(cells) == 6
    tag = lambda lr, default: '' if lr == default else f'_lr{lr!r}'  # a rate other than the default is in the name
    sgd_a = optimizers.default_lr('sgd', 'arch')
    assert {c.name for c in cells} == {
        f'darts-w_{w}{tag(w_lr, optimizers.default_lr(w, "w"))}-a_{a}{tag(a_lr, optimizers.default_lr(a, "arch"))}-seed0'
        for w, w_lr, a, a_lr in expected}
    assert 'darts-w_momentum-a_adam-seed0' in {c.name for c in cells}  # DARTS's pair keeps its name
    assert adam_w != 3e-4 and sgd_a != 0.5  # (so that the names below carry their rates)
    assert 'darts-w_adam_lr0.0003-a_sgd_lr0.5-seed0' in {c.name for c in cells}
    todo = dict(plan.plan(args, passthrough, run_args))
    [argv] = todo[os.path.join('x', 'darts-w_adam_lr0.0003-a_sgd_lr0.5-seed0')]
    from darts_min import search as train_search
    searched = train_search.parse_args(argv[1:])
    assert (searched.w_optimizer, searched.learning_rate, searched.learning_rate_min, searched.arch_learning_rate) == \
        ('adam', 3e-4, 3e-4 * 0.001 / 0.025, 0.5)


def test_bad_sweep_arguments_are_one_line(capsys):
    """Through sweep.parse, which checks every argument before sweep.main submits anything (so that a broken check
    cannot start a sweep here)."""
    never = os.path.join(ROOT, 'runs', 'never')
    for argv, message in [(['--w_optimizers', 'lion'], '--w_optimizers: unknown lion'),
                          (['--methods', 'nope'], '--methods: unknown nope'),
                          (['--seed', '3'], '--seed is set by the sweep for each cell'),
                          (['--epochs', '0'], '--epochs must be positive'),
                          (['--learning_rate', '0.1'], '--learning_rate is set by the sweep for each cell: give rates '
                                                       'per optimizer with --w_learning_rates'),
                          (['--arch_learning_rate=0.1'], 'with --arch_learning_rates'),
                          (['--w_learning_rates', 'momentum'], "'momentum' is not OPTIMIZER=RATE[,RATE...]"),
                          (['--w_learning_rates', 'adam=0.1'], "'adam' is not one of the sweep's w optimizers (momentum)"),
                          (['--w_learning_rates', 'momentum=0.1', 'momentum=0.2'], 'momentum is given twice'),
                          (['--w_learning_rates', 'momentum=fast'], 'a rate is not a number'),
                          (['--arch_learning_rates', 'adam=0'], 'adam: learning rates must be positive and finite, got 0.0'),
                          (['--arch_learning_rates', 'adam=1e-3,inf'], 'must be positive and finite, got inf'),
                          (['--w_learning_rates', 'momentum=0.1,1e-1'], 'momentum lists a rate twice'),
                          (['--w_learning_rates', 'momentum=0.01', '--learning_rate_min', '0.02'],
                           '--learning_rate_min 0.02 exceeds the initial w learning rate 0.01'),
                          (['--jobs_per_gpu', '0'], '--jobs_per_gpu must be positive, got 0'),
                          (['--holdout_portion', '0.1'], '--holdout_portion is set by the sweep for each cell; use '
                                                         '--disjoint_validation'),
                          (['--disjoint_validation'], '--disjoint_validation holds out the validation images of '
                                                      '--evaluate_epochs N'),
                          (['--disjoint_validation', '--evaluate_paper'], '(--evaluate_paper has none)'),
                          (['--split_seed', '-1'], '--split_seed must be in [0, 2**63)')]:
        with pytest.raises(SystemExit) as e:
            sweep.parse(['--save', never, '--dataset', 'fake', *argv])
        err = capsys.readouterr().err
        assert e.value.code == 2 and message in err and err.count('\n') == 1, (argv, err)
    assert not os.path.exists(never)


def test_jobs_put_at_most_k_cells_at_once_on_each_gpu():
    cells = [f'c{i}' for i in range(7)]
    on_gpus = launch.jobs([[c] for c in cells], gpus=2, per_gpu=3, slurm=False)  # one job per GPU, 3 cells at a time
    assert on_gpus == [(0, ['c0', 'c2', 'c4', 'c6']), (1, ['c1', 'c3', 'c5'])]
    assert launch.jobs([[c] for c in cells], gpus=0, per_gpu=3, slurm=False) == [(None, cells)]  # CPU: one job
    on_slurm = launch.jobs([[c] for c in cells], gpus=0, per_gpu=3, slurm=True)  # one GPU per job, 3 cells in each
    assert [gpu for gpu, _ in on_slurm] == [None] * 3 and [len(s) for _, s in on_slurm] == [3, 2, 2]
    assert sorted(c for _, share in on_slurm for c in share) == sorted(cells)
    assert launch.jobs([cells[:1]], gpus=4, per_gpu=1, slurm=False) == [(0, ['c0'])]  # no empty jobs
    # a unit (a batched search's seeds) counts as one cell and is never split between jobs
    assert launch.jobs([['a0', 'a1'], ['b0'], ['c0', 'c1']], gpus=0, per_gpu=2, slurm=True) == [
        (None, ['a0', 'a1', 'c0', 'c1']), (None, ['b0'])]


def test_k_cells_run_at_once_each_in_its_own_process(tmp_path):
    import cell_stub
    paths = [str(tmp_path / name) for name in ('a', 'b', 'c', 'exit3', 'kill')]
    codes = launch.Processes(cell_stub.record, at_once=2).run(paths)
    assert codes == [0, 0, 0, 3, -9]  # a failing or dying process fails only its own cell
    spans = [tuple(map(float, open(p).read().split()[:2])) for p in paths[:4]]
    assert all(int(open(p).read().split()[2]) == max(1, torch.get_num_threads() // 2) for p in paths[:4])  # its share
    at_once = [sum(s <= t < e for s, e in spans) for t, _ in spans]  # cells running when each one began
    assert max(at_once) == 2  # two ran together, never three


class FakeExecutor:
    """submitit.AutoExecutor's surface that sweep.main uses: records the jobs instead of running them."""
    jobs = []

    def __init__(self, folder, cluster):
        self.cluster, self.parameters = cluster, {}

    def update_parameters(self, **kwargs):
        self.parameters.update(kwargs)

    def submit(self, function, *args):
        FakeExecutor.jobs.append((dict(self.parameters), function, args))
        return self

    def map_array(self, function, *iterables):
        for args in zip(*iterables):
            self.submit(function, *args)
        return [self] * len(iterables[0])

    def result(self):
        return [0]


@pytest.mark.parametrize('cluster', ['local', 'slurm'])
def test_main_submits_k_cells_at_once_per_gpu_or_per_slurm_job(tmp_path, monkeypatch, capsys, cluster):
    import submitit
    import torch
    monkeypatch.setattr(submitit, 'AutoExecutor', FakeExecutor)
    monkeypatch.setattr(torch.cuda, 'device_count', lambda: 2)
    monkeypatch.setattr(FakeExecutor, 'jobs', [])
    assert sweep.main(['--save', str(tmp_path), '--w_optimizers', 'sgd', 'momentum', 'adam', '--seeds', '0', '1',
                       '--jobs_per_gpu', '2', '--cluster', cluster, '--dataset', 'fake', '--way', 'plain']) == 0
    paths = [path for _, _, (share,) in FakeExecutor.jobs for path in share]
    assert sorted(paths) == sorted(str(tmp_path / c.name) for c in grid.points(
        sweep.parse(['--save', str(tmp_path), '--w_optimizers', 'sgd', 'momentum', 'adam', '--seeds', '0', '1'])[0]))
    assert all(isinstance(function, launch.Job) and function.at_once == 2 for _, function, _ in FakeExecutor.jobs)
    if cluster == 'local':  # one job per GPU, its 3 cells 2 at a time
        assert [(p['visible_gpus'], len(share)) for p, _, (share,) in FakeExecutor.jobs] == [([0], 3), ([1], 3)]
    else:  # one GPU per job, 2 cells in each
        assert [(p['gpus_per_node'], len(share)) for p, _, (share,) in FakeExecutor.jobs] == [(1, 2)] * 3
    assert '2 cell(s) at once in each' in capsys.readouterr().out


def test_sweep_cells_name_a_gradient_virtual_step():
    argv = ['--save', 'x', '--seeds', '0', '--w_optimizers', 'adam', '--dataset', 'fake', '--unrolled']
    for extra, name in [([], 'darts-w_adam-a_adam-seed0'),
                        (['--unrolled_step', 'gradient'], 'darts-w_adam-a_adam-unrolled_gradient-seed0')]:
        args, passthrough, run_args, _ = sweep.parse(argv + extra)
        assert [c[0] for c in grid.points(args)] == [name]
        (path, [cell]), = plan.plan(args, passthrough, run_args)
        assert path == os.path.join('x', name) and cell[:4 + len(extra)] == ['search', '--dataset', 'fake', '--unrolled', *extra]


def test_evaluations_follow_their_searches_and_resume_like_them(tmp_path):
    argv = ['--save', str(tmp_path), '--seeds', '3', '--dataset', 'fake', '--fake_size', '64', '--evaluate_epochs', '5',
            '--eval_layers', '8']
    args, passthrough, run_args, eval_flags = sweep.parse(argv)
    path = str(tmp_path / 'darts-w_momentum-a_adam-seed3')
    proxy = ['--data', 'data', '--dataset', 'fake', '--fake_size', '64', '--image_size', '32', '--workers', '2',
             '--device', 'auto', '--split_seed', '3', '--epochs', '5', '--valid_portion', '0.1', '--layers', '8', '--seed',
             '3', '--genotype', path, '--save', path + '-eval']  # the split seed follows the seed
    [(_, chain)] = plan.plan(args, passthrough, run_args, eval_flags)
    assert [program for program, *_ in chain] == ['search', 'eval'] and chain[1][1:] == proxy  # new: search, then eval
    assert chain[0][chain[0].index('--split_seed') + 1] == '3'

    def write_run(folder, epochs, done):
        os.makedirs(folder, exist_ok=True)
        json.dump({'epochs': epochs}, open(os.path.join(folder, 'args.json'), 'w'))
        open(os.path.join(folder, 'metrics.jsonl'), 'w').writelines(f'{{"epoch": {e}}}\n' for e in range(done))

    write_run(path, 50, 50)  # the search is done: its evaluation alone
    assert plan.plan(args, passthrough, run_args, eval_flags) == [(path, [['eval', *proxy]])]
    write_run(path + '-eval', 5, 2)  # the evaluation was interrupted: resumed
    assert plan.plan(args, passthrough, run_args, eval_flags) == [(path, [['eval', '--resume', path + '-eval']])]
    write_run(path + '-eval', 5, 5)  # both done: nothing left
    assert plan.plan(args, passthrough, run_args, eval_flags) == []

    args, passthrough, run_args, eval_flags = sweep.parse([*argv[:-4], '--evaluate_paper'])
    shutil.rmtree(path + '-eval')
    [(_, [[program, *paper]])] = plan.plan(args, passthrough, run_args, eval_flags)
    assert paper[paper.index('--epochs'):paper.index('--seed')] == ['--epochs', '600', '--auxiliary', '--cutout',
                                                                    '--valid_portion', '0']


def test_a_cell_stops_at_its_first_failing_program(monkeypatch):
    ran = []
    monkeypatch.setattr(launch, 'program', lambda name: lambda argv: ran.append(name) or (3 if name == 'search' else 0))
    assert launch.run_chain([['search', '--x'], ['eval', '--y']]) == 3 and ran == ['search']  # no evaluation of a failed search
    ran.clear()
    monkeypatch.setattr(launch, 'program', lambda name: lambda argv: ran.append(name) or 0)
    assert launch.run_chain([['search', '--x'], ['eval', '--y']]) == 0 and ran == ['search', 'eval']


@pytest.mark.parametrize('argv, message', [
    (['--evaluate_epochs', '3', '--eval_epochs', '5'], '--eval_epochs is set by the sweep for each evaluation; use --evaluate_epochs'),
    (['--evaluate_epochs', '3', '--eval_genotype', 'g.json'], '--eval_genotype is set by the sweep for each evaluation'),
    (['--evaluate_epochs', '3', '--eval_layers', '0'], '--layers must be positive'),
    (['--evaluate_epochs', '3', '--eval_valid_portion', '1'], '--valid_portion must be in [0, 1)'),
    (['--evaluate_epochs', '-1'], '--evaluate_epochs must be positive, or 0'),
    (['--evaluate_epochs', '3', '--evaluate_paper'], '--evaluate_paper sets its own 600 epochs'),
    (['--evaluate_epochs', '3', '--search_space', 'nb201'], 'the nb201 space has its benchmark table instead'),
])
def test_bad_evaluation_arguments_are_one_line(argv, message, capsys):
    with pytest.raises(SystemExit) as e:
        sweep.parse(['--save', 'never', '--dataset', 'fake', *argv])
    err = capsys.readouterr().err
    assert e.value.code == 2 and message in err and err.count('\n') == 1, err


# ---- the batched way (--way batched, the default on a CPU): the seeds of a configuration as one batched search ----

BATCHED = ['--seeds', '0', '1', '--dataset', 'fake', '--fake_size', '16', '--image_size', '8', '--init_channels', '4',
           '--layers', '3', '--batch_size', '8', '--epochs', '2', '--workers', '0', '--data_on_device', '--device', 'cpu',
           '--grad_clip', '1', '--report_freq', '1', '--evaluate_epochs', '1', '--eval_init_channels', '4',
           '--eval_layers', '3', '--eval_batch_size', '8']


def test_on_a_cpu_the_seeds_of_a_configuration_search_as_one_unit_where_batched_runs_them(tmp_path):
    def unit_sizes(*extra):
        args, passthrough, run_args, eval_flags = sweep.parse(['--save', str(tmp_path), *BATCHED, *extra])
        return args.way, [len(u) for u in launch.units(plan.plan(args, passthrough, run_args, eval_flags), args.way)]
    assert unit_sizes() == ('batched', [2])
    assert unit_sizes('--way', 'plain') == ('plain', [1, 1])
    assert unit_sizes('--methods', 'darts', 'sdarts_adv', 'random', '--random_cells', '1') == (
        'batched', [2, 1, 1, 1, 1])  # SDARTS-ADV is not batched; random search is no search
    assert unit_sizes('--w_optimizers', 'momentum', 'adam', '--seeds', '3') == ('batched', [1, 1])


def test_a_batched_sweep_killed_mid_batch_resumes_and_gives_each_seed_the_plain_sweeps_run(tmp_path, monkeypatch):
    """Each seed's run directory as the plain way's (to test_batched.py's tolerance), its evaluation after the batch;
    a batch killed in its second epoch resumed by the same command, both seeds in one batch again."""
    from test_batched import Killed, assert_same_run
    plain, batch = tmp_path / 'plain', tmp_path / 'batched'
    args, passthrough, run_args, eval_flags = sweep.parse(['--save', str(plain), *BATCHED, '--way', 'plain'])
    for unit in launch.units(plan.plan(args, passthrough, run_args, eval_flags), args.way):
        assert launch.run_unit(unit) == 0
    args, passthrough, run_args, eval_flags = sweep.parse(['--save', str(batch), *BATCHED])
    [unit] = launch.units(plan.plan(args, passthrough, run_args, eval_flags), args.way)
    train_epoch = batched.train_epoch
    with monkeypatch.context() as m:
        m.setattr(batched, 'train_epoch', lambda b, epoch, *a: train_epoch(b, epoch, *a) if epoch == 0
                  else (_ for _ in ()).throw(Killed()))
        assert launch.run_unit(unit) == 1  # killed: the job's process died
    assert [grid.run_status(path) for path, _ in unit] == ['started', 'started']
    assert [chain[0][1] for _, chain in launch.units(plan.plan(args, passthrough, run_args, eval_flags), 'batched')[0]
            ] == ['--resume', '--resume']
    monkeypatch.chdir(ROOT)  # the job, in this process; its points' processes import this worktree's package from here
    monkeypatch.setenv('OMP_NUM_THREADS', '1')
    assert sweep.main(['--save', str(batch), *BATCHED, '--cluster', 'debug']) == 0
    for name in ('darts-w_momentum-a_adam-seed0', 'darts-w_momentum-a_adam-seed1'):
        assert_same_run(plain / name, batch / name)
        assert grid.run_status(str(batch / (name + '-eval'))) == 'done'
        assert json.load(open(batch / (name + '-eval') / 'genotype.json')) == json.load(open(batch / name / 'genotype.json'))
