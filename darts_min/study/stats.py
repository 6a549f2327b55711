"""The report's statistics: each row compared with DARTS's pair under the same protocol, seed by seed (a paired t
interval and test, Holm's adjustment over the family), how far the supernet ranks the searches as their cells do,
and the best cell of a row (by validation accuracy, never by test accuracy)."""
import math
import statistics
from typing import NamedTuple

from .. import cli, optimizers

DARTS_PAIR = ('momentum', 'adam')


class Comparison(NamedTuple):
    """A row's validation accuracy minus its reference's, over the n seeds both hold."""
    n: int
    mean: float | None  # None without a common seed
    interval: tuple | None  # the 95 % paired t interval; None below two seeds
    p: float | None  # the paired t test's two-sided p; None below two seeds, or where the differences do not vary
    holm_p: float | None = None  # p adjusted over every comparison that has one (holm)


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
    """The Comparison of values[s] - reference[s] over the n seeds both dicts hold, not yet adjusted.

    The same seed gives two searches the same initial w, alpha and data order, so the seeds pair the runs:
    a paired t interval, mean ± t(0.975, n - 1) * sd / sqrt(n) of the n differences, and the paired t test's
    p-value (scipy). No interval with one seed; no p where the differences do not vary.
    """
    diffs = [values[s] - reference[s] for s in sorted(values.keys() & reference.keys())]
    if len(diffs) < 2:
        return Comparison(len(diffs), diffs[0] if diffs else None, None, None)
    stats = scipy_stats()
    mean = statistics.mean(diffs)
    half = stats.t.ppf(0.975, len(diffs) - 1) * statistics.stdev(diffs) / math.sqrt(len(diffs))
    p = float(stats.ttest_1samp(diffs, 0.0).pvalue) if statistics.stdev(diffs) > 0 else None
    return Comparison(len(diffs), mean, (mean - half, mean + half), p)


def holm(pvalues):
    """{key: Holm-adjusted p} of {key: p} (Holm 1979, step-down): the i-th smallest of m p-values times m - i + 1
    (i from 1), never below the adjusted p before it, at most 1. It bounds the chance of any false finding among
    the m comparisons by 5 % where adjusted p < 0.05."""
    adjusted, floor = {}, 0.0
    for i, key in enumerate(sorted(pvalues, key=pvalues.get)):
        floor = max(floor, min(1.0, (len(pvalues) - i) * pvalues[key]))
        adjusted[key] = floor
    return adjusted


def reference_of(key, rows):
    """The key of the row a row is compared with: DARTS's pair under the same protocol (method, settings, evaluation)
    at the registry's default rates, else at the one pair of rates the sweep ran it at (a tuned sweep's chosen rates,
    tuning.py); for random search, that of plain DARTS with the same evaluation where the sweep holds exactly one such
    row. None if absent: rows of different protocols are never compared."""
    method = 'darts' if key.method == 'random' else key.method
    pairs = [k for k in rows if k.method == method and (k.w_optimizer, k.arch_optimizer) == DARTS_PAIR
             and k.evaluation == key.evaluation and (key.method == 'random' or k.settings == key.settings)]
    defaults = optimizers.default_lr(DARTS_PAIR[0], 'w'), optimizers.default_lr(DARTS_PAIR[1], 'arch')
    found = [k for k in pairs if (k.w_lr, k.arch_lr) == defaults] or pairs
    return found[0] if len(found) == 1 else None


def comparisons(rows):
    """{Key: Comparison} of every row with a reference, not the reference itself; the family Holm adjusts over is
    every comparison with a p-value."""
    found = {}
    for key in rows:
        reference = reference_of(key, rows)
        if reference is not None and reference != key:
            found[key] = paired_difference(by_seed(rows[key], 'valid_acc'), by_seed(rows[reference], 'valid_acc'))
    adjusted = holm({k: c.p for k, c in found.items() if c.p is not None})
    return {k: c._replace(holm_p=adjusted.get(k)) for k, c in found.items()}


def supernet_agreement(results):
    """(n, Kendall's tau-b, its two-sided p) between the supernet's accuracy and the evaluated cell's validation
    accuracy over every finished, evaluated search (Kendall 1945, ties counted; scipy); None below three."""
    pairs = [(r.figure('supernet_acc'), r.figure('valid_acc')) for r in results if r.args.get('kind', 'search') == 'search']
    pairs = [(s, v) for s, v in pairs if s is not None and v is not None]
    if len(pairs) < 3:
        return None
    tau, p = scipy_stats().kendalltau(*zip(*pairs))
    return len(pairs), tau, p


def best(results):
    """The run whose evaluated cell has the highest validation accuracy (never the test accuracy); None if none has one."""
    evaluated = [r for r in results if r.figure('valid_acc') is not None]
    return max(evaluated, key=lambda r: r.figure('valid_acc')) if evaluated else None
