"""The study on scikit-learn's digits in one command (docs/study.md, "The study on the digits"):

    python -m darts_min.study --save runs/study-digits

(a) the first-order grid, every w optimizer x every alpha optimizer of the registry (--subset 4x4: sgd, momentum,
rmsprop, adam on each side), each optimizer's rate tuned at equal budget on seeds of its own, every found cell
evaluated by the proxy, the random baseline beside them, in SAVE/first_order; (b) second order for DARTS's pair and
for adam, rmsprop, nesterov on w (alpha: adam) at the rates (a) chose, in SAVE/second_order; (c) the report of each.
Every phase is a sweep (sweep.py), which skips finished runs: the same command continues a study.
SAVE/study.json records the command, the package versions, the machine and each phase's wall time.
"""
import datetime
from importlib import metadata
import os
import platform
import sys
import time

from .. import cli, optimizers, runs
from . import report, sweep

# The setting, chosen so that the whole study fits in 2 hours of this 2-core CPU (docs/study.md gives the measured
# cell times and the estimate). Each value is a flag of this command of the same name.
SETTING = {
    'dataset': ('digits', 'real images without a download (docs/data.md); cifar10 for the same study on GPUs'),
    'image_size': (8, "the digits' own resolution: a larger image adds pixels upsampled from 8 x 8, and time"),
    'init_channels': (4, 'C of the supernet: the smallest the tests use; C = 8 with 5 layers cost 2.3x'),
    'layers': (3, 'cells of the supernet: one normal cell between the two reduction cells'),
    'batch_size': (64, "DARTS's batch: 11 steps an epoch on the 674 + 674 images of the search's halves"),
    'epochs': (6, 'search epochs: the most that fits (the supernet reaches 58-74 % in 3; DARTS searches 50)'),
    'hessian_every': (6, "lambda_max of the alpha Hessian once, at the search's last epoch (about 7 s each)"),
    'evaluate_epochs': (6, 'the proxy: each found cell trained from scratch, judged on a held-out tenth (85-97 % '
                           'after 3)'),
    'eval_init_channels': (8, "C of the network that trains a found cell: twice the supernet's; 1.6 s an epoch"),
    'eval_layers': (4, 'cells of that network'),
    'eval_batch_size': (64, 'its batch, as the search\'s'),
}
SUBSETS = {'all': list(optimizers.REGISTRY),
           '4x4': ['sgd', 'momentum', 'rmsprop', 'adam'],  # the subset where the budget forbids 36 pairs
           '2x2': ['momentum', 'adam']}  # DARTS's pair and Adam on w: a toy grid, for the test
SECOND_ORDER_W = ['momentum', 'adam', 'rmsprop', 'nesterov']  # on w; alpha: adam (DARTS's pair and three others)
# what the study sets itself: the same flag given to pass through would contradict it
STUDY_SETS = ('--save', '--w_optimizers', '--arch_optimizers', '--methods', '--seeds', '--tune_rates', '--tune_seeds',
              '--tune_factor', '--random_cells', '--w_learning_rates', '--arch_learning_rates', '--unrolled',
              '--jobs_per_gpu', '--disjoint_validation', '--evaluate_paper')


def parse(argv):
    p = cli.ArgumentParser(prog='python -m darts_min.study', description='The study on the digits, one command.',
                           allow_abbrev=False)
    a = p.add_argument
    a('--save', required=True, metavar='SAVE', help='the study directory: SAVE/first_order, SAVE/second_order')
    a('--subset', default='all', choices=list(SUBSETS), help='the optimizers on each side (all: the 36 pairs)')
    a('--seeds', nargs='+', type=int, default=[0, 1, 2], help="the study's seeds")
    a('--tune_seeds', nargs='+', type=int, default=[100], help='the tuning\'s seeds, not among --seeds')
    a('--tune_rates', type=int, default=3, metavar='K', help='rates tried per optimizer, a factor 3 apart')
    a('--random_cells', type=int, default=8, help='cells each seed of the random baseline draws and trains')
    a('--jobs_per_gpu', type=int, default=2,
      help='cells at once on the CPU, one thread each (measured 1.66x faster than one cell on two threads)')
    a('--no_plots', action='store_true', help='the reports\' tables only (else their grids\' pictures: --grid_plots)')
    for key, (value, why) in SETTING.items():
        a(f'--{key}', type=type(value), default=value, help=why.replace('%', '%%'))  # argparse formats help with %
    args, passthrough = p.parse_known_args(argv)
    for flag in STUDY_SETS:
        if sweep.names_flag(passthrough, flag):
            p.error(f'{flag} is set by the study; its own flags are in --help')
    return args, passthrough


def setting_argv(args, passthrough):
    """The sweep's flags that both phases share: the setting, the proxy, no DataLoader workers (a CPU's cores are
    the cells'; a --workers N given to the study comes later and wins)."""
    flags = [x for key in SETTING for x in (f'--{key}', str(getattr(args, key)))]
    return [*flags, '--disjoint_validation', '--jobs_per_gpu', str(args.jobs_per_gpu),
            '--workers', '0', '--eval_workers', '0', *passthrough]


def first_order(args, passthrough):
    optimizer_names = SUBSETS[args.subset]
    return ['--save', os.path.join(args.save, 'first_order'), '--w_optimizers', *optimizer_names,
            '--arch_optimizers', *optimizer_names, '--methods', 'darts', 'random', '--seeds', *map(str, args.seeds),
            '--tune_rates', str(args.tune_rates), '--tune_seeds', *map(str, args.tune_seeds),
            '--random_cells', str(args.random_cells), *setting_argv(args, passthrough)]


def second_order(args, passthrough):
    """Phase (b)'s sweep: the w optimizers of SECOND_ORDER_W that phase (a) tuned, alpha by adam, each at the rate
    phase (a)'s tuning chose (its tuning.json)."""
    tuned = runs.read_json(os.path.join(args.save, 'first_order', 'tuning.json'), 'tuning choice')
    try:
        chosen = tuned['chosen']['darts']
        ws = {name: chosen['w'][name] for name in SECOND_ORDER_W if name in SUBSETS[args.subset]}
        arch_rate = chosen['arch']['adam']
    except (KeyError, TypeError):
        raise cli.UserError(f'{args.save}/first_order/tuning.json has no chosen rates of darts: delete it and '
                            'rerun') from None
    return ['--save', os.path.join(args.save, 'second_order'), '--unrolled', '--w_optimizers', *ws,
            '--arch_optimizers', 'adam', '--w_learning_rates', *(f'{n}={r!r}' for n, r in ws.items()),
            '--arch_learning_rates', f'adam={arch_rate!r}', '--methods', 'darts', '--seeds', *map(str, args.seeds),
            *setting_argv(args, passthrough)]


def versions():
    """The versions of what the results depend on (torch's with its build, cu130; scikit-learn None where not
    installed, as for CIFAR-10)."""
    import torch
    import torchvision
    try:
        sklearn = metadata.version('scikit-learn')
    except metadata.PackageNotFoundError:
        sklearn = None
    return {'python': platform.python_version(), 'torch': torch.__version__, 'torchvision': torchvision.__version__,
            'scikit-learn': sklearn}


def record(path, study, argv, phase, seconds):
    """Add a phase's wall time to study.json (the sum over the commands that ran it, a resumed study's too)."""
    study['wall_s'][phase] = study['wall_s'].get(phase, 0.0) + seconds
    study.update(command=['python -m darts_min.study', *argv], versions=versions(),
                 date=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec='seconds'),
                 machine={'platform': platform.platform(), 'cpu_count': os.cpu_count()})
    runs.write_json(path, study)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    args, passthrough = parse(argv)
    runs.make_folder(args.save, 'the study directory')
    path = os.path.join(args.save, 'study.json')
    study = runs.read_json(path, 'study record') if os.path.exists(path) else {'wall_s': {}}
    failed = 0
    plots = ['--no_plots'] if args.no_plots else ['--grid_plots']  # each run's pictures: rerun report on a phase
    phases = [('first_order', lambda: sweep.main(first_order(args, passthrough))),
              ('second_order', lambda: sweep.main(second_order(args, passthrough))),
              ('reports', lambda: report.main([os.path.join(args.save, 'first_order'), *plots])
               or report.main([os.path.join(args.save, 'second_order'), *plots]))]
    for phase, run in phases:
        start = time.monotonic()
        failed |= run() or 0
        record(path, study, argv, phase, time.monotonic() - start)
    return 1 if failed else 0
