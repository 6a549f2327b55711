"""How a sweep's points run: the jobs submitit runs (Job, requeued on SLURM), each running its points a few at a time,
each point in a process of its own (Processes) that runs its chain of programs (a search, then its evaluation)."""
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
from . import random_search
from .plan import plan


def program(name):
    """The main() of a point's program: 'search' (train_search.py), 'random' (random search), 'eval' (train_eval.py)."""
    return {'search': search.main, 'random': random_search.main, 'eval': evaluation.main}[name]


def run_chain(chain):
    """Run one point: its programs in turn, [program, *argv] each (a search, then its evaluation), up to the first that
    fails. Returns the exit code of the last one run; a failing or crashing program raises nothing."""
    for name, *argv in chain:
        try:
            code = program(name)(argv)
        except (cli.UserError, SystemExit) as e:
            print(f'point {argv}: {e}', file=sys.stderr)
            code = e.code if isinstance(e, SystemExit) else 2
        except Exception:  # a crashing point must not take the job's other points with it
            traceback.print_exc()
            code = 1
        if code:
            return code
    return 0


def _point_process(todo, threads):
    """The body of a point's own process: its share of the CPU threads, its exit code as the process's. SLURM may send
    its time-limit or preemption signal to every process of a job: the point leaves it to its job (Job.checkpoint)."""
    signal.signal(getattr(signal, 'SIG' + os.environ.get('SUBMITIT_PREEMPT_SIGNAL', 'USR2')), signal.SIG_IGN)
    torch.set_num_threads(threads)
    sys.exit(run_chain(todo[1]))


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
        """`codes`: the exit codes of the points that ended before a requeue."""
        self.processes, self.codes = Processes(_point_process, self.at_once), dict(codes or {})
        todo = [(path, chain) for path, chain in plan(*self.planning) if path in paths and path not in self.codes]
        self.processes.run(todo, ended=lambda point, code: self.codes.__setitem__(point[0], code))
        return [self.codes.get(path, 0) for path in paths]  # a path without a code: finished before a requeue

    def checkpoint(self, paths, codes=None):
        from submitit.helpers import DelayedSubmission
        if self.processes:
            self.processes.stop()
        return DelayedSubmission(Job(self.planning, self.at_once), paths, self.codes)  # a new Job: Processes won't pickle


def jobs(todo, gpus, per_gpu, slurm):
    """The jobs of a sweep, [(gpu, paths)], each job running its points `per_gpu` at a time. On SLURM one job per
    `per_gpu` points (SLURM gives it a GPU: None); here one job per visible GPU (one, gpu None, without a GPU)."""
    count = math.ceil(len(todo) / per_gpu) if slurm else max(gpus, 1)
    return [(i if gpus and not slurm else None, todo[i::count]) for i in range(count) if todo[i::count]]
