"""Hints to the assignments, in levels: each says a little more than the one before, none gives the code.

    python assignments/hints.py 2        # assignment 2, level 1
    python assignments/hints.py 2 3      # assignment 2, levels 1 to 3

The hints are the sections "## Level k" of hints/aN.md; the graders never print them.
"""
import os
import re
import sys

HINTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'hints')


def levels(assignment):
    """The hint levels of an assignment (1-based list of texts)."""
    with open(os.path.join(HINTS, f'a{assignment}.md')) as f:
        return [part.strip() for part in re.split(r'^## Level \d+\n', f.read(), flags=re.M)[1:]]


def main(argv):
    usage = 'usage: python assignments/hints.py ASSIGNMENT [LEVEL]   (e.g. 2 1; levels 1 to 3)'
    if not 1 <= len(argv) <= 2 or not all(a.isdigit() for a in argv):
        return usage
    assignment, level = int(argv[0]), int(argv[1]) if len(argv) == 2 else 1
    if not os.path.exists(os.path.join(HINTS, f'a{assignment}.md')):
        return f'no assignment {assignment} (hints for: {", ".join(sorted(n[1] for n in os.listdir(HINTS)))})'
    texts = levels(assignment)
    if not 1 <= level <= len(texts):
        return f'assignment {assignment} has hint levels 1 to {len(texts)}'
    for k, text in enumerate(texts[:level], 1):
        print(f'--- assignment {assignment}, hint {k} of {len(texts)} ---\n{text}\n')
    return None


if __name__ == '__main__':
    error = main(sys.argv[1:])
    if error:
        print(error, file=sys.stderr)
        sys.exit(2)
