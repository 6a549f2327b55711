"""Learning rates tuned at equal budget, DARTS's pair included (docs/study.md, "Tuning the rates").

    python -m darts_min.study.sweep ... --tune_rates 3 --tune_seeds 100 101 --evaluate_epochs 20

For every method of the grid and every optimizer on each side (DARTS's momentum and adam too), the same K
rates on a log grid around the registry's default (factor --tune_factor), with the other side held at
DARTS's optimizer at its default rate: w tuned with alpha by adam at 3e-4, alpha with w by momentum at 0.025.
Each rate is searched on every tuning seed and its cell evaluated by the sweep's proxy; the rate of highest
mean validation accuracy wins (a failed tuning point counts against its rate; ties go to the rate nearest the
default). The tuning points are ordinary points of the sweep in SWEEP_DIR/tuning/, the choice SWEEP_DIR/tuning.json;
then the study's seeds run at each optimizer's chosen rate. A choice once written is never recomputed.
"""
import argparse
import math
import os

from .. import cli, optimizers, runs
from . import grid

FILE = 'tuning.json'
FOLDER = 'tuning'  # the tuning points, apart from the study's (the report's table reads the sweep directory's own)
PARTNER = {'w': ('arch', 'adam'), 'arch': ('w', 'momentum')}  # the other side: DARTS's optimizer at its default
SIDES = {'w': 'w_optimizers', 'arch': 'arch_optimizers'}


def rate_grid(default, k, factor):
    """K rates default * factor^j, j = -(K-1)//2 ... K//2: the default and as many below as above (one more above
    for an even K), to 3 significant digits (names and args.json read 0.00833, not 0.008333333333333333)."""
    return [float(f'{default * factor ** (j - (k - 1) // 2):.3g}') for j in range(k)]


def trials(args):
    """[(method, side, optimizer, rate, GridPoint)] of every tuning search: each optimizer of each side at each rate of
    its grid and each tuning seed, the other side at DARTS's partner."""
    found = []
    for method in (m for m in args.methods if m != 'random'):
        for side, names in SIDES.items():
            other, partner = PARTNER[side]
            for optimizer in getattr(args, names):
                for rate in rate_grid(optimizers.default_lr(optimizer, side), args.tune_rates, args.tune_factor):
                    pair = {side: (optimizer, rate), other: (partner, optimizers.default_lr(partner, other))}
                    (w, w_lr), (a, a_lr) = pair['w'], pair['arch']
                    for seed in args.tune_seeds:
                        name = f'{FOLDER}/{grid.point_name(method, w, a, seed, w_lr, a_lr, args.unrolled_step)}'
                        found.append((method, side, optimizer, rate, grid.GridPoint(name, method, w, a, w_lr, a_lr, seed)))
    return found


def tuning_points(args):
    """The tuning points, each once (DARTS's pair at its default rates is a trial of both sides)."""
    return list({point.name: point for *_, point in trials(args)}.values())


def validation_accuracy(save, point):
    """The validation accuracy of a tuning point's evaluation, or None where its search or evaluation did not finish
    (diverged, crashed) or evaluated another cell than the search's."""
    path = os.path.join(save, point.name)
    if grid.run_status(path) != 'done' or grid.run_status(path + '-eval') != 'done':
        return None
    try:
        same = runs.read_json(os.path.join(path, 'genotype.json'), 'genotype') == runs.read_json(
            os.path.join(path + '-eval', 'genotype.json'), 'genotype')
    except cli.UserError:
        return None
    last = (runs.read_metrics(os.path.join(path + '-eval', 'metrics.jsonl')) or [{}])[-1]
    value = last.get('valid_acc')
    return float(value) if same and isinstance(value, (int, float)) and not isinstance(value, bool) else None


def pick(scores, default):
    """The chosen rate of {rate: [validation accuracy or None per tuning seed]}: most seeds finished, then the highest
    mean over them, then the rate nearest the default (in log distance), then the smaller."""
    def rank(rate):
        done = [v for v in scores[rate] if v is not None]
        return (len(done), math.fsum(done) / len(done) if done else -math.inf, -abs(math.log(rate / default)), -rate)
    return max(scores, key=rank)


def settings(args):
    """What a tuning.json was made under: another value is another tuning (refused on the same --save)."""
    return {'rates': args.tune_rates, 'factor': args.tune_factor, 'seeds': sorted(args.tune_seeds),
            'evaluate_epochs': args.evaluate_epochs}


def choose(args):
    """tuning.json's content: the settings, every trial's validation accuracies, and per method and side the chosen
    rate of each optimizer."""
    scores = {}
    for method, side, name, rate, point in trials(args):
        scores.setdefault((method, side, name), {}).setdefault(rate, []).append(validation_accuracy(args.save, point))
    results, chosen = [], {}
    for (method, side, name), by_rate in scores.items():
        best = pick(by_rate, optimizers.default_lr(name, side))
        chosen.setdefault(method, {'w': {}, 'arch': {}})[side][name] = best
        results += [{'method': method, 'side': side, 'optimizer': name, 'rate': rate, 'chosen': rate == best,
                     'valid_acc': dict(zip(map(str, args.tune_seeds), values))} for rate, values in by_rate.items()]
    return {**settings(args), 'chosen': chosen, 'results': results}


def load(args, path):
    """The chosen rates of tuning.json, checked against this command: UserError where it was made otherwise."""
    try:
        tuned = runs.read_json(path, 'tuning choice')
        made = {k: tuned[k] for k in settings(args)}
    except (cli.UserError, KeyError, TypeError):
        raise cli.UserError(f'{path} is unreadable: delete it to tune again from the tuning cells') from None
    differ = [f'--tune_{k} {made[k]}' if k != 'evaluate_epochs' else f'--evaluate_epochs {made[k]}'
              for k in made if made[k] != settings(args)[k]]
    cli.check(not differ, f'{path} was tuned with {", ".join(differ)}: give the same, or another --save')
    missing = [f'{name} ({side}, {method})' for method, side, name, *_ in trials(args)
               if name not in tuned['chosen'].get(method, {}).get(side, {})]
    cli.check(not missing, f'{path} has no rate for {missing[0] if missing else ""}: tuned for another grid; use another --save')
    return tuned['chosen']


def study_points(args, chosen):
    """The study's points: each method's optimizers at their chosen rates, the study's seeds; random search as ever."""
    points = []
    for method in args.methods:
        rates = chosen.get(method, {'w': {}, 'arch': {}})
        one = argparse.Namespace(**{**vars(args), 'methods': [method],
                                    'w_learning_rates': {n: [r] for n, r in rates['w'].items()},
                                    'arch_learning_rates': {n: [r] for n, r in rates['arch'].items()}})
        points += grid.points(one)
    return points


def check(p, args):
    """The tuning flags, each a one-line error of the parser p."""
    if not args.tune_rates:
        if args.tune_seeds or args.tune_factor is not None:
            p.error('--tune_seeds and --tune_factor go with --tune_rates K')
        return
    args.tune_factor = 3.0 if args.tune_factor is None else args.tune_factor
    if args.tune_rates < 2:
        p.error(f'--tune_rates must be at least 2 (the rates tried per optimizer; 0: no tuning), got {args.tune_rates}')
    if not (1 < args.tune_factor < cli.FLOAT32_MAX):
        p.error(f'--tune_factor must be above 1 and finite, got {args.tune_factor}')
    if not args.tune_seeds:
        p.error('--tune_rates needs --tune_seeds S [S ...], disjoint from --seeds')
    if len(set(args.tune_seeds)) < len(args.tune_seeds):
        p.error('--tune_seeds lists a seed twice')
    shared = sorted(set(args.tune_seeds) & set(args.seeds))
    if shared:
        p.error(f'--tune_seeds and --seeds share {", ".join(map(str, shared))}: tune on other seeds than the study\'s')
    if not args.evaluate_epochs:
        p.error('--tune_rates judges each rate by its evaluated cell: give --evaluate_epochs N (the proxy)')
    if args.w_learning_rates or args.arch_learning_rates:
        p.error('--tune_rates chooses the rates: drop --w_learning_rates / --arch_learning_rates')
    if all(m == 'random' for m in args.methods):
        p.error('--tune_rates needs a search method in --methods: random search has no rate')


def report_lines(sweep_dir):
    """Markdown: the chosen rates and every tuning result of tuning.json; nothing where the sweep was not tuned."""
    path = os.path.join(sweep_dir, FILE)
    if not os.path.exists(path):
        return []
    tuned = runs.read_json(path, 'tuning choice')
    seeds = [str(s) for s in tuned['seeds']]
    lines = ['## Tuning of the rates', '',
             f'{tuned["rates"]} rates per optimizer and side, a factor {tuned["factor"]:g} apart around the registry\'s '
             f'default; tuning seeds {", ".join(seeds)}; each judged by its cell\'s validation accuracy after '
             f'{tuned["evaluate_epochs"]} epoch(s) of the proxy, the other side at DARTS\'s optimizer and default rate. '
             'The study\'s rows run at the chosen (**bold**) rates. – : the search or evaluation did not finish.', '',
             '| method | side | optimizer | rate | ' + ' | '.join(f'seed {s}' for s in seeds) + ' | mean |',
             '|' + '---|' * (5 + len(seeds))]
    for r in tuned['results']:
        values = [r['valid_acc'].get(s) for s in seeds]
        done = [v for v in values if v is not None]
        rate = f'**{r["rate"]:g}**' if r['chosen'] else f'{r["rate"]:g}'
        mean = f'{math.fsum(done) / len(done):.2f} ({len(done)}/{len(values)})' if done else '–'
        lines.append(f'| {r["method"]} | {"w" if r["side"] == "w" else "α"} | {r["optimizer"]} | {rate} | '
                     + ' | '.join('–' if v is None else f'{v:.2f}' for v in values) + f' | {mean} |')
    return lines + ['']
