"""The search loop's wiring (darts_min/search.py), watched by spies: what each step hands to whom, and in which order."""
import logging
import math
import os
import types

import pytest
import torch

from conftest import TINY, batch, tiny_network
from darts_min import methods, optimizers
from darts_min import search as train_search
from darts_min.architect import Architect

RUN = types.SimpleNamespace(log=logging.getLogger('test_search_loop'))


@pytest.mark.parametrize('method', ['darts', 'sdarts_rs'])
def test_each_step_moves_alpha_on_a_valid_batch_then_w_on_its_train_batch_clipped(monkeypatch, method):
    args = train_search.parse_args(TINY + ['--grad_clip', '1e-3', '--method', method, '--epochs', '4'])
    model = tiny_network()
    search_method = methods.build(args)
    search_method.setup(model)
    search_method.schedule(3)
    optimizer = optimizers.for_weights(args, model.parameters())
    architect = Architect(model, args)
    train = [batch(n=4, size=16, seed=s) for s in (1, 2, 3)]
    valid = [batch(n=4, size=16, seed=s) for s in (11, 12)]

    events, inputs = [], []
    perturbed = lambda: any(cell._forward_pre_hooks for cell in model.cells)  # noqa: E731  (SDARTS's, methods.py)
    forward = model.forward
    model.forward = lambda x: inputs.append(x) or forward(x)
    alpha_step = Architect.step

    def spy_alpha_step(self, xt, yt, xv, yv, xi, network_optimizer, unrolled):
        events.append(('alpha', xt, xv, xi, perturbed()))
        return alpha_step(self, xt, yt, xv, yv, xi, network_optimizer, unrolled)

    def spy_w_step(*a, **k):
        norm = torch.stack([p.grad.norm() for p in model.parameters()]).norm().item()
        events.append(('w', inputs[-1], norm, perturbed()))
        return w_step(*a, **k)

    monkeypatch.setattr(Architect, 'step', spy_alpha_step)
    w_step, optimizer.step = optimizer.step, spy_w_step
    train_search.train_epoch(0, (train, valid), model, architect, search_method, optimizer, 0.0125, args,
                             torch.device('cpu'), RUN)

    assert [e[0] for e in events] == ['alpha', 'w'] * 3  # alpha first, then w (DARTS Algorithm 1)
    for k in range(3):
        (_, xt, xv, xi, alpha_perturbed), (_, xw, norm, w_perturbed) = events[2 * k:2 * k + 2]
        assert torch.equal(xt, train[k][0]) and torch.equal(xv, valid[k % 2][0])  # alpha on the valid batch
        assert xi == 0.0125  # the virtual step's xi: the w learning rate this epoch runs at
        assert torch.equal(xw, train[k][0])  # w on the train batch
        assert norm <= 1e-3 * (1 + 1e-5)  # clipped to --grad_clip
        assert not alpha_perturbed and w_perturbed == (method == 'sdarts_rs')


def test_xi_follows_the_cosine_schedule_and_the_method_is_wired_in(tmp_path, monkeypatch):
    calls = []
    alpha_step = Architect.step

    def spy(self, xt, yt, xv, yv, xi, network_optimizer, unrolled):
        calls.append((xi, self.regularizer))
        return alpha_step(self, xt, yt, xv, yv, xi, network_optimizer, unrolled)

    monkeypatch.setattr(Architect, 'step', spy)
    assert train_search.main(TINY + ['--epochs', '3', '--method', 'beta_darts', '--save', str(tmp_path / 'b')]) == 0
    # DARTS appendix A.1: cosine from 0.025 to the original code's floor 0.001; two steps an epoch (16 images, 8 a batch)
    cosine = [0.001 + 0.024 * (1 + math.cos(math.pi * e / 3)) / 2 for e in range(3)]
    assert [xi for xi, _ in calls] == pytest.approx([lr for lr in cosine for _ in range(2)], rel=1e-12)
    assert all(getattr(regularizer, '__self__', None) is not None and regularizer.__self__.name == 'beta_darts'
               for _, regularizer in calls)

    save = str(tmp_path / 'minus')
    assert train_search.main(TINY + ['--epochs', '1', '--method', 'darts_minus', '--save', save]) == 0
    weights = torch.load(os.path.join(save, 'checkpoint.pt'), weights_only=True)['model']
    # DARTS-: every edge is the mixed op plus the auxiliary skip (a factorized reduce with weights on stride-2 edges)
    assert 'cells.1._ops.0.mixed._ops.4.op.1.weight' in weights and 'cells.1._ops.0.aux.conv_1.weight' in weights
