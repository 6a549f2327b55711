"""The committed study on the digits (docs/study-digits.md): its reports are what the report code makes of its committed
run files today, study.json says how it ran, and every figure of the page that reads it is one of theirs. The study
itself is not rerun here (100 minutes); test_study_command.py runs its command at a toy budget."""
import argparse
import json
import os
import re
import shutil

import pytest

from conftest import ROOT
from darts_min import data
from darts_min.study import command, pilot, report
from darts_min.study.results import load_runs

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


def flat(path):
    """A file's text with its whitespace runs made one space (a phrase may wrap)."""
    return ' '.join(open(path).read().split())


def test_the_pages_counts_and_sizes_are_the_committed_runs_and_the_codes():
    """The integers of docs/study-digits.md (which the figure check above does not see) and of the setting's text in
    command.py and docs/study.md, from the committed runs and the code that made them."""
    page, first = flat(PAGE), os.path.join(STUDY, 'first_order')
    phases = {phase: load_runs(os.path.join(STUDY, phase)) for phase in PHASES}
    # nothing diverged: every search and evaluation finished
    finished = {p: sum(r.status == 'finished' and r.eval_status == 'finished' for r in rs) for p, rs in phases.items()}
    assert all(finished[p] == len(rs) for p, rs in phases.items())
    searches = [r for r in phases['first_order'] if r.args['kind'] == 'search']
    assert (f'the first-order report counts {finished["first_order"]} of {len(phases["first_order"])} searches finished '
            f'(the {len(searches)} of the grid and the {len(phases["first_order"]) - len(searches)} random-search seeds) '
            f'and {finished["first_order"]} cells evaluated, the second-order report {finished["second_order"]} of '
            f'{len(phases["second_order"])}') in page
    # lambda_max that stopped at --hessian_iters
    stopped = {p: [r.figure('hessian_converged') for r in rs if r.args['kind'] == 'search'] for p, rs in phases.items()}
    assert searches[0].args['hessian_iters'] == 20 and (
        f'stopped at its 20 iterations, short of its tolerance, for {stopped["first_order"].count(False)} of the '
        f'{len(stopped["first_order"])} searches ({stopped["second_order"].count(False)} of the '
        f'{len(stopped["second_order"])} in the second order') in page
    # the search's halves and steps, by the search's own split (the evaluation's tenth held out first)
    args = searches[0].args
    steps, w_half, alpha_half = pilot.steps_per_epoch(args)
    setting = f'{steps} steps an epoch on the {w_half} + {alpha_half} images of the search\'s halves'
    assert all(r.args['holdout_portion'] == 0.1 and r.args['batch_size'] == 64 and r.args['epochs'] == 6 for r in searches)
    assert f'Each search took {steps * 6} α steps ({setting}, at batch 64, for 6 epochs)' in page
    assert setting in ' '.join(command.SETTING['batch_size'][1].split()) and setting in flat(os.path.join(ROOT, 'docs', 'study.md'))
    # the evaluation's validation images: the tuning's differences counted in images; the test images
    evaluation = argparse.Namespace(**searches[0].eval_args)
    digits = data.load_dataset(evaluation, train=True)
    tuned = json.load(open(os.path.join(first, 'tuning.json')))
    tune_valid = len(data.stratified_split(digits.targets, evaluation.valid_portion, tuned['seeds'][0])[0])
    momentum = {r['rate']: r['chosen'] for r in tuned['results'] if (r['side'], r['optimizer']) == ('w', 'momentum')}
    images = {rate: round(r['valid_acc'][str(tuned['seeds'][0])] * tune_valid / 100) for rate in momentum
              for r in tuned['results'] if (r['side'], r['optimizer'], r['rate']) == ('w', 'momentum', rate)}
    chosen = images[next(rate for rate, c in momentum.items() if c)]
    others = sorted((images[rate] for rate, c in momentum.items() if not c), reverse=True)
    assert (f'a difference of {chosen - others[0]} and {chosen - others[1]} of the {tune_valid} images ({chosen} against '
            f'{others[0]} and {others[1]})') in page
    assert len(data.load_dataset(evaluation, train=False)) == 449 and 'on 449 images instead of 134' in page
    # the random baseline's chosen cell: its evaluation repeats the chosen sample's training to the last digit
    for r in (r for r in phases['first_order'] if r.args['kind'] == 'random'):
        sample = r.metrics[-1]['samples'][r.metrics[-1]['chosen_sample']]
        assert (sample['valid_acc'], sample['test_acc']) == (r.evaluation['valid_acc'], r.evaluation['test_acc'])
    assert 'its validation and test accuracy are the sample\'s to the last digit' in page
    # Kendall's tau within w optimizer and seed: the report's groups
    report_text = flat(os.path.join(first, 'report.md'))
    groups, above, below = re.search(r'over (\d+) such groups \(from \S+ to \S+; above 0 in (\d+), below in (\d+)',
                                     report_text).groups()
    assert f'over the {groups} such groups of 6 searches' in page and f'above 0 in {above} groups, below in {below}' in page
    residual = re.search(r'with (\d+) degrees of freedom for the residual', report_text).group(1)
    assert f'type II ANOVA, {residual} residual degrees of freedom' in page


def test_the_page_points_to_the_second_study():
    head = open(PAGE).read().split('\n## ')[0]
    assert '](study.md#the-second-study-design)' in head and '](study-pilot.md)' in head
    planned = json.load(open(os.path.join(ROOT, 'docs', 'study-pilot', 'p2-adam6e-3-s0', 'args.json')))  # the rule's rate
    steps = planned['epochs'] * pilot.steps_per_epoch(planned)[0]
    assert f'({steps:,} α steps instead of 60)' in ' '.join(head.split())
    assert '\n## The second study: design\n' in open(os.path.join(ROOT, 'docs', 'study.md')).read()
