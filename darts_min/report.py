"""The study's report of a sweep: one table, the cells found and the plots, from the run directories alone.

    python -m darts_min.report runs/sweep         # writes runs/sweep/report.md and runs/sweep/plots/*.png

A row pools the seeds of one configuration: method, w optimizer and learning rate, alpha optimizer and
learning rate, and any other search setting that differs between the sweep's cells. Its figures, each the
mean ± sample standard deviation over the seeds:
- the cells found, trained from scratch (a finished evaluation run SWEEP_DIR/<cell>-eval of train_eval.py
  beside each search): validation accuracy, the selection measure, and test accuracy at the last epoch;
  and the difference in validation accuracy to DARTS's pair (momentum and adam at the registry's default
  rates) of the same method and settings, with a 95 % paired t interval over the seeds both rows hold;
- the searches at their last epoch: the supernet's accuracy on the search's own validation half, skip
  connections, the last lambda_max logged, how many distinct genotypes the seeds found.
Below the table every seed's cell, the best of each row chosen by validation accuracy, never by test
accuracy; then per method heatmaps over the optimizer grid, and per run the alpha and dynamics plots.
docs/study.md says how to read it.
"""
import json
import math
import os
import statistics
import sys
from collections import defaultdict
from typing import NamedTuple

from . import cli, genotypes, optimizers, random_search, tuning
from .data import IN_RANDOM_ORDER
from .model_nb201 import NB201_PRIMITIVES
from .runs import atomic_write, read_metrics, read_status
from .grid import cell_status
from .sweep import NOT_PROTOCOL
from .visualize import pyplot, save_figure

ABBREVIATIONS = {'none': 'no', 'max_pool_3x3': 'mp', 'avg_pool_3x3': 'ap', 'skip_connect': 'sk',
                 'sep_conv_3x3': 's3', 'sep_conv_5x5': 's5', 'dil_conv_3x3': 'd3', 'dil_conv_5x5': 'd5'}
DARTS_PAIR = ('momentum', 'adam')
# args.json entries that do not make two runs different configurations: where and how a run ran (the sweep's
# NOT_PROTOCOL), its seed and the split seed that follows it (pooled in a row), and those the row names itself
# (the floor of the w schedule counts as its ratio to the rate)
POOLED = {'seed', 'split_seed'}
NOT_SETTINGS = NOT_PROTOCOL | POOLED | {'method', 'w_optimizer', 'arch_optimizer', 'learning_rate', 'arch_learning_rate',
                                        'learning_rate_min'}


class Result(NamedTuple):
    """A search (or random-search) run directory of the sweep and the last epoch of its finished evaluation."""
    name: str
    args: dict
    metrics: list
    evaluation: dict | None
    status: str = 'finished'  # the search's: 'finished', 'diverged' (status.json) or 'unfinished'
    eval_args: dict | None = None  # the args.json of its evaluation run, where one began
    eval_status: str | None = None  # 'finished', 'diverged', 'unfinished', None (no evaluation)
    chance: float | None = None  # 100 / classes, where the search or its evaluation diverged

    @property
    def seed(self):
        return self.args.get('seed')  # an int or None (load_runs checks)

    def intent_to_treat(self):
        """The evaluated validation accuracy, a diverged search or evaluation counting as chance; None where it is
        not known yet (unfinished, not evaluated)."""
        return self.chance if self.chance is not None else self.figure('valid_acc')

    def figure(self, name):
        """A figure of this run: 'valid_acc'/'test_acc' of the evaluated cell, 'supernet_acc', 'hessian_eigenvalue'
        (the last logged), or any entry of the search's last epoch; None where it has none, and for every search
        that has not finished (its last epoch's figures are not the protocol's)."""
        if self.status != 'finished':
            return None
        if name in ('valid_acc', 'test_acc'):
            return (self.evaluation or {}).get(name)
        if name == 'supernet_acc':
            return self.metrics[-1].get('valid_acc')
        if name == 'hessian_eigenvalue':
            return next((m[name] for m in reversed(self.metrics) if m.get(name) is not None), None)
        return self.metrics[-1].get(name)


class Key(NamedTuple):
    """The configuration a row pools the seeds of."""
    method: str
    w: str
    w_lr: float | None
    arch: str
    arch_lr: float | None
    settings: tuple  # ((name, JSON value), ...) of every other setting in args.json
    evaluation: tuple = ()  # ((name, JSON value), ...) of the evaluation's args.json; () where none began

    def protocol(self):
        """{name: JSON value} of everything but the optimizers that made the row's figures, eval.X its evaluation's."""
        return {**dict(self.settings), **{f'eval.{k}': v for k, v in self.evaluation}}

    def label(self):
        w = self.w if self.w_lr is None else f'{self.w} {self.w_lr:g}'
        arch = self.arch if self.arch_lr is None else f'{self.arch} {self.arch_lr:g}'
        return w, arch


def key_of(args):
    settings = dict(args)
    for side, name, rate, decay in (('w', 'w_optimizer', 'learning_rate', 'weight_decay'),
                                    ('arch', 'arch_optimizer', 'arch_learning_rate', 'arch_weight_decay')):
        if settings.get(decay) is not None and settings[decay] == registry_decay(args.get(name), side, args.get(rate)):
            del settings[decay]  # the registry's decay for the optimizer and rate (AdamW's follows its rate): no setting
    if isinstance(args.get('learning_rate_min'), (int, float)) and args.get('learning_rate'):
        settings['learning_rate_min/learning_rate'] = float(f'{args["learning_rate_min"] / args["learning_rate"]:.6g}')
    return Key(args.get('method', 'darts'), args['w_optimizer'], args.get('learning_rate'), args['arch_optimizer'],
               args.get('arch_learning_rate'), settings_of(settings))


def settings_of(args):
    """((name, JSON value), ...) sorted, of a run's args.json less NOT_SETTINGS."""
    return tuple(sorted((k, json.dumps(v, sort_keys=True)) for k, v in args.items() if k not in NOT_SETTINGS))


def registry_decay(name, side, rate):
    """optimizers.default_weight_decay, or None for a name or rate that has none."""
    try:
        return optimizers.default_weight_decay(name, side, rate) if isinstance(rate, (int, float)) and rate > 0 else None
    except optimizers.OptimizerError:
        return None


def _read_json(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def _read_args(path, name=None):
    """The args.json of the run directory at `path` (a dict), or None where it has none or it is unreadable; given the
    run's `name`, an unreadable one is named on stderr."""
    try:
        with open(os.path.join(path, 'args.json')) as f:
            args = json.load(f)
        problem = None if isinstance(args, dict) else 'not a JSON object'
    except (FileNotFoundError, NotADirectoryError):
        return None
    except (OSError, ValueError) as e:  # cut short, not JSON, not UTF-8, not readable
        problem = f'{type(e).__name__}: {e}'
    if problem and name is not None:
        print(f'report: leaving out {name}: its args.json is unreadable ({problem})', file=sys.stderr)
    return None if problem else args


def _not_numbers(record, keys):
    return any(record.get(k) is not None and (isinstance(record[k], bool) or not isinstance(record[k], (int, float)))
               for k in keys)


def _problem(args, metrics):
    """Why a search run cannot be reported, or None; `metrics` None: an unfinished one, its args alone."""
    if not all(isinstance(args.get(k), str) for k in ('w_optimizer', 'arch_optimizer')) or _not_numbers(
            args, ('learning_rate', 'arch_learning_rate', 'learning_rate_min')) or not isinstance(args.get('seed') or 0, int):
        return 'its args.json holds an optimizer that is not a name, or a rate or seed that is not a number'
    if metrics is None:
        return None
    try:
        short(metrics[-1]['genotype'])
    except (KeyError, TypeError, genotypes.GenotypeError) as e:
        return f'its genotype is unreadable ({e})'
    if _not_numbers(metrics[-1], ('valid_acc', 'skip_normal', 'skip_reduce')) or any(
            _not_numbers(m, ('hessian_eigenvalue',)) for m in metrics):
        return 'a figure of its last epoch is not a number'
    return None


def chance_of(path):
    """100 / classes where the run at `path` diverged (its status.json), else None."""
    status = read_status(path) or {}
    classes = status.get('num_classes')
    diverged = status.get('status') == 'diverged' and isinstance(classes, int) and classes > 0
    return 100 / classes if diverged else None


def load_evaluation(path, genotype):
    """(the last epoch of the finished evaluation run at `path` of the cell `genotype` or None, its args.json or None,
    its status: 'finished', 'diverged', 'unfinished' or None where there is none, or it trained another cell: a
    search run again since)."""
    args = _read_args(path)
    if args is None or args.get('kind') != 'eval':
        return None, None, None
    if _read_json(os.path.join(path, 'genotype.json')) != genotype:
        print(f"report: leaving out the evaluation {path}: it trained another cell than its search's last genotype "
              '(the search ran again since)', file=sys.stderr)
        return None, None, None
    status = {'done': 'finished', 'diverged': 'diverged'}.get(cell_status(path), 'unfinished')
    records = read_metrics(os.path.join(path, 'metrics.jsonl'))
    if status != 'finished' or not records:
        return None, args, status
    if _not_numbers(records[-1], ('valid_acc', 'test_acc')):
        print(f'report: leaving out the evaluation {path}: a figure of its last epoch is not a number', file=sys.stderr)
        return None, args, 'unfinished'
    return records[-1], args, status


def load_runs(sweep_dir):
    """[Result] of every search or random-search run directory in sweep_dir that began: finished, diverged or
    unfinished; only a finished one has figures (an unfinished run's last epoch is not its protocol's)."""
    results = []
    for name in sorted(os.listdir(sweep_dir)):
        path = os.path.join(sweep_dir, name)
        args = _read_args(path, name)
        if args is None or 'w_optimizer' not in args or args.get('kind', 'search') not in ('search', 'random'):
            continue
        unreadable = []
        metrics = read_metrics(os.path.join(path, 'metrics.jsonl'), unreadable)
        if unreadable:  # a line cut short by a kill, say: the run is read from its other lines
            print(f'report: {name}: cannot read all of its metrics.jsonl ({", ".join(unreadable)}); reported from the '
                  'epochs it could read', file=sys.stderr)
        status = {'done': 'finished', 'diverged': 'diverged'}.get(cell_status(path), 'unfinished')
        if status == 'finished' and not metrics:  # a hand-made args.json with epochs 0: nothing was trained
            status = 'unfinished'
        problem = _problem(args, metrics if status == 'finished' else None)
        if problem:
            print(f'report: leaving out {name}: {problem}', file=sys.stderr)
            continue
        if status != 'finished':
            results.append(Result(name, args, metrics, None, status, chance=chance_of(path)))
            continue
        evaluation, eval_args, eval_status = load_evaluation(path + '-eval', metrics[-1]['genotype'])
        results.append(Result(name, args, metrics, evaluation, status, eval_args, eval_status, chance_of(path + '-eval')))
    return results


def short(genotype, bar='\\|'):
    """A genotype in one line: normal | reduce, each edge as op/input (an NB201 cell: its arch string)."""
    if 'arch' in genotype:
        return genotype['arch']
    g = genotypes.from_dict(genotype)
    cell = lambda genes: ' '.join(f'{ABBREVIATIONS.get(op, op)}/{j}' for op, j in genes)
    return f'{cell(g.normal)} {bar} {cell(g.reduce)}'


def mean_std(values, fmt='.4g'):
    """'mean ± std' (sample std) of the values that are not None; the value alone for one, '–' for none."""
    values = [v for v in values if v is not None]
    if not values:
        return '–'
    if len(values) == 1:
        return format(values[0], fmt)
    return f'{statistics.mean(values):{fmt}} ± {statistics.stdev(values):{fmt}}'


def by_seed(results, figure):
    """{seed: value} of a figure over a row's runs that have it."""
    return {r.seed: r.figure(figure) for r in results if r.seed is not None and r.figure(figure) is not None}


def scipy_stats():
    try:
        from scipy import stats
    except ImportError:
        raise cli.UserError('the report\'s intervals and tests need scipy: pip install scipy') from None
    return stats


def paired_difference(values, reference):
    """(n, mean, 95 % interval or None, two-sided p or None) of values[s] - reference[s] over the n seeds both dicts
    hold.

    The same seed gives two searches the same initial w, alpha and data order, so the seeds pair the runs:
    a paired t interval, mean ± t(0.975, n - 1) * sd / sqrt(n) of the n differences, and the paired t test's
    p-value (scipy). None with one seed; no p where the differences do not vary.
    """
    diffs = [values[s] - reference[s] for s in sorted(values.keys() & reference.keys())]
    if len(diffs) < 2:
        return len(diffs), (diffs[0] if diffs else None), None, None
    stats = scipy_stats()
    mean = statistics.mean(diffs)
    half = stats.t.ppf(0.975, len(diffs) - 1) * statistics.stdev(diffs) / math.sqrt(len(diffs))
    p = float(stats.ttest_1samp(diffs, 0.0).pvalue) if statistics.stdev(diffs) > 0 else None
    return len(diffs), mean, (mean - half, mean + half), p


def holm(pvalues):
    """{key: Holm-adjusted p} of {key: p} (Holm 1979, step-down): the i-th smallest of m p-values times m - i + 1
    (i from 1), never below the adjusted p before it, at most 1. It bounds the chance of any false finding among
    the m comparisons by 5 % where adjusted p < 0.05."""
    adjusted, floor = {}, 0.0
    for i, key in enumerate(sorted(pvalues, key=pvalues.get)):
        floor = max(floor, min(1.0, (len(pvalues) - i) * pvalues[key]))
        adjusted[key] = floor
    return adjusted


def group(results):
    """{Key: [Result]} in the order of the keys, each row's runs by seed. A row is one protocol: the search's settings
    and its evaluation's (the args.json of each seed's -eval); a seed whose evaluation has not begun joins the row of
    its search settings when all of its evaluated seeds share one evaluation protocol."""
    searches = defaultdict(list)
    for r in results:
        searches[key_of(r.args)].append(r)
    rows = defaultdict(list)
    for key, runs in searches.items():
        protocols = {settings_of(r.eval_args) for r in runs if r.eval_args is not None}
        alone = next(iter(protocols)) if len(protocols) == 1 else ()
        for r in runs:
            rows[key._replace(evaluation=settings_of(r.eval_args) if r.eval_args is not None else alone)].append(r)
    order = lambda k: (k.method, k.w, k.w_lr or 0, k.arch, k.arch_lr or 0, k.settings, k.evaluation)
    return {k: sorted(rows[k], key=lambda r: (r.seed is None, r.seed or 0, r.name)) for k in sorted(rows, key=order)}


def reference_of(key, rows):
    """The key of the row a row is compared with: DARTS's pair under the same protocol (method, settings, evaluation)
    at the registry's default rates, else at the one pair of rates the sweep ran it at (a tuned sweep's chosen rates,
    tuning.py); for random search, that of plain DARTS with the same evaluation where the sweep holds exactly one such
    row. None if absent: rows of different protocols are never compared."""
    method = 'darts' if key.method == 'random' else key.method
    pairs = [k for k in rows if k.method == method and (k.w, k.arch) == DARTS_PAIR and k.evaluation == key.evaluation
             and (key.method == 'random' or k.settings == key.settings)]
    defaults = optimizers.default_lr(DARTS_PAIR[0], 'w'), optimizers.default_lr(DARTS_PAIR[1], 'arch')
    found = [k for k in pairs if (k.w_lr, k.arch_lr) == defaults] or pairs
    return found[0] if len(found) == 1 else None


def comparisons(rows):
    """{Key: (n, mean, interval, p, Holm-adjusted p)} of every row with a reference, not the reference itself; the
    family Holm adjusts over is every comparison with a p-value."""
    found = {}
    for key in rows:
        reference = reference_of(key, rows)
        if reference is not None and reference != key:
            found[key] = paired_difference(by_seed(rows[key], 'valid_acc'), by_seed(rows[reference], 'valid_acc'))
    adjusted = holm({k: c[3] for k, c in found.items() if c[3] is not None})
    return {k: (*c, adjusted.get(k)) for k, c in found.items()}


def difference_text(key, rows, compared):
    if reference_of(key, rows) == key:
        return 'reference'
    if key not in compared or compared[key][0] == 0:
        return '–'
    n, mean, interval, _, _ = compared[key]
    if interval is None:
        return f'{mean:+.2f} (1 seed: no interval)'
    return f'{mean:+.2f} [{interval[0]:+.2f}, {interval[1]:+.2f}], n={n}'


def p_text(key, compared):
    """'p (Holm p)' of a comparison, * where the Holm-adjusted p is below 0.05."""
    if key not in compared or compared[key][3] is None:
        return '–'
    p, adjusted = compared[key][3:]
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


def varying_names(keys):
    """The settings (eval.X those of the evaluation) that differ between the keys: what makes their protocols differ."""
    names = {n for k in keys for n in k.protocol()}
    return sorted(n for n in names if len({k.protocol().get(n) for k in keys}) > 1)


def varying_settings(rows):
    """{Key: 'name=value, ...'} of the settings that differ between the rows of the same method."""
    labels = {}
    for method in {k.method for k in rows}:
        keys = [k for k in rows if k.method == method]
        varying = varying_names(keys)
        for k in keys:
            labels[k] = ', '.join(f'{n}={k.protocol().get(n, "–")}' for n in varying)
    return labels


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


def supernet_agreement(results):
    """Markdown: how far the supernet's accuracy ranks the searches as their cells trained from scratch do, over every
    finished, evaluated search: Kendall's tau-b (Kendall 1945, ties counted) and its two-sided p (scipy); nothing
    below three such searches."""
    pairs = [(r.figure('supernet_acc'), r.figure('valid_acc')) for r in results if r.args.get('kind', 'search') == 'search']
    pairs = [(s, v) for s, v in pairs if s is not None and v is not None]
    if len(pairs) < 3:
        return []
    tau, p = scipy_stats().kendalltau(*zip(*pairs))
    agreement = '–' if math.isnan(tau) else f'{tau:.2f} (p {p:.2g})'
    return ['## The supernet and the cell trained from scratch', '',
            f"Kendall's τ between a search's supernet accuracy and its cell's validation accuracy after training from "
            f'scratch, over the {len(pairs)} finished, evaluated searches of every row: {agreement}. 1: the supernet '
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


def best(results):
    """The run whose evaluated cell has the highest validation accuracy (never the test accuracy); None if none has one."""
    evaluated = [r for r in results if r.figure('valid_acc') is not None]
    return max(evaluated, key=lambda r: r.figure('valid_acc')) if evaluated else None


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


def plot_run(plt, name, metrics, folder):
    """<name>_alphas.png (softmax(alpha) of every edge over the epochs) and <name>_dynamics.png."""
    epochs = [m['epoch'] for m in metrics]
    paths = []
    cells = [k for k in ('op_weights_normal', 'op_weights_reduce') if k in metrics[0]]
    edges, ops = len(metrics[0][cells[0]]), len(metrics[0][cells[0]][0])
    names = genotypes.PRIMITIVES if ops == len(genotypes.PRIMITIVES) else NB201_PRIMITIVES
    fig, axes = plt.subplots(len(cells), edges, figsize=(2 * edges, 2.25 * len(cells)), sharex=True, sharey=True,
                             squeeze=False)
    for row, cell in enumerate(cells):
        for edge in range(edges):
            ax = axes[row][edge]
            for k, op in enumerate(names):
                ax.plot(epochs, [m[cell][edge][k] for m in metrics], label=op)
            ax.set_title(f'{cell.removeprefix("op_weights_")} e{edge}', fontsize=7)
            ax.tick_params(labelsize=6)
    axes[0][0].legend(fontsize=5, loc='upper left')
    fig.suptitle(f'{name}: softmax(alpha) per edge')
    fig.tight_layout()
    paths.append(os.path.join(folder, f'{name}_alphas.png'))
    save_figure(fig, paths[-1], dpi=80)

    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.2))
    hessian = [(m['epoch'], m['hessian_eigenvalue']) for m in metrics if m.get('hessian_eigenvalue') is not None]
    if hessian:
        left.plot(*zip(*hessian), marker='o')
    left.set_title('Hessian eigenvalue' + ('' if hessian else ' (not logged: --hessian_every)'))
    left.set_xlabel('epoch')
    for key in ('skip_normal', 'skip_reduce'):  # a value not logged is a gap, not a 0
        right.plot(epochs, [m[key] if m.get(key) is not None else math.nan for m in metrics], marker='o', label=key)
    right.set_title('skip connections')
    right.set_xlabel('epoch')
    right.legend()
    fig.tight_layout()
    paths.append(os.path.join(folder, f'{name}_dynamics.png'))
    save_figure(fig, paths[-1], dpi=80)
    return paths


def heatmap_grid(rows, keys, figure):
    """(w labels, alpha labels, grid): the mean of a figure over the seeds of each (w, rate) x (alpha, rate) of
    `keys`; NaN where the grid has no row or the row no value."""
    ws = sorted({(k.w, k.w_lr) for k in keys})
    arches = sorted({(k.arch, k.arch_lr) for k in keys})
    cell = {((k.w, k.w_lr), (k.arch, k.arch_lr)): k for k in keys}
    grid = []
    for w in ws:
        grid.append([])
        for a in arches:
            values = [r.figure(figure) for r in rows[cell[w, a]]] if (w, a) in cell else []
            values = [v for v in values if v is not None]
            grid[-1].append(statistics.mean(values) if values else math.nan)
    label = lambda name, lr: name if lr is None else f'{name} {lr:g}'
    return [label(*w) for w in ws], [label(*a) for a in arches], grid


def grids(rows):
    """(file name suffix, title, keys) of each optimizer grid of the rows: one per method (random search has none) and
    combination of its other settings."""
    settings = varying_settings(rows)
    for method in sorted({k.method for k in rows} - {'random'}):
        variants = sorted({(k.settings, k.evaluation) for k in rows if k.method == method})
        for n, variant in enumerate(variants):
            keys = [k for k in rows if k.method == method and (k.settings, k.evaluation) == variant]
            yield (f'{method}{f"-{n + 1}" if len(variants) > 1 else ""}',
                   method + (f' ({settings[keys[0]]})' if settings[keys[0]] else ''), keys)


def plot_heatmaps(plt, rows, folder):
    """heatmap_<method>[-<n>].png: over the optimizer grid of each method (and other settings), the mean evaluated
    validation accuracy, the supernet's accuracy and the normal cell's skip count. No value: a hatched blank."""
    import numpy as np
    from matplotlib.patches import Rectangle
    paths = []
    for suffix, title, keys in grids(rows):
        panels = [('valid_acc', 'cell valid acc % (evaluated)'), ('supernet_acc', 'supernet acc %'),
                  ('skip_normal', 'skip (normal)')]
        ws, arches, _ = heatmap_grid(rows, keys, 'valid_acc')
        fig, axes = plt.subplots(1, len(panels), figsize=(len(panels) * (2.6 + 0.9 * len(arches)), 1.8 + 0.5 * len(ws)))
        for ax, (figure, label) in zip(axes, panels):
            _, _, grid = heatmap_grid(rows, keys, figure)
            values = np.ma.masked_invalid(np.array(grid, dtype=float))
            im = ax.imshow(values, cmap=plt.get_cmap('viridis').with_extremes(bad='white'), aspect='auto')
            for i, row in enumerate(grid):
                for j, v in enumerate(row):
                    if math.isnan(v):
                        ax.add_patch(Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False, hatch='///', edgecolor='#bbbbbb'))
                    ax.text(j, i, '–' if math.isnan(v) else f'{v:.3g}', ha='center', va='center', fontsize=8,
                            bbox=dict(boxstyle='round', fc='white', ec='none', alpha=0.7))
            ax.set_xticks(range(len(arches)), arches, rotation=30, ha='right')
            ax.set_yticks(range(len(ws)), ws if ax is axes[0] else [])
            ax.set_xlabel('α optimizer')
            if ax is axes[0]:
                ax.set_ylabel('w optimizer')
            ax.set_title(label, fontsize=9)
            if values.count():
                fig.colorbar(im, ax=ax)
        fig.suptitle(title)
        fig.tight_layout()
        paths.append(os.path.join(folder, f'heatmap_{suffix}.png'))
        save_figure(fig, paths[-1], dpi=90)
    return paths


def epoch_means(results, name):
    """([epoch], [mean over the finished runs that logged `name` at that epoch])."""
    values = defaultdict(list)
    for r in results:
        for m in r.metrics if r.status == 'finished' else []:
            if m.get(name) is not None:
                values[m['epoch']].append(m[name])
    epochs = sorted(values)
    return epochs, [statistics.mean(values[e]) for e in epochs]


def plot_grid_dynamics(plt, rows, folder):
    """dynamics_<method>[-<n>].png: a column per w optimizer of each grid, a line per alpha optimizer, the mean over the
    seeds per epoch of how far alpha moved from uniform (1 - normalised entropy of softmax(alpha), log scale), the
    normal cell's skip count and the supernet's accuracy."""
    panels = [('entropy_normal', '1 − entropy of softmax(α), normal'), ('skip_normal', 'skip (normal)'),
              ('valid_acc', 'supernet acc %')]
    paths = []
    for suffix, title, keys in grids(rows):
        ws = sorted({(k.w, k.w_lr) for k in keys})
        fig, axes = plt.subplots(len(panels), len(ws), figsize=(2.6 * len(ws), 2.2 * len(panels)), sharex=True,
                                 sharey='row', squeeze=False)
        for column, w in enumerate(ws):
            column_keys = [k for k in keys if (k.w, k.w_lr) == w]
            for k in column_keys:
                for row, (name, _) in enumerate(panels):
                    epochs, means = epoch_means(rows[k], name)
                    if name.startswith('entropy'):
                        means = [1 - v for v in means]
                    axes[row][column].plot(epochs, means, marker='.', label=k.label()[1])
            axes[0][column].set_title(f'w: {column_keys[0].label()[0]}', fontsize=9)
            axes[-1][column].set_xlabel('epoch')
        for row, (name, label) in enumerate(panels):
            axes[row][0].set_ylabel(label, fontsize=8)
            if name.startswith('entropy'):
                axes[row][0].set_yscale('log')
        axes[0][-1].legend(title='α optimizer', fontsize=6, title_fontsize=7)
        fig.suptitle(f'{title}: the searches per epoch, mean over the seeds')
        fig.tight_layout()
        paths.append(os.path.join(folder, f'dynamics_{suffix}.png'))
        save_figure(fig, paths[-1], dpi=80)
    return paths


def main(argv=None):
    p = cli.ArgumentParser(prog='python -m darts_min.report', description='Report of a sweep.')
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
    tested = [k for k, c in compared.items() if c[4] is not None]
    evaluated = sum(r.evaluation is not None for r in results)
    finished = sum(r.status == 'finished' for r in results)
    diverged = sum(r.status == 'diverged' or r.eval_status == 'diverged' for r in results)
    varying = sorted({n for m in {k.method for k in rows} for n in varying_names([k for k in rows if k.method == m])})
    lines = [f'# Report of {args.sweep_dir}', '',
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
             f'adjustment over all {len(tested)}, * below 0.05: {sum(compared[k][4] < 0.05 for k in tested)} of them.',
             '- One row, one protocol: the search\'s settings and the evaluation\'s arguments (eval.X). '
             + (f'The rows differ in {", ".join(varying)} (column settings); rows of different protocols are never '
                'pooled or compared.' if varying else 'Every row shares one protocol.'),
             '- seeds vary: what the seeds of a row vary, so what the intervals cover (CIFAR\'s search halves are fixed).',
             "- supernet acc: the search's supernet on its own validation half. It does not predict the accuracy of the "
             'cell trained from scratch (DARTS, section 3.2).',
             '- docs/study.md: how to read this report.', '',
             table(rows, compared), '', *supernet_agreement(results), *alpha_entropy_range(results),
             '## The cells found', '',
             'Per row, every seed\'s final genotype (normal | reduce, op/input per edge); the best cell of a row is the one '
             'of highest evaluated validation accuracy.', '', *cells_found(rows),
             *random_search.report_lines(results), *tuning.report_lines(args.sweep_dir)]
    if not args.no_plots:
        plt = pyplot()
        folder = os.path.join(args.sweep_dir, 'plots')
        try:
            os.makedirs(folder, exist_ok=True)
        except OSError as e:
            raise cli.UserError(f'cannot write the plots into {folder}: {e.strerror or e}') from None
        lines += ['## Optimizer grids', '']
        lines += [f'![{os.path.basename(x)}](plots/{os.path.basename(x)})' for x in plot_heatmaps(plt, rows, folder)]
        lines += ['', '## Dynamics over the grids', '']
        lines += [f'![{os.path.basename(x)}](plots/{os.path.basename(x)})' for x in plot_grid_dynamics(plt, rows, folder)]
        lines += [] if args.grid_plots else ['', '## Runs', '']
        for r in [] if args.grid_plots else results:
            if r.status == 'finished' and 'op_weights_normal' in r.metrics[0]:  # a search (random search has no alpha)
                lines += [f'### {r.name}', ''] + [f'![{os.path.basename(x)}](plots/{os.path.basename(x)})'
                                                  for x in plot_run(plt, r.name, r.metrics, folder)] + ['']
    path = os.path.join(args.sweep_dir, 'report.md')
    atomic_write(path, lambda f: f.write('\n'.join(lines) + '\n'))
    print(path)
    return 0


if __name__ == '__main__':
    sys.argv[0] = 'python -m darts_min.report'
    cli.run(main)
