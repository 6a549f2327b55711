"""train_search.py end to end on fake data: outputs, resume, NaN stop, and every bad input as one line."""
import json
import math
import os
import signal
import urllib.error

import pytest
import torch

from conftest import TINY, checkpoints_equal, read_metrics, run_script
from darts_min import cli, data, genotypes
from darts_min import search as train_search
from darts_min.architect import Architect
from darts_min.model_search import Network


def run_cli(argv, capsys):
    """train_search as the shell runs it (through cli.run), in this process: (exit code, stderr)."""
    with pytest.raises(SystemExit) as e:
        cli.run(lambda: train_search.main(argv))
    return e.value.code, capsys.readouterr().err


def checkpoint(run_dir):
    return torch.load(os.path.join(run_dir, 'checkpoint.pt'), weights_only=True)


@pytest.mark.smoke
def test_tiny_search_writes_every_output(tiny_search):
    save = tiny_search  # TINY + ['--epochs', '2']
    assert sorted(f for f in os.listdir(save) if not f.startswith('.')) == [
        'args.json', 'checkpoint.pt', 'genotype.json', 'log.txt', 'metrics.jsonl', 'normal.png', 'reduce.png']

    args = json.load(open(os.path.join(save, 'args.json')))
    assert args['epochs'] == 2 and args['w_optimizer'] == 'momentum' and args['save'] == save
    assert (args['learning_rate'], args['learning_rate_min'], args['arch_learning_rate']) == (0.025, 0.001, 3e-4)

    metrics = read_metrics(save)
    assert [m['epoch'] for m in metrics] == [0, 1]
    assert metrics[0]['lr'] == 0.025
    assert metrics[1]['lr'] == pytest.approx(0.001 + (0.025 - 0.001) * (1 + math.cos(math.pi / 2)) / 2)
    for m in metrics:
        assert {'train_loss', 'train_acc', 'valid_loss', 'valid_acc', 'genotype', 'seconds'} <= m.keys()
        assert 0 <= m['train_acc'] <= 100 and 0 <= m['valid_acc'] <= 100 and m['seconds'] > 0
        for key in ('op_weights_normal', 'op_weights_reduce'):
            assert len(m[key]) == 14 and all(len(r) == 8 and abs(sum(r) - 1) < 1e-5 for r in m[key])

    final = genotypes.load(os.path.join(save, 'genotype.json'))
    assert genotypes.to_dict(final) == metrics[-1]['genotype']
    state = checkpoint(save)
    assert state['epoch'] == 2 and state['kind'] == 'search'
    # one alpha step before each of the 2 w steps of an epoch: 2, 4 so far, as many as Adam on alpha took
    assert [m['alpha_steps'] for m in metrics] == [2, 4] and int(state['arch_optimizer']['state'][0]['step']) == 4
    alphas = state['alphas'][0]
    assert torch.allclose(torch.softmax(alphas, -1), torch.tensor(metrics[-1]['op_weights_normal']))
    cli.seed_everything(2, torch.device('cpu'))  # the run's --seed, then its network: alpha as it started
    start = Network(4, 10, 3, torch.nn.CrossEntropyLoss()).alphas_normal
    assert (alphas - start).abs().max() > 1e-4  # four Adam steps of 3e-4 moved it

    log = open(os.path.join(save, 'log.txt')).read()
    assert 'epoch 2/2' in log and 'eta' in log and 'train 000/2' in log and 'genotype = Genotype(' in log


@pytest.mark.parametrize('extra', [['--unrolled', '--arch_optimizer', 'rmsprop'], ['--data_on_device']])
def test_resume_after_an_interruption_ends_like_an_uninterrupted_run(tmp_path, monkeypatch, extra):
    argv = TINY + ['--fake_size', '16', '--epochs', '2'] + extra
    whole, broken = str(tmp_path / 'whole'), str(tmp_path / 'broken')
    assert train_search.main(argv + ['--save', whole]) == 0

    step, calls = Architect.step, []

    def dies_in_second_epoch(self, *a, **k):  # 1 step per epoch: the 2nd call is epoch 1, before its w step
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return step(self, *a, **k)

    monkeypatch.setattr(Architect, 'step', dies_in_second_epoch)
    with pytest.raises(KeyboardInterrupt):
        train_search.main(argv + ['--save', broken])
    monkeypatch.undo()
    assert checkpoint(broken)['epoch'] == 1

    assert train_search.main(['--resume', broken]) == 0
    assert checkpoints_equal(checkpoint(whole), checkpoint(broken))  # weights, alphas, optimizers, random state
    assert open(os.path.join(whole, 'genotype.json')).read() == open(os.path.join(broken, 'genotype.json')).read()
    assert [m['epoch'] for m in read_metrics(broken)] == [0, 1]
    assert [m['alpha_steps'] for m in read_metrics(broken)] == [m['alpha_steps'] for m in read_metrics(whole)] == [1, 2]
    assert 'resumed' in open(os.path.join(broken, 'log.txt')).read()


def test_a_failure_inside_the_checkpoint_write_loses_nothing_and_resume_redoes_the_epoch(tmp_path, monkeypatch):
    argv = TINY + ['--fake_size', '16', '--epochs', '2']
    whole, broken = str(tmp_path / 'whole'), str(tmp_path / 'broken')
    assert train_search.main(argv + ['--save', whole]) == 0
    save = torch.save

    def disk_full_at_the_second_checkpoint(obj, f, *a, **k):
        if isinstance(obj, dict) and obj.get('epoch') == 2:
            f.write(b'the first bytes of a checkpoint')
            raise OSError(28, 'No space left on device')
        return save(obj, f, *a, **k)

    monkeypatch.setattr(torch, 'save', disk_full_at_the_second_checkpoint)
    with pytest.raises(OSError):
        train_search.main(argv + ['--save', broken])
    monkeypatch.undo()
    assert checkpoint(broken)['epoch'] == 1  # the last complete checkpoint, intact
    assert not [f for f in os.listdir(broken) if f.startswith('.') and f != '.lock']  # no half-written file left
    assert [m['epoch'] for m in read_metrics(broken)] == [0, 1]  # epoch 1's line was written before its checkpoint

    assert train_search.main(['--resume', broken]) == 0
    assert [m['epoch'] for m in read_metrics(broken)] == [0, 1]  # epoch 1 redone, its first line dropped
    assert checkpoints_equal(checkpoint(whole), checkpoint(broken))


def test_a_full_disk_is_one_line_and_exit_1(tmp_path, monkeypatch, capsys):
    def disk_full(obj, f, *a, **k):
        raise OSError(28, 'No space left on device')

    monkeypatch.setattr(torch, 'save', disk_full)
    code, err = run_cli(TINY + ['--fake_size', '16', '--epochs', '1', '--save', str(tmp_path / 'run')], capsys)
    assert code == 1
    assert err.count('\n') == 1 and 'No space left on device' in err and '--resume' in err and 'Traceback' not in err


KILL_BETWEEN_WRITE_AND_RENAME = """
import os, signal, sys
sys.path.insert(0, os.getcwd())
from darts_min import search as train_search
replace = os.replace
def replace_or_die(src, dst):
    if dst.endswith('checkpoint.pt') and os.path.exists(dst):  # the second checkpoint is written, not yet renamed
        os.kill(os.getpid(), signal.SIGKILL)
    replace(src, dst)
os.replace = replace_or_die
train_search.main(sys.argv[1:])
"""


def test_resume_after_a_sigkill_between_writing_and_renaming_a_checkpoint(tmp_path):
    save = str(tmp_path / 'killed')
    killed = run_script('-c', KILL_BETWEEN_WRITE_AND_RENAME, *TINY, '--fake_size', '16', '--epochs', '2', '--save', save)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert checkpoint(save)['epoch'] == 1
    assert [f for f in os.listdir(save) if f.startswith('.checkpoint.pt.')]  # the temporary file it died on
    assert train_search.main(['--resume', save]) == 0
    assert [m['epoch'] for m in read_metrics(save)] == [0, 1]
    assert checkpoint(save)['epoch'] == 2 and 'resumed' in open(os.path.join(save, 'log.txt')).read()
    assert not [f for f in os.listdir(save) if f.startswith('.') and f != '.lock']  # the resume removed it


def test_resume_of_a_run_killed_before_its_first_checkpoint_starts_over(tmp_path):
    save = tmp_path / 'early'
    save.mkdir()
    args = vars(train_search.parse_args(TINY + ['--epochs', '1', '--save', str(save)]))
    (save / 'args.json').write_text(json.dumps({'kind': 'search', **args}))
    assert train_search.main(['--resume', str(save)]) == 0
    assert [m['epoch'] for m in read_metrics(save)] == [0]


def test_nan_loss_stops_with_a_message_and_keeps_the_last_checkpoint(tmp_path, monkeypatch, capsys):
    save = str(tmp_path / 'nan')
    step, calls = Architect.step, []

    def diverges_in_second_epoch(self, *a, **k):
        calls.append(1)
        step(self, *a, **k)
        if len(calls) == 3:  # epoch 1, step 0
            with torch.no_grad():
                self.model.alphas_normal.fill_(float('nan'))

    monkeypatch.setattr(Architect, 'step', diverges_in_second_epoch)
    code, err = run_cli(TINY + ['--epochs', '3', '--save', save], capsys)
    assert code == 3
    assert 'the loss became nan at epoch 1, step 0' in open(os.path.join(save, 'log.txt')).read()
    state = checkpoint(save)
    assert state['epoch'] == 1 and not torch.isnan(state['alphas'][0]).any()
    status = json.load(open(os.path.join(save, 'status.json')))  # the sweep and the report read the divergence here
    assert (status['status'], status['epoch'], status['num_classes']) == ('diverged', 1, 10)


@pytest.mark.parametrize('unrolled', [False, True])
def test_metrics_log_the_mean_alpha_step_and_the_ratio_of_eq_7s_two_terms(tmp_path, unrolled):
    # one step an epoch (--fake_size 16: 8 search-train images, a batch of 8): the epoch's alpha step is its change
    save = str(tmp_path / 'run')
    assert train_search.main(TINY + ['--fake_size', '16', '--epochs', '1', '--save', save]
                             + ['--unrolled'] * unrolled) == 0
    metrics, = read_metrics(save)
    cli.seed_everything(2, torch.device('cpu'))  # the run's --seed, then its network: alpha as it started
    start = Network(4, 10, 3, torch.nn.CrossEntropyLoss()).arch_parameters()
    change = torch.cat([(a - s).flatten() for a, s in zip(checkpoint(save)['alphas'], start)]).norm().item()
    assert metrics['alpha_step'] == pytest.approx(change, rel=1e-6) and change > 0
    if unrolled:
        assert 0 < metrics['implicit_ratio'] < math.inf
    else:
        assert metrics['implicit_ratio'] is None
    assert ('implicit_ratio -' in open(os.path.join(save, 'log.txt')).read()) != unrolled


def bad_inputs(tmp_path):
    corrupt = tmp_path / 'corrupt'
    corrupt.mkdir()
    (corrupt / 'args.json').write_text(json.dumps({'kind': 'search', **vars(train_search.parse_args(TINY))}))
    (corrupt / 'checkpoint.pt').write_bytes(b'not a checkpoint')
    foreign = tmp_path / 'foreign'
    foreign.mkdir()
    (foreign / 'args.json').write_text(json.dumps({'kind': 'search', **vars(train_search.parse_args(TINY))}))
    torch.save({'kind': 'eval', 'version': 1}, foreign / 'checkpoint.pt')
    no_args = tmp_path / 'no_args'
    no_args.mkdir()
    eval_run = tmp_path / 'eval_run'  # an evaluation killed before its first checkpoint
    eval_run.mkdir()
    (eval_run / 'args.json').write_text(json.dumps({'kind': 'eval', 'epochs': 3}))
    typed = tmp_path / 'typed'
    typed.mkdir()
    (typed / 'args.json').write_text(json.dumps({'kind': 'search', **vars(train_search.parse_args(TINY)), 'epochs': '3'}))
    return [
        (['--w_optimizer', 'lion'], "unknown optimizer 'lion' (choose from sgd, momentum"),
        (['--arch_optimizer', 'adagrad'], "unknown optimizer 'adagrad'"),
        (['--w_optimizer_args', 'beta=0.9'], "momentum has no argument 'beta' (valid: momentum, dampening"),
        (['--arch_optimizer_args', 'lr=-1'], 'lr is set by its own flag'),
        (['--arch_optimizer_args', 'eps=-1'], 'Invalid epsilon value'),
        (['--dataset', 'mnist'], "unknown dataset 'mnist'"),
        (['--device', 'tpu'], "unknown device 'tpu'"),
        (['--learning_rate', '0'], '--learning_rate must be positive and finite'),
        (['--arch_learning_rate=-3e-4'], '--arch_learning_rate must be positive and finite'),
        (['--batch_size', '0'], '--batch_size must be positive and finite'),
        (['--weight_decay', '-1'], '--weight_decay must not be negative'),
        (['--train_portion', '1.0'], '--train_portion must be in (0, 1)'),
        (['--train_portion', '0'], '--train_portion must be in (0, 1)'),
        (['--holdout_portion', '1'], '--holdout_portion must be in [0, 1), got 1.0'),
        (['--holdout_portion', '-0.1'], '--holdout_portion must be in [0, 1), got -0.1'),
        (['--epochs', 'ten'], "invalid int value: 'ten'"),
        (['--fake_size', '1'], 'leaves an empty search-train or search-valid split'),
        (['--resume', str(tmp_path / 'missing')], 'no such run directory'),
        (['--resume', str(no_args)], 'no search run (args.json)'),
        (['--resume', str(corrupt)], 'is corrupt or not a darts-min checkpoint'),
        (['--resume', str(foreign)], 'is not a darts-min search checkpoint'),
        (['--resume', str(corrupt), '--epochs', '3'], 'drop --epochs'),
        (['--dataset', 'imagefolder', '--data', str(tmp_path)], 'needs a folder'),
        (['--image_size', '4'], '--image_size must be a multiple of 4, at least 8'),
        (['--image_size', '10'], '--image_size must be a multiple of 4, at least 8'),
        (['--layers', '2'], '--layers must be at least 3 in the darts space'),
        (['--learning_rate', 'inf'], '--learning_rate must be positive and finite'),
        (['--learning_rate', '1e300'], '--learning_rate must be positive and finite'),
        (['--w_optimizer_args', 'momentum=true'], 'momentum=true: a number is expected'),
        (['--w_optimizer_args', 'nesterov=1'], 'nesterov=1: a true/false is expected'),
        (['--epochs', '3', '--hessian_every', '5'], '--hessian_every 5 is beyond --epochs 3'),
        (['--w_optimizer_args', 'momentum=nan'], 'momentum=nan is not finite'),
        (['--arch_optimizer_args', 'capturable=true'], "adam has no argument 'capturable'"),
        (['--resume', str(eval_run)], 'does not hold the arguments of a search run'),
        (['--resume', str(typed)], "args.json: epochs = '3' is not of type int"),
        (['--save', str(corrupt / 'args.json')], 'cannot write the run directory'),
    ]


def test_a_run_resumes_with_the_float_flags_it_was_given_as_whole_numbers(tmp_path):
    """--grad_clip 1 is saved as 1.0; --resume reads it back (a float flag whose default was the int 5 refused it)."""
    args = train_search.parse_args(TINY + ['--grad_clip', '1', '--learning_rate', '1', '--save', str(tmp_path)])
    (tmp_path / 'args.json').write_text(json.dumps({'kind': 'search', **vars(args)}))
    resumed = train_search.parse_args(['--resume', str(tmp_path)])
    assert vars(resumed) == {**vars(args), 'resume': str(tmp_path)} and resumed.grad_clip == 1.0


def test_each_bad_input_exits_2_with_one_line(tmp_path, capsys):
    for argv, message in bad_inputs(tmp_path):
        code, err = run_cli(TINY + ['--save', str(tmp_path / 'out')] + argv if '--resume' not in argv else argv, capsys)
        assert code == 2, (argv, err)
        assert message in err and err.count('\n') == 1 and 'Traceback' not in err, (argv, err)


def test_missing_cifar_without_network_says_what_to_do(tmp_path, capsys, monkeypatch):
    def offline(*a, **k):
        raise urllib.error.URLError('Name or service not known')

    monkeypatch.setattr(data.dset, 'CIFAR10', offline)
    code, err = run_cli(['--dataset', 'cifar10', '--data', str(tmp_path), '--save', str(tmp_path / 'r')], capsys)
    assert code == 2 and err.count('\n') == 1
    assert 'could not be downloaded' in err and 'cifar-10-python.tar.gz' in err and '--dataset fake' in err
    assert not (tmp_path / 'r').exists()  # nothing half-made is left behind


def test_a_finished_run_is_never_overwritten(tiny_search, capsys):
    save = tiny_search
    before = open(os.path.join(save, 'checkpoint.pt'), 'rb').read()
    log = open(os.path.join(save, 'log.txt')).read()
    code, err = run_cli(TINY + ['--epochs', '2', '--save', save], capsys)
    assert code == 2 and 'already holds a run' in err
    assert open(os.path.join(save, 'checkpoint.pt'), 'rb').read() == before
    assert open(os.path.join(save, 'log.txt')).read() == log  # the refusal is not that run's: nothing logged there


@pytest.mark.skipif(torch.cuda.is_available(), reason='checks the message on a machine without a GPU')
def test_cuda_without_a_gpu_is_one_line(capsys):
    code, err = run_cli(TINY + ['--device', 'cuda'], capsys)
    assert code == 2 and 'no CUDA GPU' in err and err.count('\n') == 1


def test_bad_input_from_the_shell_has_no_traceback():
    result = run_script('train_search.py', '--w_optimizer', 'lion')
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "train_search.py: error: --w_optimizer: unknown optimizer 'lion' (choose from sgd, momentum, nesterov, "
        "rmsprop, adam, adamw)"]


@pytest.mark.parametrize('script', ['train_search.py', 'train_eval.py'])
def test_without_torch_the_scripts_say_how_to_install_it(script):
    no_torch = f"import runpy, sys; sys.modules['torch'] = None; sys.argv = ['{script}', '--help']; " \
               f"runpy.run_path('{script}', run_name='__main__')"
    result = run_script('-c', no_torch)
    assert result.returncode == 1
    assert result.stderr.count('\n') == 1 and 'pip install torch==2.14.1 torchvision==0.29.1' in result.stderr
