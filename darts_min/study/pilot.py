"""The pilot of the second study: its committed runs (docs/study-pilot/) read back into the tables of
docs/study-pilot.md, and the figures the second study's design takes from them (docs/study.md, "The second study:
design"): the seeds' spread, the smallest difference 5 seeds can detect, the measured cost.

    python -m darts_min.study.pilot docs/study-pilot    # prints both, as the pages hold them

The pilot's searches ran before metrics.jsonl held alpha_steps and alpha's travel: the steps follow from the
search's own split of its args.json (data.search_split), the travel from the logged op weights (results.py).
"""
import argparse
import math
import os
import re
import statistics
import sys

from .. import cli, data, optimizers
from ..runs import read_json, read_metrics
from . import agreement
from .report import agreement_figures, mean_std, seed_or_optimizer
from .results import epoch_figure, group, load_runs
from .stats import detectable_difference, pooled_sd, scipy_stats

TRAVEL = 0.8  # the mean per-edge spread of alpha a search of the second study must reach (docs/study.md)
RATE_RULE = 20  # the second study's alpha rates: each alpha optimizer at this many times its registry rate
SEEDS = 5  # the second study's seeds
BUDGET_S = 2.5 * 3600  # the wall time the study must fit on this 2-core CPU
# the second study's rows: (part, methods, w optimizers, alpha optimizers, extra search flags, second order)
DESIGN = [
    ('the grid', ('darts', 'sdarts_rs', 'darts_minus'), ('momentum', 'adam'), ('momentum', 'rmsprop', 'adam'), '', False),
    ("β-DARTS's contrast, β-decay alone", ('beta_darts',), ('momentum',), ('momentum', 'adam'), '--arch_weight_decay 0',
     False),
    ("β-DARTS's contrast, no regularisation of α", ('darts',), ('momentum',), ('momentum', 'adam'),
     '--arch_weight_decay 0', False),
    ('second order', ('darts',), ('momentum', 'adam'), ('adam',), '--unrolled', True),
]
RANDOM_CELLS = 10  # the positive control: random cells of the space, each trained by the proxy once
# the contrasts the second study reads, Holm over these alone (docs/study.md lists them)
CONTRASTS = ('α adam − momentum, DARTS', 'α adam − momentum, SDARTS-RS', 'α adam − momentum, DARTS-',
             'w adam − momentum, DARTS (α adam)', 'β-decay − none, under α adam − under α momentum',
             'weight decay − none, under α adam − under α momentum')


# ---- the runs ----

def steps_per_epoch(args):
    """(alpha steps an epoch, images of w's half, of alpha's half) of a search's args.json, by its own split: one
    alpha step before each w step, one w step per batch of w's half."""
    space = argparse.Namespace(**args)
    w_idx, alpha_idx = data.search_split(space, data.load_dataset(space, train=True))
    return math.ceil(len(w_idx) / args['batch_size']), len(w_idx), len(alpha_idx)


def alpha_steps(record, per_epoch):
    """The alpha steps taken by the end of an epoch's metrics record: logged, else counted."""
    return record.get('alpha_steps') or (record['epoch'] + 1) * per_epoch


def steps_to_travel(result, per_epoch, cell):
    """The alpha steps after which the cell's mean per-edge spread of alpha first reached TRAVEL; None if never."""
    return next((alpha_steps(m, per_epoch) for m in result.metrics
                 if (epoch_figure(m, f'alpha_spread_{cell}') or 0) >= TRAVEL), None)


def evaluations(pilot_dir):
    """{run directory name: (its args.json, its last epoch)} of every finished proxy evaluation in the pilot."""
    found = {}
    for name in sorted(os.listdir(pilot_dir)):
        args = read_json(os.path.join(pilot_dir, name, 'args.json'))  # None where there is none
        records = read_metrics(os.path.join(pilot_dir, name, 'metrics.jsonl'))
        if isinstance(args, dict) and args.get('kind') == 'eval' and records and records[-1]['epoch'] == args['epochs'] - 1:
            found[name] = (args, records[-1])
    return found


def measured_seconds(pilot_dir):
    """{run: wall seconds} of times.txt, the pilot scripts' record of each run ('<run> <seconds> s')."""
    lines = open(os.path.join(pilot_dir, 'times.txt')).read().splitlines()
    return {m[1]: float(m[2]) for m in (re.match(r'(\S+) (\d+) s', line) for line in lines) if m}


class Pilot:
    """The pilot's runs and what the pages say of them."""

    def __init__(self, pilot_dir):
        self.dir = pilot_dir
        runs = load_runs(pilot_dir)
        self.searches = [r for r in runs if r.args.get('kind') == 'search' and r.status == 'finished']
        self.rows = group(self.searches)
        self.per_epoch = {r.name: steps_per_epoch(r.args) for r in self.searches}
        self.evals = evaluations(pilot_dir)
        drawn = {r.name for r in runs if r.args.get('kind') == 'random'}  # the random search's samples
        self.random = {n: e for n, e in self.evals.items() if e[0]['genotype'].split('/')[0] in drawn}
        self.seconds = measured_seconds(pilot_dir)

    def multiple(self, r):
        """The alpha rate as a multiple of the registry's for its optimizer."""
        return r.args['arch_learning_rate'] / optimizers.default_lr(r.args['arch_optimizer'], 'arch')

    def search_table(self):
        head = ['search', 'α optimizer', 'rate (× registry)', 'seed', 'epochs', 'α steps', 'α spread normal / reduce',
                f'α steps to spread {TRAVEL:g}, normal / reduce', 'largest op weight normal / reduce', 'λ_max',
                'supernet valid acc %', 'proxy valid acc %', 'proxy test acc %']
        lines = ['| ' + ' | '.join(head) + ' |', '|' + '---|' * len(head)]
        for r in self.searches:
            per_epoch = self.per_epoch[r.name][0]
            both = lambda name, fmt: ' / '.join(format(r.figure(f'{name}_{c}'), fmt) for c in ('normal', 'reduce'))
            reach = ' / '.join(str(steps_to_travel(r, per_epoch, c) or '–') for c in ('normal', 'reduce'))
            hessian = f'{r.figure("hessian_eigenvalue"):.3g}' + ('' if r.figure('hessian_converged') else ' (not converged)')
            lines.append('| ' + ' | '.join([
                r.name, r.args['arch_optimizer'], f'{r.args["arch_learning_rate"]:g} (×{self.multiple(r):.3g})',
                str(r.seed), str(r.args['epochs']), str(alpha_steps(r.metrics[-1], per_epoch)), both('alpha_spread', '.3f'),
                reach, both('max_op_weight', '.3f'), hessian, f'{r.figure("supernet_acc"):.2f}',
                f'{r.figure("valid_acc"):.2f}', f'{r.figure("test_acc"):.2f}']) + ' |')
        return lines

    def agreement_lines(self):
        """The rows' seeds' agreement, beside the same seed's in other rows and random cells'."""
        found = agreement_figures(self.rows)
        share = lambda x: '–' if x is None else f'{x:.2f}'
        lines = ['| row: α optimizer, rate, epochs | seeds | seeds\' shared edges | same seed, other rows |', '|---|---|---|---|']
        for key, results in self.rows.items():
            lines.append(f'| {key.label()[1]}, {results[0].args["epochs"]} epochs | '
                         f'{", ".join(str(r.seed) for r in results)} | {share(found[key][0])} | {share(found[key][1])} |')
        cells = [read_json(os.path.join(self.dir, name, 'genotype.json')) for name in self.random]
        return lines + ['', *seed_or_optimizer(self.rows),
                        f'- The {len(cells)} random cells among themselves: {agreement.seeds_agreement(cells):.2f}.']

    def accuracies(self, names):
        return {k: [self.evals[n][1][f'{k}_acc'] for n in names] for k in ('valid', 'test')}

    def random_lines(self):
        lines = ['| random cell | proxy valid acc % | proxy test acc % |', '|---|---|---|']
        lines += [f'| {a["genotype"]} | {e["valid_acc"]:.2f} | {e["test_acc"]:.2f} |' for a, e in self.random.values()]
        searched = self.accuracies([r.name + '-eval' for r in self.searches])
        drawn = self.accuracies(list(self.random))
        retrained = self.retrained()
        verdict = ('at least as good as' if statistics.mean(drawn['test']) >= statistics.mean(searched['test'])
                   else 'worse than')
        lines += ['', f'- The {len(self.searches)} searched cells: proxy valid acc {mean_std(searched["valid"], ".2f")} %, '
                      f'test acc {mean_std(searched["test"], ".2f")} %.',
                  f'- The {len(self.random)} random cells: proxy valid acc {mean_std(drawn["valid"], ".2f")} %, test acc '
                  f'{mean_std(drawn["test"], ".2f")} %: on the test images the random cells are {verdict} the searched '
                  'ones.']
        for genotype, names in retrained.items():
            got = self.accuracies(names)
            lines.append(f'- The cell of {genotype} trained by the proxy at {len(names)} seeds (training noise alone): '
                         f'valid acc {mean_std(got["valid"], ".2f")} %, test acc {mean_std(got["test"], ".2f")} %.')
        return lines

    def retrained(self):
        """{search: [its evaluations]} of the searches whose cell the proxy trained at more than one seed."""
        runs = {}
        for name, (args, _) in self.evals.items():
            runs.setdefault(args['genotype'], []).append(name)
        return {g: names for g, names in runs.items() if len(names) > 1}

    # ---- the design's figures ----

    def seed_sd(self, figure):
        """(sd, degrees of freedom) of a proxy figure between the seeds of one row, pooled over the rows."""
        return pooled_sd([[r.figure(figure) for r in results] for results in self.rows.values()])

    def seconds_per_step(self):
        """[wall seconds / alpha steps] of each pilot search in times.txt (process start and lambda_max included)."""
        return [self.seconds[r.name] / alpha_steps(r.metrics[-1], self.per_epoch[r.name][0])
                for r in self.searches if r.name in self.seconds]

    def method_cost(self):
        """{(method, second order): seconds of an alpha + w step} from the pilot's cost/ runs, each method one after the
        other: their second epoch's seconds over its steps."""
        return {(r.args['method'], r.args['unrolled']): r.metrics[1]['seconds'] / r.metrics[0]['alpha_steps']
                for r in load_runs(os.path.join(self.dir, 'cost')) if r.status == 'finished'}

    def design_lines(self):
        """Markdown: the rate rule, the detectable differences and the cost of DESIGN, from the pilot."""
        return [self.rate_rule(), *map(self.detectable, ('valid_acc', 'test_acc')), *self.cost_lines()]

    def rate_rule(self):
        w_rates = ', '.join(f'{n} {optimizers.default_lr(n, "w"):g}' for n in sorted({w for d in DESIGN for w in d[2]}))
        arch_rates = ', '.join(f'{n} {RATE_RULE * optimizers.default_lr(n, "arch"):g}'
                               for n in sorted({a for d in DESIGN for a in d[3]}))
        return (f'- The rate rule: w at its registry rate ({w_rates}); α at {RATE_RULE} times its registry rate '
                f'({arch_rates}).')

    def detectable(self, figure):
        """The smallest difference of two rows 5 seeds detect with 80 % power, at the pilot's seed-to-seed sd and at its
        upper confidence limit (2 degrees of freedom make that sd uncertain); no gain from the pairing assumed."""
        sd, df = self.seed_sd(figure)
        upper = sd * math.sqrt(df / scipy_stats().chi2.ppf(0.2, df))  # P(sigma < upper) = 0.8: df s^2 / sigma^2 ~ chi2(df)
        detectable = lambda s, alpha: detectable_difference(math.sqrt(2) * s, SEEDS, alpha)
        holm = 0.05 / len(CONTRASTS)
        return (f'- {figure.replace("_acc", "")} acc: the seeds\' sd {sd:.2f} points ({df} degrees of freedom; its '
                f'one-sided 80 % upper confidence limit {upper:.2f}). With {SEEDS} seeds and 80 % power a paired '
                f'difference of two rows (sd √2 × the seeds\' sd) must be {detectable(sd, 0.05):.2f} points '
                f'({detectable(upper, 0.05):.2f} at the limit) at p < 0.05, {detectable(sd, holm):.2f} '
                f'({detectable(upper, holm):.2f}) at the strictest Holm level of the {len(CONTRASTS)} contrasts, '
                f'0.05 / {len(CONTRASTS)}.')

    def cost_lines(self):
        """The measured cost of a search and of a proxy, and what DESIGN costs at it (two at once on 2 cores)."""
        per_step = self.seconds_per_step()
        step, cost = statistics.mean(per_step), self.method_cost()
        ruled = next(r for r in self.searches if math.isclose(self.multiple(r), RATE_RULE))
        steps = alpha_steps(ruled.metrics[-1], self.per_epoch[ruled.name][0])
        proxy = statistics.mean(s for n, s in self.seconds.items() if n in self.evals)
        lines = [f'- A pilot search: {min(per_step):.2f} to {max(per_step):.2f} s an α step (mean {step:.2f}), '
                 f'{steps:,} α steps at the rule\'s rate; a proxy evaluation {proxy:.0f} s (one thread each).']
        darts = cost[('darts', False)]
        lines.append('- One α + w step, relative to DARTS\'s first order (the cost/ runs, their second epoch): '
                     + ', '.join(f'{m}{" second order" if second else ""} ×{s / darts:.2f}'
                                 for (m, second), s in sorted(cost.items())) + '.')
        total, searches = 0.0, 0
        for part, methods, ws, arches, flags, second in DESIGN:
            rows = len(methods) * len(ws) * len(arches)
            seconds = sum(SEEDS * len(ws) * len(arches) * (steps * step * cost[(m, second)] / darts + proxy)
                          for m in methods)
            total, searches = total + seconds, searches + rows * SEEDS
            lines.append(f'- {part}: {"/".join(methods)} × w {"/".join(ws)} × α {"/".join(arches)}'
                         + (f' `{flags}`' if flags else '') + f', {rows} rows × {SEEDS} seeds, {seconds / 3600:.1f} '
                         'process-hours.')
        total += RANDOM_CELLS * proxy
        fits = int(2 * BUDGET_S // (steps * step + proxy))
        lines.append(f'- In all {searches} searches and {RANDOM_CELLS} random cells: {total / 3600:.1f} process-hours, '
                     f'{total / 2 / 3600:.1f} h of wall time two at once on the 2 cores, against the {BUDGET_S / 3600:g} h '
                     f'budget; {BUDGET_S / 3600:g} h hold {fits} first-order DARTS searches with their proxies, '
                     f'{fits // SEEDS} rows of {SEEDS} seeds.')
        return lines


def main(argv=None):
    p = cli.ArgumentParser(prog='python -m darts_min.study.pilot', description='The pilot\'s tables and figures.')
    p.add_argument('pilot_dir')
    args = p.parse_args(argv)
    cli.check(os.path.isfile(os.path.join(args.pilot_dir, 'times.txt')), f'{args.pilot_dir} holds no pilot (times.txt)')
    pilot = Pilot(args.pilot_dir)
    print('\n'.join(['## The searches', '', *pilot.search_table(), '', '## The seeds\' agreement', '',
                     *pilot.agreement_lines(), '', '## Random cells', '', *pilot.random_lines(), '',
                     '## For the design', '', *pilot.design_lines()]))
    return 0


if __name__ == '__main__':
    sys.argv[0] = 'python -m darts_min.study.pilot'
    cli.run(main)
