"""What a sweep runs at each point of its grid: the programs' arguments (a search, the evaluation of the cell it found,
a random search), and the check that the runs already in the sweep directory were made under the same protocol.

Each function takes the sweep's parsed flags `args`, the flags it passes through to train_search.py
(`passthrough`) and those parsed (`run_args`: what every search shares), the evaluation's flags (`eval_flags`,
train_eval.py's) and a grid.GridPoint.
"""
import json
import os

from .. import cli, evaluation, runs, search
from .grid import points, protocol, run_status

# The evaluation of the found cells (DARTS section 3.2). By default a proxy: the paper selects among its searches' cells
# by a brief training from scratch judged on held-out validation images, never on the test set; --evaluate_paper
# runs the final protocol of appendix A.2 instead (600 epochs, auxiliary tower, cutout, the whole training set).
PROXY = ['--valid_portion', '0.1']
PAPER = ['--epochs', '600', '--auxiliary', '--cutout', '--valid_portion', '0']
SHARED = ('data', 'dataset', 'fake_size', 'image_size', 'workers', 'device')  # the search's data, for both
SET_BY_SWEEP = ('genotype', 'arch', 'seed', 'save', 'resume', 'epochs', 'split_seed')  # what --eval_* cannot set


def split_seed(args, run_args, point):
    """The seed of a point's data splits (the search's halves, the evaluation's hold-out): the point's own seed, so
    that the seeds of a row vary the split too, unless the sweep was given one --split_seed for all."""
    return run_args.split_seed if args.fixed_split else point.seed


def search_argv(args, passthrough, run_args, point):
    """train_search.py's arguments for a search point, but --save."""
    holdout = ['--holdout_portion', repr(args.holdout)] if args.holdout else []
    return [*passthrough, '--method', point.method, '--w_optimizer', point.w_optimizer, '--learning_rate',
            repr(point.w_lr), '--arch_optimizer', point.arch_optimizer, '--arch_learning_rate', repr(point.arch_lr),
            '--seed', str(point.seed), '--split_seed', str(split_seed(args, run_args, point)), *holdout]


def protocol_changes(path, planned):
    """'--flag saved (now planned), ...' where the run at `path` was made under another protocol than `planned`
    (the parsed arguments this sweep would give it); '' where it was not. Flags its args.json lacks (written by an
    older darts-min) are not compared."""
    saved = runs.read_json(os.path.join(path, 'args.json'))
    if not isinstance(saved, dict):
        return ''  # no readable args.json: a run that never began, started over by the sweep
    saved = protocol(saved)
    return ', '.join(f'--{k} {json.dumps(saved[k])} (now {json.dumps(v)})' for k, v in sorted(protocol(planned).items())
                     if k in saved and saved[k] != v)


def split_eval_flags(passthrough):
    """(the search's flags, the evaluation's): --eval_X [value ...] is train_eval.py's --X [value ...]."""
    search_flags, eval_flags = [], []
    target = search_flags
    for token in passthrough:
        if token.startswith('--'):
            target = eval_flags if token.startswith('--eval_') else search_flags
            token = '--' + token[len('--eval_'):] if token.startswith('--eval_') else token
        target.append(token)
    return search_flags, eval_flags


def evaluating(args):
    """Whether the sweep trains the found cells from scratch (--evaluate_epochs N or --evaluate_paper)."""
    return bool(args.evaluate_epochs or args.evaluate_paper)


def eval_argv(args, run_args, eval_flags, point, source):
    """train_eval.py's arguments for the cell found in the run directory `source`, but --save."""
    shared = [x for k in SHARED for x in (f'--{k}', str(getattr(run_args, k)))]
    proxy = PAPER if args.evaluate_paper else ['--epochs', str(args.evaluate_epochs), *PROXY]
    return [*shared, '--split_seed', str(split_seed(args, run_args, point)), *proxy, *eval_flags,
            '--seed', str(point.seed), '--genotype', source]


def parsed_eval_args(argv):
    """train_eval.py's parsed arguments for eval_argv's `argv`, a named genotype standing in for the one to come."""
    return evaluation.parse_args(argv[:argv.index('--genotype')] + ['--arch', 'DARTS'])


def planned_args(args, passthrough, run_args, eval_flags, point, path):
    """(train_search.py's parsed arguments, train_eval.py's or None) that the sweep gives a search point: the
    protocol its existing runs must match."""
    searched = vars(search.parse_args(search_argv(args, passthrough, run_args, point)))
    if not evaluating(args):
        return searched, None
    return searched, vars(parsed_eval_args(eval_argv(args, run_args, eval_flags, point, path)))


def check_protocol(args, passthrough, run_args, eval_flags, point, path):
    """Refuse, in one line, a sweep whose flags differ from those the point's existing runs were made with: their
    results would be reported as this grid's."""
    searched, evaluated = planned_args(args, passthrough, run_args, eval_flags, point, path)
    for run, planned in ((path, searched), (path + '-eval', evaluated)):
        changes = protocol_changes(run, planned) if planned is not None else ''
        cli.check(not changes, f'{run} was run with other flags: {changes}; give the sweep the flags of the runs in '
                               f'{args.save}, or another --save for the new protocol')


def evaluation_steps(args, run_args, eval_flags, point, source, evaluation_dir):
    """The training from scratch of the cell in `source` into the run directory `evaluation_dir`: [] when done,
    resumed when started, as a search (a run of its own genotype)."""
    status = run_status(evaluation_dir)
    if status == 'started':
        return [['eval', '--resume', evaluation_dir]]
    if status != 'new':
        return []
    return [['eval', *eval_argv(args, run_args, eval_flags, point, source), '--save', evaluation_dir]]


def random_chain(args, run_args, eval_flags, point, path):
    """A random search not finished: its draw (no time: drawn again); in the DARTS space then the proxy training of
    every sample (samples/<k>-eval, skipped and resumed as an evaluation) and the choice of the best by validation."""
    table = ['--nb201_table', run_args.nb201_table] if run_args.nb201_table else []
    trained = run_args.search_space == 'darts'  # check_sweep: with --evaluate_epochs
    chain = [['random', '--samples', str(args.random_cells), '--seed', str(point.seed), '--search_space',
              run_args.search_space, *table, *(['--evaluated'] if trained else []), '--save', path]]
    if trained:
        for k in range(args.random_cells):
            sample = os.path.join(path, 'samples', str(k))
            chain += evaluation_steps(args, run_args, eval_flags, point, sample, sample + '-eval')
        chain.append(['random', '--choose', '--save', path])
    return chain


def plan(args, passthrough, run_args, eval_flags=(), grid=None):
    """(path, chain) of every point of `grid` (default: points(args)) that is not finished yet: its programs to run in
    turn, [program, *argv] each."""
    todo = []
    for point in points(args) if grid is None else grid:
        path = os.path.join(args.save, point.name)
        status, chain = run_status(path), []
        if point.method != 'random':  # runs already there must be of this sweep's protocol
            check_protocol(args, passthrough, run_args, eval_flags, point, path)
        if point.method == 'random':
            chain += random_chain(args, run_args, eval_flags, point, path) if status != 'done' else []
        elif status == 'started':
            chain.append(['search', '--resume', path])
        elif status == 'new':
            chain.append(['search', *search_argv(args, passthrough, run_args, point), '--save', path])
        # a diverged search is a result (the report counts it), not a point to run again nor to evaluate
        if evaluating(args) and status != 'diverged':
            chain += evaluation_steps(args, run_args, eval_flags, point, path, path + '-eval')
        if chain:
            todo.append((path, chain))
    return todo
