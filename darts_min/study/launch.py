"""How a sweep's points run: the jobs submitit runs (Job, requeued on SLURM), each running its points a few at a time,
each point in a process of its own (Processes) that runs its chain of programs (a search, then its evaluation). Under
--way batched the points of one configuration whose searches are still to run share a process (a unit): their
searches run as one batched search (batched.py), then each one's evaluation."""
import math
import multiprocessing
import os
import signal
import sys
import threading
import traceback
from concurrent.futures import ThreadPoolExecutor

import torch

from .. import cli, evaluation, search
from . import batched, random_search
from .grid import configuration
from .plan import plan


def program(name):
    """The main() of a point's program: 'search' (train_search.py), 'random' (random search), 'eval' (train_eval.py)."""
    return {'search': search.main, 'random': random_search.main, 'eval': evaluation.main}[name]


def run_program(main, argv):
    """main(argv), or the exit code of a program that fails (its one line printed: 2 for a refusal) or crashes (1)."""
    try:
        return main(argv)
    except (cli.UserError, SystemExit) as e:
        print(f'point {argv}: {e}', file=sys.stderr)
        return e.code if isinstance(e, SystemExit) else 2
    except Exception:  # a crashing point must not take the job's other points with it
        traceback.print_exc()
        return 1


def run_chain(chain):
    """Run one point: its programs in turn, [program, *argv] each (a search, then its evaluation), up to the first that
    fails. Returns the exit code of the last one run; a failing or crashing program raises nothing."""
    for name, *argv in chain:
        code = run_program(program(name), argv)
        if code:
            return code
    return 0


def run_unit(unit):
    """Run a unit's points, [(path, chain)]: one point's chain; or the searches of several (each chain's first program)
    as one batched search, then the rest of each chain whose search finished. Returns the worst exit code."""
    if len(unit) == 1:
        return run_chain(unit[0][1])
    codes = run_program(batched.run, [chain[0][1:] for _, chain in unit])
    codes = [codes] * len(unit) if isinstance(codes, int) else codes  # the whole batch failed
    return max(code or run_chain(chain[1:]) for code, (_, chain) in zip(codes, unit))


def units(todo, way):
    """The points of `todo`, [(path, chain)], as they run: [[(path, chain)]], one unit a process. Under way 'batched'
    the points of one configuration whose searches are to run (new or resumed) and that batched.py supports form one
    unit; every other point is a unit of its own."""
    def batchable(chain):
        try:
            return chain[0][0] == 'search' and batched.unsupported(search.parse_args(chain[0][1:])) is None
        except (cli.UserError, SystemExit):  # an unreadable args.json to resume: the point fails alone, saying why
            return False

    groups = {}
    for path, chain in todo:
        groups.setdefault(configuration(path) if way == 'batched' and batchable(chain) else path, []).append((path, chain))
    return list(groups.values())


def _point_process(unit, threads):
    """The body of a unit's own process: its share of the CPU threads, its exit code as the process's. SLURM may send
    its time-limit or preemption signal to every process of a job: the unit leaves it to its job (Job.checkpoint)."""
    signal.signal(getattr(signal, 'SIG' + os.environ.get('SUBMITIT_PREEMPT_SIGNAL', 'USR2')), signal.SIG_IGN)
    torch.set_num_threads(threads)
    sys.exit(run_unit(unit))


def process_context():
    """Processes forked from a fork server that has imported the programs once (a fresh process each costs seconds of
    imports, as long as a tiny point's whole run): the server holds neither torch's threads nor CUDA, which a fork of
    the sweep's own process could; so each point starts clean, as under 'spawn', in a fraction of a second."""
    context = multiprocessing.get_context('forkserver')
    context.set_forkserver_preload([__name__])
    return context


class Processes:
    """target(item, threads) for each item in a fresh process of its own, `at_once` processes at a time, each with its
    share of this process's CPU threads; a process that dies (killed, out of memory) only fails its own item. stop()
    ends the running ones and starts no more."""

    def __init__(self, target, at_once):
        self.target, self.at_once = target, at_once
        self.running, self.stopped = [], False
        self.lock = threading.RLock()  # stop() runs in a signal handler, in the thread that waits in run()

    def run(self, items, ended=lambda item, code: None):
        """Their exit codes in order (None: not started, as stopped); ended(item, code) as each one ends unstopped."""
        context, threads = process_context(), max(1, torch.get_num_threads() // self.at_once)

        def one(item):
            with self.lock:
                if self.stopped:
                    return None
                process = context.Process(target=self.target, args=(item, threads))
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
    """A sweep job as submitit runs it: the unfinished points among its paths, `at_once` at a time, each in a process
    of its own; the exit code of each.

    Before SLURM ends a job at its time limit or preempts it, it sends the job a signal (USR2); submitit's handler
    calls checkpoint() and requeues the job checkpoint() returns (submitit.helpers.Checkpointable's protocol). The
    running points are stopped: each keeps the checkpoint of its last finished epoch. The requeued job plans its points
    anew from their run directories, as a rerun of the sweep would: a stopped point resumes from its checkpoint (the
    epoch it was in is trained again), a point that ended, finished or failed, is not run again. A job takes no lock:
    the sweep directory's lock belongs to the sweep's driver (sweep.main), so a requeued job is never refused by it; the
    lock of each run directory (runs.Run) keeps two processes out of one point."""

    def __init__(self, planning, at_once):
        self.planning, self.at_once = planning, at_once  # plan()'s arguments
        self.processes, self.codes = None, {}

    def __call__(self, paths, codes=None):
        """`codes`: the exit codes of the points that ended before a requeue. The points of a unit share its code."""
        self.processes, self.codes = Processes(_point_process, self.at_once), dict(codes or {})
        todo = [(path, chain) for path, chain in plan(*self.planning) if path in paths and path not in self.codes]
        self.processes.run(units(todo, self.planning[0].way),
                           ended=lambda unit, code: self.codes.update((path, code) for path, _ in unit))
        return [self.codes.get(path, 0) for path in paths]  # a path without a code: finished before a requeue

    def checkpoint(self, paths, codes=None):
        from submitit.helpers import DelayedSubmission
        if self.processes:
            self.processes.stop()
        return DelayedSubmission(Job(self.planning, self.at_once), paths, self.codes)  # a new Job: Processes won't pickle


def jobs(todo, gpus, per_gpu, slurm):
    """The jobs of a sweep, [(gpu, paths)], each job running its units (todo: the paths of each, see `units`) `per_gpu`
    at a time, a unit never split. On SLURM one job per `per_gpu` units (SLURM gives it a GPU: None); here one job per
    visible GPU (one, gpu None, without a GPU)."""
    count = math.ceil(len(todo) / per_gpu) if slurm else max(gpus, 1)
    return [(i if gpus and not slurm else None, [path for unit in todo[i::count] for path in unit])
            for i in range(count) if todo[i::count]]
