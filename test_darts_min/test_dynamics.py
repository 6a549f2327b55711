"""Search-dynamics metrics on hand-made alphas and genotypes, and the Hessian eigenvalue against the full Hessian."""
import os

import pytest
import torch

from conftest import TINY, batch, checkpoints_equal, read_metrics
from darts_min import checkpointing, dynamics, genotypes
from darts_min import search as train_search
from darts_min.model_search import Network


def test_skip_counts():
    assert dynamics.skip_counts(genotypes.DARTS_V2) == {'skip_normal': 2, 'skip_reduce': 3}
    assert dynamics.skip_counts(genotypes.DARTS_V1) == {'skip_normal': 3, 'skip_reduce': 3}


def test_entropy_is_one_for_uniform_weights_and_zero_for_a_certain_choice():
    def of_alpha(alpha):
        return dynamics.entropy(torch.softmax(alpha, dim=-1))

    assert of_alpha(torch.zeros(14, 8)) == pytest.approx(1.0)
    certain = torch.zeros(14, 8)
    certain[:, 3] = 1000.0
    assert of_alpha(certain) == pytest.approx(0.0, abs=1e-12)
    half = torch.full((14, 8), -1000.0)
    half[:, :2] = 0.0  # two equally likely ops of eight: log 2 / log 8
    assert of_alpha(half) == pytest.approx(1 / 3)
    torch.manual_seed(0)
    weights = torch.softmax(torch.randn(14, 8, dtype=torch.float64) * 3, dim=-1)
    assert 0 < dynamics.entropy(weights) < 1
    # op weights that do not sum to 1 (sigmoid's, --relaxation): each edge's scaled to sum 1 first
    assert dynamics.entropy(0.3 * weights) == pytest.approx(dynamics.entropy(weights), rel=1e-12)
    assert dynamics.entropy(torch.full((14, 8), 0.9)) == pytest.approx(1.0)


def test_alpha_spread_is_the_mean_per_edge_max_minus_min_and_the_largest_op_weight_the_largest_softmax():
    alpha = torch.zeros(2, 8)
    alpha[0, 3], alpha[1, 5], alpha[1, 0] = 2.0, 0.5, -1.0  # spreads 2 and 1.5: mean 1.75
    assert dynamics.alpha_spread(alpha) == pytest.approx(1.75)
    assert dynamics.alpha_spread(alpha + torch.tensor([[4.0], [-3.0]])) == pytest.approx(1.75)  # a shift per edge
    assert dynamics.alpha_spread(torch.softmax(alpha, -1).log()) == pytest.approx(1.75)  # so logged op weights give it
    assert dynamics.max_op_weight(torch.softmax(alpha, -1)) == pytest.approx(torch.e ** 2 / (torch.e ** 2 + 7))
    assert dynamics.max_op_weight(torch.softmax(torch.zeros(14, 8), -1)) == 1 / 8 and dynamics.alpha_spread(torch.zeros(14, 8)) == 0


def test_genotype_changes_count_edges_whose_op_or_input_changed():
    g = genotypes.DARTS_V2
    assert dynamics.genotype_changes(g, g) == 0
    swapped = g._replace(normal=[g.normal[1], g.normal[0]] + g.normal[2:])
    assert dynamics.genotype_changes(g, swapped) == 0  # the order within a node carries no meaning
    op = g._replace(normal=[('dil_conv_5x5', 0)] + g.normal[1:])
    assert dynamics.genotype_changes(g, op) == 1
    both = op._replace(reduce=g.reduce[:7] + [('max_pool_3x3', 0)])  # last reduce edge: input 1 -> 0
    assert dynamics.genotype_changes(g, both) == 2
    assert dynamics.genotype_changes(genotypes.DARTS_V1, genotypes.DARTS_V2) == 5


def full_hessian(model, batches):
    """The Hessian of the mean loss over `batches` w.r.t. alpha, row by row by double backprop (not dynamics')."""
    alphas = model.arch_parameters()
    rows = 0
    for x, y in batches:
        grad = torch.cat([g.flatten() for g in torch.autograd.grad(model._loss(x, y), alphas, create_graph=True)])
        rows = rows + torch.stack([torch.cat([h.flatten() for h in torch.autograd.grad(g, alphas, retain_graph=True)])
                                   for g in grad]) / len(batches)
    return rows


@pytest.mark.parametrize('alpha_seed, negative_dominates', [(3, False), (10, True)])
def test_power_iteration_finds_the_largest_eigenvalue_of_the_full_hessian(alpha_seed, negative_dominates):
    torch.manual_seed(0)  # cells of one node (2 edges each): a 32 x 32 Hessian
    model = Network(4, 10, 3, torch.nn.CrossEntropyLoss(), steps=1, multiplier=1).double()
    with torch.no_grad():
        for a in model.arch_parameters():
            a.normal_(generator=torch.Generator().manual_seed(alpha_seed))
    batches = [batch(n=4, size=8, dtype=torch.float64, seed=s) for s in (1, 2)]
    H = full_hessian(model, batches)  # in training mode, as the alpha step sees the loss
    assert torch.allclose(H, H.T, atol=1e-10)
    eig = torch.linalg.eigvalsh(H)
    # indefinite; with seed 10 the eigenvalue of largest magnitude is the most negative one, not lambda_max
    assert eig[0] < 0 < eig[-1] and (-eig[0] > eig[-1]) == negative_dominates
    model.eval()  # as the epoch's validation leaves it: the measurement is taken in training mode all the same
    found, iterations, converged = dynamics.hessian_eigenvalue(model, batches, iters=1000, tol=1e-8)
    assert found == pytest.approx(eig[-1].item(), rel=1e-6)
    assert converged and iterations < 2000 and not model.training
    # the product itself, on vectors of its own: one operator (its graph built once) serves each of them; so it does
    # with checkpointed edges, which recompute their terms at every product
    model.train()
    for checkpointed in (False, True):
        checkpointing.checkpoint_edges(model, checkpointed)
        hessian = dynamics.alpha_hessian(model, batches)
        for seed in (7, 8):
            v = torch.randn(H.shape[0], dtype=torch.float64, generator=torch.Generator().manual_seed(seed))
            parts = [p.view_as(a) for p, a in zip(v.split([a.numel() for a in model.arch_parameters()]),
                                                  model.arch_parameters())]
            hv = torch.cat([h.flatten() for h in hessian(parts)])
            assert torch.allclose(hv, H @ v, rtol=1e-9, atol=1e-12)


def test_an_unconverged_eigenvalue_says_so():
    model = Network(4, 10, 3, torch.nn.CrossEntropyLoss(), steps=1, multiplier=1).double()
    batches = [batch(n=4, size=8, dtype=torch.float64, seed=1)]
    _, iterations, converged = dynamics.hessian_eigenvalue(model, batches, iters=2, tol=1e-12)
    assert not converged and iterations in (2, 4)


SEARCH = TINY + ['--fake_size', '16', '--image_size', '8', '--epochs', '2']


@pytest.fixture(scope='module')
def plain(tmp_path_factory):
    save = str(tmp_path_factory.mktemp('plain') / 'run')
    assert train_search.main(SEARCH + ['--save', save]) == 0
    return save


@pytest.mark.parametrize('every, extra', [(1, []), (2, ['--checkpoint_cells'])])
def test_search_logs_the_dynamics_and_the_hessian_does_not_disturb_it(plain, tmp_path, every, extra):
    measured = str(tmp_path / 'measured')
    assert train_search.main(SEARCH + ['--hessian_every', str(every), '--hessian_iters', '2', '--save', measured]
                             + extra) == 0
    # the search goes on exactly as without the measurement: weights, alphas, BatchNorm statistics,
    # both optimizers, the scheduler and the random state after the last epoch, and every other metric
    a, b = read_metrics(plain), read_metrics(measured)
    assert checkpoints_equal(*(torch.load(os.path.join(d, 'checkpoint.pt'), weights_only=True) for d in (plain, measured)))
    hessian = {'hessian_eigenvalue', 'hessian_iterations', 'hessian_tol', 'hessian_converged', 'seconds'}
    assert [{k: v for k, v in m.items() if k not in hessian} for m in b] == [{k: v for k, v in m.items() if k != 'seconds'}
                                                                              for m in a]
    assert [m['epoch'] for m in b if 'hessian_eigenvalue' in m] == [e for e in range(2) if (e + 1) % every == 0]
    for m in b:
        assert {'skip_normal', 'skip_reduce', 'entropy_normal', 'entropy_reduce', 'genotype_changes'} <= m.keys()
        assert 0 <= m['entropy_normal'] <= 1 and 0 <= m['genotype_changes'] <= 16
        for cell in ('normal', 'reduce'):  # the logged op weights are softmax(alpha): their spread and largest one
            weights = torch.tensor(m[f'op_weights_{cell}'], dtype=torch.float64)
            assert m[f'alpha_spread_{cell}'] == pytest.approx(dynamics.alpha_spread(weights.log()), rel=1e-4)
            assert m[f'max_op_weight_{cell}'] == pytest.approx(weights.max().item(), rel=1e-6)
        if 'hessian_eigenvalue' in m:
            assert 1 <= m['hessian_iterations'] <= 4 and m['hessian_tol'] == 1e-3
            assert isinstance(m['hessian_converged'], bool)
        assert m['skip_normal'] == [op for op, _ in m['genotype']['normal']].count('skip_connect')
