"""What the scripts share at the command line: one-line errors with exit code 2, devices, seeding."""
import argparse
import errno
import os
import random
import re
import sys

import torch


FLOAT32_MAX = 3.4e38  # a larger hyperparameter overflows in the float32 arithmetic of torch.optim
WRITE_FAILURES = (errno.ENOSPC, errno.EDQUOT, errno.EROFS)  # the machine's fault, not the code's: one line too


class UserError(Exception):
    """Bad input (arguments, data, run directories, checkpoints): reported as one line, exit code 2."""


class ArgumentParser(argparse.ArgumentParser):
    """argparse, but an error is one line on stderr (no usage block), exit code 2."""

    def error(self, message):
        self.exit(2, f'{self.prog}: error: {message}\n')


def add_run_args(parser, kind):
    """The flags both scripts share besides the data's (data.add_args): device and run directory."""
    a = parser.add_argument
    a('--device', default='auto', help='auto, cpu, cuda or cuda:N')
    a('--save', default=None, help=f'run directory (default runs/{kind}-<timestamp>)')
    a('--resume', default=None, metavar='DIR', help='continue the interrupted run in DIR with its saved arguments')


def check_positive(args, names):
    for name in names:
        value = getattr(args, name)
        check(0 < value < FLOAT32_MAX, f'--{name} must be positive and finite, got {value}')


def check_non_negative(args, names):
    for name in names:
        value = getattr(args, name)
        check(0 <= value < FLOAT32_MAX, f'--{name} must not be negative and must be finite, got {value}')


def given_flags(parser, argv):
    """The destinations of the options spelled out in argv (not left at their defaults)."""
    argv = sys.argv[1:] if argv is None else argv
    return {action.dest for action in parser._actions for opt in action.option_strings
            for arg in argv if arg == opt or arg.startswith(opt + '=')}


def run(main):
    """Call main(); turn UserError into one line and exit 2, a full or read-only disk into one line and exit 1, Ctrl-C
    into exit 130."""
    prog = os.path.basename(sys.argv[0])
    try:
        sys.exit(main())
    except UserError as e:
        print(f'{prog}: error: {e}', file=sys.stderr)
        sys.exit(2)
    except OSError as e:
        if e.errno not in WRITE_FAILURES:
            raise
        where = f': {e.filename}' if e.filename else ''
        print(f'{prog}: error: {e.strerror}{where}; what was written before is intact: make room, then run again '
              '(a search or an evaluation: --resume its run directory)', file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt:
        print(f'{prog}: interrupted; continue with --resume on the run directory', file=sys.stderr)
        sys.exit(130)


def check(condition, message):
    if not condition:
        raise UserError(message)


def resolve_device(name):
    """'auto' -> cuda if available else cpu; 'cpu', 'cuda', 'cuda:N' are checked against this machine."""
    check(re.fullmatch(r'auto|cpu|cuda(:\d+)?', name), f"unknown device {name!r} (use auto, cpu, cuda or cuda:N)")
    if name == 'auto':
        name = 'cuda' if torch.cuda.is_available() else 'cpu'
    if name.startswith('cuda'):
        check(torch.cuda.is_available(), f'device {name} asked for, but torch sees no CUDA GPU here (use --device cpu)')
        index = int(name.partition(':')[2] or 0)
        count = torch.cuda.device_count()
        check(index < count, f'device {name} asked for, but there are only {count} CUDA device(s)')
        return torch.device('cuda', index)
    return torch.device(name)


def seed_everything(seed, device):
    random.seed(seed)
    torch.manual_seed(seed)
    if device.type == 'cuda':
        torch.cuda.set_device(device)
        torch.backends.cudnn.benchmark = True  # fixed input shapes: let cuDNN pick the fastest kernels
