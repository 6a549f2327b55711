"""Reliable on a cluster: one decision per run under torchrun; sweep jobs that a signal stops are requeued and resume
their cells; one sweep at a time on a sweep directory."""
import os
import re
import signal
import subprocess
import sys
import time
from types import SimpleNamespace

import pytest
import torch

from conftest import ROOT, TINY, checkpoints_equal, read_metrics, run_script, threads
from darts_min import cli, runs
from darts_min import search as train_search
from darts_min.study import launch, plan, sweep

EVAL = ['--dataset', 'fake', '--device', 'cpu', '--init_channels', '4', '--layers', '3', '--batch_size', '8',
        '--fake_size', '16', '--workers', '0', '--report_freq', '1', '--epochs', '1']
TORCHRUN = ['-m', 'torch.distributed.run', '--standalone', '--nproc_per_node', '2']


def torchrun(*starts):
    """train_eval.py started with each argument list in turn in the same two torchrun processes (rank_stub.py: one
    that begins with --hold FLAG_FILE holds rank 1 back until rank 0 has written args.json); the result and
    {rank: its exit codes}."""
    argv = [token for start in starts for token in ('--then', *start)][1:]
    result = run_script(*TORCHRUN, os.path.join('test_darts_min', 'rank_stub.py'), *argv, timeout=120)
    return result, dict(re.findall(r'^rank (\d) exit codes (.*)$', result.stdout, flags=re.M))


def test_only_rank_0_decides_whether_a_directory_holds_a_run(tmp_path):
    """Rank 1 comes to the directory after rank 0 has written args.json (rank_stub.py): it joins the run rank 0
    began, on a new run and on --resume; a third start on the directory is refused once, by rank 0, for both."""
    save, flag = str(tmp_path / 'run'), str(tmp_path / 'rank0-wrote-args')
    result, codes = torchrun(['--hold', flag + '1', *EVAL, '--save', save], ['--hold', flag + '2', '--resume', save],
                             [*EVAL, '--save', save])
    assert result.returncode == 0 and codes == {'0': '[0, 0, 2]', '1': '[0, 0, 2]'}, result.stderr[-3000:]
    log = open(os.path.join(save, 'log.txt')).read()
    assert log.count('2 process(es) on cpu') == 1 and log.count(f'resumed {save} at epoch 1') == 1
    assert log.count('weights identical on 2 ranks') == 2
    assert result.stderr.count(f'train_eval.py: error: {save} already holds a run: continue it with --resume') == 1


def test_two_processes_start_on_a_new_directory_every_time(tmp_path):
    saves = [str(tmp_path / f'run{k}') for k in range(3)]
    result, codes = torchrun(*(EVAL + ['--save', save] for save in saves))
    assert result.returncode == 0 and codes == {'0': '[0, 0, 0]', '1': '[0, 0, 0]'}, result.stderr[-3000:]
    for save in saves:
        assert 'weights identical on 2 ranks' in open(os.path.join(save, 'log.txt')).read()


def children(pid):
    with open(f'/proc/{pid}/task/{pid}/children') as f:
        return [int(p) for p in f.read().split()]


def wait_for(path, limit=600):
    for _ in range(limit * 100):
        if os.path.exists(path):
            return
        time.sleep(0.01)
    raise AssertionError(f'{path} never appeared')


def test_a_signalled_sweep_job_is_requeued_and_its_cell_ends_as_if_never_stopped(tmp_path, monkeypatch):
    """submitit's local executor: the job's process gets the preemption signal (SIGUSR2, as SLURM sends it) once the
    first cell has written its first checkpoint; the job stops its cell and is requeued, and the requeued job resumes
    that cell and runs the second: both end once, the first exactly as the same search run without a stop."""
    import submitit
    monkeypatch.setenv('OMP_NUM_THREADS', '1')
    save = str(tmp_path / 'sweep')
    args, passthrough, run_args, eval_flags = sweep.parse(['--save', save, '--w_optimizers', 'sgd', 'momentum', '--seeds',
                                                        '0', *TINY, '--fake_size', '16', '--epochs', '4'])
    (first, chain), (second, _) = plan.plan(args, passthrough, run_args, eval_flags)
    executor = submitit.LocalExecutor(folder=str(tmp_path / 'submitit'))
    executor.update_parameters(timeout_min=30)  # no time-limit signal of the executor's own
    job = executor.submit(launch.Job((args, passthrough, run_args, eval_flags), 1), [first, second])
    wait_for(os.path.join(first, 'checkpoint.pt'))
    [task] = children(job._process.pid)  # the executor's controller runs the job's process
    os.kill(task, signal.SIGUSR2)
    assert job.result() == [0, 0]
    assert 'Requeued job' in job.stdout(), job.stdout() + job.stderr()

    logs = [open(os.path.join(path, 'log.txt')).read() for path in (first, second)]
    assert [log.count('done: final genotype') for log in logs] == [1, 1]  # each cell ended once
    assert re.search(rf'resumed {first} at epoch [123]\n', logs[0]) and 'resumed' not in logs[1]
    alone = str(tmp_path / 'alone')
    [[_, *argv]] = chain
    with threads(1):  # as the cell ran
        assert train_search.main(argv[:argv.index('--save')] + ['--save', alone]) == 0
    for path in (first, second):
        assert [m['epoch'] for m in read_metrics(path)] == [0, 1, 2, 3]
    keys = ('train_loss', 'train_acc', 'valid_loss', 'valid_acc', 'genotype', 'op_weights_normal', 'op_weights_reduce')
    assert [[m[k] for k in keys] for m in read_metrics(first)] == [[m[k] for k in keys] for m in read_metrics(alone)]
    load = lambda path: torch.load(os.path.join(path, 'checkpoint.pt'), weights_only=True)  # noqa: E731
    assert checkpoints_equal(load(first), load(alone))


class OneJob:
    """submitit.AutoExecutor's surface that sweep.main uses, its one job's result() calling `while_running`."""
    while_running = None

    def __init__(self, folder, cluster):
        self.cluster = cluster

    def update_parameters(self, **kwargs):
        pass

    def submit(self, function, paths):
        return self

    def result(self):
        OneJob.while_running()
        return [0]


# tiny, in case a broken lock lets a second sweep run
GRID = ['--w_optimizers', 'sgd', '--seeds', '0', '--cluster', 'local', *TINY, '--fake_size', '16', '--epochs', '1']


def test_a_second_sweep_on_a_directory_in_use_is_refused_in_one_line(tmp_path, monkeypatch):
    import submitit
    save = str(tmp_path / 'sweep')
    monkeypatch.setattr(submitit, 'AutoExecutor', OneJob)
    seen = []
    monkeypatch.setattr(OneJob, 'while_running', lambda: seen.append(run_script('-m', 'darts_min.study.sweep', '--save',
                                                                                 save, *GRID)))
    assert sweep.main(['--save', save, *GRID]) == 0  # the second sweep starts while the first waits for its job
    [second] = seen
    assert second.returncode == 2 and second.stdout == ''
    assert second.stderr == (f'python -m darts_min.study.sweep: error: {save} is in use by another sweep (its driver is '
                             'still running): wait for it to end, or stop it first\n')
    monkeypatch.setattr(OneJob, 'while_running', lambda: None)
    assert sweep.main(['--save', save, *GRID]) == 0  # the first one ended: its lock with it


def test_a_killed_sweep_leaves_no_lock_behind(tmp_path, monkeypatch):
    """The lock of a process that dies by SIGKILL, as a sweep's driver may: the kernel releases it."""
    import submitit
    save = str(tmp_path / 'sweep')
    os.makedirs(save)
    holder = subprocess.Popen([sys.executable, '-c', 'import sys, time; from darts_min import runs; '
                               'held = runs.lock(sys.argv[1], "in use"); print("held", flush=True); time.sleep(600)',
                               save], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline() == 'held\n'
        with pytest.raises(cli.UserError, match='is in use by another sweep'):
            sweep.main(['--save', save, *GRID])
    finally:
        holder.kill()
        holder.wait()
    monkeypatch.setattr(submitit, 'AutoExecutor', OneJob)
    monkeypatch.setattr(OneJob, 'while_running', lambda: None)
    assert sweep.main(['--save', save, *GRID]) == 0


def test_two_processes_never_run_in_one_run_directory(tmp_path):
    """A cell still run by a job of a sweep whose driver is gone, started again by a new sweep: refused, not doubled."""
    save = str(tmp_path / 'run')
    argv = [*TINY, '--fake_size', '16', '--epochs', '1']
    assert train_search.main(argv + ['--save', save]) == 0
    args = train_search.parse_args(['--resume', save])
    with runs.Run(save, 'search') as run:
        run.begin(args, torch.device('cpu'))
        with pytest.raises(cli.UserError, match=f'^{save} is in use: another process runs there'):
            train_search.main(['--resume', save])
    assert train_search.main(['--resume', save]) == 0  # the run closed: its lock with it



def test_a_requeued_job_does_not_run_again_the_cells_that_ended(tmp_path, monkeypatch):
    """Failed ones included: the codes of the cells that ended go with the requeued job (its checkpoint)."""
    failed, stopped = str(tmp_path / 'failed'), str(tmp_path / 'stopped')
    todo = [(failed, [['search', '--epochs', '0']]), (stopped, [['search', '--epochs', '0']])]
    monkeypatch.setattr(launch, 'plan', lambda *planning: todo)
    job = launch.Job((SimpleNamespace(way='plain'),), 1)  # the sweep's arguments: only --way is read here
    monkeypatch.setattr(launch.Processes, 'run', lambda self, units, ended: ended(units[0], 2))  # the second: stopped
    assert job([failed, stopped]) == [2, 0]
    requeued = job.checkpoint([failed, stopped])
    ran = []
    monkeypatch.setattr(launch.Processes, 'run',
                        lambda self, units, ended: ran.extend(path for unit in units for path, _ in unit))
    assert requeued.result() == [2, 0] and ran == [stopped]


def test_the_search_refuses_to_run_under_torchrun(tmp_path, monkeypatch):
    monkeypatch.setenv('WORLD_SIZE', '2')  # as torchrun sets it: every process would write the same run directory
    with pytest.raises(cli.UserError, match='start train_search.py with python, not torchrun'):
        train_search.main([*TINY, '--save', str(tmp_path / 'run')])
    assert not os.path.exists(tmp_path / 'run')
