"""Run the study's grid: every method x w optimizer x alpha optimizer x learning rates x seed, one search per cell,
and train the cell each search found from scratch.

    python -m darts_min.sweep --save runs/sweep --w_optimizers momentum adam --arch_optimizers adam rmsprop \\
        --methods darts --seeds 0 1 --epochs 50           # any train_search.py flag is passed through
    python -m darts_min.sweep ... --w_learning_rates adam=1e-3,3e-4   # and a grid of rates per optimizer
    python -m darts_min.sweep ... --evaluate_epochs 20 --eval_layers 8  # and an evaluation of every found cell

Each cell is a train_search.py run in SWEEP_DIR/<method>-w_<w>-a_<alpha>-seed<s>, where a learning rate
other than its optimizer's default follows the optimizer's name (w_adam_lr0.0003), and -unrolled_gradient comes
before -seed<s> under --unrolled_step gradient. A finished (or diverged) cell is
skipped, an interrupted one resumed, so the same command continues a sweep; a command whose flags differ from
those the runs in SWEEP_DIR were made with is refused. Each cell's split seed is its seed (--split_seed: one for all). With --evaluate_epochs N (or
--evaluate_paper) each cell goes on to train its genotype from scratch with train_eval.py, in
SWEEP_DIR/<cell>-eval, skipped and resumed likewise. Jobs go through submitit:
on SLURM one job per --jobs_per_gpu cells with one GPU; on this machine one job per visible GPU (or one
job on a CPU machine), each running its share of the cells --jobs_per_gpu at a time. A job that SLURM stops at its
time limit or preempts is requeued and resumes its cells (Job); one sweep at a time runs on a SWEEP_DIR (main).
With --tune_rates K --tune_seeds S ... every optimizer's rate is first tuned on cells of their own
(darts_min/tuning.py); --methods random trains --random_cells drawn cells and keeps the best (random_search.py).
"""
import json
import math
import multiprocessing
import os
import signal
import sys
import threading
import traceback
from concurrent.futures import ThreadPoolExecutor

import torch

from . import cli, methods, optimizers, random_search, runs, tuning
from . import evaluation as train_eval, search as train_search
from .grid import cell_status, cells


def program(name):
    """The main() of a cell's program: 'search' (train_search.py), 'random' (random search), 'eval' (train_eval.py)."""
    return {'search': train_search.main, 'random': random_search.main, 'eval': train_eval.main}[name]


def run_cell(chain):
    """Run one cell: its programs in turn, [program, *argv] each (a search, then its evaluation), up to the first that
    fails. Returns the exit code of the last one run; a failing or crashing program raises nothing."""
    for name, *argv in chain:
        try:
            code = program(name)(argv)
        except (cli.UserError, SystemExit) as e:
            print(f'cell {argv}: {e}', file=sys.stderr)
            code = e.code if isinstance(e, SystemExit) else 2
        except Exception:  # a crashing cell must not take the job's other cells with it
            traceback.print_exc()
            code = 1
        if code:
            return code
    return 0


def _cell_process(cell, at_once):
    """The body of a cell's own process: its share of the CPU threads, its exit code as the process's. SLURM may send
    its time-limit or preemption signal to every process of a job: the cell leaves it to its job (Job.checkpoint)."""
    signal.signal(getattr(signal, 'SIG' + os.environ.get('SUBMITIT_PREEMPT_SIGNAL', 'USR2')), signal.SIG_IGN)
    torch.set_num_threads(max(1, torch.get_num_threads() // at_once))
    sys.exit(run_cell(cell[1]))


class Processes:
    """target(item, at_once) for each item in a fresh process of its own, `at_once` processes at a time; a process
    that dies (killed, out of memory) only fails its own item. stop() ends the running ones and starts no more."""

    def __init__(self, target, at_once):
        self.target, self.at_once = target, at_once
        self.running, self.stopped = [], False
        self.lock = threading.RLock()  # stop() runs in a signal handler, in the thread that waits in run()

    def run(self, items, ended=lambda item, code: None):
        """Their exit codes in order (None: not started, as stopped); ended(item, code) as each one ends unstopped."""
        context = multiprocessing.get_context('spawn')  # no fork of a process that holds torch's threads or CUDA

        def one(item):
            with self.lock:
                if self.stopped:
                    return None
                process = context.Process(target=self.target, args=(item, self.at_once))
                process.start()
                self.running.append(process)
            process.join()
            with self.lock:
                self.running.remove(process)
                if not self.stopped:
                    ended(item, process.exitcode)
            return process.exitcode

        with ThreadPoolExecutor(self.at_once) as pool:
            return list(pool.map(one, items))

    def stop(self):
        with self.lock:
            self.stopped = True
            for process in self.running:
                process.terminate()


class Job:
    """A sweep job as submitit runs it: the unfinished cells among its paths, `at_once` at a time, each in a process
    of its own; the exit code of each.

    Before SLURM ends a job at its time limit or preempts it, it sends the job a signal (USR2); submitit's handler
    calls checkpoint() and requeues the job checkpoint() returns (submitit.helpers.Checkpointable's protocol). The
    running cells are stopped: each keeps the checkpoint of its last finished epoch. The requeued job plans its cells
    anew from their run directories, as a rerun of the sweep would: a stopped cell resumes from its checkpoint (the
    epoch it was in is trained again), a cell that ended, finished or failed, is not run again. A job takes no lock:
    the sweep directory's lock belongs to the sweep's driver (main), so a requeued job is never refused by it; the lock
    of each run directory (runs.Run) keeps two processes out of one cell."""

    def __init__(self, planning, at_once):
        self.planning, self.at_once = planning, at_once  # plan()'s arguments
        self.processes, self.codes = None, {}

    def __call__(self, paths, codes=None):
        """`codes`: the exit codes of the cells that ended before a requeue."""
        self.processes, self.codes = Processes(_cell_process, self.at_once), dict(codes or {})
        todo = [(path, chain) for path, chain in plan(*self.planning) if path in paths and path not in self.codes]
        self.processes.run(todo, ended=lambda cell, code: self.codes.__setitem__(cell[0], code))
        return [self.codes.get(path, 0) for path in paths]  # a path without a code: finished before a requeue

    def checkpoint(self, paths, codes=None):
        from submitit.helpers import DelayedSubmission
        if self.processes:
            self.processes.stop()
        return DelayedSubmission(Job(self.planning, self.at_once), paths, self.codes)  # a new Job: Processes won't pickle


def jobs(todo, gpus, per_gpu, slurm):
    """The jobs of a sweep, [(gpu, cells)], each job running its cells `per_gpu` at a time. On SLURM one job per
    `per_gpu` cells (SLURM gives it a GPU: None); here one job per visible GPU (one, gpu None, without a GPU)."""
    count = math.ceil(len(todo) / per_gpu) if slurm else max(gpus, 1)
    return [(i if gpus and not slurm else None, todo[i::count]) for i in range(count) if todo[i::count]]


def split_seed(args, space, cell):
    """The seed of a cell's data splits (the search's halves, the evaluation's hold-out): the cell's own seed, so
    that the seeds of a row vary the split too, unless the sweep was given one --split_seed for all."""
    return space.split_seed if args.fixed_split else cell.seed


def search_argv(args, passthrough, space, cell):
    """train_search.py's arguments for a search cell, but --save."""
    holdout = ['--holdout_portion', repr(args.holdout)] if args.holdout else []
    return [*passthrough, '--method', cell.method, '--w_optimizer', cell.w, '--learning_rate', repr(cell.w_lr),
            '--arch_optimizer', cell.arch, '--arch_learning_rate', repr(cell.arch_lr), '--seed', str(cell.seed),
            '--split_seed', str(split_seed(args, space, cell)), *holdout]


# The evaluation of the found cells (DARTS section 3.2). By default a proxy: the paper selects among its searches' cells
# by a brief training from scratch judged on held-out validation images, never on the test set; --evaluate_paper
# runs the final protocol of appendix A.2 instead (600 epochs, auxiliary tower, cutout, the whole training set).
PROXY = ['--valid_portion', '0.1']
PAPER = ['--epochs', '600', '--auxiliary', '--cutout', '--valid_portion', '0']
SHARED = ('data', 'dataset', 'fake_size', 'image_size', 'workers', 'device')  # the search's data, for both
SET_BY_SWEEP = ('genotype', 'arch', 'seed', 'save', 'resume', 'epochs', 'split_seed')  # what --eval_* cannot set
# args.json entries that say where and how a run ran, not what it measured: two runs that differ only in these are
# the same protocol (an evaluation's genotype and arch are its search's cell, compared through genotype.json)
NOT_PROTOCOL = frozenset({'kind', 'save', 'resume', 'device', 'workers', 'data_on_device', 'data', 'report_freq',
                          'genotype', 'arch'})


def protocol(run_args):
    """What a run's arguments (its args.json, or a parsed Namespace's vars) make it measure."""
    return {k: v for k, v in run_args.items() if k not in NOT_PROTOCOL}


def protocol_changes(path, planned):
    """'--flag saved (now planned), ...' where the run at `path` was made under another protocol than `planned`
    (the parsed arguments this sweep would give it); '' where it was not. Flags its args.json lacks (written by an
    older darts-min) are not compared."""
    try:
        with open(os.path.join(path, 'args.json')) as f:
            saved = protocol(json.load(f))
    except (OSError, ValueError, TypeError, AttributeError):
        return ''  # no readable args.json: a run that never began, started over by the sweep
    return ', '.join(f'--{k} {json.dumps(saved[k])} (now {json.dumps(v)})' for k, v in sorted(protocol(planned).items())
                     if k in saved and saved[k] != v)


def split_eval_flags(passthrough):
    """(the search's flags, the evaluation's): --eval_X [value ...] is train_eval.py's --X [value ...]."""
    search, evaluation = [], []
    target = search
    for token in passthrough:
        if token.startswith('--'):
            target = evaluation if token.startswith('--eval_') else search
            token = '--' + token[len('--eval_'):] if token.startswith('--eval_') else token
        target.append(token)
    return search, evaluation


def evaluating(args):
    """Whether the sweep trains the found cells from scratch (--evaluate_epochs N or --evaluate_paper)."""
    return bool(args.evaluate_epochs or args.evaluate_paper)


def eval_argv(args, space, eval_flags, cell, source):
    """train_eval.py's arguments for the cell found in the run directory `source`, but --save."""
    shared = [x for k in SHARED for x in (f'--{k}', str(getattr(space, k)))]
    proxy = PAPER if args.evaluate_paper else ['--epochs', str(args.evaluate_epochs), *PROXY]
    return [*shared, '--split_seed', str(split_seed(args, space, cell)), *proxy, *eval_flags, '--seed', str(cell.seed),
            '--genotype', source]


def planned_args(args, passthrough, space, eval_flags, cell, path):
    """(train_search.py's parsed arguments, train_eval.py's or None) that the sweep gives a search cell: the
    protocol its existing runs must match."""
    search = vars(train_search.parse_args(search_argv(args, passthrough, space, cell)))
    if not evaluating(args):
        return search, None
    argv = eval_argv(args, space, eval_flags, cell, path)
    return search, vars(train_eval.parse_args(argv[:argv.index('--genotype')] + ['--arch', 'DARTS']))


def check_protocol(args, passthrough, space, eval_flags, cell, path):
    """Refuse, in one line, a sweep whose flags differ from those the cell's existing runs were made with: their
    results would be reported as this grid's."""
    search, evaluation = planned_args(args, passthrough, space, eval_flags, cell, path)
    for run, planned in ((path, search), (path + '-eval', evaluation)):
        changes = protocol_changes(run, planned) if planned is not None else ''
        cli.check(not changes, f'{run} was run with other flags: {changes}; give the sweep the flags of the runs in '
                               f'{args.save}, or another --save for the new protocol')


def evaluation_steps(args, space, eval_flags, cell, source, evaluation):
    """The training from scratch of the cell in `source` into the run directory `evaluation`: [] when done, resumed
    when started, as a search (a run of its own genotype)."""
    status = cell_status(evaluation)
    if status == 'started':
        return [['eval', '--resume', evaluation]]
    return [['eval', *eval_argv(args, space, eval_flags, cell, source), '--save', evaluation]] if status == 'new' else []


def random_chain(args, space, eval_flags, cell, path):
    """A random search not finished: its draw (no time: drawn again); in the DARTS space then the proxy training of
    every sample (samples/<k>-eval, skipped and resumed as an evaluation) and the choice of the best by validation."""
    table = ['--nb201_table', space.nb201_table] if space.nb201_table else []
    trained = space.search_space == 'darts'  # check_sweep: with --evaluate_epochs
    chain = [['random', '--samples', str(args.random_cells), '--seed', str(cell.seed), '--search_space',
              space.search_space, *table, *(['--evaluated'] if trained else []), '--save', path]]
    if trained:
        for k in range(args.random_cells):
            sample = os.path.join(path, 'samples', str(k))
            chain += evaluation_steps(args, space, eval_flags, cell, sample, sample + '-eval')
        chain.append(['random', '--choose', '--save', path])
    return chain


def plan(args, passthrough, space, eval_flags=(), grid=None):
    """(path, chain) of every cell of `grid` (default: cells(args)) that is not finished yet: its programs to run in
    turn, [program, *argv] each."""
    todo = []
    for cell in cells(args) if grid is None else grid:
        path = os.path.join(args.save, cell.name)
        status, chain = cell_status(path), []
        if cell.method != 'random':  # runs already there must be of this sweep's protocol
            check_protocol(args, passthrough, space, eval_flags, cell, path)
        if cell.method == 'random':
            chain += random_chain(args, space, eval_flags, cell, path) if status != 'done' else []
        elif status == 'started':
            chain.append(['search', '--resume', path])
        elif status == 'new':
            chain.append(['search', *search_argv(args, passthrough, space, cell), '--save', path])
        # a diverged search is a result (the report counts it), not a cell to run again nor to evaluate
        if evaluating(args) and status != 'diverged':
            chain += evaluation_steps(args, space, eval_flags, cell, path, path + '-eval')
        if chain:
            todo.append((path, chain))
    return todo


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


def parse(argv):
    p = cli.ArgumentParser(prog='python -m darts_min.sweep', description='Run a grid of searches.', allow_abbrev=False)
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
      'default on --tune_seeds, judged by the evaluated cell\'s validation accuracy (darts_min/tuning.py; 0: off)')
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
    a('--timeout_min', type=int, default=24 * 60, help='time limit of a job in minutes')
    a('--slurm_partition', default=None)
    args, passthrough = p.parse_known_args(argv)
    passthrough, eval_flags = split_eval_flags(passthrough)
    for name, known in (('w_optimizers', optimizers.REGISTRY), ('arch_optimizers', optimizers.REGISTRY),
                        ('methods', [*methods.METHODS, 'random'])):
        unknown = [v for v in getattr(args, name) if v not in known]
        if unknown:
            p.error(f'--{name}: unknown {", ".join(unknown)} (choose from {", ".join(known)})')
    for flag in ('--save', '--seed', '--method', '--w_optimizer', '--arch_optimizer', '--resume', '--holdout_portion'):
        if names_flag(passthrough, flag):
            p.error(f'{flag} is set by the sweep for each cell; ' + ('use --disjoint_validation' if flag == '--holdout_portion'
                                                                     else 'drop it'))
    if args.disjoint_validation and not args.evaluate_epochs:
        p.error('--disjoint_validation holds out the validation images of --evaluate_epochs N (--evaluate_paper has none)')
    args.fixed_split = names_flag(passthrough, '--split_seed')  # else each seed splits the data its own way
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
    args.w_learning_rates = parse_rates(p, 'w_learning_rates', args.w_learning_rates, args.w_optimizers)
    args.arch_learning_rates = parse_rates(p, 'arch_learning_rates', args.arch_learning_rates, args.arch_optimizers)
    space = train_search.parse_args(passthrough)  # every cell's arguments are checked before anything is submitted
    args.unrolled_step = space.unrolled_step  # part of the cell names
    args.holdout = 0.0
    if evaluating(args):
        if space.search_space != 'darts':
            p.error(f'--evaluate_epochs/--evaluate_paper train DARTS cells; the {space.search_space} space has its '
                    'benchmark table instead (--nb201_table)')
        probe = cells(args)[0]._replace(seed=0)  # a named cell stands in for the genotypes to come
        eval_probe = eval_argv(args, space, eval_flags, probe, 'x')
        evaluation = train_eval.parse_args(eval_probe[:eval_probe.index('--genotype')] + ['--arch', 'DARTS'])
        args.holdout = evaluation.valid_portion if args.disjoint_validation else 0.0
    checked = set()
    for cell in cells(args):
        if cell.method != 'random' and cell._replace(name='', seed=0) not in checked:
            train_search.parse_args(search_argv(args, passthrough, space, cell))
            checked.add(cell._replace(name='', seed=0))
    tuning.check(p, args)
    for config in {cell._replace(name='', seed=0) for *_, cell in tuning.trials(args)} if args.tune_rates else ():
        train_search.parse_args(search_argv(args, passthrough, space, config))  # a rate the search refuses: one line
    random_search.check_sweep(p, args, space)
    return args, passthrough, space, eval_flags


def main(argv=None):
    args, passthrough, space, eval_flags = parse(argv)
    try:
        import submitit
    except ImportError:
        raise cli.UserError('sweeps run through submitit: pip install submitit') from None
    try:
        os.makedirs(args.save, exist_ok=True)
    except OSError as e:
        raise cli.UserError(f'cannot write the sweep directory {args.save}: {e.strerror or e}') from None
    # held by this driver until it ends (or is killed): a second sweep on the directory is refused; the jobs, requeued
    # ones too, take no part in it
    with runs.lock(args.save, f'{args.save} is in use by another sweep (its driver is still running): wait for it '
                              'to end, or stop it first'):
        grid = cells(args)
        if args.tune_rates:  # phase 1, the tuning cells; phase 2, the grid at the rates they chose (darts_min/tuning.py)
            grid = tune(args, passthrough, space, eval_flags)
        return submit(args, passthrough, space, eval_flags, grid)


def tune(args, passthrough, space, eval_flags):
    """Phase 1 of a tuned sweep: the tuning cells not finished, then tuning.json (once). Returns phase 2's cells, the
    grid at the chosen rates (darts_min/tuning.py)."""
    path = os.path.join(args.save, tuning.FILE)
    if not os.path.exists(path):
        print('tuning:', end=' ')
        if submit(args, passthrough, space, eval_flags, tuning.tuning_cells(args)):
            print('tuning: a failed tuning cell counts against its rate (docs/study.md); to retry it, delete '
                  f'{path} and run the same command')
        runs.write_json(path, tuning.choose(args))
    chosen = tuning.load(args, path)
    for method, sides in chosen.items():
        print(f'tuning: {method}: ' + '; '.join(f'{side} ' + ', '.join(f'{n} {r:g}' for n, r in rates.items())
                                                for side, rates in sides.items()))
    return tuning.study_cells(args, chosen)


def submit(args, passthrough, space, eval_flags, grid):
    """Plan the cells of `grid`, submit the jobs of those not finished and wait for them. Returns 1 if one failed."""
    import submitit  # main found it
    todo = plan(args, passthrough, space, eval_flags, grid)
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
    shares = jobs([path for path, _ in todo], gpus, args.jobs_per_gpu, slurm)
    work = Job((args, passthrough, space, eval_flags, grid), args.jobs_per_gpu)
    if slurm:  # one GPU per job
        executor.update_parameters(gpus_per_node=1, slurm_partition=args.slurm_partition)
        submitted = executor.map_array(work, [share for _, share in shares])
    else:
        submitted = []
        for gpu, share in shares:
            if gpu is not None:
                executor.update_parameters(visible_gpus=[gpu], gpus_per_node=1)
            submitted.append(executor.submit(work, share))
    print(f'submitted {len(submitted)} job(s) ({executor.cluster}), {args.jobs_per_gpu} cell(s) at once in each; '
          f'logs in {folder}')
    failed = 0
    for job in submitted:
        failed += sum(code != 0 for code in job.result())
    print(f'done: {len(todo) - failed} cell(s) finished, {failed} failed; report: python -m darts_min.report {args.save}')
    return 1 if failed else 0


if __name__ == '__main__':
    sys.argv[0] = 'python -m darts_min.sweep'
    from darts_min import sweep  # submitit pickles the functions of __main__ by value: use the module's, by name
    cli.run(sweep.main)
