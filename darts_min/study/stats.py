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


def supernet_agreement_within(groups):
    """[Kendall's tau-b] between the supernet's accuracy and the cell's validation accuracy within each group of
    searches (a w optimizer and seed, say, so that the alpha optimizer alone varies), over the groups of at least
    three finished, evaluated searches whose figures are not all tied."""
    taus = []
    for results in groups:
        pairs = [(r.figure('supernet_acc'), r.figure('valid_acc')) for r in results]
        pairs = [(s, v) for s, v in pairs if s is not None and v is not None]
        tau = scipy_stats().kendalltau(*zip(*pairs))[0] if len(pairs) >= 3 else math.nan
        if not math.isnan(tau):
            taus.append(tau)
    return taus


def statsmodels():
    try:
        import statsmodels.formula.api as smf
        from statsmodels.stats.anova import anova_lm
    except ImportError:
        raise cli.UserError('the report\'s linear model needs statsmodels: pip install statsmodels') from None
    return smf, anova_lm


def factor_anova(observations):
    """The linear model y ~ C(seed) + C(f) + ... + C(w):C(alpha), fitted by least squares (statsmodels' OLS), and its
    type II ANOVA: ([(term, df, F, p)], residual df), or None where the factors cannot be told apart (a design of
    lower rank than its columns), no degree of freedom is left for the residual or the model leaves no residual.

    observations: [{'y': value, 'seed': s, 'w': level, 'alpha': level, other factors...}]. The seed is a block (its
    own effect, taken out of the noise); a factor of one level is left out; the w x alpha interaction is in where it
    can be estimated (every pair of levels observed, degrees of freedom left for the residual).
    """
    import numpy as np
    import pandas as pd
    smf, anova_lm = statsmodels()
    frame = pd.DataFrame(observations)
    mains = [f'C({f})' for f in frame.columns if f != 'y' and frame[f].nunique() > 1]
    for terms in ([*mains, 'C(w):C(alpha)'], mains) if {'C(w)', 'C(alpha)'} <= set(mains) else (mains,):
        model = smf.ols('y ~ ' + ' + '.join(terms), data=frame) if terms else None
        if model is not None and np.linalg.matrix_rank(model.exog) == model.exog.shape[1] < len(frame):
            break
    else:
        return None
    fit = model.fit()
    if not fit.ssr > 1e-12 * fit.uncentered_tss:  # fitted exactly (every value alike, say): no noise to test against
        return None
    table = anova_lm(fit, typ=2)
    rows = [(term, int(table.loc[term, 'df']), float(table.loc[term, 'F']), float(table.loc[term, 'PR(>F)']))
            for term in terms]
    return rows, int(table.loc['Residual', 'df'])


def pooled_sd(groups):
    """(sd, degrees of freedom) pooled over the groups of values (each group's seeds of one configuration) that hold
    two or more: sqrt(sum (n_i - 1) s_i^2 / sum (n_i - 1)); None where none does."""
    groups = [g for g in groups if len(g) >= 2]
    if not groups:
        return None
    df = sum(len(g) - 1 for g in groups)
    return math.sqrt(sum((len(g) - 1) * statistics.variance(g) for g in groups) / df), df


def detectable_difference(sd_difference, n, alpha=0.05, power=0.8):
    """The smallest mean difference the paired t test of n seeds finds with the given power at two-sided level alpha,
    where the seeds' differences have the sd sd_difference: the delta at which P(|T| > t(1 - alpha/2, n - 1)) = power,
    T noncentral t with n - 1 degrees of freedom and noncentrality delta sqrt(n) / sd (exact, not the normal
    approximation)."""
    stats = scipy_stats()
    from scipy.optimize import brentq
    df, critical = n - 1, stats.t.ppf(1 - alpha / 2, n - 1)

    def short_of_power(delta):
        nc = delta * math.sqrt(n) / sd_difference
        # P(T > c) + P(T < -c), the second as P(-T > c): scipy's nct.cdf returns nan far in the tail
        return stats.nct.sf(critical, df, nc) + stats.nct.sf(critical, df, -nc) - power
    high = sd_difference
    while short_of_power(high) < 0:  # the power grows with delta: bracket the root
        high *= 2
    return brentq(short_of_power, 0.0, high)
