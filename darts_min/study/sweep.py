"""Run the study's grid: every method x w optimizer x alpha optimizer x learning rates x seed, one search per point of
the grid, and train the cell each search found from scratch.

    python -m darts_min.study.sweep --save runs/sweep --w_optimizers momentum adam --arch_optimizers adam rmsprop \\
        --methods darts --seeds 0 1 --epochs 50           # any train_search.py flag is passed through
    python -m darts_min.study.sweep ... --w_learning_rates adam=1e-3,3e-4   # and a grid of rates per optimizer
    python -m darts_min.study.sweep ... --evaluate_epochs 20 --eval_layers 8  # and an evaluation of every found cell

Each point is a train_search.py run in SWEEP_DIR/<method>-w_<w>-a_<alpha>-seed<s>, where a learning rate
other than its optimizer's default follows the optimizer's name (w_adam_lr0.0003), and -unrolled_gradient comes
before -seed<s> under --unrolled_step gradient (grid.py). A finished (or diverged) point is skipped, an interrupted
one resumed, so the same command continues a sweep; a command whose flags differ from those the runs in SWEEP_DIR
were made with is refused. Each point's split seed is its seed (--split_seed: one for all). With --evaluate_epochs N
(or --evaluate_paper) each point goes on to train its genotype from scratch with train_eval.py, in
SWEEP_DIR/<point>-eval, skipped and resumed likewise (plan.py). Jobs go through submitit (launch.py):
on SLURM one job per --jobs_per_gpu points with one GPU; on this machine one job per visible GPU (or one
job on a CPU machine), each running its share of the points --jobs_per_gpu at a time. A job that SLURM stops at its
time limit or preempts is requeued and resumes its points; one sweep at a time runs on a SWEEP_DIR (main).
With --tune_rates K --tune_seeds S ... every optimizer's rate is first tuned on points of their own
(tuning.py); --methods random trains --random_cells drawn cells and keeps the best (random_search.py).
"""
import os
import sys

import torch

from .. import cli, methods, optimizers, runs, search
from . import random_search, tuning
from .grid import points
from .launch import Job, jobs, units
from .plan import SET_BY_SWEEP, eval_argv, evaluating, parsed_eval_args, plan, search_argv, split_eval_flags


def names_flag(tokens, flag):
    """Whether the command-line tokens give `flag` ('--seed 1' or '--seed=1')."""
    return any(x == flag or x.startswith(flag + '=') for x in tokens)


def parse_rates(p, flag, values, names):
    """['adam=1e-3,3e-4', 'sgd=0.025'] -> {'adam': [0.001, 0.0003], 'sgd': [0.025]}, each optimizer one of `names`."""
    rates = {}
    for value in values:
        name, sep, text = value.partition('=')
        if not sep or not text:
            p.error(f'--{flag}: {value!r} is not OPTIMIZER=RATE[,RATE...]')
        if name not in names:
            p.error(f'--{flag}: {name!r} is not one of the sweep\'s {flag.split("_")[0]} optimizers ({", ".join(names)})')
        if name in rates:
            p.error(f'--{flag}: {name} is given twice')
        try:
            rates[name] = [float(t) for t in text.split(',')]
        except ValueError:
            p.error(f'--{flag}: {value!r}: a rate is not a number')
        bad = [r for r in rates[name] if not 0 < r < cli.FLOAT32_MAX]
        if bad:
            p.error(f'--{flag}: {name}: learning rates must be positive and finite, got {bad[0]}')
        if len(set(rates[name])) < len(rates[name]):
            p.error(f'--{flag}: {name} lists a rate twice')
    return rates


def build_parser():
    p = cli.ArgumentParser(prog='python -m darts_min.study.sweep', description='Run a grid of searches.',
                           allow_abbrev=False)
    a = p.add_argument
    a('--save', required=True, metavar='SWEEP_DIR', help='the sweep directory (one run directory per cell)')
    a('--w_optimizers', nargs='+', default=['momentum'], help=f'of {", ".join(optimizers.REGISTRY)}')
    a('--arch_optimizers', nargs='+', default=['adam'], help=f'of {", ".join(optimizers.REGISTRY)}')
    a('--w_learning_rates', nargs='+', default=[], metavar='OPTIMIZER=RATE[,RATE...]',
      help="initial w learning rates per w optimizer (a grid); an optimizer not named: the registry's default")
    a('--arch_learning_rates', nargs='+', default=[], metavar='OPTIMIZER=RATE[,RATE...]',
      help="alpha learning rates per alpha optimizer, likewise")
    a('--methods', nargs='+', default=['darts'], help=f'of {", ".join(methods.METHODS)}, random')
    a('--seeds', nargs='+', type=int, default=[2])
    a('--random_cells', type=int, default=24, help='cells each random-search seed draws, trains by the proxy '
      '(--evaluate_epochs) and chooses the best of by validation accuracy (DARTS section 3.3; --methods random)')
    a('--tune_rates', type=int, default=0, metavar='K', help='tune each optimizer\'s rate first: K rates around its '
      'default on --tune_seeds, judged by the evaluated cell\'s validation accuracy (tuning.py; 0: off)')
    a('--tune_seeds', nargs='+', type=int, default=[], metavar='S', help='the tuning\'s seeds, not among --seeds')
    a('--tune_factor', type=float, default=None, help='the ratio of neighbouring rates of the tuning\'s grid (3)')
    a('--evaluate_epochs', type=int, default=0,
      help='train every found cell from scratch this many epochs, judged on a held-out tenth of the training set '
           '(the paper\'s selection; 0: no evaluation); --eval_X sets train_eval.py\'s --X for it')
    a('--disjoint_validation', action='store_true',
      help="searches leave out the evaluation's held-out images (--holdout_portion), so that a found cell is judged "
           'on images neither search half saw')
    a('--evaluate_paper', action='store_true',
      help='evaluate by the paper\'s final protocol instead: 600 epochs, auxiliary tower, cutout, the whole training set')
    a('--cluster', default=None, choices=['local', 'slurm', 'debug'],
      help='submitit cluster (default: slurm where available, else local)')
    a('--jobs_per_gpu', type=int, default=1,
      help='cells run at once on each GPU (locally; without a GPU: at once on the CPU), or per SLURM job')
    a('--way', choices=['batched', 'plain'], default=None,
      help='batched: the seeds of a configuration searched in one process as one widened supernet (darts_min/study/'
           'batched.py; 3-6x the searches an hour on a 2-core CPU, BENCHMARKS.md), counted as one cell of '
           '--jobs_per_gpu; plain: a process per search. Default: batched where the searches run on a CPU, else '
           'plain; what batched does not run (SDARTS-ADV, nb201, --amp, ...) runs plain')
    a('--timeout_min', type=int, default=24 * 60, help='time limit of a job in minutes')
    a('--slurm_partition', default=None)
    return p


def check_flags(p, args, passthrough, eval_flags):
    """The sweep's own flags and those it passes on, each refusal one line of the parser p."""
    for name, known in (('w_optimizers', optimizers.REGISTRY), ('arch_optimizers', optimizers.REGISTRY),
                        ('methods', [*methods.METHODS, 'random'])):
        unknown = [v for v in getattr(args, name) if v not in known]
        if unknown:
            p.error(f'--{name}: unknown {", ".join(unknown)} (choose from {", ".join(known)})')
    for flag in ('--save', '--seed', '--method', '--w_optimizer', '--arch_optimizer', '--resume', '--holdout_portion'):
        if names_flag(passthrough, flag):
            p.error(f'{flag} is set by the sweep for each cell; ' + ('use --disjoint_validation'
                                                                     if flag == '--holdout_portion' else 'drop it'))
    if args.disjoint_validation and not args.evaluate_epochs:
        p.error('--disjoint_validation holds out the validation images of --evaluate_epochs N (--evaluate_paper has none)')
    for flag, grid in (('--learning_rate', '--w_learning_rates'), ('--arch_learning_rate', '--arch_learning_rates')):
        if names_flag(passthrough, flag):
            p.error(f'{flag} is set by the sweep for each cell: give rates per optimizer with {grid} OPTIMIZER=RATE,...')
    if args.random_cells < 1:
        p.error(f'--random_cells must be positive, got {args.random_cells}')
    if args.jobs_per_gpu < 1:
        p.error(f'--jobs_per_gpu must be positive, got {args.jobs_per_gpu}')
    if args.evaluate_epochs < 0 or args.evaluate_epochs and args.evaluate_paper:
        p.error('--evaluate_epochs must be positive, or 0 (no evaluation); --evaluate_paper sets its own 600 epochs')
    for flag in SET_BY_SWEEP:
        if names_flag(eval_flags, f'--{flag}'):
            p.error(f'--eval_{flag} is set by the sweep for each evaluation'
                    + ('; use --evaluate_epochs' if flag == 'epochs' else '; drop it'))


def holdout(p, args, run_args, eval_flags):
    """The share of the training set the searches leave out: the evaluation's validation images under
    --disjoint_validation, else none. The evaluation's arguments are checked on the way."""
    if not evaluating(args):
        return 0.0
    if run_args.search_space != 'darts':
        p.error(f'--evaluate_epochs/--evaluate_paper train DARTS cells; the {run_args.search_space} space has its '
                'benchmark table instead (--nb201_table)')
    probe = points(args)[0]._replace(seed=0)
    evaluation = parsed_eval_args(eval_argv(args, run_args, eval_flags, probe, 'x'))
    return evaluation.valid_portion if args.disjoint_validation else 0.0


def check_searches(args, passthrough, run_args, grid):
    """The arguments of the searches of `grid`, checked by train_search.py's parser (a refusal is its one line), once
    per configuration: every search is checked before anything is submitted."""
    for config in dict.fromkeys(point._replace(name='', seed=0) for point in grid if point.method != 'random'):
        search.parse_args(search_argv(args, passthrough, run_args, config))


def parse(argv):
    """(the sweep's flags, those it passes through to train_search.py, the same parsed by train_search.py: run_args,
    train_eval.py's flags of the --eval_X given)."""
    p = build_parser()
    args, passthrough = p.parse_known_args(argv)
    passthrough, eval_flags = split_eval_flags(passthrough)
    check_flags(p, args, passthrough, eval_flags)
    args.fixed_split = names_flag(passthrough, '--split_seed')  # else each seed splits the data its own way
    args.w_learning_rates = parse_rates(p, 'w_learning_rates', args.w_learning_rates, args.w_optimizers)
    args.arch_learning_rates = parse_rates(p, 'arch_learning_rates', args.arch_learning_rates, args.arch_optimizers)
    run_args = search.parse_args(passthrough)
    args.unrolled_step = run_args.unrolled_step  # part of the points' names
    args.way = args.way or ('batched' if cli.resolve_device(run_args.device).type == 'cpu' else 'plain')
    args.holdout = holdout(p, args, run_args, eval_flags)
    check_searches(args, passthrough, run_args, points(args))
    tuning.check(p, args)
    if args.tune_rates:
        check_searches(args, passthrough, run_args, [point for *_, point in tuning.trials(args)])
    random_search.check_sweep(p, args, run_args)
    return args, passthrough, run_args, eval_flags


def main(argv=None):
    args, passthrough, run_args, eval_flags = parse(argv)
    try:
        import submitit  # noqa: F401
    except ImportError:
        raise cli.UserError('sweeps run through submitit: pip install submitit') from None
    runs.make_folder(args.save, 'the sweep directory')
    # held by this driver until it ends (or is killed): a second sweep on the directory is refused; the jobs, requeued
    # ones too, take no part in it
    with runs.lock(args.save, f'{args.save} is in use by another sweep (its driver is still running): wait for it '
                              'to end, or stop it first'):
        grid = points(args)
        if args.tune_rates:  # phase 1, the tuning points; phase 2, the grid at the rates they chose (tuning.py)
            grid = tune(args, passthrough, run_args, eval_flags)
        return submit(args, passthrough, run_args, eval_flags, grid)


def tune(args, passthrough, run_args, eval_flags):
    """Phase 1 of a tuned sweep: the tuning points not finished, then tuning.json (once). Returns phase 2's points, the
    grid at the chosen rates (tuning.py)."""
    path = os.path.join(args.save, tuning.FILE)
    if not os.path.exists(path):
        print('tuning:', end=' ')
        if submit(args, passthrough, run_args, eval_flags, tuning.tuning_points(args)):
            print('tuning: a failed tuning cell counts against its rate (docs/study.md); to retry it, delete '
                  f'{path} and run the same command')
        runs.write_json(path, tuning.choose(args))
    chosen = tuning.load(args, path)
    for method, sides in chosen.items():
        print(f'tuning: {method}: ' + '; '.join(f'{side} ' + ', '.join(f'{n} {r:g}' for n, r in rates.items())
                                                for side, rates in sides.items()))
    return tuning.study_points(args, chosen)


def submit(args, passthrough, run_args, eval_flags, grid):
    """Plan the points of `grid`, submit the jobs of those not finished and wait for them. Returns 1 if one failed."""
    import submitit  # main found it
    todo = plan(args, passthrough, run_args, eval_flags, grid)
    blocked = [path for path, _ in todo if os.path.exists(path) and not os.path.isdir(path)]
    cli.check(not blocked, f'{blocked[0] if blocked else ""} is a file where a cell\'s run directory goes')
    total = len(grid)
    print(f'{total} cells, {total - len(todo)} finished, {len(todo)} to run')
    if not todo:
        return 0
    folder = os.path.join(args.save, 'submitit')
    executor = submitit.AutoExecutor(folder=folder, cluster=args.cluster)
    executor.update_parameters(timeout_min=args.timeout_min, name='darts-min-sweep')
    slurm = executor.cluster == 'slurm'
    gpus = torch.cuda.device_count() if executor.cluster == 'local' else 0
    shares = jobs([[path for path, _ in unit] for unit in units(todo, args.way)], gpus, args.jobs_per_gpu, slurm)
    work = Job((args, passthrough, run_args, eval_flags, grid), args.jobs_per_gpu)
    if slurm:  # one GPU per job
        executor.update_parameters(gpus_per_node=1, slurm_partition=args.slurm_partition)
        submitted = executor.map_array(work, [share for _, share in shares])
    else:
        submitted = []
        for gpu, share in shares:
            if gpu is not None:
                executor.update_parameters(visible_gpus=[gpu], gpus_per_node=1)
            submitted.append(executor.submit(work, share))
    batched = ', the seeds of a configuration as one batched search' if args.way == 'batched' else ''
    print(f'submitted {len(submitted)} job(s) ({executor.cluster}), {args.jobs_per_gpu} cell(s) at once in each'
          f'{batched}; logs in {folder}')
    failed = 0
    for job in submitted:
        failed += sum(code != 0 for code in job.result())
    print(f'done: {len(todo) - failed} cell(s) finished, {failed} failed; report: python -m darts_min.study.report {args.save}')
    return 1 if failed else 0


if __name__ == '__main__':
    sys.argv[0] = 'python -m darts_min.study.sweep'
    from darts_min.study import sweep  # submitit pickles the functions of __main__ by value: use the module's, by name
    cli.run(sweep.main)
