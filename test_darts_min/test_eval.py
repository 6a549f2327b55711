"""train_eval.py end to end on fake data: from a search run, resume, two processes with gloo, bad inputs."""
import copy
import json
import logging
import os
import types

import pytest
import torch

from conftest import read_metrics, run_script
from darts_min import cli, data, genotypes
from darts_min import evaluation as train_eval
from darts_min.model import NetworkCIFAR, count_parameters
from darts_min.training import NonFiniteLoss, evaluate

EVAL = ['--dataset', 'fake', '--device', 'cpu', '--init_channels', '4', '--layers', '3', '--batch_size', '8',
        '--fake_size', '32', '--workers', '0', '--report_freq', '1']


def run_cli(argv, capsys):
    with pytest.raises(SystemExit) as e:
        cli.run(lambda: train_eval.main(argv))
    return e.value.code, capsys.readouterr().err


@pytest.mark.smoke
def test_evaluation_of_a_search_run_writes_every_output(tiny_search, tmp_path):
    save = str(tmp_path / 'eval')
    assert train_eval.main(EVAL + ['--epochs', '2', '--auxiliary', '--cutout', '--genotype', tiny_search,
                                   '--save', save]) == 0
    assert sorted(f for f in os.listdir(save) if not f.startswith('.')) == [
        'args.json', 'checkpoint.pt', 'genotype.json', 'log.txt', 'metrics.jsonl', 'weights.pt']
    assert json.load(open(os.path.join(save, 'genotype.json'))) == json.load(open(os.path.join(tiny_search, 'genotype.json')))

    metrics = read_metrics(save)
    assert [m['epoch'] for m in metrics] == [0, 1]
    assert list(metrics[0]) == ['epoch', 'lr', 'drop_path_prob', 'train_loss', 'train_acc', 'test_loss', 'test_acc',
                                'seconds']  # no validation share: the whole training set trains
    assert [m['drop_path_prob'] for m in metrics] == [0.0, 0.2 * 1 / 2]  # ramped linearly from 0
    assert metrics[0]['lr'] == 0.025 and metrics[1]['lr'] == pytest.approx(0.0125)  # cosine to 0
    assert all(0 <= m['test_acc'] <= 100 and m['test_loss'] > 0 for m in metrics)

    genotype = genotypes.load(os.path.join(tiny_search, 'genotype.json'))
    net = NetworkCIFAR(4, 10, 3, True, genotype)
    weights = torch.load(os.path.join(save, 'weights.pt'), weights_only=True)
    net.load_state_dict(weights)  # the final weights fit the network of the genotype
    log = open(os.path.join(save, 'log.txt')).read()
    assert f'param size = {count_parameters(net) / 1e6:.6f}MB' in log
    assert 'epoch 2/2' in log and 'test_acc' in log


def test_resume_after_an_interruption_ends_like_an_uninterrupted_run(tmp_path, monkeypatch):
    argv = EVAL + ['--epochs', '3', '--arch', 'DARTS_V1', '--auxiliary', '--valid_portion', '0.25']
    whole, broken = str(tmp_path / 'whole'), str(tmp_path / 'broken')
    assert train_eval.main(argv + ['--save', whole]) == 0
    epoch_of = train_eval.train_epoch

    def dies_in_second_epoch(epoch, *a, **k):
        if epoch == 1:
            raise KeyboardInterrupt
        return epoch_of(epoch, *a, **k)

    monkeypatch.setattr(train_eval, 'train_epoch', dies_in_second_epoch)
    with pytest.raises(KeyboardInterrupt):
        train_eval.main(argv + ['--save', broken])
    monkeypatch.undo()
    assert train_eval.main(['--resume', broken]) == 0
    a = torch.load(os.path.join(whole, 'weights.pt'), weights_only=True)
    b = torch.load(os.path.join(broken, 'weights.pt'), weights_only=True)
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert [m['epoch'] for m in read_metrics(broken)] == [0, 1, 2]
    assert read_metrics(broken)[2]['valid_loss'] == read_metrics(whole)[2]['valid_loss']
    assert train_eval.main(['--resume', broken]) == 0  # a finished run: nothing to do, and nothing lost
    assert open(os.path.join(broken, 'log.txt')).read().endswith(
        f'done: every epoch was already trained, weights in {broken}/weights.pt\n')
    assert all(torch.equal(a[k], v) for k, v in torch.load(os.path.join(broken, 'weights.pt'), weights_only=True).items())


def test_a_diverged_evaluation_says_so_in_status_json_until_resumed(tmp_path, monkeypatch):
    save = str(tmp_path / 'nan')
    argv = EVAL + ['--epochs', '2', '--arch', 'DARTS_V1', '--save', save]
    epoch_of = train_eval.train_epoch

    def diverges_in_second_epoch(epoch, *a, **k):
        if epoch == 1:
            raise NonFiniteLoss(epoch, 0, float('nan'))
        return epoch_of(epoch, *a, **k)

    monkeypatch.setattr(train_eval, 'train_epoch', diverges_in_second_epoch)
    assert train_eval.main(argv) == 3
    status = json.load(open(os.path.join(save, 'status.json')))
    assert (status['status'], status['epoch'], status['num_classes']) == ('diverged', 1, 10)
    assert 'stopped: the loss became nan at epoch 1, step 0' in open(os.path.join(save, 'log.txt')).read()
    monkeypatch.undo()
    assert train_eval.main(['--resume', save]) == 0 and not os.path.exists(os.path.join(save, 'status.json'))


def test_a_validation_share_is_held_out_stratified_unaugmented_and_reported(tmp_path):
    argv = EVAL + ['--arch', 'DARTS_V1', '--cutout', '--valid_portion', '0.25']
    save = str(tmp_path / 'eval')
    assert train_eval.main(argv + ['--epochs', '1', '--save', save]) == 0
    [epoch] = read_metrics(save)
    assert list(epoch) == ['epoch', 'lr', 'drop_path_prob', 'train_loss', 'train_acc', 'valid_loss', 'valid_acc',
                           'test_loss', 'test_acc', 'seconds']
    assert epoch['valid_acc'] * 8 / 100 == pytest.approx(round(epoch['valid_acc'] * 8 / 100))  # of 8 held-out images
    log = open(os.path.join(save, 'log.txt')).read()
    assert 'train 000/3' in log and ' valid_acc ' in log  # the 24 others train, 8 a step
    assert f'done: valid accuracy {epoch["valid_acc"]:.2f}%, test accuracy {epoch["test_acc"]:.2f}%' in log

    train_queue, valid_queue, _, _ = data.eval_loaders(train_eval.parse_args(argv), torch.device('cpu'))
    train_idx, valid_idx = train_queue.dataset.indices, valid_queue.dataset.indices
    assert len(train_idx) == 24 and sorted(train_idx + valid_idx) == list(range(32))
    targets = torch.as_tensor(train_queue.dataset.dataset.targets)
    assert all(abs(k - n / 4) <= 1 for k, n in zip(torch.bincount(targets[valid_idx], minlength=10), torch.bincount(targets)))
    first, second = (torch.cat([x for x, _ in valid_queue]) for _ in range(2))
    assert torch.equal(first, second)  # no crop, flip or cutout on the held-out images


def test_two_processes_with_gloo_keep_identical_weights_and_sum_their_figures(tmp_path):
    argv = EVAL + ['--fake_size', '36', '--valid_portion', '0.25', '--auxiliary']
    save = str(tmp_path / 'ddp')
    result = run_script('-m', 'torch.distributed.run', '--standalone', '--nproc_per_node', '2', 'train_eval.py', *argv,
                        '--epochs', '2', '--save', save)
    assert result.returncode == 0, result.stderr[-2000:]
    log = open(os.path.join(save, 'log.txt')).read()
    assert 'weights identical on 2 ranks' in log and '2 process(es) on cpu' in log
    assert log.count('epoch 2/2') == 1  # only rank 0 writes
    # each rank trains on its half of the 27 training images (14, one repeated), 4 per step (the global 8 split in two)
    assert 'train 000/4' in log
    metrics = read_metrics(save)
    assert [m['epoch'] for m in metrics] == [0, 1]
    # the last epoch's validation and test figures are those of the final weights on the whole of each set (9 and 7
    # images), not on rank 0's share (5 and 4)
    net = NetworkCIFAR(4, 10, 3, True, genotypes.GENOTYPES['DARTS'])
    net.load_state_dict(torch.load(os.path.join(save, 'weights.pt'), weights_only=True))
    _, valid_queue, test_queue, _ = data.eval_loaders(train_eval.parse_args(argv), torch.device('cpu'))
    for name, queue in (('valid', valid_queue), ('test', test_queue)):
        loss, acc = evaluate(net, queue, torch.nn.CrossEntropyLoss(), torch.device('cpu'))
        assert metrics[-1][f'{name}_loss'] == pytest.approx(loss.avg, rel=1e-5)
        assert metrics[-1][f'{name}_acc'] == pytest.approx(acc.avg)


def test_each_bad_input_exits_2_with_one_line(tmp_path, capsys):
    bad_op = tmp_path / 'bad_op.json'
    bad_op.write_text(json.dumps({**genotypes.to_dict(genotypes.DARTS_V2),
                                  'normal': [['conv_9x9', 0]] + genotypes.to_dict(genotypes.DARTS_V2)['normal'][1:]}))
    broken = tmp_path / 'broken.json'
    broken.write_text('{"normal": [["sep_conv_3x3", 0]')
    cases = [
        (['--arch', 'NASNet_B'], "unknown --arch 'NASNet_B' (known: DARTS_V1, DARTS_V2, DARTS"),
        (['--genotype', str(broken)], 'is not a readable genotype file'),
        (['--genotype', str(bad_op)], "unknown op 'conv_9x9'"),
        (['--genotype', str(tmp_path / 'nowhere')], 'no genotype file at'),
        (['--drop_path_prob', '1'], '--drop_path_prob must be in [0, 1)'),
        (['--auxiliary', '--image_size', '16'], '--auxiliary needs --image_size of at least 32'),
        (['--learning_rate', '0'], '--learning_rate must be positive'),
        (['--dataset', 'svhn'], "unknown dataset 'svhn'"),
        (['--valid_portion', '1'], '--valid_portion must be in [0, 1)'),
        (['--valid_portion', '0.01'], '--valid_portion 0.01 of 32 images leaves no training or no validation images'),
    ]
    for argv, message in cases:
        code, err = run_cli(EVAL + ['--save', str(tmp_path / 'out')] + argv, capsys)
        assert code == 2, (argv, err)
        assert message in err and err.count('\n') == 1 and 'Traceback' not in err, (argv, err)
    assert not os.path.exists(tmp_path / 'out')


def test_the_training_loss_adds_the_auxiliary_loss_at_its_weight():
    args = train_eval.parse_args(EVAL + ['--auxiliary', '--auxiliary_weight', '0.7', '--image_size', '32'])
    torch.manual_seed(0)
    net = NetworkCIFAR(4, 10, 3, True, genotypes.DARTS_V2)
    x, y = torch.randn(4, 3, 32, 32), torch.tensor([0, 1, 2, 3])
    logits, aux = copy.deepcopy(net)(x)  # in training mode BatchNorm normalises by the batch: the same logits again
    ce = torch.nn.functional.cross_entropy
    expected = ce(logits, y) + 0.7 * ce(aux, y)  # DARTS appendix A.2: the auxiliary tower's loss, weighted
    run = types.SimpleNamespace(log=logging.getLogger('test_eval'))
    loss, _ = train_eval.train_epoch(0, [(x, y)], net, torch.optim.SGD(net.parameters(), lr=0.0),
                                     torch.nn.CrossEntropyLoss(), args, torch.device('cpu'), run)
    assert loss.avg == pytest.approx(expected.item(), rel=1e-6) and expected.item() > ce(logits, y).item() + 0.1


def test_each_step_clips_the_gradient_norm_to_grad_clip_before_the_optimizer_steps():
    args = train_eval.parse_args(EVAL + ['--grad_clip', '1e-3'])
    torch.manual_seed(0)
    net = NetworkCIFAR(4, 10, 3, False, genotypes.DARTS_V2)
    optimizer = torch.optim.SGD(net.parameters(), lr=0.0)
    norms, step = [], optimizer.step
    optimizer.step = lambda: norms.append(torch.stack([p.grad.norm() for p in net.parameters()]).norm().item()) or step()
    x, y = torch.randn(4, 3, 16, 16), torch.tensor([0, 1, 2, 3])
    run = types.SimpleNamespace(log=logging.getLogger('test_eval'))
    train_eval.train_epoch(0, [(x, y)] * 2, net, optimizer, torch.nn.CrossEntropyLoss(), args, torch.device('cpu'), run)
    assert len(norms) == 2 and all(0.999e-3 < n <= 1e-3 * (1 + 1e-5) for n in norms)  # unclipped, it is far above
