"""The committed study on the digits (docs/study-digits.md): its reports are what the report code makes of its committed
run files today, study.json says how it ran, and every figure of the page that reads it is one of theirs. The study
itself is not rerun here (100 minutes); test_study_command.py runs its command at a toy budget."""
import json
import os
import re
import shutil

import pytest

from conftest import ROOT
from darts_min.study import report

pytest.importorskip('scipy')
pytestmark = pytest.mark.docs
STUDY = os.path.join(ROOT, 'docs', 'study-digits')
PAGE = os.path.join(ROOT, 'docs', 'study-digits.md')
PHASES = ('first_order', 'second_order')
NUMBER = re.compile(r'(?<![\w.])[-+]?\d+\.\d+(?![\w.])')  # a figure with decimals: an integer may be a count or a name


def tables(text):
    """A report's text from its summary to its pictures: what --no_plots writes, less its title (it names the path)."""
    return text.split('\n## Optimizer grids')[0].split('\n', 1)[1].rstrip('\n')


@pytest.mark.parametrize('phase', PHASES)
def test_the_committed_report_is_what_the_report_makes_of_the_committed_runs(phase, tmp_path):
    copy = tmp_path / phase
    shutil.copytree(os.path.join(STUDY, phase), copy, ignore=shutil.ignore_patterns('plots', 'report.md'))
    assert report.main([str(copy), '--no_plots']) == 0
    made = tables(open(copy / 'report.md').read())
    committed = open(os.path.join(STUDY, phase, 'report.md')).read()
    assert made == tables(committed), f'rerun python -m darts_min.study.report docs/study-digits/{phase} --grid_plots'
    for picture in re.findall(r'\]\((plots/[^)]+)\)', committed):
        assert os.path.getsize(os.path.join(STUDY, phase, picture)) > 0


def test_study_json_says_how_the_study_ran_within_two_hours_of_a_two_core_cpu():
    record = json.load(open(os.path.join(STUDY, 'study.json')))
    assert record['command'] == ['python -m darts_min.study', '--save', 'runs/study-digits']
    assert set(record['wall_s']) == {'first_order', 'second_order', 'reports'}
    assert sum(record['wall_s'].values()) < 2 * 3600 and record['machine']['cpu_count'] == 2
    page = open(PAGE).read()
    assert all(str(v) in page for v in record['versions'].values()) and record['date'][:10] in page


def test_every_figure_on_the_reading_page_is_in_the_committed_reports_or_study_json():
    sources = ' '.join(open(os.path.join(STUDY, *path)).read()
                       for path in (('first_order', 'report.md'), ('second_order', 'report.md'), ('study.json',)))
    known = set(NUMBER.findall(sources))
    magnitudes = {x.lstrip('+-') for x in known}  # a figure quoted without its sign ("by 1.20 points")
    prose = re.sub(r'^```.*?^```', '', open(PAGE).read(), flags=re.S | re.M)
    missing = [x for x in NUMBER.findall(prose) if x not in known and not (x[0] not in '+-' and x in magnitudes)]
    assert not missing, f'figures of docs/study-digits.md in no committed report: {missing}'
