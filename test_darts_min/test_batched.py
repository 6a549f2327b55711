"""The batched search (darts_min/study/batched.py): K seeds in one process give each seed's run directory as
train_search.py gives it alone.

Tolerance. Not to the bit: in the wide supernet a seed's convolutions are groups of a larger grouped convolution (and
dense_conv's, without the padding-only taps and the dilation: the same products, summed in another order), its
loss, gradient norm and eps_fd are reductions over a slice of a larger tensor, and its classifier a batched matmul,
so float32 sums are added in another order. Over the few steps here the figures of a run stay within 1e-4
(relatively for losses, absolutely for the op weights and alpha, 1e-7..1e-5 measured); lambda_max (one power
iteration in the runs here: each seed's stopping rule has its own test) within 2 %; the accuracies and every count are equal, and so is the genotype unless two of its choices
are tied within the tolerance (`margin`: early in a search the op weights are all near 1/8). The plain search
differs from itself by as much when run on 2 threads instead of 1 (float32 reductions split otherwise): the momentum
buffer of an ill-conditioned weight (a BatchNorm over 2 x 2 pixels) by 2 % in both comparisons. Adam on w magnifies
such rounding where a gradient sums to near zero (test_second_order_hypergradient_with_adam_on_w_is_each_seeds_own).

Cost: a tiny search here is a second on this CPU, most of it fixed costs (building, checkpoints): the runs are two
epochs of one step, the variants share runs with the optimizers, the pictures are not drawn.
"""
import copy
import itertools
import json
import os
import shutil
from types import SimpleNamespace

import pytest
import torch

from conftest import read_metrics
from darts_min import dynamics, runs, search
from darts_min.genotypes import PRIMITIVES
from darts_min.study import batched

FLAGS = ['--dataset', 'fake', '--fake_size', '16', '--image_size', '8', '--init_channels', '4', '--layers', '3',
         '--batch_size', '8', '--epochs', '2', '--workers', '0', '--data_on_device', '--device', 'cpu',
         '--grad_clip', '1', '--report_freq', '1']  # one step an epoch; clipping at every step
SEEDS = (0, 1)
# each seed of the batch against it alone: first and second order, two w optimizers, lambda_max, the variants
CONFIGS = {'first_momentum': [], 'second_momentum_darts_minus': ['--unrolled', '--method', 'darts_minus'],
           'first_adam_beta_darts': ['--w_optimizer', 'adam', '--method', 'beta_darts', '--hessian_every', '2',
                                     '--hessian_iters', '1', '--hessian_batches', '1'],
           'sdarts_rs': ['--method', 'sdarts_rs']}
RELATIVE = {'train_loss', 'valid_loss', 'entropy_normal', 'entropy_reduce', 'hessian_eigenvalue', 'alpha_spread_normal',
            'alpha_spread_reduce', 'max_op_weight_normal', 'max_op_weight_reduce', 'alpha_step', 'implicit_ratio'}


def argv(config, seed, path, extra=()):
    return [*FLAGS, *CONFIGS[config], *extra, '--seed', str(seed), '--split_seed', str(seed), '--save', str(path)]


@pytest.fixture(scope='module')
def alone(tmp_path_factory):
    """The run directory of (config, seed) searched alone by train_search.py, made once."""
    made = {}

    def get(config, seed):
        if (config, seed) not in made:
            path = tmp_path_factory.mktemp(f'{config}-alone') / f'seed{seed}'
            assert search.main(argv(config, seed, path)) == 0
            made[config, seed] = path
        return made[config, seed]
    return get


@pytest.fixture(autouse=True)
def no_pictures(monkeypatch):
    """The cell's pictures are not what these tests compare: not drawn (a tenth of a tiny search's time), but what
    would be drawn is checked: the run's genotype."""
    def refuse(genotype, path):
        assert json.loads(json.dumps(genotype.to_dict())) == json.load(open(os.path.join(path, 'genotype.json')))
        raise batched.cli.UserError('not drawn in these tests')
    monkeypatch.setattr(search.visualize, 'plot_genotype', refuse)


def margin(op_weights, steps=4):
    """The smallest gap at a choice parse_cell makes from these op weights (best op of an edge, two strongest edges
    of a node): a genotype is only as determined as its op weights are within that."""
    none, gaps, start = PRIMITIVES.index('none'), [], 0
    for j in range(2, 2 + steps):
        strengths = []
        for row in op_weights[start:start + j]:
            ranked = sorted((w for k, w in enumerate(row) if k != none), reverse=True)
            gaps.append(ranked[0] - ranked[1])
            strengths.append(ranked[0])
        ranked = sorted(strengths, reverse=True)
        gaps += [ranked[1] - ranked[2]] if j > 2 else []
        start += j
    return min(gaps)


def assert_same_run(a, b):
    """Two run directories of one search: the same records, to the tolerance above. The genotype and what counts it
    (skips, changes) are the same unless the op weights hold a choice within the tolerance (a tie either may break)."""
    ra, rb = read_metrics(a), read_metrics(b)
    assert [r['epoch'] for r in ra] == [r['epoch'] for r in rb] and ra
    tied = any(min(margin(r['op_weights_normal']), margin(r['op_weights_reduce'])) < 2e-4 for r in ra)
    for x, y in zip(ra, rb):
        assert x.keys() == y.keys()
        for key in x.keys() - {'seconds'} - ({'genotype', 'genotype_changes', 'skip_normal', 'skip_reduce'} if tied else set()):
            if key.startswith('op_weights'):
                assert torch.allclose(torch.tensor(x[key]), torch.tensor(y[key]), rtol=0, atol=1e-4), key
            elif key in RELATIVE and x[key] is not None:  # implicit_ratio: None at first order
                tol = 2e-2 if key == 'hessian_eigenvalue' else 1e-4
                assert y[key] == pytest.approx(x[key], rel=tol), key
            else:
                assert x[key] == y[key], key  # genotype, counts, accuracies, the schedule
    assert tied or json.load(open(a / 'genotype.json')) == json.load(open(b / 'genotype.json'))
    args_a, args_b = (json.load(open(p / 'args.json')) for p in (a, b))
    assert {**args_a, 'save': None} == {**args_b, 'save': None}
    ca, cb = (torch.load(p / 'checkpoint.pt', weights_only=True) for p in (a, b))
    assert ca.keys() == cb.keys() and ca['epoch'] == cb['epoch'] and ca['scheduler'] == cb['scheduler']
    assert torch.equal(ca['rng_cpu'], cb['rng_cpu'])  # each seed drew exactly what it draws alone
    for x, y in zip(ca['alphas'], cb['alphas']):
        assert torch.allclose(x, y, rtol=0, atol=1e-4)
    assert ca['model'].keys() == cb['model'].keys()
    for key, t in ca['model'].items():
        assert t.shape == cb['model'][key].shape and t.dtype == cb['model'][key].dtype, key
    for name in ('w_optimizer', 'arch_optimizer'):
        assert ca[name]['param_groups'] == cb[name]['param_groups']
        assert ca[name]['state'].keys() == cb[name]['state'].keys()


@pytest.mark.parametrize('config', [pytest.param(c, marks=[pytest.mark.smoke] if c == 'first_momentum' else [])
                                    for c in CONFIGS])  # the smoke tier: one batch against its seeds alone
def test_a_batch_gives_each_seed_the_run_it_has_alone(config, alone, tmp_path):
    codes = batched.run([argv(config, s, tmp_path / f'seed{s}') for s in SEEDS])
    assert codes == [0, 0]
    for s in SEEDS:
        assert_same_run(alone(config, s), tmp_path / f'seed{s}')


def test_the_wide_supernet_is_each_seeds_network():
    """One forward/backward of widen(nets) against each net: losses, alpha and w gradients, BatchNorm statistics."""
    nets = []
    for seed in SEEDS:
        torch.manual_seed(seed)
        nets.append(batched.Network(4, 10, 3, torch.nn.CrossEntropyLoss()))
    wide = batched.widen(nets)
    g = torch.Generator().manual_seed(5)
    K = len(nets)
    xs, ys = torch.randn(K, 8, 3, 8, 8, generator=g), torch.randint(10, (K, 8), generator=g)
    x, y = batched.wide_batch(list(zip(xs, ys)))
    losses = batched.seed_losses(wide(x), y)
    grads = torch.autograd.grad(losses.sum(), [*wide.arch_parameters(), *wide.parameters()])
    for k, net in enumerate(nets):
        loss = net._loss(xs[k], ys[k])
        own = torch.autograd.grad(loss, [*net.arch_parameters(), *net.parameters()])
        assert losses[k].item() == pytest.approx(loss.item(), rel=1e-6)
        for g_wide, g_own in zip(grads, own):
            part = g_wide.view(K, *g_own.shape)[k]
            assert torch.allclose(part, g_own, rtol=1e-4, atol=1e-6)
        wide_state, state = wide.state_dict(), net.state_dict()
        for key, t in state.items():
            assert torch.allclose(batched.seed_part(wide_state[key], t.shape, k, K).double(), t.double(), atol=1e-6), key


@pytest.mark.parametrize('memory_format', [torch.contiguous_format, torch.channels_last])
def test_dense_convolutions_are_the_convolutions(memory_format):
    """dense_conv against nn.Conv2d in float64, the output and both gradients: DARTS's depthwise kernels (3 x 3 and
    5 x 5, dilation 1 and 2, stride 1 and 2) on maps of 2 to 8 px, where taps are dropped, every other row read or
    the phases batched, and on odd sizes, which have no phases."""
    g = torch.Generator().manual_seed(0)
    for size, k, d, stride in itertools.product((2, 3, 4, 5, 8), (3, 5), (1, 2), (1, 2)):
        conv = torch.nn.Conv2d(6, 6, k, stride, d * (k - 1) // 2, d, groups=6, bias=False).double()
        x = torch.randn(3, 6, size, size, dtype=torch.float64, generator=g).contiguous(memory_format=memory_format)
        x.requires_grad_()
        y, dense = conv(x), batched.dense_conv(conv, x)
        assert dense.shape == y.shape
        grad = torch.randn(y.shape, dtype=torch.float64, generator=g)
        for a, b in zip((y, *torch.autograd.grad(y, (x, conv.weight), grad)),
                        (dense, *torch.autograd.grad(dense, (x, conv.weight), grad))):
            assert torch.allclose(a, b, rtol=0, atol=1e-12), (size, k, d, stride)
    # what is dropped on an 8 px image's 2 x 2 maps: a dilated 5 x 5 kernel keeps its centre, a 5 x 5 its inner 3 x 3
    assert batched.taps_in_use(2, 5, 1, 4, 2) == (2, 3, 0) and batched.taps_in_use(2, 5, 1, 2, 1) == (1, 4, 1)
    assert batched.taps_in_use(8, 5, 1, 4, 2) == (0, 5, 4)


def test_clipping_and_eps_fd_are_each_seeds_own():
    """Seeds whose gradients differ 100-fold: each seed is clipped by its own norm (seed 0's, 12 ** 0.5, not at all);
    Eq. 8's eps_fd is each seed's."""
    params = [torch.zeros(2 * 3, 4, requires_grad=True)]
    params[0].grad = torch.cat([torch.full((3, 4), 1.0), torch.full((3, 4), 100.0)])
    batched.clip_grad_norms(params, 5.0, 2)
    assert params[0].grad.view(2, -1).norm(dim=1).tolist() == pytest.approx([12 ** 0.5, 5.0], rel=1e-5)
    architect = batched.SeedsArchitect.__new__(batched.SeedsArchitect)
    architect.model = type('Wide', (), {'seeds': 2})()
    eps = architect.fd_epsilon([torch.cat([torch.full((3, 4), 1.0), torch.full((3, 4), 100.0)])])
    assert eps.flatten().tolist() == pytest.approx([0.01 / 12 ** 0.5, 0.01 / (100 * 12 ** 0.5)], rel=1e-6)


def test_second_order_hypergradient_with_adam_on_w_is_each_seeds_own():
    """One second-order alpha step of a batch, Adam on w two steps in: each seed's hypergradient (Eq. 7, its eps_fd its
    own) is the one Architect computes for it alone, to 2e-3 of its norm. Adam's virtual step's dw'/dg grows as
    1/sqrt(v), and a depthwise weight's gradient summed over batch and pixels in another order (a grouped convolution)
    differs most where the sum cancels to near zero, where v is smallest: dw'/dg of a few weights by 2 %, the
    hypergradient by 4e-4 (with momentum on w: 1e-6, and second_momentum's whole runs are compared above). Over whole
    runs that amplification (Adam's first steps move a weight by +-lr whatever its gradient's size) leaves nothing to
    compare to a tolerance: this one step is the test."""
    args = search.parse_args(argv('first_momentum', 0, 'unused', ['--w_optimizer', 'adam']))
    g = torch.Generator().manual_seed(3)
    data = [(torch.randn(8, 3, 8, 8, generator=g), torch.randint(10, (8,), generator=g)) for _ in range(4)]
    seeds, alone_grads = [], []
    for seed in SEEDS:
        torch.manual_seed(seed)
        net = batched.Network(4, 10, 3, torch.nn.CrossEntropyLoss())
        optimizer = batched.optimizers.for_weights(args, net.parameters())
        for x, y in data[:2]:  # momentum buffers, Adam's moments
            optimizer.zero_grad()
            net._loss(x * (seed + 1), y).backward()
            optimizer.step()
        architect = batched.Architect(net, args)
        scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, args.epochs)
        seeds.append(copy.deepcopy(SimpleNamespace(net=net, optimizer=optimizer, arch_optimizer=architect.optimizer,
                                                   scheduler=scheduler)))
        x, y, xv, yv = data[2][0] * (seed + 1), data[2][1], data[3][0], data[3][1]
        architect.step(x, y, xv, yv, 0.025, optimizer, True)
        alone_grads.append([a.grad for a in net.arch_parameters()])
    batch = batched.Batch(seeds, args, torch.device('cpu'))
    x, y = batched.wide_batch([(data[2][0] * (k + 1), data[2][1]) for k in SEEDS])
    xv, yv = batched.wide_batch([data[3]] * len(SEEDS))
    batch.architect.step(x, y, xv, yv, 0.025, batch.optimizer, True)
    for k, own in enumerate(alone_grads):
        for wide, grad in zip(batch.model.arch_parameters(), own):
            assert (wide.grad[k] - grad).norm() <= 2e-3 * grad.norm()



def test_second_order_through_the_batch_is_each_seeds_exact_hypergradient(monkeypatch):
    """In float64, with a finite-difference radius below any ReLU or max-pool kink (test_architect.py's check), the
    batch's Eq. 7 for each seed is the exact hypergradient of that seed's network alone (double backprop through
    torch's step): the second order's exactness holds on the path the sweep takes."""
    from test_architect import exact_hypergradient
    D, xi = torch.float64, 0.1
    args = search.parse_args(argv('first_momentum', 0, 'unused'))
    g = torch.Generator().manual_seed(4)
    data = [(torch.randn(4, 3, 8, 8, generator=g, dtype=D), torch.randint(10, (4,), generator=g)) for _ in range(3)]
    seeds, exact = [], []
    for seed in SEEDS:
        torch.manual_seed(seed)
        net = batched.Network(4, 10, 3, torch.nn.CrossEntropyLoss(), steps=2, multiplier=2).to(D)
        optimizer = batched.optimizers.for_weights(args, net.parameters())
        optimizer.zero_grad()
        net._loss(data[0][0] * (seed + 1), data[0][1]).backward()
        optimizer.step()  # a momentum buffer, each seed's own
        seeds.append(copy.deepcopy(SimpleNamespace(
            net=net, optimizer=optimizer, arch_optimizer=batched.optimizers.for_alphas(args, net.arch_parameters()),
            scheduler=torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, args.epochs))))
        exact.append(exact_hypergradient(net, optimizer, *data[1], *data[2], xi, monkeypatch))
    batch = batched.Batch(seeds, args, torch.device('cpu'))
    batch.architect.fd_scale = 1e-7
    (x, y), (xv, yv) = (batched.wide_batch([part] * len(SEEDS)) for part in data[1:])
    batch.architect.step(x, y, xv, yv, xi, batch.optimizer, True)
    for k, (hypergradient, direct) in enumerate(exact):
        got = torch.cat([a.grad[k].flatten() for a in batch.model.arch_parameters()])
        hypergradient, direct = (torch.cat([t.flatten() for t in ts]) for ts in (hypergradient, direct))
        assert (got - hypergradient).norm() < 1e-3 * (hypergradient - direct).norm()  # the implicit term's error

def test_each_seed_stops_its_power_iteration_where_it_would_alone():
    """Two seeds' Hessians, one converging in a few iterations, one slowly: each seed's (eigenvalue, iterations,
    converged) is dynamics.power_iteration's for it alone."""
    diagonals = torch.tensor([[[1.0], [0.1]], [[1.0], [0.97]]])
    start = [torch.ones(2, 2, 1)]
    both = batched.power_iterations(lambda v: [v[0] * diagonals], start, 30, 1e-4, 2)
    for k in range(2):
        alone = dynamics.power_iteration(lambda v: [v[0] * diagonals[k]], [start[0][k]], 30, 1e-4)
        assert both[k][1:] == alone[1:] and both[k][0] == pytest.approx(alone[0], rel=1e-6)
    assert both[0][1] < both[1][1]


def test_a_seed_that_diverges_stops_alone(alone, tmp_path, monkeypatch):
    """Seed 1's weights become nan before its second w step (epoch 1, step 0): its run says why and ends with exit
    code 3, as train_search.py's; seed 0 goes on, alone in the batch, as it would alone."""
    calls, w_step = [], batched.Batch.w_step

    def poisoned(self, x, y, grad_clip):
        calls.append(1)
        if len(calls) == 2:
            with torch.no_grad():
                for p in self.model.parameters():
                    batched.per_seed(p, self.K)[1].fill_(float('nan'))
        return w_step(self, x, y, grad_clip)
    monkeypatch.setattr(batched.Batch, 'w_step', poisoned)
    codes = batched.run([argv('first_momentum', s, tmp_path / f'seed{s}') for s in SEEDS])
    assert codes == [0, 3]
    status = runs.read_status(tmp_path / 'seed1')
    assert status['status'] == 'diverged' and status['epoch'] == 1
    assert status['reason'] == 'the loss became nan at epoch 1, step 0; the checkpoint of epoch 0 is kept'
    assert len(read_metrics(tmp_path / 'seed1')) == 1
    assert_same_run(alone('first_momentum', 0), tmp_path / 'seed0')


class Killed(Exception):
    pass


def test_a_killed_batch_resumes_all_its_seeds_even_at_different_epochs(alone, tmp_path, monkeypatch):
    """A batch killed in its second epoch: `--resume` of the batch ends each seed as it ends alone; so does seed 0
    continued alone by train_search.py; and where seed 1 had not finished its first epoch (no checkpoint), the batch
    runs seed 1's first epoch alone, then both seeds together."""
    train_epoch = batched.train_epoch
    killed = tmp_path / 'killed'
    with monkeypatch.context() as m, pytest.raises(Killed):
        m.setattr(batched, 'train_epoch', lambda batch, epoch, *a: train_epoch(batch, epoch, *a) if epoch == 0
                  else (_ for _ in ()).throw(Killed()))
        batched.run([argv('first_momentum', s, killed / f'seed{s}') for s in SEEDS])
    for case in ('batch', 'alone', 'uneven'):
        shutil.copytree(killed, tmp_path / case)
    for name in ('checkpoint.pt', 'metrics.jsonl', 'genotype.json'):
        os.remove(tmp_path / 'uneven' / 'seed1' / name)
    for case in ('batch', 'uneven'):
        assert batched.run([['--resume', str(tmp_path / case / f'seed{s}')] for s in SEEDS]) == [0, 0]
    assert search.main(['--resume', str(tmp_path / 'alone' / 'seed0')]) == 0
    for case, seeds in (('batch', SEEDS), ('alone', [0]), ('uneven', SEEDS)):
        for s in seeds:
            assert_same_run(alone('first_momentum', s), tmp_path / case / f'seed{s}')


def test_a_batch_is_one_configuration(tmp_path):
    with pytest.raises(batched.cli.UserError, match='differ in --learning_rate'):
        batched.run([argv('first_momentum', 0, tmp_path / 'a'),
                        argv('first_momentum', 1, tmp_path / 'b', ['--learning_rate', '0.1'])])
    with pytest.raises(batched.cli.UserError, match='SDARTS-ADV is not batched'):
        batched.run([argv('first_momentum', s, tmp_path / f's{s}', ['--method', 'sdarts_adv']) for s in SEEDS])
