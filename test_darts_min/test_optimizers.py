"""The optimizer registry: every entry steps, defaults reproduce DARTS, overrides are honoured and checked."""
import json
import os

import pytest
import torch

from conftest import run_script
from darts_min import optimizers
from darts_min import search as train_search


def quadratic_step(opt, params):
    opt.zero_grad()
    sum((p ** 2).sum() for p in params).backward()
    opt.step()


@pytest.mark.parametrize('name', list(optimizers.REGISTRY))
def test_every_entry_builds_a_torch_optimizer_that_lowers_a_quadratic(name):
    p = torch.nn.Parameter(torch.ones(3))
    opt = optimizers.build(name, [p], lr=0.01, weight_decay=0.0)
    assert isinstance(opt, torch.optim.Optimizer) and type(opt) is optimizers.REGISTRY[name].cls
    for _ in range(3):
        quadratic_step(opt, [p])
    assert (p < 1).all()


# One step from w = 1 on L = w² (gradient 2) at lr 0.1, worked by hand from each optimizer's update rule:
# sgd and momentum w - lr·g (a new heavy-ball buffer is g); Nesterov w - lr·(g + 0.9·g); RMSprop
# w - lr·g/√((1 - 0.99)·g²) = w - lr·10; Adam and AdamW w - lr (their first step moves by lr whatever g).
FIRST_STEP = {'sgd': 0.8, 'momentum': 0.8, 'nesterov': 1 - 0.1 * 3.8, 'rmsprop': 0.0, 'adam': 0.9, 'adamw': 0.9}


@pytest.mark.parametrize('name', list(optimizers.REGISTRY))
def test_each_entry_takes_its_own_optimizers_first_step(name):
    p = torch.nn.Parameter(torch.ones(1, dtype=torch.float64))
    quadratic_step(optimizers.build(name, [p], lr=0.1, weight_decay=0.0), [p])
    assert p.item() == pytest.approx(FIRST_STEP[name], abs=1e-6)


@pytest.mark.smoke
def test_defaults_reproduce_darts():
    args = train_search.parse_args([])
    assert (args.learning_rate, args.learning_rate_min, args.arch_learning_rate) == (0.025, 0.001, 3e-4)
    w = optimizers.for_weights(args, [torch.nn.Parameter(torch.ones(1))]).param_groups[0]
    assert (w['lr'], w['momentum'], w['weight_decay'], w['nesterov']) == (0.025, 0.9, 3e-4, False)
    a = optimizers.for_alphas(args, [torch.nn.Parameter(torch.ones(1))])
    assert isinstance(a, torch.optim.Adam) and not isinstance(a, torch.optim.AdamW)
    g = a.param_groups[0]
    assert (g['lr'], g['betas'], g['weight_decay']) == (3e-4, (0.5, 0.999), 1e-3)


def test_overrides_from_the_command_line_are_applied_last():
    args = train_search.parse_args(['--w_optimizer', 'momentum', '--w_optimizer_args', 'momentum=0.5', 'nesterov=true',
                                    '--arch_optimizer', 'rmsprop', '--arch_optimizer_args', 'alpha=0.9'])
    w = optimizers.for_weights(args, [torch.nn.Parameter(torch.ones(1))]).param_groups[0]
    assert (w['momentum'], w['nesterov']) == (0.5, True)
    a = optimizers.for_alphas(args, [torch.nn.Parameter(torch.ones(1))])
    assert isinstance(a, torch.optim.RMSprop) and a.param_groups[0]['alpha'] == 0.9
    args = train_search.parse_args(['--arch_optimizer_args', 'betas=0.9,0.999'])
    assert optimizers.for_alphas(args, [torch.nn.Parameter(torch.ones(1))]).param_groups[0]['betas'] == (0.9, 0.999)


@pytest.mark.parametrize('name', list(optimizers.REGISTRY))
def test_each_side_defaults_to_the_registry_rate_of_its_optimizer_and_the_floor_scales(name):
    entry = optimizers.REGISTRY[name]
    args = train_search.parse_args(['--w_optimizer', name, '--arch_optimizer', name])
    assert (args.learning_rate, args.arch_learning_rate) == (entry.w_lr, entry.arch_lr)
    assert args.learning_rate_min == pytest.approx(entry.w_lr * 0.001 / 0.025, rel=1e-12)
    probe = [torch.nn.Parameter(torch.ones(1))]
    assert optimizers.for_weights(args, probe).param_groups[0]['lr'] == entry.w_lr
    assert optimizers.for_alphas(args, probe).param_groups[0]['lr'] == entry.arch_lr
    given = train_search.parse_args(['--w_optimizer', name, '--learning_rate', '0.5', '--arch_learning_rate', '0.25'])
    assert (given.learning_rate, given.learning_rate_min, given.arch_learning_rate) == (0.5, 0.5 * 0.001 / 0.025, 0.25)
    floor = train_search.parse_args(['--w_optimizer', name, '--learning_rate_min', '0'])
    assert (floor.learning_rate, floor.learning_rate_min) == (entry.w_lr, 0.0)


def test_lr_and_weight_decay_have_their_own_flags_and_the_floor_stays_below_the_rate(capsys):
    adam = optimizers.REGISTRY['adam'].w_lr
    for argv, message in [
            (['--w_optimizer_args', 'lr=0.1'], 'lr is set by its own flag, --learning_rate (w)'),
            (['--arch_optimizer_args', 'weight_decay=0'], 'weight_decay is set by its own flag, --weight_decay (w)'),
            (['--learning_rate', '3e-4', '--learning_rate_min', '0.001'],
             '--learning_rate_min 0.001 exceeds the initial w learning rate 0.0003'),
            (['--w_optimizer', 'adam', '--learning_rate_min', '1'], f'exceeds the initial w learning rate {adam:g}')]:
        with pytest.raises(SystemExit) as e:
            train_search.parse_args(argv)
        err = capsys.readouterr().err
        assert e.value.code == 2 and message in err and err.count('\n') == 1, (argv, err)


def test_resume_keeps_the_rates_its_run_recorded(tmp_path, monkeypatch):
    saved = vars(train_search.parse_args(['--w_optimizer', 'adam', '--arch_optimizer', 'sgd']))
    assert (saved['learning_rate'], saved['arch_learning_rate']) == (optimizers.REGISTRY['adam'].w_lr,
                                                                    optimizers.REGISTRY['sgd'].arch_lr)
    (tmp_path / 'args.json').write_text(json.dumps({'kind': 'search', **saved, 'resume': None}))
    for name in ('adam', 'sgd'):  # registry defaults changed since: the run goes on with its own rates
        monkeypatch.setitem(optimizers.REGISTRY, name, optimizers.REGISTRY[name]._replace(w_lr=0.5, arch_lr=0.5))
    resumed = vars(train_search.parse_args(['--resume', str(tmp_path)]))
    rates = ('learning_rate', 'learning_rate_min', 'arch_learning_rate')
    assert [resumed[k] for k in rates] == [saved[k] for k in rates]


def test_momentum_flag_sets_w_momentum_only_where_the_entry_has_one():
    args = train_search.parse_args(['--momentum', '0.7', '--w_optimizer', 'nesterov'])
    assert optimizers.for_weights(args, [torch.nn.Parameter(torch.ones(1))]).param_groups[0]['momentum'] == 0.7
    args = train_search.parse_args(['--momentum', '0.7', '--w_optimizer', 'sgd'])
    assert optimizers.for_weights(args, [torch.nn.Parameter(torch.ones(1))]).param_groups[0]['momentum'] == 0


def test_adamw_decays_decoupled_and_adam_couples_l2():
    # With a zero loss gradient, AdamW shrinks w by lr * wd (2 -> 1.96); Adam's L2 term wd * w is its gradient,
    # and its first step moves by lr whatever the gradient (2 -> 1.9). The values differ, so a swap fails.
    pw, pa = torch.nn.Parameter(torch.full((1,), 2.0)), torch.nn.Parameter(torch.full((1,), 2.0))
    adamw = optimizers.build('adamw', [pw], lr=0.1, weight_decay=0.2)
    adam = optimizers.build('adam', [pa], lr=0.1, weight_decay=0.2)
    for opt, p in ((adamw, pw), (adam, pa)):
        p.grad = torch.zeros(1)
        opt.step()
    assert pw.item() == pytest.approx(2.0 * (1 - 0.1 * 0.2), rel=1e-6)
    assert pa.item() == pytest.approx(2.0 - 0.1, rel=1e-6)


def test_unknown_names_and_keys_are_rejected_with_the_valid_ones():
    with pytest.raises(optimizers.OptimizerError, match='choose from sgd, momentum, nesterov, rmsprop, adam, adamw'):
        optimizers.build('lion', [torch.nn.Parameter(torch.ones(1))], 0.1, 0)
    with pytest.raises(optimizers.OptimizerError, match=r"no argument 'beta1' \(valid: betas, eps, amsgrad"):
        optimizers.parse_overrides('adam', ['beta1=0.9'])
    with pytest.raises(optimizers.OptimizerError, match='not key=value'):
        optimizers.parse_overrides('adam', ['0.9'])
    with pytest.raises(optimizers.OptimizerError, match='not a number'):
        optimizers.parse_overrides('sgd', ['momentum=fast'])
    for betas in ('0.9', '0.9,0.99,0.999'):
        with pytest.raises(optimizers.OptimizerError, match='2 comma-separated numbers are expected'):
            optimizers.parse_overrides('adamw', [f'betas={betas}'])
    with pytest.raises(optimizers.OptimizerError, match='Invalid learning rate'):
        optimizers.build('adam', [torch.nn.Parameter(torch.ones(1))], -1.0, 0)


def test_value_parsing():
    assert optimizers.parse_value('true') is True and optimizers.parse_value('False') is False
    assert optimizers.parse_value('0.9,0.999') == (0.9, 0.999)
    assert optimizers.parse_value('5') == 5 and optimizers.parse_value('1e-3') == 1e-3


def test_module_prints_the_registry_table():
    out = run_script('-m', 'darts_min.optimizers').stdout
    lines = out.splitlines()
    assert lines[0].split()[:2] == ['name', 'torch.optim']
    for name, entry in optimizers.REGISTRY.items():
        row = next(line for line in lines if line.split()[:2] == [name, entry.cls.__name__])
        assert f' {entry.w_lr:g} ' in row and f' {entry.arch_lr:g} ' in row
    assert 'betas=(0.5, 0.999)' in out


def test_weight_decay_follows_the_per_step_shrinkage_rule():
    """Coupled L2 keeps DARTS's coefficients; AdamW's decoupled decay is 7.5e-6 / lr on w (0.025 x 3e-4, momentum's
    per-step shrinkage) and 3e-7 / lr on alpha (3e-4 x 1e-3, Adam's), worked by hand."""
    for name in ('sgd', 'momentum', 'nesterov', 'rmsprop', 'adam'):
        assert optimizers.default_weight_decay(name, 'w', 0.5) == 3e-4
        assert optimizers.default_weight_decay(name, 'arch', 0.5) == 1e-3
    assert optimizers.default_weight_decay('adamw', 'w', 2e-3) == 3.75e-3
    assert optimizers.default_weight_decay('adamw', 'w', 6e-3) == 1.25e-3  # a tuned rate carries its own decay
    assert optimizers.default_weight_decay('adamw', 'arch', 3e-4) == 1e-3
    assert optimizers.default_weight_decay('adamw', 'arch', 1e-4) == 3e-3
    args = train_search.parse_args(['--w_optimizer', 'adamw', '--arch_optimizer', 'adamw', '--arch_learning_rate', '1e-4'])
    assert (args.weight_decay, args.arch_weight_decay) == (3.75e-3, 3e-3)
    assert optimizers.for_weights(args, [torch.nn.Parameter(torch.ones(1))]).param_groups[0]['weight_decay'] == 3.75e-3
    args = train_search.parse_args(['--w_optimizer', 'adamw', '--weight_decay', '0'])  # a decay given always wins
    assert args.weight_decay == 0


def test_the_registrys_decay_is_no_setting_of_a_report_row():
    """AdamW at its rule's 3.75e-3 is compared with DARTS's pair at 3e-4; AdamW at another decay is a setting."""
    from darts_min.study.results import key_of
    run = lambda w, lr, wd: {'method': 'darts', 'w_optimizer': w, 'learning_rate': lr, 'weight_decay': wd,
                             'arch_optimizer': 'adam', 'arch_learning_rate': 3e-4, 'arch_weight_decay': 1e-3, 'epochs': 1}
    assert key_of(run('adamw', 2e-3, 3.75e-3)).settings == key_of(run('momentum', 0.025, 3e-4)).settings
    assert ('weight_decay', '0.0003') in key_of(run('adamw', 2e-3, 3e-4)).settings


@pytest.mark.docs
def test_the_readme_table_is_the_registry():
    """README's optimizer table: each row's torch.optim class, default rates and decays are the registry's."""
    text = open(os.path.join(os.path.dirname(__file__), '..', 'README.md')).read()
    rows = [line.split(' | ') for line in text.splitlines() if line.startswith('| `')
            and line.split(' | ')[1] in {e.cls.__name__ for e in optimizers.REGISTRY.values()}]
    assert [r[0].strip('|` ') for r in rows] == list(optimizers.REGISTRY)
    for name, cls, _, w_lr, w_wd, arch_lr, arch_wd in ((r[0].strip('|` '), *r[1:6], r[6].strip(' |')) for r in rows):
        assert cls == optimizers.REGISTRY[name].cls.__name__, name
        assert (float(w_lr), float(arch_lr)) == (optimizers.default_lr(name, 'w'), optimizers.default_lr(name, 'arch'))
        assert (float(w_wd), float(arch_wd)) == (optimizers.default_weight_decay(name, 'w', float(w_lr)),
                                                 optimizers.default_weight_decay(name, 'arch', float(arch_lr))), name
