"""The second study's pilot (docs/study-pilot.md) and design (docs/study.md, "The second study: design"): the page's
tables are what darts_min/study/pilot.py makes of the committed runs today, every figure in the prose of both is
one of its, and the pilot's counts agree with what the runs' own logs say."""
import contextlib
import io
import math
import os
import re
import statistics

import pytest

from conftest import ROOT
from darts_min import optimizers
from darts_min.runs import read_metrics
from darts_min.study import pilot

pytest.importorskip('scipy')
pytest.importorskip('sklearn')
pytestmark = pytest.mark.docs
PILOT = os.path.join(ROOT, 'docs', 'study-pilot')
PAGE = os.path.join(ROOT, 'docs', 'study-pilot.md')
STUDY = os.path.join(ROOT, 'docs', 'study.md')
NUMBER = re.compile(r'(?<![\w.])[-+]?\d+\.\d+(?!\w|\.\d)')  # a figure with decimals (a full stop may follow)


@pytest.fixture(scope='module')
def printed():
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert pilot.main([PILOT]) == 0
    return out.getvalue()


def flat(text):
    return ' '.join(text.split())


def design_section():
    return open(STUDY).read().split('\n## The second study: design\n')[1].split('\n## ')[0]


def test_the_pages_tables_are_what_the_code_makes_of_the_committed_runs(printed):
    marked = open(PAGE).read().split('<!-- pilot.py: begin -->\n')[1].split('\n<!-- pilot.py: end -->')[0]
    assert marked == printed.rstrip('\n'), 'rerun python -m darts_min.study.pilot docs/study-pilot into the page'


@pytest.mark.parametrize('where', ['pilot page', 'design'])
def test_every_figure_in_the_prose_is_the_codes(printed, where):
    text = open(PAGE).read().split('<!-- pilot.py: begin -->')[0] if where == 'pilot page' else design_section()
    prose = re.sub(r'^```.*?^```', '', text, flags=re.S | re.M)
    missing = [x for x in NUMBER.findall(prose) if x not in set(NUMBER.findall(printed))]
    assert not missing, f'figures of the {where} that pilot.py does not print: {missing}'


def test_the_alpha_steps_are_the_searches_own_and_the_travel_their_op_weights():
    loaded = pilot.Pilot(PILOT)
    for r in loaded.searches:
        per_epoch = int(re.search(r'train 000/(\d+)', open(os.path.join(PILOT, r.name, 'log.txt')).read()).group(1))
        assert loaded.per_epoch[r.name][0] == per_epoch == 32  # the log's own count of the epoch's steps
        # the spread from the op weights (log p_max - log p_min, mean over the edges), epoch by epoch
        spread = [statistics.mean(math.log(max(e)) - math.log(min(e)) for e in m['op_weights_normal'])
                  for m in read_metrics(os.path.join(PILOT, r.name, 'metrics.jsonl'))]
        first = next((k for k, s in enumerate(spread) if s >= pilot.TRAVEL), None)
        assert pilot.steps_to_travel(r, per_epoch, 'normal') == (None if first is None else (first + 1) * per_epoch)
    # the cost runs logged alpha_steps themselves, one per w step
    for r in pilot.load_runs(os.path.join(PILOT, 'cost')):
        assert [m['alpha_steps'] for m in r.metrics] == [32, 64]


def test_the_design_is_the_constants_and_its_contrasts(printed):
    text = flat(design_section())
    rows = sum(len(m) * len(w) * len(a) for _, m, w, a, _, _ in pilot.DESIGN)
    assert f'{pilot.SEEDS} seeds each (`SEEDS`), {rows} rows, {rows * pilot.SEEDS} searches' in text
    assert f'In all {rows * pilot.SEEDS} searches and {pilot.RANDOM_CELLS} random cells' in printed
    for k, contrast in enumerate(pilot.CONTRASTS, start=1):
        assert f'{k}. {contrast}' in text
    assert f'Holm over these {len(pilot.CONTRASTS)} alone' in text
    rule = {n: pilot.RATE_RULE * optimizers.default_lr(n, 'arch') for n in ('adam', 'rmsprop', 'momentum')}
    assert rule == pytest.approx({'adam': 0.006, 'rmsprop': 0.006, 'momentum': 0.06})
    assert f'each α optimizer at {pilot.RATE_RULE} times its registry rate' in text
    steps = 40 * 32
    assert f'40 epochs of 32 steps, **{steps:,} α steps a search**' in text and f'{steps:,} α steps at the rule' in printed
