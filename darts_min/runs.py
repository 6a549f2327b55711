"""A run directory: args.json, log.txt, metrics.jsonl, checkpoint.pt and result files.

Every file is written atomically (a temporary file in the same folder, then os.replace), so a run
killed at any moment leaves the previous complete version behind and `--resume` can continue it.
"""
import json
import logging
import os
import sys
import tempfile
import time

import torch

from .cli import UserError

CHECKPOINT_VERSION = 1


def atomic_write(path, write, mode='w'):
    """Call write(f) on a temporary file beside `path`, then rename it over `path`."""
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=folder, prefix='.' + os.path.basename(path) + '.')
    try:
        with os.fdopen(fd, mode) as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def write_json(path, obj):
    atomic_write(path, lambda f: json.dump(obj, f, indent=2))


def read_json(path, what):
    try:
        with open(path) as f:
            return json.load(f)
    except FileNotFoundError:
        raise UserError(f'no {what} at {path}') from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise UserError(f'{path} is not a readable {what}: {e}') from None


def default_dir(prefix):
    return os.path.join('runs', f'{prefix}-{time.strftime("%Y%m%d-%H%M%S")}')


class _TqdmHandler(logging.StreamHandler):
    """Console lines that do not break a progress bar on the terminal."""

    def emit(self, record):
        from tqdm import tqdm
        tqdm.write(self.format(record), file=sys.stdout)


class Run:
    """The files of one run. `Run(path, kind)` opens (and creates) the folder and its log."""

    def __init__(self, path, kind):
        self.path, self.kind = path, kind
        self.log = logging.getLogger(f'darts_min.{os.path.abspath(path)}')
        self.log.setLevel(logging.INFO)
        self.log.propagate = False
        if not self.log.handlers:
            try:
                os.makedirs(path, exist_ok=True)
                file_handler = logging.FileHandler(self.file('log.txt'))
            except OSError as e:
                raise UserError(f'cannot write the run directory {path}: {e.strerror or e}') from None
            fmt = logging.Formatter('%(asctime)s %(message)s', datefmt='%m/%d %H:%M:%S')
            for handler in (file_handler, _TqdmHandler()):
                handler.setFormatter(fmt)
                self.log.addHandler(handler)

    def file(self, name):
        return os.path.join(self.path, name)

    def close(self):
        for handler in list(self.log.handlers):
            handler.close()
            self.log.removeHandler(handler)

    # metrics.jsonl: one JSON object per finished epoch
    def append_metrics(self, record):
        with open(self.file('metrics.jsonl'), 'a') as f:
            f.write(json.dumps(record) + '\n')

    def keep_metrics_before(self, epoch):
        """On resume: drop lines of epochs the checkpoint does not hold (the run died after writing them)."""
        path = self.file('metrics.jsonl')
        if not os.path.exists(path):
            return
        with open(path) as f:
            lines = [ln for ln in f if ln.strip()]
        kept = []
        for ln in lines:
            try:
                if json.loads(ln)['epoch'] < epoch:
                    kept.append(ln)
            except (json.JSONDecodeError, KeyError, TypeError):
                pass  # a line cut short by a kill
        atomic_write(path, lambda f: f.writelines(kept))

    # checkpoint.pt: a plain dict of tensors, numbers and strings, loadable with weights_only=True
    def save_checkpoint(self, state):
        state = {'kind': self.kind, 'version': CHECKPOINT_VERSION, **state}
        atomic_write(self.file('checkpoint.pt'), lambda f: torch.save(state, f), mode='wb')

    def load_checkpoint(self, device):
        """The checkpoint, or None if the run died before its first one; UserError if it is unusable."""
        path = self.file('checkpoint.pt')
        if not os.path.exists(path):
            return None
        try:
            state = torch.load(path, map_location=device, weights_only=True)
        except Exception as e:  # truncated file, not a torch file, a pickle with forbidden objects
            raise UserError(f'{path} is corrupt or not a darts-min checkpoint ({type(e).__name__}: '
                            f'{str(e).splitlines()[0] if str(e) else ""})') from None
        if not isinstance(state, dict) or state.get('kind') != self.kind:
            raise UserError(f'{path} is not a darts-min {self.kind} checkpoint')
        if state.get('version') != CHECKPOINT_VERSION:
            raise UserError(f'{path} has checkpoint version {state.get("version")}, this darts-min reads {CHECKPOINT_VERSION}')
        return state
