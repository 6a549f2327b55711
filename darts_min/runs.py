"""A run directory: args.json, log.txt, metrics.jsonl, checkpoint.pt and result files.

Every file is written atomically (a temporary file in the same folder, then os.replace), so a run
killed at any moment leaves the previous complete version behind and `--resume` can continue it.
"""
import errno
import fcntl
import json
import logging
import os
import sys
import tempfile
import time

import torch

from .cli import UserError, check, given_flags

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


def read_json(path, what=None):
    """The JSON value in the file at `path`. A file missing or unreadable (cut short by a kill, not JSON): UserError
    in one line naming `what`, or None where `what` is None (a run directory that may be half written)."""
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError) as e:  # ValueError: not JSON, or not UTF-8
        if what is None:
            return None
        raise UserError(f'no {what} at {path}' if isinstance(e, FileNotFoundError)
                        else f'{path} is not a readable {what}: {e}') from None


def make_folder(path, what):
    """Make the folder `path` (its parents too) where missing, and check that a file can be written in it; where not,
    UserError in one line: 'cannot write {what} {path}: why'."""
    try:
        os.makedirs(path, exist_ok=True)
        tempfile.TemporaryFile(dir=path).close()  # a folder that is there but read-only fails here, not at its first file
    except OSError as e:
        raise UserError(f'cannot write {what} {path}: {e.strerror or e}') from None
    return path


def read_status(path):
    """The status.json of the run directory `path` (how a run stopped early, see Run.diverged); None if none."""
    status = read_json(os.path.join(path, 'status.json'))
    return status if isinstance(status, dict) else None


def read_metrics(path, unreadable=None):
    """The epoch records of a metrics.jsonl ([] if there is none); a line cut short by a kill is skipped. What could
    not be read ('line N', or why the file could not be opened) is appended to the list `unreadable` if one is given."""
    records = []
    unreadable = [] if unreadable is None else unreadable
    try:
        with open(path, errors='replace') as f:
            for number, line in enumerate(f, 1):
                try:
                    record = json.loads(line)
                    if isinstance(record, dict) and isinstance(record.get('epoch'), int):
                        records.append(record)
                        continue
                except ValueError:
                    pass
                unreadable.append(f'line {number}')
    except (FileNotFoundError, NotADirectoryError):
        pass
    except OSError as e:
        unreadable.append(e.strerror or str(e))
    return records


_held = {}  # (device, inode) of each .lock this process has opened in lock() -> its file, closed once released


def lock(folder, refusal):
    """Lock `folder` for as long as the returned file stays open, or raise UserError `refusal` if another process
    holds it: a POSIX record lock (fcntl.lockf) on folder/.lock. Unlike flock's, such a lock belongs to its process,
    not to the open file, so the processes it forks (DataLoader workers, which outlive a killed parent by up to 5 s) do
    not hold it: it ends with its process, by kill -9 as well, and a resume at once finds the folder free. It also ends
    when its process closes *any* descriptor of .lock, so nothing in the holding process may open that file: a second
    lock() of the folder in the same process is refused without opening it. On a filesystem that locks nothing, a
    warning, and nothing guards the folder."""
    path = os.path.join(folder, '.lock')
    try:
        held = _held.get(_identity(os.stat(path)))
    except FileNotFoundError:
        held = None
    check(held is None or held.closed, refusal)
    f = open(path, 'a')
    _held[_identity(os.fstat(f.fileno()))] = f
    try:
        fcntl.lockf(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as e:
        if e.errno in (errno.EACCES, errno.EAGAIN):  # another process holds it
            f.close()
            raise UserError(refusal) from None
        # ENOLCK, EOPNOTSUPP: a network filesystem mounted without locks
        print(f'warning: {folder} cannot be locked here ({e.strerror or e}): nothing keeps a second process off it',
              file=sys.stderr)
    return f


def _identity(stat):
    return stat.st_dev, stat.st_ino


def default_dir(prefix):
    return os.path.join('runs', f'{prefix}-{time.strftime("%Y%m%d-%H%M%S")}')


def parse_args(parser, argv, validate, kind):
    """Parse a script's arguments; with --resume DIR, those saved in DIR (only --device, --workers may change).

    Any bad value ends in one line on stderr and exit code 2.
    """
    args = parser.parse_args(argv)
    try:
        if args.resume:
            args = _resumed_args(parser, args, argv, kind)
        validate(args)
    except UserError as e:
        parser.error(str(e))
    return args


def _resumed_args(parser, args, argv, kind):
    check(os.path.isdir(args.resume), f'--resume {args.resume}: no such run directory')
    given = given_flags(parser, argv) - {'resume'}
    changed = given - {'device', 'workers'}
    check(not changed, f'--resume continues a run with its saved arguments; drop --{", --".join(sorted(changed))} '
                       '(only --device and --workers may change)')
    saved = read_json(os.path.join(args.resume, 'args.json'), f'{kind} run (args.json)')
    check(isinstance(saved, dict) and saved.get('kind') == kind,
          f'{args.resume}/args.json does not hold the arguments of a {kind} run')
    known = vars(parser.parse_args([]))
    for k, v in saved.items():  # a hand-edited args.json: every value of the type its flag takes
        default = known.get(k)
        check(k not in known or v is None or default is None or isinstance(v, type(default))
              or isinstance(default, float) and isinstance(v, int) and not isinstance(v, bool),
              f'{args.resume}/args.json: {k} = {v!r} is not of type {type(default).__name__}')
    merged = {**known, **{k: v for k, v in saved.items() if k in known}}
    merged.update({k: getattr(args, k) for k in given}, resume=args.resume, save=args.resume)
    return type(args)(**merged)


class _TqdmHandler(logging.StreamHandler):
    """Console lines that do not break a progress bar on the terminal."""

    def emit(self, record):
        from tqdm import tqdm
        tqdm.write(self.format(record), file=sys.stdout)


class Run:
    """The files of one run. `Run(path, kind)` opens (and creates) the folder and its log.

    With main=False (the other ranks of a multi-process run) it reads checkpoints but writes nothing.
    """

    def __init__(self, path, kind, main=True):
        self.path, self.kind, self.main = path, kind, main
        self.begun, self.held = False, None
        self.log = logging.getLogger(f'darts_min.{os.path.abspath(path)}')
        self.log.setLevel(logging.INFO)
        self.log.propagate = False
        if not main:
            self.log.addHandler(logging.NullHandler())
        elif not self.log.handlers:
            make_folder(path, 'the run directory')
            file_handler = logging.FileHandler(self.file('log.txt'))
            fmt = logging.Formatter('%(asctime)s %(message)s', datefmt='%m/%d %H:%M:%S')
            for handler in (file_handler, _TqdmHandler()):
                handler.setFormatter(fmt)
                self.log.addHandler(handler)

    def file(self, name):
        return os.path.join(self.path, name)

    def close(self):
        if self.held:
            self.held.close()
        for handler in list(self.log.handlers):
            handler.close()
            self.log.removeHandler(handler)

    def __enter__(self):
        return self

    def __exit__(self, kind, error, traceback):
        """Close the log; an error that stops the run once it has begun (an image that cannot be decoded, say) is
        logged first, so that log.txt says why the run ended. An error before `begin` is not this run's."""
        if self.begun and isinstance(error, UserError):
            self.log.error(f'stopped: {error}')
        self.close()

    def begin(self, args, device, first=lambda work: work()):
        """Write args.json; the checkpoint to continue from (None for a new run). Refuses to overwrite a run.

        Under torchrun `first` is distributed.rank_0_first: only rank 0 (main) looks at the directory and decides, and
        the other ranks read the checkpoint after it has written args.json (a rank that looked for itself could find
        that file and refuse the very run it belongs to); a refusal of rank 0's ends them all."""
        def look():  # rank 0 claims the directory; the others read the checkpoint it found there
            if self.main:
                return self._claim(args, device)
            return self.load_checkpoint(device) if args.resume else None
        state = first(look)
        self.begun = True
        return state

    def _claim(self, args, device):
        """Rank 0's part of `begin`: lock the directory for the run (two processes never write one run), check it,
        tidy it, write args.json; the checkpoint or None."""
        self.held = lock(self.path, f'{self.path} is in use: another process runs there (a sweep\'s job, say); '
                                    'wait for it to end or choose another --save')
        state = self.load_checkpoint(device) if args.resume else None
        check(args.resume or not any(os.path.exists(self.file(f)) for f in ('checkpoint.pt', 'args.json')),
              f'{self.path} already holds a run: continue it with --resume {self.path} or choose another --save')
        if args.resume and state is None:
            self.log.info(f'{self.path} has no checkpoint yet: starting from epoch 0')
        if args.resume:  # a run killed inside atomic_write leaves its temporary file behind
            for name in os.listdir(self.path):
                if name.startswith(('.checkpoint.pt.', '.metrics.jsonl.', '.args.json.')):
                    os.remove(self.file(name))
        if args.resume and self.main and os.path.exists(self.file('status.json')):  # resumed: no longer stopped
            os.remove(self.file('status.json'))
        self.write_json('args.json', {'kind': self.kind, **{k: v for k, v in vars(args).items() if k != 'resume'}})
        return state

    def diverged(self, epoch, message, num_classes):
        """Log why the run stopped at `epoch` and record it in status.json (read by the sweep and the report, which
        count a diverged run as data, at chance accuracy 100 / num_classes); the exit code of a diverged run, 3."""
        self.log.error(f'stopped: {message}')
        self.write_json('status.json', {'status': 'diverged', 'epoch': epoch, 'reason': message,
                                        'num_classes': num_classes})
        return 3

    def write_json(self, name, obj):
        if self.main:
            write_json(self.file(name), obj)

    # metrics.jsonl: one JSON object per finished epoch
    def append_metrics(self, record):
        if not self.main:
            return
        with open(self.file('metrics.jsonl'), 'a') as f:
            f.write(json.dumps(record) + '\n')

    def keep_metrics_before(self, epoch):
        """On resume: drop lines of epochs the checkpoint does not hold (the run died after writing them)."""
        path = self.file('metrics.jsonl')
        if not self.main or not os.path.exists(path):
            return
        kept = [json.dumps(r) + '\n' for r in read_metrics(path) if r['epoch'] < epoch]
        atomic_write(path, lambda f: f.writelines(kept))

    def resume(self, state, stateful, device, args, *about):
        """The epoch to start from. A new run (state None): 0, and the log's first lines, the arguments and `about`;
        a resumed one: its checkpoint loaded into `stateful` (`restore`) and the metrics of later epochs dropped."""
        if state is None:
            for line in (f'args = {vars(args)}', *about):
                self.log.info(line)
            return 0
        start = restore(state, stateful, device)
        self.keep_metrics_before(start)
        self.log.info(f'resumed {self.path} at epoch {start}')
        return start

    # checkpoint.pt: a plain dict of tensors, numbers and strings, loadable with weights_only=True
    def save_checkpoint(self, epoch, stateful, device):
        """After epoch `epoch`: the state_dict of each object in `stateful`, the random state."""
        if not self.main:
            return
        state = {'kind': self.kind, 'version': CHECKPOINT_VERSION, 'epoch': epoch + 1,
                 **{name: obj.state_dict() for name, obj in stateful.items()},
                 'rng_cpu': torch.get_rng_state(),
                 **({'rng_cuda': torch.cuda.get_rng_state(device)} if device.type == 'cuda' else {})}
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


def restore(state, stateful, device):
    """Load a checkpoint into freshly built objects and the random state; returns the epoch to continue from."""
    try:
        for name, obj in stateful.items():
            obj.load_state_dict(state[name])
        torch.set_rng_state(state['rng_cpu'].cpu())
        if device.type == 'cuda' and 'rng_cuda' in state:
            torch.cuda.set_rng_state(state['rng_cuda'].cpu(), device)
        return int(state['epoch'])
    except (KeyError, ValueError, RuntimeError, TypeError) as e:
        raise UserError(f'the checkpoint does not fit this run\'s network or optimizers '
                        f'({type(e).__name__}: {str(e).splitlines()[0]})') from None


class Tensors:
    """Tensors that are no module's state (the alphas), as an entry of a checkpoint: a list, loaded in place."""

    def __init__(self, tensors):
        self.tensors = tensors

    def state_dict(self):
        return [t.detach() for t in self.tensors]

    def load_state_dict(self, saved):
        with torch.no_grad():
            for t, s in zip(self.tensors, saved, strict=True):
                t.copy_(s)
