"""The fast paths, each against the plain one: checkpointed cells, the on-device loader, bf16 autocast."""
import json
import os
import subprocess
import sys
from collections import Counter

import pytest
import torch
from PIL import Image
from torch.utils._python_dispatch import TorchDispatchMode

from conftest import ROOT, TINY, batch, chi2_999, chi_square, read_metrics, tiny_network
from darts_min import data, data_on_device, methods, optimizers
from darts_min import search as train_search
from darts_min.architect import Architect
from darts_min.checkpointing import checkpoint_edges
from darts_min.training import frozen


@pytest.mark.parametrize('unrolled', [False, True])
def test_checkpointed_cells_give_identical_gradients_weights_and_statistics(unrolled):
    runs = []
    for checkpointed in (False, True):
        model = tiny_network(seed=4, steps=2)
        checkpoint_edges(model, checkpointed)
        args = train_search.parse_args([])
        w_opt = optimizers.for_weights(args, model.parameters())
        architect = Architect(model, args)
        xt, yt = batch(n=8, seed=1)
        xv, yv = batch(n=8, seed=2)
        for _ in range(2):
            architect.step(xt, yt, xv, yv, 0.025, w_opt, unrolled)
            alpha_grads = [a.grad.clone() for a in model.arch_parameters()]
            w_opt.zero_grad()
            model._loss(xt, yt).backward()
            w_opt.step()
        runs.append((alpha_grads, [p.grad for p in model.parameters()], list(model.parameters()),
                     list(model.buffers()), model.arch_parameters()))
    for plain, checkpointed in zip(*runs):
        assert all(torch.equal(a, b) for a, b in zip(plain, checkpointed))


def marked_image(size=8):
    """A uint8 image whose every pixel differs, so a crop and a flip can be read back from the output."""
    values = torch.arange(1, 3 * size * size + 1).reshape(3, size, size) % 251 + 1
    return values.permute(1, 2, 0).to(torch.uint8).numpy()


def test_device_loader_draws_the_same_crops_and_flips_as_torchvision():
    img, n = marked_image(), 3600
    reference = data.transform(8, train=True)
    torch.manual_seed(0)
    torchvision_out = [reference(Image.fromarray(img)) for _ in range(n)]
    loader = data_on_device.DeviceLoader(img[None].repeat(n, 0), [0] * n, list(range(n)), n, torch.device('cpu'), train=True)
    device_out = next(iter(loader))[0]

    def histogram(outputs):
        counts = {}
        for x in outputs:
            key = tuple(x.flatten().tolist())
            counts[key] = counts.get(key, 0) + 1
        return counts

    ref, ours = histogram(torchvision_out), histogram(device_out)
    assert len(ref) == len(ours) == 3 * 3 * 2  # offsets 0..2 in each direction (padding 1), flipped or not
    assert ref.keys() == ours.keys()  # the same images, to the last bit
    for counts in (ref, ours):
        assert chi_square(counts, list(ref)) < chi2_999(ref)  # uniform over the 18


def test_device_loader_without_augmentation_equals_totensor_normalize_and_shuffles_each_pass():
    torch.manual_seed(0)
    imgs = torch.randint(0, 256, (10, 8, 8, 3), dtype=torch.uint8).numpy()
    loader = data_on_device.DeviceLoader(imgs, list(range(10)), list(range(10)), 4, torch.device('cpu'), train=False)
    assert len(loader) == 3
    batches = list(loader)
    assert [len(y) for _, y in batches] == [4, 4, 2]
    reference = data.transform(8, train=False)
    for x, y in batches:
        for xi, yi in zip(x, y):
            assert torch.equal(xi, reference(Image.fromarray(imgs[yi])))
    orders = [torch.cat([y for _, y in loader]).tolist() for _ in range(3)]
    assert all(sorted(o) == list(range(10)) for o in orders) and len({tuple(o) for o in orders}) > 1


def test_batch_cutout_and_cutout_draw_the_hole_centre_uniformly():
    # A side-4 hole centred at c covers rows max(0, c - 2) .. min(8, c + 2) - 1 of an 8-px image: the covered span
    # tells c, and each of the 8 x 8 centres must come up equally often.
    spans = {(max(0, c - 2), min(8, c + 2)): c for c in range(8)}
    every_centre = [(r, c) for r in range(8) for c in range(8)]
    torch.manual_seed(0)
    x = torch.ones(4000, 1, 8, 8)
    for out in (data_on_device.batch_cutout(x, 4), torch.stack([data.Cutout(4)(xi) for xi in x])):
        centres = Counter()
        for hole in out[:, 0] == 0:
            rows, cols = hole.any(1).nonzero().flatten(), hole.any(0).nonzero().flatten()
            assert hole.sum() == len(rows) * len(cols)  # one rectangle
            span_r, span_c = (rows.min().item(), rows.max().item() + 1), (cols.min().item(), cols.max().item() + 1)
            assert span_r in spans and span_c in spans
            centres[spans[span_r], spans[span_c]] += 1
        assert chi_square(centres, every_centre) < chi2_999(every_centre)


def test_search_on_the_gpu_path_flags_runs_on_cpu_with_bf16_autocast(tmp_path):
    save = str(tmp_path / 'fast')
    assert train_search.main(TINY + ['--fake_size', '16', '--image_size', '8', '--epochs', '1', '--amp', '--channels_last',
                                     '--data_on_device', '--checkpoint_cells', '--unrolled', '--save', save]) == 0
    args = json.load(open(os.path.join(save, 'args.json')))
    assert args['amp'] and args['channels_last'] and args['data_on_device'] and args['checkpoint_cells']
    m = read_metrics(save)[0]
    assert all(map(lambda v: v == v, (m['train_loss'], m['valid_loss'])))  # finite, not NaN


def test_gpu_path_is_off_on_cpu_unless_asked(tiny_search):
    args = json.load(open(os.path.join(tiny_search, 'args.json')))
    assert not (args['amp'] or args['channels_last'] or args['data_on_device'] or args['checkpoint_cells'])


def test_bf16_alpha_gradient_is_close_to_fp32():
    model = tiny_network(seed=2)
    xt, yt = batch(n=8, size=16, seed=1)
    grads = []
    for amp in (False, True):
        args = train_search.parse_args(['--amp' if amp else '--no-amp'])
        architect = Architect(model, args)
        with torch.no_grad():
            state = [a.clone() for a in model.arch_parameters()]
        architect.step(xt, yt, xt, yt, 0.025, optimizers.for_weights(args, model.parameters()), unrolled=False)
        grads.append(torch.cat([a.grad.flatten() for a in model.arch_parameters()]))
        with torch.no_grad():
            for a, s in zip(model.arch_parameters(), state):
                a.copy_(s)
    assert not torch.equal(grads[0], grads[1])  # autocast did change the arithmetic
    assert torch.nn.functional.cosine_similarity(grads[0], grads[1], dim=0).item() > 0.95  # but not the direction


def load_benchmark():
    sys.path.insert(0, os.path.join(ROOT, 'benchmarks'))
    try:
        import search_step
    finally:
        sys.path.pop(0)
    return search_step


@pytest.mark.skipif(not os.path.exists('/proc/self/clear_refs'), reason='the CPU memory method reads Linux /proc')
def test_benchmark_memory_is_the_peak_a_step_holds_above_what_was_there():
    search_step = load_benchmark()
    kept = torch.ones(2 ** 24)  # 64 MB held before and after: not step memory

    def step():  # 64 MB of activations, freed at the end of the step
        return torch.ones(2 ** 24).sum()

    torch.ones(2 ** 26).sum()  # an earlier peak of 256 MB, gone: the measurement resets the peak first
    env = dict(os.environ)
    assert search_step.memory_mb(step, torch.device('cpu')) == pytest.approx(64, abs=4)
    assert kept.sum() == 2 ** 24 and os.environ == env


def test_benchmark_reports_every_figure_as_json(monkeypatch, capsys):
    """The whole script in this process: each memory child (a fresh process) measured here instead."""
    search_step = load_benchmark()
    argv = ['search_step.py', '--device', 'cpu', '--init_channels', '4', '--layers', '3', '--batch_size', '2',
            '--image_size', '8', '--repeats', '1', '--w_optimizer', 'adam']
    children = []

    def child(cmd, **kwargs):
        assert cmd[:len(argv) + 1] == [sys.executable, *argv] and kwargs['env']['MALLOC_MMAP_THRESHOLD_'] == str(128 * 1024)
        children.append(cmd[cmd.index('--memory_of') + 1])
        monkeypatch.setattr(sys, 'argv', cmd[1:])
        search_step.main()
        monkeypatch.setattr(sys, 'argv', argv)
        return subprocess.CompletedProcess(cmd, 0, capsys.readouterr().out, '')

    monkeypatch.setattr(search_step.subprocess, 'run', child)
    monkeypatch.setattr(sys, 'argv', argv)
    search_step.main()
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith('{')]
    assert children == [r['step'] for r in rows] == ['fwd_bwd', 'fwd_bwd_alpha', 'first_order', 'second_order']
    assert all(r['seconds'] > 0 and r['step_memory_mb'] >= 0 and r['w_optimizer'] == 'adam' for r in rows)
    # the limits: 2F for a first-order step, 3F + 2F_alpha for a second-order one
    F, Fa = rows[0]['seconds'], rows[1]['seconds']
    assert rows[2]['limit_ratio'] == pytest.approx(rows[2]['seconds'] / (2 * F))
    assert rows[3]['limit_ratio'] == pytest.approx(rows[3]['seconds'] / (3 * F + 2 * Fa))


@pytest.mark.parametrize('checkpointed', [False, True])
def test_frozen_passes_give_the_same_gradients_to_the_bit(checkpointed):
    """An alpha-only pass with w frozen, and a w pass with alpha frozen, compute exactly the gradients of the full pass."""
    model = tiny_network(seed=5, steps=2)
    checkpoint_edges(model, checkpointed)
    x, y = batch(n=8, seed=3)
    alphas, weights = model.arch_parameters(), list(model.parameters())
    full = torch.autograd.grad(model._loss(x, y), alphas + weights)
    with frozen(weights):
        alpha_only = torch.autograd.grad(model._loss(x, y), alphas)
        assert not any(w.requires_grad for w in weights)
    with frozen(alphas):
        weight_only = torch.autograd.grad(model._loss(x, y), weights)
    assert all(torch.equal(a, b) for a, b in zip(full, alpha_only + weight_only))
    assert all(t.requires_grad for t in alphas + weights)  # given back


def test_frozen_gives_back_what_it_froze_after_an_error_and_leaves_constants_alone():
    a, b = torch.ones(2, requires_grad=True), torch.ones(2)
    with pytest.raises(ZeroDivisionError), frozen([a, b]):
        assert not a.requires_grad
        1 / 0
    assert a.requires_grad and not b.requires_grad


@pytest.mark.smoke
def test_checkpointed_darts_minus_edges_give_identical_gradients():
    grads = []
    for checkpointed in (False, True):
        model = tiny_network(seed=6, steps=2)
        methods.DARTSMinus(train_search.parse_args(['--method', 'darts_minus'])).setup(model)
        checkpoint_edges(model, checkpointed)
        x, y = batch(n=8, seed=4)
        grads.append(torch.autograd.grad(model._loss(x, y), model.arch_parameters() + list(model.parameters())))
    assert all(torch.equal(a, b) for a, b in zip(*grads))


def test_checkpointed_edges_recompute_the_convolutions_but_not_the_pools():
    class Count(TorchDispatchMode):
        def __init__(self):
            super().__init__()
            self.calls = {}

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            name = func.overloadpacket.__name__
            self.calls[name] = self.calls.get(name, 0) + 1
            return func(*args, **(kwargs or {}))

    counts = []
    for checkpointed in (False, True):
        model = tiny_network(seed=7)
        checkpoint_edges(model, checkpointed)
        x, y = batch(n=4, size=16, seed=5)
        with Count() as count:
            model._loss(x, y).backward()
        counts.append(count.calls)
    plain, checkpointed = counts
    edges = 3 * 14
    assert plain['max_pool2d_with_indices'] == checkpointed['max_pool2d_with_indices'] == edges
    assert plain['avg_pool2d'] == checkpointed['avg_pool2d'] == edges
    # the four conv ops of every edge (12 convolutions) run again in the backward pass, and skip's factorized
    # reduce (2 convolutions) on the 8 stride-2 edges of each of the 2 reduction cells; nothing else does
    assert checkpointed['convolution'] - plain['convolution'] == 12 * edges + 2 * 8 * 2
    assert checkpointed['native_batch_norm'] - plain['native_batch_norm'] == 6 * edges + 8 * 2


def test_the_searches_per_hour_in_the_docs_are_the_benchmarks_committed_output():
    """BENCHMARKS.md's tables of searches per hour are benchmarks/results/searches_per_hour_*.txt's, and the ratios
    it, README.md and docs/study.md quote are in them (the timings are not rerun: a test never times)."""
    benchmarks = open(os.path.join(ROOT, 'BENCHMARKS.md')).read()
    ratios, per_hour = {}, {}
    for row in ('study', 'first'):
        out = open(os.path.join(ROOT, 'benchmarks', 'results', f'searches_per_hour_{row}.txt')).read()
        table = '\n'.join(line for line in out.splitlines() if line.startswith('|'))
        assert table and table in benchmarks, row
        cells = [line.split('|') for line in table.splitlines()[2:]]
        assert cells[0][1].strip() == 'base:2'  # the ratios are to the code before, two plain searches at once
        ratios[row] = {c[1].strip(): c[5].strip() for c in cells}
        per_hour[row] = {c[1].strip(): float(c[4]) for c in cells}
    (s5, s8), (f5, f8) = ([ratios[row][f'batched:2x{k}'] for k in (5, 8)] for row in ('study', 'first'))
    readme = open(os.path.join(ROOT, 'README.md')).read()
    assert (f"{s5}× the searches an hour of two plain searches at once (the code before it) at the new study's setting "
            f"with its 5 seeds ({s8}× with 8), {f5}× at the first study's batch of 64 ({f8}× with 8)") in readme
    study = ' '.join(open(os.path.join(ROOT, 'docs', 'study.md')).read().split())
    assert f"{s5}× the searches an hour of two plain searches at once (8 seeds: {s8}×)" in study
    assert f"{f5}× (8 seeds: {f8}×)" in study
    text = ' '.join(benchmarks.split())
    assert f"The new study's setting: {s5}× with its 5 seeds a batch, {s8}× with 8,**" in text
    assert f"(plain:2, whose λ_max is cheaper, below) is within the noise of it here ({ratios['study']['plain:2']}×)" in text
    assert f"One process of 10 seeds on both threads ({ratios['study']['batched:1x10']}×)" in text
    assert f"The first study's setting: {f5}× with 5 seeds, {f8}× with 8.**" in text
    first = per_hour['first']
    assert f"plain:2 itself gains {ratios['first']['plain:2']}× over base:2" in text
    assert (f"the batched ways are {first['batched:2x5'] / first['plain:2']:.2f}× and "
            f"{first['batched:2x8'] / first['plain:2']:.2f}× today's plain:2") in text
    # the previous run's figures the uncertainty and the history quote: the committed outputs of that run
    before = {row: open(os.path.join(ROOT, 'benchmarks', 'results', f'searches_per_hour_{row}_before.txt')).read()
              for row in ('study', 'first')}
    rows = {row: {c[1].strip(): c for c in (line.split('|') for line in out.splitlines() if line.startswith('| '))}
            for row, out in before.items()}
    old = {row: [rows[row][way][5].strip() for way in ('batched:2x5', 'batched:2x8')] for row in rows}
    assert (f"its first version, on the previous run: {old['study'][0]}× and {old['study'][1]}× on the study's row, "
            f"{old['first'][0]}× and {old['first'][1]}× on the first's, against plain:2 then") in text
    assert (f"plain:2 there: {rows['study']['plain:2'][4].strip()} and {rows['first']['plain:2'][4].strip()} searches "
            f"an hour; base:2 here: {per_hour['study']['base:2']} and {per_hour['first']['base:2']};") in text
    def peaks(outputs):
        return sorted(round(json.loads(line)['peak_gflops']['2']) for out in outputs
                      for line in out.splitlines() if 'peak_gflops' in line)
    now = peaks(open(os.path.join(ROOT, 'benchmarks', 'results', f'searches_per_hour_{row}.txt')).read()
                for row in ('study', 'first'))
    then = peaks(before.values())
    assert f"matmul rate {now[0]}-{now[-1]} GFLOP/s here against {then[0]}-{then[-1]} there" in text
    dense = open(os.path.join(ROOT, 'benchmarks', 'results', 'dense_conv.txt')).read()
    assert '\n'.join(line for line in dense.splitlines() if line.startswith('|')) in '\n'.join(
        line.strip() for line in benchmarks.splitlines())
