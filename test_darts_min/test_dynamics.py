"""Search-dynamics metrics on hand-made alphas and genotypes, and the Hessian eigenvalue against the full Hessian."""
import pytest
import torch

import train_search
from conftest import TINY, batch, read_metrics
from darts_min import dynamics, genotypes
from darts_min.model_search import Network


def test_skip_counts():
    assert dynamics.skip_counts(genotypes.DARTS_V2) == {'skip_normal': 2, 'skip_reduce': 3}
    assert dynamics.skip_counts(genotypes.DARTS_V1) == {'skip_normal': 3, 'skip_reduce': 3}


def test_entropy_is_one_for_uniform_weights_and_zero_for_a_certain_choice():
    assert dynamics.alpha_entropy(torch.zeros(14, 8)) == pytest.approx(1.0)
    certain = torch.zeros(14, 8)
    certain[:, 3] = 1000.0
    assert dynamics.alpha_entropy(certain) == pytest.approx(0.0, abs=1e-12)
    half = torch.full((14, 8), -1000.0)
    half[:, :2] = 0.0  # two equally likely ops of eight: log 2 / log 8
    assert dynamics.alpha_entropy(half) == pytest.approx(1 / 3)
    torch.manual_seed(0)
    assert 0 < dynamics.alpha_entropy(torch.randn(14, 8) * 3) < 1


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


def test_power_iteration_finds_the_dominant_eigenvalue_of_the_full_hessian():
    torch.manual_seed(0)  # cells of one node (2 edges each): the full 32 x 32 Hessian takes 32 products
    model = Network(4, 10, 3, torch.nn.CrossEntropyLoss(), steps=1, multiplier=1).double()
    with torch.no_grad():
        for a in model.arch_parameters():
            a.normal_(generator=torch.Generator().manual_seed(3))
    batches = [batch(n=4, size=8, dtype=torch.float64, seed=s) for s in (1, 2)]
    alphas = model.arch_parameters()
    n = sum(a.numel() for a in alphas)
    rows = []
    for i in range(n):  # the full Hessian, one exact Hessian-vector product per unit vector
        unit = torch.zeros(n, dtype=torch.float64)
        unit[i] = 1
        parts = list(unit.split([a.numel() for a in alphas]))
        hv = dynamics.hessian_vector_product(model, batches, [p.view_as(a) for p, a in zip(parts, alphas)])
        rows.append(torch.cat([h.flatten() for h in hv]))
    H = torch.stack(rows)
    assert torch.allclose(H, H.T, atol=1e-10)
    eig = torch.linalg.eigvalsh(H)
    dominant = eig[eig.abs().argmax()].item()
    found, iterations = dynamics.hessian_eigenvalue(model, batches, iters=500, tol=1e-10)
    assert found == pytest.approx(dominant, rel=1e-6)
    assert iterations < 500


def test_search_logs_the_dynamics_and_the_hessian_does_not_disturb_it(tmp_path):
    plain, measured = str(tmp_path / 'plain'), str(tmp_path / 'measured')
    assert train_search.main(TINY + ['--epochs', '2', '--save', plain]) == 0
    assert train_search.main(TINY + ['--epochs', '2', '--hessian_every', '2', '--save', measured]) == 0
    a, b = read_metrics(plain), read_metrics(measured)
    assert a[-1]['alphas_normal'] == b[-1]['alphas_normal']  # the measurement leaves the search as it was
    for m in b:
        assert {'skip_normal', 'skip_reduce', 'entropy_normal', 'entropy_reduce', 'genotype_changes'} <= m.keys()
        assert 0 <= m['entropy_normal'] <= 1 and 0 <= m['genotype_changes'] <= 16
    assert 'hessian_eigenvalue' not in b[0]  # every 2 epochs: epoch index 1 only
    assert b[1]['hessian_iterations'] >= 1 and b[1]['hessian_tol'] == 1e-3 and b[1]['hessian_eigenvalue'] != 0
    assert b[1]['skip_normal'] == dynamics.skip_counts(genotypes.from_dict(b[1]['genotype']))['skip_normal']
