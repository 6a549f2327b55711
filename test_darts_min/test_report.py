"""The report's numbers on a grid of hand-made run directories: means, stds, paired intervals, the best cell by
validation, distinct genotypes, missing values shown as missing."""
import json
import math
import os
import re

import numpy as np
import pytest
from scipy import stats

from darts_min import genotypes
from darts_min.study import grid, plots, report
from darts_min.study.results import Result, group, load_runs
from darts_min.study.stats import DARTS_PAIR, best, holm, paired_difference

CELL_A = genotypes.to_dict(genotypes.GENOTYPES['DARTS_V1'])
CELL_B = genotypes.to_dict(genotypes.GENOTYPES['DARTS_V2'])
# (method, w, w lr, alpha, alpha lr, unrolled, seed) -> (final genotype, supernet acc, evaluation (valid, test) or None)
GRID = {
    ('darts', 'momentum', 0.025, 'adam', 3e-4, False, 0): (CELL_A, 60.0, (90.0, 89.0)),
    ('darts', 'momentum', 0.025, 'adam', 3e-4, False, 1): (CELL_A, 62.5, (91.5, 90.0)),
    ('darts', 'momentum', 0.025, 'adam', 3e-4, False, 2): (CELL_B, 61.0, (89.25, 88.0)),
    # best by validation is seed 1, best by test seed 0
    ('darts', 'adam', 1e-3, 'adam', 3e-4, False, 0): (CELL_B, 55.0, (91.0, 92.0)),
    ('darts', 'adam', 1e-3, 'adam', 3e-4, False, 1): (CELL_B, 57.0, (93.0, 90.5)),
    ('darts', 'adam', 1e-3, 'adam', 3e-4, False, 2): (CELL_B, 56.0, (90.5, 91.0)),
    # one seed evaluated, one evaluation unfinished, one none
    ('darts', 'sgd', 0.1, 'rmsprop', 1e-4, False, 0): (CELL_A, 50.0, (80.0, 79.0)),
    ('darts', 'sgd', 0.1, 'rmsprop', 1e-4, False, 1): (CELL_B, 51.0, 'unfinished'),
    ('darts', 'sgd', 0.1, 'rmsprop', 1e-4, False, 2): (CELL_A, None, None),
    # second order: its own reference, with seeds 0 and 1 only
    ('darts', 'momentum', 0.025, 'adam', 3e-4, True, 0): (CELL_B, 63.0, (92.0, 91.0)),
    ('darts', 'momentum', 0.025, 'adam', 3e-4, True, 1): (CELL_B, 64.0, (92.5, 91.5)),
    ('darts', 'adam', 1e-3, 'adam', 3e-4, True, 1): (CELL_A, 58.0, (90.0, 90.0)),
}


def write_run(path, args, lines, genotype=None):
    os.makedirs(path)
    with open(os.path.join(path, 'args.json'), 'w') as f:
        json.dump(args, f)
    if genotype is not None:  # an evaluation's copy of the cell it trained
        with open(os.path.join(path, 'genotype.json'), 'w') as f:
            json.dump(genotype, f)
    with open(os.path.join(path, 'metrics.jsonl'), 'w') as f:
        f.writelines(json.dumps(line) + '\n' for line in lines)


def make_sweep(root):
    for (method, w, w_lr, a, a_lr, unrolled, seed), (cell, supernet, evaluation) in GRID.items():
        name = f'{method}-w_{w}_lr{w_lr}-a_{a}_lr{a_lr}-{"2nd" if unrolled else "1st"}-seed{seed}'
        args = {'kind': 'search', 'method': method, 'w_optimizer': w, 'learning_rate': w_lr,
                'learning_rate_min': w_lr * 0.001 / 0.025, 'arch_optimizer': a, 'arch_learning_rate': a_lr,
                'unrolled': unrolled, 'seed': seed, 'epochs': 2, 'device': f'cuda:{seed}', 'save': name}
        skips = {'skip_normal': seed, 'skip_reduce': 1}
        write_run(os.path.join(root, name), args, [
            {'epoch': 0, 'genotype': CELL_A, 'valid_acc': 10.0, 'hessian_eigenvalue': 0.5 + seed, **skips},
            {'epoch': 1, 'genotype': cell, 'valid_acc': supernet, **skips,  # lambda_max last logged at epoch 0
             'entropy_normal': 0.99 - 0.01 * seed, 'entropy_reduce': 0.5}])
        if evaluation is not None:
            finished = evaluation != 'unfinished'
            valid, test = evaluation if finished else (99.0, 99.0)
            write_run(os.path.join(root, name + '-eval'), {'kind': 'eval', 'epochs': 3, 'seed': seed},
                      [{'epoch': e, 'valid_acc': valid - 5 * (2 - e), 'test_acc': test - 5 * (2 - e)}
                       for e in range(3 if finished else 2)], genotype=cell)
    write_run(os.path.join(root, 'random-seed0'), {'kind': 'random', 'method': 'random', 'w_optimizer': '-',
                                                    'arch_optimizer': '-', 'seed': 0, 'epochs': 1},
              [{'epoch': 0, 'genotype': CELL_A, 'valid_acc': None, 'skip_normal': 0, 'skip_reduce': 0}])
    write_run(os.path.join(root, 'random-seed0-eval'), {'kind': 'eval', 'epochs': 1}, [{'epoch': 0, 'valid_acc': 85.0}],
              genotype=CELL_A)
    return root


@pytest.fixture
def sweep_dir(tmp_path):
    return make_sweep(str(tmp_path))


def evaluated(w, unrolled, key=0):
    """{seed: valid acc} of the finished evaluations of a row of GRID."""
    return {k[-1]: v[2][key] for k, v in GRID.items() if k[1] == w and k[5] == unrolled and isinstance(v[2], tuple)}


def table_rows(text):
    """{(w, alpha, settings): {column: cell}} of the report's table."""
    lines = [line for line in text.splitlines() if line.startswith('| ')]
    head = lines[0].strip('| ').split(' | ')
    cells = [dict(zip(head, line.strip('| ').split(' | '))) for line in lines[1:]]
    return {(c['w optimizer'], c['α optimizer'], c['settings']): c for c in cells}


def numbers(cell):
    return [float(x) for x in re.findall(r'[-+]?\d+(?:\.\d+)?', cell)]


def test_paired_difference_is_the_paired_t_interval():
    values, reference = {0: 91.0, 1: 93.0, 2: 90.5, 5: 70.0}, {0: 90.0, 1: 91.5, 2: 89.25, 3: 50.0}
    n, mean, (low, high), p, _ = paired_difference(values, reference)
    a, b = [91.0, 93.0, 90.5], [90.0, 91.5, 89.25]
    expected = stats.ttest_rel(a, b).confidence_interval(0.95)
    assert n == 3 and mean == pytest.approx(np.mean(np.subtract(a, b)))
    assert (low, high) == pytest.approx((expected.low, expected.high))
    assert paired_difference({0: 2.0}, {0: 1.5, 1: 3.0}) == (1, 0.5, None, None, None)
    assert paired_difference({0: 2.0}, {1: 3.0}) == (0, None, None, None, None)
    # worked by hand: differences 1.0, 1.5, 1.25 have the mean 1.25 and the 95 % interval [0.629, 1.871];
    # t = 1.25 / (0.25 / sqrt 3) = sqrt 75, and with 2 degrees of freedom p = 1 - t / sqrt(2 + t^2) = 1 - sqrt(75 / 77)
    n, mean, (low, high), p, _ = paired_difference({0: 91.0, 1: 92.5, 2: 93.25}, {0: 90.0, 1: 91.0, 2: 92.0})
    assert (n, mean, round(low, 3), round(high, 3)) == (3, 1.25, 0.629, 1.871)
    assert p == pytest.approx(1 - math.sqrt(75 / 77)) and round(p, 5) == 0.01307
    assert paired_difference({0: 2.0, 1: 3.0}, {0: 1.0, 1: 2.0}).p is None  # no spread: no test


def test_holm_by_hand():
    # sorted: d 0.005 * 4 = 0.02, a 0.01 * 3 = 0.03, c 0.03 * 2 = 0.06, b 0.04 * 1 = 0.04 -> not below c's 0.06
    assert holm({'a': 0.01, 'b': 0.04, 'c': 0.03, 'd': 0.005}) == pytest.approx(
        {'a': 0.03, 'b': 0.06, 'c': 0.06, 'd': 0.02})
    assert holm({'a': 0.6, 'b': 0.7}) == {'a': 1.0, 'b': 1.0} and holm({}) == {}


def test_table_numbers(sweep_dir):
    assert report.main([sweep_dir, '--no_plots']) == 0
    text = open(os.path.join(sweep_dir, 'report.md')).read()
    rows = table_rows(text)
    ref = rows['momentum 0.025', 'adam 0.0003', 'unrolled=false']
    adam = rows['adam 0.001', 'adam 0.0003', 'unrolled=false']
    sgd = rows['sgd 0.1', 'rmsprop 0.0001', 'unrolled=false']
    for row, w in ((ref, 'momentum'), (adam, 'adam')):
        for column, which in (('valid acc %', 0), ('test acc %', 1)):
            values = list(evaluated(w, False, which).values())
            assert numbers(row[column]) == pytest.approx([round(np.mean(values), 2), round(np.std(values, ddof=1), 2)])
        assert (row['seeds'], row['evaluated']) == ('3/3', '3')
    assert ref["Δ valid acc vs DARTS's pair, 95 % CI"] == 'reference'
    a, b = list(evaluated('adam', False).values()), list(evaluated('momentum', False).values())
    interval = stats.ttest_rel(a, b).confidence_interval(0.95)
    assert numbers(adam["Δ valid acc vs DARTS's pair, 95 % CI"]) == pytest.approx(
        [round(np.mean(a) - np.mean(b), 2), round(interval.low, 2), round(interval.high, 2), 3])
    assert numbers(adam['supernet acc %']) == pytest.approx([56.0, 1.0])
    assert numbers(ref['λ_max']) == pytest.approx([1.5, 1.0])  # the last value logged: 0.5 + seed at epoch 0
    assert numbers(ref['skip normal']) == pytest.approx([1.0, 1.0])
    assert (ref['distinct genotypes'], adam['distinct genotypes']) == ('2', '1')
    # one evaluation finished (an unfinished one is missing, not counted), a supernet accuracy missing: never a 0
    assert (sgd['evaluated'], sgd['valid acc %'], sgd['test acc %']) == ('1', '80.00', '79.00')
    assert sgd["Δ valid acc vs DARTS's pair, 95 % CI"] == '-10.00 (1 seed: no interval)'
    assert numbers(sgd['supernet acc %']) == pytest.approx([50.5, 0.71])
    # second order has its own reference; its adam row shares one seed with it
    second = rows['adam 0.001', 'adam 0.0003', 'unrolled=true']
    assert rows['momentum 0.025', 'adam 0.0003', 'unrolled=true']["Δ valid acc vs DARTS's pair, 95 % CI"] == 'reference'
    assert second["Δ valid acc vs DARTS's pair, 95 % CI"] == '-2.50 (1 seed: no interval)'
    # random search: compared with plain DARTS's pair only where one such row exists (here two: first and second order)
    random = rows['-', '-', '–']
    assert (random['valid acc %'], random['test acc %'], random['supernet acc %']) == ('85.00', '–', '–')
    assert random["Δ valid acc vs DARTS's pair, 95 % CI"] == '–'


def kendall_tau_b(pairs):
    """Kendall's tau-b from its definition: (concordant - discordant) / sqrt((n0 - ties in x)(n0 - ties in y))."""
    concordant = discordant = ties_x = ties_y = 0
    for i, (x1, y1) in enumerate(pairs):
        for x2, y2 in pairs[i + 1:]:
            sign = (x1 - x2) * (y1 - y2)
            concordant, discordant = concordant + (sign > 0), discordant + (sign < 0)
            ties_x, ties_y = ties_x + (x1 == x2), ties_y + (y1 == y2)
    n0 = len(pairs) * (len(pairs) - 1) // 2
    return (concordant - discordant) / math.sqrt((n0 - ties_x) * (n0 - ties_y))


def test_the_supernet_and_the_cell_trained_from_scratch_are_compared_by_kendalls_tau(sweep_dir):
    assert report.main([sweep_dir, '--no_plots']) == 0
    text = open(os.path.join(sweep_dir, 'report.md')).read()
    # every finished search with a supernet accuracy and a finished evaluation: 10 of GRID, random search not one
    pairs = [(v[1], v[2][0]) for v in GRID.values() if v[1] is not None and isinstance(v[2], tuple)]
    line = next(x for x in text.splitlines() if x.startswith("Kendall's τ"))
    tau, p = stats.kendalltau(*zip(*pairs))
    assert f'over the {len(pairs)} finished, evaluated searches of every row: {kendall_tau_b(pairs):.2f} (p {p:.2g})' in line
    assert len(pairs) == 10 and round(kendall_tau_b(pairs), 2) == round(tau, 2) == 0.31


def test_how_far_alpha_moved_is_the_range_of_the_last_epochs_entropy(sweep_dir):
    assert report.main([sweep_dir, '--no_plots']) == 0
    text = open(os.path.join(sweep_dir, 'report.md')).read()
    # the 12 searches of GRID (random search has no alpha), seeds 0-2 at 0.99 - 0.01 * seed
    assert ('normal cell 0.97000 to 0.99000 over 12 searches; reduce cell 0.50000 to 0.50000 over 12 searches'
            in text.split('## How far α moved')[1])


def test_the_best_cell_is_chosen_by_validation_never_by_test(sweep_dir):
    results = load_runs(sweep_dir)
    rows = group(results)
    adam = next(rs for k, rs in rows.items() if k.w_optimizer == 'adam' and dict(k.settings)['unrolled'] == 'false')
    assert best(adam).seed == 1  # valid 93.0, while seed 0 has the best test accuracy
    unevaluated = [r for r in results if r.evaluation is None]
    assert best(unevaluated) is None
    assert report.main([sweep_dir, '--no_plots']) == 0
    text = open(os.path.join(sweep_dir, 'report.md')).read()
    section = text[text.index('### darts · w adam 0.001 · α adam 0.0003'):]
    lines = section.splitlines()[2:5]
    assert [line.startswith('- **best by validation** · seed 1 · valid 93.00 % · test 90.50 %') for line in lines] == \
        [False, True, False]


def test_heatmaps_leave_a_missing_value_blank(sweep_dir):
    rows = group(load_runs(sweep_dir))
    first = [k for k in rows if k.method == 'darts' and dict(k.settings)['unrolled'] == 'false']
    ws, arches, grid = plots.heatmap_grid(rows, first, 'valid_acc')
    assert ws == ['adam 0.001', 'momentum 0.025', 'sgd 0.1'] and arches == ['adam 0.0003', 'rmsprop 0.0001']
    assert grid[0][0] == pytest.approx(np.mean([91.0, 93.0, 90.5])) and grid[2][1] == 80.0
    assert all(math.isnan(v) for v in (grid[0][1], grid[1][1], grid[2][0]))  # no such pair in the grid
    _, _, supernet = plots.heatmap_grid(rows, first, 'supernet_acc')
    assert supernet[2][1] == pytest.approx(50.5)  # the seed without a value is left out, not counted as 0
    assert report.main([sweep_dir]) == 0
    drawn = os.listdir(os.path.join(sweep_dir, 'plots'))
    assert {'heatmap_darts-1.png', 'heatmap_darts-2.png'} <= set(drawn)


def test_grid_plots_draw_each_grids_dynamics_per_epoch_and_no_run_plots(sweep_dir, monkeypatch):
    figures = {}
    monkeypatch.setattr(plots, 'save_figure', lambda fig, path, dpi: figures.setdefault(os.path.basename(path), fig))
    assert report.main([sweep_dir, '--grid_plots']) == 0
    assert set(figures) == {'heatmap_darts-1.png', 'heatmap_darts-2.png', 'dynamics_darts-1.png', 'dynamics_darts-2.png'}
    text = open(os.path.join(sweep_dir, 'report.md')).read()
    assert '](plots/dynamics_darts-1.png)' in text and '## Runs' not in text
    # first order: columns adam, momentum, sgd on w; rows 1 - entropy, skip (normal), supernet acc; a line per alpha
    axes = figures['dynamics_darts-1.png'].axes
    lines = {(ax.get_title() or str(k), line.get_label()): list(line.get_ydata()) for k, ax in enumerate(axes)
             for line in ax.lines}
    # the first row's title: 1 - the entropy, logged at the last epoch only, the mean over the seeds 0, 1, 2
    assert lines['w: adam 0.001', 'adam 0.0003'] == pytest.approx([1 - (0.99 + 0.98 + 0.97) / 3])
    assert lines['3', 'adam 0.0003'] == pytest.approx([1.0, 1.0])  # skip_normal: mean of the seeds 0, 1, 2
    assert lines['6', 'adam 0.0003'] == pytest.approx([10.0, 56.0])  # the supernet, mean of the seeds per epoch
    assert lines['8', 'rmsprop 0.0001'] == pytest.approx([10.0, 50.5])  # sgd's: a seed without a value left out
    assert plots.epoch_means(group(load_runs(sweep_dir))[next(
        k for k in group(load_runs(sweep_dir)) if k.w_optimizer == 'sgd')], 'valid_acc') == ([0, 1], [10.0, 50.5])


def test_a_run_with_unreadable_figures_is_left_out_with_a_line(sweep_dir, capsys):
    write_run(os.path.join(sweep_dir, 'edited'), {'kind': 'search', 'w_optimizer': 'sgd', 'arch_optimizer': 'adam',
                                                  'learning_rate': 'fast', 'seed': 0, 'epochs': 1},
              [{'epoch': 0, 'genotype': CELL_A, 'valid_acc': 50.0}])
    write_run(os.path.join(sweep_dir, 'lambda'), {'kind': 'search', 'w_optimizer': 'sgd', 'arch_optimizer': 'adam',
                                                  'seed': 0, 'epochs': 2},
              [{'epoch': 0, 'genotype': CELL_A, 'hessian_eigenvalue': 'big'}, {'epoch': 1, 'genotype': CELL_A}])
    names = [r.name for r in load_runs(sweep_dir)]
    err = capsys.readouterr().err
    assert 'edited' not in names and 'lambda' not in names and len(names) == len(GRID) + 1
    assert 'leaving out edited: its args.json holds' in err and 'leaving out lambda: a figure' in err


def test_an_evaluation_of_another_cell_than_its_searchs_is_left_out(sweep_dir, capsys):
    [stale] = [d for d in sorted(os.listdir(sweep_dir)) if d.endswith('-eval') and d != 'random-seed0-eval'][:1]
    trained = json.load(open(os.path.join(sweep_dir, stale, 'genotype.json')))
    with open(os.path.join(sweep_dir, stale, 'genotype.json'), 'w') as f:
        json.dump(CELL_B if trained == CELL_A else CELL_A, f)
    results = {r.name: r for r in load_runs(sweep_dir)}
    assert results[stale[:-len('-eval')]].evaluation is None
    assert "trained another cell than its search's last genotype" in capsys.readouterr().err


def failures_sweep(root):
    """DARTS's pair (seeds 0-2, valid 90, 91, 92) and three pairs under the same protocol: adam on w with differences
    1.0, 1.5, 1.25; sgd on w with seed 0 diverged, seed 1 unfinished, seed 2 at 80; rmsprop on alpha with seed 0's
    evaluation diverged and differences 0 and 1. And DARTS's pair again, evaluated 1 epoch instead of 3."""
    def search(name, w, lr, a, a_lr, seed, epochs_done=2, diverged=False, supernet=40.0):
        args = {'kind': 'search', 'method': 'darts', 'w_optimizer': w, 'learning_rate': lr, 'arch_optimizer': a,
                'arch_learning_rate': a_lr, 'seed': seed, 'split_seed': seed, 'dataset': 'fake', 'epochs': 2}
        lines = [{'epoch': e, 'genotype': CELL_A, 'valid_acc': 99.0 if e < 1 else supernet} for e in range(epochs_done)]
        write_run(os.path.join(root, name), args, lines)
        if diverged:
            json.dump({'status': 'diverged', 'epoch': epochs_done, 'num_classes': 10},
                      open(os.path.join(root, name, 'status.json'), 'w'))

    def evaluation(name, seed, valid, epochs=3, diverged=False):
        args = {'kind': 'eval', 'epochs': epochs, 'seed': seed, 'split_seed': seed, 'valid_portion': 0.1}
        done = 1 if diverged else epochs
        write_run(os.path.join(root, name + '-eval'), args, [{'epoch': e, 'valid_acc': valid or 12.0, 'test_acc': 11.0}
                                                            for e in range(done)], genotype=CELL_A)
        if diverged:
            json.dump({'status': 'diverged', 'epoch': 1, 'num_classes': 10},
                      open(os.path.join(root, name + '-eval', 'status.json'), 'w'))

    for seed, ref, adam, rms in ((0, 90.0, 91.0, None), (1, 91.0, 92.5, 91.0), (2, 92.0, 93.25, 93.0)):
        search(f'ref-seed{seed}', 'momentum', 0.025, 'adam', 3e-4, seed)
        evaluation(f'ref-seed{seed}', seed, ref)
        search(f'adam-seed{seed}', 'adam', 1e-3, 'adam', 3e-4, seed)
        evaluation(f'adam-seed{seed}', seed, adam)
        search(f'rms-seed{seed}', 'momentum', 0.025, 'rmsprop', 3e-4, seed)
        evaluation(f'rms-seed{seed}', seed, rms, diverged=rms is None)
    search('sgd-seed0', 'sgd', 0.1, 'adam', 3e-4, 0, epochs_done=1, diverged=True)
    search('sgd-seed1', 'sgd', 0.1, 'adam', 3e-4, 1, epochs_done=1)  # unfinished: its epoch 0 must not count
    search('sgd-seed2', 'sgd', 0.1, 'adam', 3e-4, 2)
    evaluation('sgd-seed2', 2, 80.0)
    for seed, valid in ((0, 50.0), (1, 60.0)):  # another protocol: never pooled with the 3-epoch evaluations
        search(f'short-seed{seed}', 'momentum', 0.025, 'adam', 3e-4, seed)
        evaluation(f'short-seed{seed}', seed, valid, epochs=1)
    return root


def test_failures_are_counted_and_protocols_kept_apart(tmp_path):
    root = failures_sweep(str(tmp_path))
    assert report.main([root, '--no_plots']) == 0
    text = open(os.path.join(root, 'report.md')).read()
    rows = table_rows(text)
    delta, p = "Δ valid acc vs DARTS's pair, 95 % CI", 'p (Holm p)'
    ref, short = rows['momentum 0.025', 'adam 0.0003', 'eval.epochs=3'], rows['momentum 0.025', 'adam 0.0003', 'eval.epochs=1']
    adam, sgd = rows['adam 0.001', 'adam 0.0003', 'eval.epochs=3'], rows['sgd 0.1', 'adam 0.0003', 'eval.epochs=3']
    rms = rows['momentum 0.025', 'rmsprop 0.0003', 'eval.epochs=3']
    assert (ref['seeds'], ref['valid acc %'], ref[delta]) == ('3/3', '91.00 ± 1.00', 'reference')
    assert (short['seeds'], short['valid acc %'], short[delta]) == ('2/2', '55.00 ± 7.07', 'reference')
    assert adam[delta] == '+1.25 [+0.63, +1.87], n=3'
    # sgd: only the finished seed's figures (its supernet 40, not the unfinished seed's 99); the diverged seed at
    # chance, 10 %, beside it: mean of 10 and 80 = 45, std 70 / sqrt 2 = 49.50; the difference over seed 2 alone
    assert (sgd['seeds'], sgd['evaluated'], sgd['valid acc %']) == ('1/3 finished, 1/3 diverged, 1/3 unfinished', '1', '80.00')
    assert (sgd['supernet acc %'], sgd['valid acc %, diverged = chance']) == ('40.00', '45.00 ± 49.50 (n=2)')
    assert sgd[delta] == '-12.00 (1 seed: no interval)' and sgd[p] == '–'
    # rmsprop: seed 0's evaluation diverged (chance 10), differences 0 and 1 over seeds 1, 2: mean 0.5, t = 1 with
    # 1 degree of freedom: p = 1 - 2 atan(1) / pi = 0.5
    assert (rms['seeds'], rms['evaluated'], rms['valid acc %, diverged = chance']) == ('3/3', '2, 1 diverged',
                                                                                     '64.67 ± 47.35 (n=3)')
    assert rms[delta].endswith('n=2') and rms[delta].startswith('+0.50')
    # Holm over the 2 p-values: 0.01307 * 2 = 0.02614 (below 0.05), then max(0.02614, 0.5 * 1) = 0.5
    assert (adam[p], rms[p]) == ('0.0131 (0.0261*)', '0.5 (0.5)')
    assert '2 comparisons with the reference have a p-value' in text and '* below 0.05: 1 of them' in text
    assert 'The rows differ in eval.epochs' in text
    assert (ref['seeds vary'], short['seeds vary']) == ('init, order, search split, hold-out',) * 2


def test_what_the_seeds_vary_says_what_an_interval_covers():
    def row(dataset, split_seeds, holdout=0.0, valid_portion=0.1):
        return [Result(f'r{s}', {'dataset': dataset, 'split_seed': s, 'holdout_portion': holdout}, [], None,
                              eval_args={'split_seed': s, 'valid_portion': valid_portion}) for s in split_seeds]
    assert report.seeds_vary(row('fake', [0, 1])) == 'init, order, search split, hold-out'
    assert report.seeds_vary(row('cifar10', [0, 1])) == 'init, order, hold-out'  # CIFAR's halves are fixed
    assert report.seeds_vary(row('cifar10', [0, 1], valid_portion=0)) == 'init, order'  # and no hold-out
    assert report.seeds_vary(row('cifar10', [0, 1], holdout=0.1)) == 'init, order, search split, hold-out'
    assert report.seeds_vary(row('fake', [3, 3])) == 'init, order'  # one --split_seed given for every seed
    assert report.seeds_vary(row('fake', [3])) == '–'


@pytest.mark.docs
def test_the_numbers_of_the_rules_in_docs_study():
    """docs/study.md's rules 5 and 6: the comparisons of the full grid, the t quantiles, the half-widths, the cost."""
    from darts_min.study import sweep
    args, *_ = sweep.parse(['--save', 'x', '--dataset', 'fake', '--seeds', '0', '--methods', 'darts', 'sdarts_rs',
                            'darts_minus', 'beta_darts', 'random', '--w_optimizers', 'sgd', 'momentum', 'nesterov',
                            'rmsprop', 'adam', 'adamw', '--arch_optimizers', 'sgd', 'momentum', 'rmsprop', 'adam', 'adamw',
                            '--evaluate_epochs', '10'])
    searches = [c for c in grid.points(args) if c.method != 'random']
    references = [c for c in searches if (c.w_optimizer, c.arch_optimizer) == DARTS_PAIR]
    assert (len(searches) - len(references), f'{0.05 / (len(searches) - len(references)):.2g}') == (116, '0.00043')
    assert [round(stats.t.ppf(0.975, n - 1), 2) for n in (3, 5)] == [4.30, 2.78]
    assert [round(stats.t.ppf(0.975, n - 1) / math.sqrt(n), 2) for n in (3, 5)] == [2.48, 1.24]
    assert round(530 * 5 / 3, -1) == 880
    text = ' '.join(open(os.path.join(os.path.dirname(__file__), '..', 'docs', 'study.md')).read().split())
    for quoted in ('116 comparisons', '0.00043', 't(0.975, 2) = 4.30', '2.48 sd(d)', 't(0.975, 4) = 2.78', '1.24 sd(d)',
                   'become about 880'):
        assert quoted in text, quoted
