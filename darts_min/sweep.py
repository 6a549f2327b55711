"""Run the study's grid: every method x w optimizer x alpha optimizer x seed, one search per cell.

    python -m darts_min.sweep --save runs/sweep --w_optimizers momentum adam --arch_optimizers adam rmsprop \\
        --methods darts --seeds 0 1 --epochs 50           # any train_search.py flag is passed through

Each cell is a train_search.py run in SWEEP_DIR/<method>-w_<w>-a_<alpha>-seed<s> (with -unrolled_gradient before
-seed<s> under --unrolled_step gradient). A finished cell is
skipped, an interrupted one resumed, so the same command continues a sweep. Jobs go through submitit:
on SLURM one job per cell with one GPU; on this machine one job per visible GPU (or one job on a CPU
machine), each running its share of the cells one after the other.
"""
import itertools
import json
import os
import sys
import traceback

import torch

from . import cli, methods, optimizers, runs


def cell_name(method, w, a, seed, unrolled_step='optimizer'):
    suffix = '' if unrolled_step == 'optimizer' else f'-unrolled_{unrolled_step}'  # --unrolled_step, where not the default
    return f'{method}-w_{w}-a_{a}{suffix}-seed{seed}'


def cell_status(path):
    """'done' (its last epoch is in metrics.jsonl), 'started' (it has args.json) or 'new'."""
    try:
        with open(os.path.join(path, 'args.json')) as f:
            epochs = int(json.load(f)['epochs'])
    except (OSError, ValueError, KeyError, TypeError):
        return 'new' if not os.path.exists(os.path.join(path, 'args.json')) else 'started'
    last = max((r['epoch'] for r in runs.read_metrics(os.path.join(path, 'metrics.jsonl'))), default=-1)
    return 'done' if last >= epochs - 1 else 'started'


def load_train_search():
    """The search script beside the package (a clone, or an editable install of it)."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    if not os.path.exists(os.path.join(root, 'train_search.py')):
        raise cli.UserError(f'train_search.py is not beside the darts_min package in {root}: run from a clone')
    if root not in sys.path:
        sys.path.insert(0, root)
    import train_search
    return train_search


def run_cells(argvs):
    """A job: run its cells one after the other; a failing cell does not stop the others. Returns exit codes.

    A cell's argv starts with the program: 'search' (train_search.py) or 'random' (random search)."""
    from . import random_search
    programs = {'search': load_train_search().main, 'random': random_search.main}
    codes = []
    for program, *argv in argvs:
        try:
            codes.append(programs[program](argv))
        except (cli.UserError, SystemExit) as e:
            print(f'cell {argv}: {e}', file=sys.stderr)
            codes.append(e.code if isinstance(e, SystemExit) else 2)
        except Exception:  # a crashing cell must not take the job's other cells with it
            traceback.print_exc()
            codes.append(1)
    return codes


def cells(args):
    """(directory name, method, w optimizer, alpha optimizer, seed) of every cell; random search, which has no
    optimizer, is one cell per seed."""
    searches = [m for m in args.methods if m != 'random']
    grid = [(cell_name(m, w, a, s, args.unrolled_step), m, w, a, s)
            for m, w, a, s in itertools.product(searches, args.w_optimizers, args.arch_optimizers, args.seeds)]
    return grid + [(f'random-seed{s}', 'random', None, None, s) for s in args.seeds if 'random' in args.methods]


def plan(args, passthrough, space):
    """(path, [program, *argv]) of every cell that is not finished yet."""
    todo = []
    for name, method, w, a, seed in cells(args):
        path = os.path.join(args.save, name)
        status = cell_status(path)
        if method == 'random':
            if status != 'done':  # a random search takes no time: start it over
                table = ['--nb201_table', space.nb201_table] if space.nb201_table else []
                todo.append((path, ['random', '--samples', str(args.random_samples), '--seed', str(seed),
                                    '--search_space', space.search_space, *table, '--save', path]))
        elif status == 'started':
            todo.append((path, ['search', '--resume', path]))
        elif status == 'new':
            todo.append((path, ['search', *passthrough, '--method', method, '--w_optimizer', w, '--arch_optimizer', a,
                                '--seed', str(seed), '--save', path]))
    return todo


def parse(argv):
    p = cli.ArgumentParser(prog='python -m darts_min.sweep', description='Run a grid of searches.', allow_abbrev=False)
    a = p.add_argument
    a('--save', required=True, metavar='SWEEP_DIR', help='the sweep directory (one run directory per cell)')
    a('--w_optimizers', nargs='+', default=['momentum'], help=f'of {", ".join(optimizers.REGISTRY)}')
    a('--arch_optimizers', nargs='+', default=['adam'], help=f'of {", ".join(optimizers.REGISTRY)}')
    a('--methods', nargs='+', default=['darts'], help=f'of {", ".join(methods.METHODS)}, random')
    a('--seeds', nargs='+', type=int, default=[2])
    a('--random_samples', type=int, default=1, help='cells each random-search seed draws (--methods random)')
    a('--cluster', default=None, choices=['local', 'slurm', 'debug'],
      help='submitit cluster (default: slurm where available, else local)')
    a('--timeout_min', type=int, default=24 * 60, help='time limit of a job in minutes')
    a('--slurm_partition', default=None)
    args, passthrough = p.parse_known_args(argv)
    for name, known in (('w_optimizers', optimizers.REGISTRY), ('arch_optimizers', optimizers.REGISTRY),
                        ('methods', [*methods.METHODS, 'random'])):
        unknown = [v for v in getattr(args, name) if v not in known]
        if unknown:
            p.error(f'--{name}: unknown {", ".join(unknown)} (choose from {", ".join(known)})')
    for flag in ('--save', '--seed', '--method', '--w_optimizer', '--arch_optimizer', '--resume'):
        if any(x == flag or x.startswith(flag + '=') for x in passthrough):
            p.error(f'{flag} is set by the sweep for each cell; drop it')
    if args.random_samples < 1:
        p.error(f'--random_samples must be positive, got {args.random_samples}')
    train_search = load_train_search()  # every cell's arguments are checked before anything is submitted
    space = train_search.parse_args(passthrough)
    args.unrolled_step = space.unrolled_step  # part of the cell names
    for method, w, a in itertools.product([m for m in args.methods if m != 'random'], args.w_optimizers, args.arch_optimizers):
        train_search.parse_args([*passthrough, '--method', method, '--w_optimizer', w, '--arch_optimizer', a])
    return args, passthrough, space


def main(argv=None):
    args, passthrough, space = parse(argv)
    try:
        import submitit
    except ImportError:
        raise cli.UserError('sweeps run through submitit: pip install submitit') from None
    try:
        os.makedirs(args.save, exist_ok=True)
    except OSError as e:
        raise cli.UserError(f'cannot write the sweep directory {args.save}: {e.strerror or e}') from None
    todo = plan(args, passthrough, space)
    blocked = [path for path, _ in todo if os.path.exists(path) and not os.path.isdir(path)]
    cli.check(not blocked, f'{blocked[0] if blocked else ""} is a file where a cell\'s run directory goes')
    total = len(cells(args))
    print(f'{total} cells, {total - len(todo)} finished, {len(todo)} to run')
    if not todo:
        return 0
    folder = os.path.join(args.save, 'submitit')
    executor = submitit.AutoExecutor(folder=folder, cluster=args.cluster)
    executor.update_parameters(timeout_min=args.timeout_min, name='darts-min-sweep')
    if executor.cluster == 'slurm':  # one job per cell, one GPU each
        executor.update_parameters(gpus_per_node=1, slurm_partition=args.slurm_partition)
        jobs = executor.map_array(run_cells, [[argv] for _, argv in todo])
    else:  # one job per visible GPU, each running its share of the cells in turn
        gpus = torch.cuda.device_count() if executor.cluster == 'local' else 0
        shares = [todo[i::max(gpus, 1)] for i in range(max(gpus, 1))]
        jobs = []
        for gpu, share in enumerate(s for s in shares if s):
            if gpus:
                executor.update_parameters(visible_gpus=[gpu], gpus_per_node=1)
            jobs.append(executor.submit(run_cells, [argv for _, argv in share]))
    print(f'submitted {len(jobs)} job(s) ({executor.cluster}); logs in {folder}')
    failed = 0
    for job in jobs:
        failed += sum(code != 0 for code in job.result())
    print(f'done: {len(todo) - failed} cell(s) finished, {failed} failed; report: python -m darts_min.report {args.save}')
    return 1 if failed else 0


if __name__ == '__main__':
    sys.argv[0] = 'python -m darts_min.sweep'
    cli.run(main)
