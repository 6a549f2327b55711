"""Killed by SIGKILL while its DataLoader workers live on, a search or a sweep resumes at once: the run directory's lock
is its process's alone, never its forked workers'. And the report of a sweep directory holding unreadable files."""
import contextlib
import json
import os
import signal
import subprocess
import sys
import time

import torch

from conftest import ROOT, TINY, checkpoints_equal, read_metrics, run_script
from darts_min import genotypes
from darts_min.study import plan, report, sweep

SEARCH = [*TINY, '--fake_size', '48', '--epochs', '2', '--seed', '7', '--workers', '2']  # its data read by 2 workers
SWEEP = ['--w_optimizers', 'momentum', '--arch_optimizers', 'adam', '--seeds', '7', '--cluster', 'debug', *TINY,
         '--fake_size', '16', '--epochs', '2']  # one cell


def start(*argv):
    """A root script or module in a process of its own, 1 thread, in a session (a process group) of its own."""
    env = {**os.environ, 'OMP_NUM_THREADS': '1', 'MKL_NUM_THREADS': '1'}
    return subprocess.Popen([sys.executable, *argv], cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)


def uninterrupted(argv, save):
    result = run_script('train_search.py', *argv, '--save', save)
    assert result.returncode == 0, result.stderr[-2000:]
    return save


def when_checkpointed(process, run_dir):
    """Wait until the run at `run_dir` has saved its first epoch's checkpoint (after its first metrics row)."""
    deadline = time.monotonic() + 300
    while not os.path.exists(os.path.join(run_dir, 'checkpoint.pt')):
        assert process.poll() is None and time.monotonic() < deadline, f'{run_dir} saved no checkpoint'
        time.sleep(0.005)


def stop_workers(search):
    """Once the search process runs DataLoader workers, stop them (SIGSTOP: they outlive the search for the whole test,
    not only the up to 5 s a worker takes to notice its parent is gone, as one stuck in a read may); their pids."""
    while True:
        assert search.poll() is None, 'the search ended before it could be killed'
        with open(f'/proc/{search.pid}/task/{search.pid}/children') as f:
            workers = [int(pid) for pid in f.read().split()]
        stopped = []
        for worker in workers:
            try:
                os.kill(worker, signal.SIGSTOP)
                stopped.append(worker)
            except ProcessLookupError:  # its loader ended just now
                pass
        if stopped:
            return stopped
        time.sleep(0.005)


def without_time(record):
    return {k: v for k, v in record.items() if k != 'seconds'}


def assert_ends_as_never_stopped(path, alone):
    assert without_time(read_metrics(path)[-1]) == without_time(read_metrics(alone)[-1])
    load = lambda run: torch.load(os.path.join(run, 'checkpoint.pt'), weights_only=True)  # noqa: E731
    assert checkpoints_equal(load(path), load(alone))


def test_a_search_killed_while_its_workers_live_resumes_at_once(tmp_path):
    """SIGKILL after its first epoch, while it has DataLoader workers, which inherited the open .lock: --resume at once
    starts, and the run ends as one never stopped."""
    alone, save = uninterrupted(SEARCH, str(tmp_path / 'alone')), str(tmp_path / 'run')
    search, workers = start('train_search.py', *SEARCH, '--save', save), []
    try:
        when_checkpointed(search, save)
        workers = stop_workers(search)
        search.kill()
        search.wait()
        result = run_script('train_search.py', '--resume', save)  # at once: its workers still live
    finally:
        search.kill()
        for worker in workers:
            os.kill(worker, signal.SIGKILL)
    assert result.returncode == 0, result.stderr[-2000:]
    assert f'resumed {save} at epoch 1' in open(os.path.join(save, 'log.txt')).read()
    assert_ends_as_never_stopped(save, alone)


def test_a_sweep_killed_mid_cell_runs_again_at_once(tmp_path):
    """The driver (running its job itself: submitit's debug executor, fewer processes to start) and the cell's
    process, killed by SIGKILL after the cell's first epoch: the same sweep command at once resumes the cell, which
    ends as its search run alone. The cell reads its data without workers: a cell is a process started by spawn,
    whose DataLoader would spawn its workers too (holding no lock, and importing torch again each epoch: slow)."""
    save = str(tmp_path / 'sweep')
    [(path, [[_, *argv]])] = plan.plan(*sweep.parse(['--save', save, *SWEEP]))
    alone = uninterrupted(argv[:argv.index('--save')], str(tmp_path / 'alone'))
    driver = start('-m', 'darts_min.study.sweep', '--save', save, *SWEEP)
    try:
        when_checkpointed(driver, path)
    finally:
        with contextlib.suppress(ProcessLookupError):  # every process of the sweep, in its session
            os.killpg(driver.pid, signal.SIGKILL)
        driver.wait()
    result = run_script('-m', 'darts_min.study.sweep', '--save', save, *SWEEP)
    assert result.returncode == 0, result.stdout + result.stderr[-2000:]
    assert '1 cells, 0 finished, 1 to run' in result.stdout
    assert open(os.path.join(path, 'log.txt')).read().count(f'resumed {path} at epoch 1') == 1
    assert_ends_as_never_stopped(path, alone)


def test_the_report_names_each_run_whose_files_it_cannot_read_and_goes_on(tmp_path, capsys):
    def run(name, args, metrics):
        os.makedirs(tmp_path / name)
        (tmp_path / name / 'args.json').write_text(args)
        (tmp_path / name / 'metrics.jsonl').write_text(metrics)
    args = json.dumps({'kind': 'search', 'w_optimizer': 'momentum', 'arch_optimizer': 'adam', 'seed': 0, 'epochs': 2})
    epochs = [json.dumps({'epoch': e, 'genotype': genotypes.to_dict(genotypes.GENOTYPES['DARTS_V2']),
                          'valid_acc': 50.0 + e, 'skip_normal': 0, 'skip_reduce': 0}) + '\n' for e in range(2)]
    run('whole', args, ''.join(epochs))
    run('torn', args, epochs[0] + epochs[1][:20])  # its second epoch's line cut short
    run('cut', args[:30], ''.join(epochs))  # its args.json cut short
    assert report.main([str(tmp_path), '--no_plots']) == 0
    err = capsys.readouterr().err
    assert f'report: leaving out cut: {tmp_path / "cut" / "args.json"} is not a readable args.json: ' in err
    assert 'report: torn: cannot read all of its metrics.jsonl (line 2); reported from the epochs it could read' in err
    assert '2 searches in 1 rows: 1 finished' in open(tmp_path / 'report.md').read()
