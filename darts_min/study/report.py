"""The study's report of a sweep: one table, the cells found and the plots, from the run directories alone.

    python -m darts_min.study.report runs/sweep   # writes runs/sweep/report.md and runs/sweep/plots/*.png

A row pools the seeds of one configuration: method, w optimizer and learning rate, alpha optimizer and
learning rate, and any other search setting that differs between the sweep's points. Its figures, each the
mean ± sample standard deviation over the seeds:
- the cells found, trained from scratch (a finished evaluation run SWEEP_DIR/<point>-eval of train_eval.py
  beside each search): validation accuracy, the selection measure, and test accuracy at the last epoch;
  and the difference in validation accuracy to DARTS's pair (momentum and adam at the registry's default
  rates) of the same method and settings, with a 95 % paired t interval over the seeds both rows hold;
- the searches at their last epoch: the supernet's accuracy on the search's own validation half, skip
  connections, the last lambda_max logged, how many distinct genotypes the seeds found.
Below the table every seed's cell, the best of each row chosen by validation accuracy, never by test
accuracy; then per method heatmaps over the optimizer grid, and per run the alpha and dynamics plots.
The runs are read by results.py, compared by stats.py, drawn by plots.py; docs/study.md says how to read it.
"""
import json
import math
import os
import statistics
import sys

from .. import cli
from ..data import IN_RANDOM_ORDER
from ..runs import atomic_write, make_folder
from ..visualize import pyplot
from . import random_search, tuning
from .plots import plot_grid_dynamics, plot_heatmaps, plot_run
from .results import group, load_runs, short, varying_names, varying_settings
from .stats import best, comparisons, reference_of, supernet_agreement


def mean_std(values, fmt='.4g'):
    """'mean ± std' (sample std) of the values that are not None; the value alone for one, '–' for none."""
    values = [v for v in values if v is not None]
    if not values:
        return '–'
    if len(values) == 1:
        return format(values[0], fmt)
    return f'{statistics.mean(values):{fmt}} ± {statistics.stdev(values):{fmt}}'


def difference_text(key, rows, compared):
    if reference_of(key, rows) == key:
        return 'reference'
    if key not in compared or compared[key].n == 0:
        return '–'
    c = compared[key]
    if c.interval is None:
        return f'{c.mean:+.2f} (1 seed: no interval)'
    return f'{c.mean:+.2f} [{c.interval[0]:+.2f}, {c.interval[1]:+.2f}], n={c.n}'


def p_text(key, compared):
    """'p (Holm p)' of a comparison, * where the Holm-adjusted p is below 0.05."""
    if key not in compared or compared[key].p is None:
        return '–'
    p, adjusted = compared[key].p, compared[key].holm_p
    return f'{p:.3g} ({adjusted:.3g}{"*" if adjusted < 0.05 else ""})'


def status_text(results):
    """'3/3' where every seed's search finished, else '1/3 finished, 1/3 diverged, 1/3 unfinished'."""
    n = len(results)
    counts = {s: sum(r.status == s for r in results) for s in ('finished', 'diverged', 'unfinished')}
    if counts['finished'] == n:
        return f'{n}/{n}'
    return ', '.join(f'{k}/{n} {s}' for s, k in counts.items() if k or s == 'finished')


def evaluated_text(results):
    """How many of the finished searches' cells finished their evaluation; those that diverged."""
    done = sum(r.evaluation is not None for r in results)
    diverged = sum(r.eval_status == 'diverged' for r in results)
    return f'{done}' + (f', {diverged} diverged' if diverged else '')


def intent_to_treat_text(results):
    """mean ± std of the seeds' validation accuracy, a diverged search or evaluation counted as chance, and n."""
    values = [v for v in (r.intent_to_treat() for r in results) if v is not None]
    return f'{mean_std(values, ".2f")} (n={len(values)})' if values else '–'


def seeds_vary(results):
    """What the seeds of a row vary: initialisation and batch order, and the search's split and the evaluation's
    hold-out where their split seeds differ between the seeds (CIFAR's search halves are fixed: the first and the
    last half, unless the search holds images out, --holdout_portion)."""
    finished = [r for r in results if r.status == 'finished']
    if len(finished) < 2:
        return '–'
    fixed = lambda args: args.get('dataset') in IN_RANDOM_ORDER and not args.get('holdout_portion')
    parts = ['init', 'order']
    if len({r.args.get('split_seed') for r in finished if not fixed(r.args)}) > 1:
        parts.append('search split')
    if len({r.eval_args.get('split_seed') for r in finished if r.eval_args and r.eval_args.get('valid_portion')}) > 1:
        parts.append('hold-out')
    return ', '.join(parts)


def summary(sweep_dir, results, rows, compared):
    """Markdown: the report's title, its counts and how to read its table."""
    tested = [k for k, c in compared.items() if c.p is not None]
    evaluated = sum(r.evaluation is not None for r in results)
    finished = sum(r.status == 'finished' for r in results)
    diverged = sum(r.status == 'diverged' or r.eval_status == 'diverged' for r in results)
    varying = sorted({n for m in {k.method for k in rows} for n in varying_names([k for k in rows if k.method == m])})
    return [f'# Report of {sweep_dir}', '',
            f'{len(results)} searches in {len(rows)} rows: {finished} finished, {diverged} diverged (search or evaluation), '
            f'{evaluated} cells evaluated (a finished <run>-eval).', '',
            '- Each figure is the mean ± sample std over the seeds of a row whose search finished, at its last epoch; '
            'seeds: finished / diverged / unfinished searches of the row.',
            '- valid / test acc: the cell found, trained from scratch by train_eval.py. Choose cells by validation '
            'accuracy, never by test accuracy. "diverged = chance": every seed whose search or evaluation diverged '
            'counted at chance accuracy (100 / classes), beside the finished ones; unfinished seeds are left out of both.',
            "- Δ: the validation accuracy minus that of DARTS's pair (momentum, adam at their default rates, or a tuned "
            "sweep's chosen ones) under the same protocol, seed by seed (a seed gives both searches the same initial w, α "
            'and data order): the mean and a 95 % '
            'paired t interval over the n seeds both finished and evaluated; with one seed, no interval exists.',
            f'- {len(tested)} comparisons with the reference have a p-value (paired t test); p (Holm p): Holm\'s '
            f'adjustment over all {len(tested)}, * below 0.05: {sum(compared[k].holm_p < 0.05 for k in tested)} of them.',
            '- One row, one protocol: the search\'s settings and the evaluation\'s arguments (eval.X). '
            + (f'The rows differ in {", ".join(varying)} (column settings); rows of different protocols are never '
               'pooled or compared.' if varying else 'Every row shares one protocol.'),
            '- seeds vary: what the seeds of a row vary, so what the intervals cover (CIFAR\'s search halves are fixed).',
            "- supernet acc: the search's supernet on its own validation half. It does not predict the accuracy of the "
            'cell trained from scratch (DARTS, section 3.2).',
            '- docs/study.md: how to read this report.', '']


def table(rows, compared):
    """The report's table in markdown, one line per row."""
    extra = sorted({k for rs in rows.values() for r in rs if r.status == 'finished' and r.metrics
                    for k in r.metrics[-1] if k.startswith('nb201_')})
    settings = varying_settings(rows)
    show_settings = any(settings.values())
    head = ['method', 'w optimizer', 'α optimizer', *(['settings'] if show_settings else []), 'seeds', 'evaluated',
            'valid acc %', 'valid acc %, diverged = chance', 'test acc %', "Δ valid acc vs DARTS's pair, 95 % CI",
            'p (Holm p)', 'seeds vary', 'supernet acc %', 'skip normal', 'skip reduce', 'λ_max', 'distinct genotypes',
            *extra]
    lines = ['| ' + ' | '.join(head) + ' |', '|' + '---|' * len(head)]
    for key, results in rows.items():
        figures = lambda name, fmt='.4g': mean_std([r.figure(name) for r in results], fmt)
        distinct = len({json.dumps(r.metrics[-1]['genotype'], sort_keys=True) for r in results if r.status == 'finished'})
        cells = [key.method, *key.label(), *([settings[key] or '–'] if show_settings else []), status_text(results),
                 evaluated_text(results), figures('valid_acc', '.2f'), intent_to_treat_text(results),
                 figures('test_acc', '.2f'), difference_text(key, rows, compared), p_text(key, compared),
                 seeds_vary(results), figures('supernet_acc', '.2f'), figures('skip_normal', '.3g'),
                 figures('skip_reduce', '.3g'), figures('hessian_eigenvalue', '.3g'), str(distinct),
                 *[figures(k) for k in extra]]
        lines.append('| ' + ' | '.join(cells) + ' |')
    return '\n'.join(lines)


def supernet_agreement_lines(results):
    """Markdown: how far the supernet's accuracy ranks the searches as their cells trained from scratch do
    (stats.supernet_agreement); nothing below three finished, evaluated searches."""
    found = supernet_agreement(results)
    if found is None:
        return []
    n, tau, p = found
    agreement = '–' if math.isnan(tau) else f'{tau:.2f} (p {p:.2g})'
    return ['## The supernet and the cell trained from scratch', '',
            f"Kendall's τ between a search's supernet accuracy and its cell's validation accuracy after training from "
            f'scratch, over the {n} finished, evaluated searches of every row: {agreement}. 1: the supernet '
            'orders the searches as their cells do; 0: no relation (DARTS, section 3.2).', '']


def alpha_entropy_range(results):
    """Markdown: the range over the finished searches of the normalised entropy of softmax(alpha) at the last epoch,
    per cell (darts_min/dynamics.py): how far the searches decided; nothing where none logged it."""
    spans = []
    for cell in ('normal', 'reduce'):
        values = [r.figure(f'entropy_{cell}') for r in results if r.args.get('kind', 'search') == 'search']
        values = [v for v in values if v is not None]
        if values:
            spans.append(f'{cell} cell {min(values):.5f} to {max(values):.5f} over {len(values)} searches')
    if not spans:
        return []
    return ['## How far α moved', '',
            "The normalised entropy of softmax(α) at the search's last epoch, mean over the edges (1: every operation "
            'weighted equally, as at the start; 0: one operation per edge): ' + '; '.join(spans) + '. Near 1, the '
            'derived cell follows small differences between α.', '']


def cells_found(rows):
    """Markdown: every seed's cell per row, the best of each row by validation accuracy marked."""
    lines, settings = [], varying_settings(rows)
    for key, results in rows.items():
        chosen = best(results)
        w, arch = key.label()
        lines += [f'### {key.method} · w {w} · α {arch}' + (f' · {settings[key]}' if settings[key] else ''), '']
        for r in results:
            if r.status != 'finished':
                lines.append(f'- seed {r.seed} · search {r.status} · {r.name}')
                continue
            accuracy = ' · '.join(f'{what} {r.figure(k):.2f} %' for what, k in (('valid', 'valid_acc'), ('test', 'test_acc'))
                                  if r.figure(k) is not None) or 'not evaluated'
            mark = '**best by validation** · ' if r is chosen else ''
            lines.append(f'- {mark}seed {r.seed} · {accuracy} · {r.name} · `{short(r.metrics[-1]["genotype"], bar="|")}`')
        lines.append('')
    return lines


def plot_lines(rows, results, sweep_dir, grid_plots):
    """Markdown: the pictures, drawn into SWEEP_DIR/plots: the grids', and each run's unless `grid_plots`."""
    plt = pyplot()
    folder = make_folder(os.path.join(sweep_dir, 'plots'), 'the plots into')
    link = lambda path: f'![{os.path.basename(path)}](plots/{os.path.basename(path)})'
    lines = ['## Optimizer grids', '', *map(link, plot_heatmaps(plt, rows, folder)),
             '', '## Dynamics over the grids', '', *map(link, plot_grid_dynamics(plt, rows, folder))]
    if grid_plots:
        return lines
    lines += ['', '## Runs', '']
    for r in results:
        if r.status == 'finished' and 'op_weights_normal' in r.metrics[0]:  # a search (random search has no alpha)
            lines += [f'### {r.name}', '', *map(link, plot_run(plt, r.name, r.metrics, folder)), '']
    return lines


def main(argv=None):
    p = cli.ArgumentParser(prog='python -m darts_min.study.report', description='Report of a sweep.')
    p.add_argument('sweep_dir')
    p.add_argument('--no_plots', action='store_true', help='the table only')
    p.add_argument('--grid_plots', action='store_true',
                   help="the grids' pictures only (heatmaps, dynamics), not each run's (megabytes for a large grid)")
    args = p.parse_args(argv)
    cli.check(os.path.isdir(args.sweep_dir), f'no sweep directory {args.sweep_dir}')
    results = load_runs(args.sweep_dir)
    cli.check(results, f'{args.sweep_dir} holds no search run')
    rows = group(results)
    compared = comparisons(rows)
    lines = [*summary(args.sweep_dir, results, rows, compared), table(rows, compared), '',
             *supernet_agreement_lines(results), *alpha_entropy_range(results),
             '## The cells found', '',
             'Per row, every seed\'s final genotype (normal | reduce, op/input per edge); the best cell of a row is the one '
             'of highest evaluated validation accuracy.', '', *cells_found(rows),
             *random_search.report_lines(results), *tuning.report_lines(args.sweep_dir)]
    if not args.no_plots:
        lines += plot_lines(rows, results, args.sweep_dir, args.grid_plots)
    path = os.path.join(args.sweep_dir, 'report.md')
    atomic_write(path, lambda f: f.write('\n'.join(lines) + '\n'))
    print(path)
    return 0


if __name__ == '__main__':
    sys.argv[0] = 'python -m darts_min.study.report'
    cli.run(main)
