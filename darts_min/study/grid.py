"""The points of a sweep's grid: what each is (method, optimizers, rates, seed) and its run directory's name; of a run
directory, how far it got and what its arguments make it measure. The sweep (sweep.py) runs the points, the tuning
(tuning.py) adds its own, the report reads them back."""
import itertools
import os
from typing import NamedTuple

from .. import optimizers, runs

# args.json entries that say where and how a run ran, not what it measured: two runs that differ only in these are
# the same protocol (an evaluation's genotype and arch are its search's cell, compared through genotype.json)
NOT_PROTOCOL = frozenset({'kind', 'save', 'resume', 'device', 'workers', 'data_on_device', 'data', 'report_freq',
                          'genotype', 'arch'})

class GridPoint(NamedTuple):
    name: str  # its run directory in the sweep directory
    method: str
    w_optimizer: str | None  # the optimizers and their learning rates (None for random search)
    arch_optimizer: str | None
    w_lr: float | None
    arch_lr: float | None
    seed: int


def point_name(method, w_optimizer, arch_optimizer, seed, w_lr, arch_lr, unrolled_step='optimizer'):
    """<method>-w_<w>-a_<alpha>-seed<s>; a learning rate other than the registry's default of its optimizer
    follows the optimizer (w_adam_lr0.0003), so DARTS's default points keep their names in a grid of rates; a virtual
    step other than the default (--unrolled_step) comes before the seed."""
    def rate(name, side, lr):
        return '' if lr == optimizers.default_lr(name, side) else f'_lr{lr!r}'
    suffix = '' if unrolled_step == 'optimizer' else f'-unrolled_{unrolled_step}'
    return (f'{method}-w_{w_optimizer}{rate(w_optimizer, "w", w_lr)}-a_{arch_optimizer}'
            f'{rate(arch_optimizer, "arch", arch_lr)}{suffix}-seed{seed}')


def configuration(path):
    """A point's run directory without its seed (point_name's last part): the points of one configuration share it."""
    return path.rsplit('-seed', 1)[0]


def run_status(path):
    """How far the run directory `path` got: 'done' (its last epoch is in metrics.jsonl), 'diverged' (status.json says
    so: it stopped on a non-finite loss, exit code 3, and would again), 'started' (it has args.json) or 'new'."""
    status = runs.read_status(path)
    if status is not None and status.get('status') == 'diverged':
        return 'diverged'
    try:
        epochs = int(runs.read_json(os.path.join(path, 'args.json'))['epochs'])
    except (KeyError, TypeError, ValueError):  # TypeError: no readable args.json
        return 'started' if os.path.exists(os.path.join(path, 'args.json')) else 'new'
    last = max((r['epoch'] for r in runs.read_metrics(os.path.join(path, 'metrics.jsonl'))), default=-1)
    return 'done' if last >= epochs - 1 else 'started'


def points(args):
    """Every GridPoint of the grid; random search, which has no optimizer, is one point per seed."""
    def side(names, rates, key):  # (optimizer, learning rate) pairs: the rates given, else the registry's default
        return [(n, lr) for n in names for lr in rates.get(n, [optimizers.default_lr(n, key)])]
    searches = [m for m in args.methods if m != 'random']
    ws = side(args.w_optimizers, args.w_learning_rates, 'w')
    arches = side(args.arch_optimizers, args.arch_learning_rates, 'arch')
    grid = [GridPoint(point_name(m, w, a, s, w_lr, a_lr, args.unrolled_step), m, w, a, w_lr, a_lr, s)
            for m, (w, w_lr), (a, a_lr), s in itertools.product(searches, ws, arches, args.seeds)]
    randoms = [GridPoint(f'random-seed{s}', 'random', None, None, None, None, s)
               for s in args.seeds if 'random' in args.methods]
    return grid + randoms


def protocol(arguments):
    """What a run's arguments (its args.json, or a parsed Namespace's vars) make it measure."""
    return {k: v for k, v in arguments.items() if k not in NOT_PROTOCOL}
