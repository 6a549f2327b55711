"""Reliable on a cluster: one decision per run under torchrun; sweep jobs that a signal stops are requeued and resume
their cells; one sweep at a time on a sweep directory."""
import os

from conftest import run_script

EVAL = ['--dataset', 'fake', '--device', 'cpu', '--init_channels', '4', '--layers', '3', '--batch_size', '8',
        '--fake_size', '16', '--workers', '0', '--report_freq', '1', '--epochs', '1']
TORCHRUN = ['-m', 'torch.distributed.run', '--standalone', '--nproc_per_node', '2']


def test_only_rank_0_decides_whether_a_directory_holds_a_run(tmp_path):
    """Rank 1 comes to the directory after rank 0 has written args.json there (rank_stub.py): it joins the run rank 0
    began, on a new run and on --resume; a third start on the directory is refused once, by rank 0, for both."""
    save, flag = str(tmp_path / 'run'), str(tmp_path / 'rank0-wrote-args')
    stub = os.path.join('test_darts_min', 'rank_stub.py')
    for argv in (EVAL + ['--save', save], ['--resume', save]):
        if os.path.exists(flag):
            os.remove(flag)
        result = run_script(*TORCHRUN, stub, flag, *argv)
        assert result.returncode == 0, result.stderr[-3000:]
    log = open(os.path.join(save, 'log.txt')).read()
    assert log.count('2 process(es) on cpu') == 1 and log.count(f'resumed {save} at epoch 1') == 1
    assert log.count('weights identical on 2 ranks') == 2

    refused = run_script(*TORCHRUN, 'train_eval.py', *EVAL, '--save', save)
    assert refused.returncode != 0
    assert refused.stderr.count(f'train_eval.py: error: {save} already holds a run: continue it with --resume') == 1


def test_two_processes_start_on_a_new_directory_every_time(tmp_path):
    for k in range(3):
        save = str(tmp_path / f'run{k}')
        result = run_script(*TORCHRUN, 'train_eval.py', *EVAL, '--save', save)
        assert result.returncode == 0, (k, result.stderr[-3000:])
        assert 'weights identical on 2 ranks' in open(os.path.join(save, 'log.txt')).read()
