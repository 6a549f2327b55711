"""assignments/: the graders pass on the reference solutions and fail, with the stubs' teaching messages, on the
files handed out (so neither the graders nor the solutions can rot)."""
import os
import re
import subprocess
import sys

import pytest

from conftest import ROOT

GRADERS = 19  # the grading tests of the five assignments


def grade(solutions):
    env = {**os.environ, 'OMP_NUM_THREADS': '1', 'MKL_NUM_THREADS': '1', 'COLUMNS': '1000'}  # whole summary lines
    env.pop('DARTS_ASSIGNMENTS', None)
    if solutions:
        env['DARTS_ASSIGNMENTS'] = 'solutions'
    result = subprocess.run([sys.executable, '-m', 'pytest', '-q', '-p', 'no:cacheprovider', '-rf', 'assignments'],
                            cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    return result.returncode, result.stdout + result.stderr


@pytest.mark.smoke
def test_the_graders_pass_on_the_reference_solutions():
    code, output = grade(solutions=True)
    assert code == 0 and f'{GRADERS} passed' in output, output


def test_every_grader_fails_on_the_stubs_with_the_stubs_message():
    code, output = grade(solutions=False)
    assert code == 1 and f'{GRADERS} failed' in output, output
    failures = re.findall(r'^FAILED (assignments/test_a(\d)_\S+) - NotImplementedError: assignment (\d)', output, re.M)
    assert len(failures) == GRADERS and all(test == stub for _, test, stub in failures), output
