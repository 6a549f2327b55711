"""What the scripts share at the command line: one-line errors with exit code 2, devices, seeding."""
import argparse
import os
import random
import re
import sys

import torch


class UserError(Exception):
    """Bad input (arguments, data, run directories, checkpoints): reported as one line, exit code 2."""


class ArgumentParser(argparse.ArgumentParser):
    """argparse, but an error is one line on stderr (no usage block), exit code 2."""

    def error(self, message):
        self.exit(2, f'{self.prog}: error: {message}\n')


def given_flags(parser, argv):
    """The destinations of the options spelled out in argv (not left at their defaults)."""
    argv = sys.argv[1:] if argv is None else argv
    return {action.dest for action in parser._actions for opt in action.option_strings
            for arg in argv if arg == opt or arg.startswith(opt + '=')}


def run(main):
    """Call main(); turn UserError into one line and exit 2, Ctrl-C into exit 130."""
    prog = os.path.basename(sys.argv[0])
    try:
        sys.exit(main())
    except UserError as e:
        print(f'{prog}: error: {e}', file=sys.stderr)
        sys.exit(2)
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
