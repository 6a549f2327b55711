"""A sweep's run directories as the report reads them: each search (or random search) with the last epoch of its
evaluation, and the rows that pool the seeds of one configuration (Key)."""
import json
import os
import sys
from collections import defaultdict
from typing import NamedTuple

import torch

from .. import dynamics, genotypes, optimizers
from ..cli import UserError
from ..runs import read_json, read_metrics, read_status
from .grid import NOT_PROTOCOL, run_status

ABBREVIATIONS = {'none': 'no', 'max_pool_3x3': 'mp', 'avg_pool_3x3': 'ap', 'skip_connect': 'sk',
                 'sep_conv_3x3': 's3', 'sep_conv_5x5': 's5', 'dil_conv_3x3': 'd3', 'dil_conv_5x5': 'd5'}
# args.json entries that do not make two runs different configurations: where and how a run ran (the sweep's
# NOT_PROTOCOL), its seed and the split seed that follows it (pooled in a row), and those the row names itself
# (the floor of the w schedule counts as its ratio to the rate)
POOLED = {'seed', 'split_seed'}
NOT_SETTINGS = NOT_PROTOCOL | POOLED | {'method', 'w_optimizer', 'arch_optimizer', 'learning_rate', 'arch_learning_rate',
                                        'learning_rate_min'}
STATUS = {'done': 'finished', 'diverged': 'diverged'}  # grid.run_status's words as the report says them; else unfinished


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
        and 'hessian_converged' (of the last eigenvalue logged), or any entry of the search's last epoch
        (epoch_figure); None where it has none, and for every search that has not finished (its last epoch's
        figures are not the protocol's)."""
        if self.status != 'finished':
            return None
        if name in ('valid_acc', 'test_acc'):
            return (self.evaluation or {}).get(name)
        if name == 'supernet_acc':
            return self.metrics[-1].get('valid_acc')
        if name in ('hessian_eigenvalue', 'hessian_converged'):
            last = next((m for m in reversed(self.metrics) if m.get('hessian_eigenvalue') is not None), {})
            return last.get(name)
        return epoch_figure(self.metrics[-1], name)


def epoch_figure(record, name):
    """An entry of a search's metrics record (an epoch); alpha's travel (alpha_spread_X, max_op_weight_X) from the op
    weights where the run was logged before those figures were."""
    # softmax(alpha) was logged: its log is alpha less a constant per edge, which alpha_spread does not see
    for figure, travel in (('alpha_spread', lambda w: dynamics.alpha_spread(w.log())),
                           ('max_op_weight', dynamics.max_op_weight)):
        cell = name.removeprefix(figure + '_')
        if cell != name and name not in record and isinstance(record.get(f'op_weights_{cell}'), list):
            return travel(torch.tensor(record[f'op_weights_{cell}'], dtype=torch.float64))
    return record.get(name)


class Key(NamedTuple):
    """The configuration a row pools the seeds of."""
    method: str
    w_optimizer: str
    w_lr: float | None
    arch_optimizer: str
    arch_lr: float | None
    settings: tuple  # ((name, JSON value), ...) of every other setting in args.json
    evaluation: tuple = ()  # ((name, JSON value), ...) of the evaluation's args.json; () where none began

    def protocol(self):
        """{name: JSON value} of everything but the optimizers that made the row's figures, eval.X its evaluation's."""
        return {**dict(self.settings), **{f'eval.{k}': v for k, v in self.evaluation}}

    def label(self):
        """('optimizer rate' of w, of alpha), the rate left out where the row has none (random search)."""
        return tuple(name if lr is None else f'{name} {lr:g}'
                     for name, lr in ((self.w_optimizer, self.w_lr), (self.arch_optimizer, self.arch_lr)))


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


def _read_args(path, name=None):
    """The args.json of the run directory at `path` (a dict), or None where it has none or it is unreadable; given the
    run's `name`, an unreadable one is named on stderr."""
    file = os.path.join(path, 'args.json')
    if not os.path.isfile(file):
        return None
    try:
        args = read_json(file, 'args.json')
        problem = None if isinstance(args, dict) else f'{file} is not a JSON object'
    except UserError as e:  # cut short, not JSON, not UTF-8, not readable
        problem = str(e)
    if problem and name is not None:
        print(f'report: leaving out {name}: {problem}', file=sys.stderr)
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
    if read_json(os.path.join(path, 'genotype.json')) != genotype:
        print(f"report: leaving out the evaluation {path}: it trained another cell than its search's last genotype "
              '(the search ran again since)', file=sys.stderr)
        return None, None, None
    status = STATUS.get(run_status(path), 'unfinished')
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
        status = STATUS.get(run_status(path), 'unfinished')
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
    order = lambda k: (k.method, k.w_optimizer, k.w_lr or 0, k.arch_optimizer, k.arch_lr or 0, k.settings, k.evaluation)
    return {k: sorted(rows[k], key=lambda r: (r.seed is None, r.seed or 0, r.name)) for k in sorted(rows, key=order)}


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
