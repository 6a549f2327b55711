"""python -m darts_min.study: the study in one command (command.py)."""
import sys

from .. import cli
from .command import main

sys.argv[0] = 'python -m darts_min.study'
cli.run(main)
