"""assignments/: the graders pass on the reference solutions (run from assignments/, as a student may) and fail on the
files handed out with a plain "not implemented"; planted in a copy of a reference solution, each misconception a
student is likely to have fails with a one-line message that names it; and no grader prints a solution or a worked
answer. The hints are levels the student asks for, never printed by a grader.

But for the first, the graders run in this process (`failures`): a fresh pytest process per plant would spend most of
its time importing torch."""
import json
import os
import re
import shutil
import subprocess
import sys

import pytest

from conftest import ROOT

ASSIGNMENTS = os.path.join(ROOT, 'assignments')
GRADERS = 25  # the grading tests of the assignments
# What no grader output may contain: the stubs' old hints, worked answers, a line of a solution. (Not bare numbers: a
# traceback through a stub shows its arguments, random tensors.)
FORBIDDEN = ['worked by hand', '1 + 0.9', '1 + μ', '1 + momentum', '2 / (1 +', '0.263158', 'autograd.grad(', 'sigmoid(alpha',
             '-log(-log', 'log(-torch.log', 'softmax((alpha', 'full_like', '2 * eps_fd', 'k != none']


def grade(*paths, folder=None, cwd=ROOT):
    """(exit code, output) of pytest on the graders `paths`, grading `folder` (default: the student's files)."""
    env = {**os.environ, 'OMP_NUM_THREADS': '1', 'MKL_NUM_THREADS': '1', 'COLUMNS': '1000'}  # whole summary lines
    env.pop('DARTS_ASSIGNMENTS', None)
    if folder:
        env['DARTS_ASSIGNMENTS'] = folder
    result = subprocess.run([sys.executable, '-m', 'pytest', '-q', '-p', 'no:cacheprovider', '-rf', *paths],
                            cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    return result.returncode, result.stdout + result.stderr


def failures(graders):
    """The failed reports of pytest run in this process on `graders` (a grader file or assignments/). What it imports
    from assignments/ (the graders, grading.py, conftest.py) is dropped afterwards and what it replaced (the name
    `conftest`) put back, so that each run imports the graders and the graded files afresh; torch stays imported."""
    modules, path, failed = dict(sys.modules), list(sys.path), []

    class Recorder:
        def pytest_runtest_logreport(self, report):
            if report.failed:
                failed.append(report)

    try:  # without unraisableexception's gc.collect() at the end of each session: 0.3 s with torch loaded
        pytest.main([graders, '-q', '-p', 'no:cacheprovider', '-p', 'no:unraisableexception'], plugins=[Recorder()])
    finally:
        for name, module in list(sys.modules.items()):
            if name not in modules and (getattr(module, '__file__', None) or '').startswith(ASSIGNMENTS):
                del sys.modules[name]
        sys.modules.update(modules)
        sys.path[:] = path
    return failed


def assert_no_answer_in(output):
    leaked = [s for s in FORBIDDEN if s in output]
    assert not leaked, f'a grader printed {leaked}:\n{output}'


@pytest.mark.smoke
def test_the_graders_pass_on_the_reference_solutions_run_from_the_assignments_folder():
    code, output = grade('.', folder='solutions', cwd=ASSIGNMENTS)
    assert code == 0 and f'{GRADERS} passed' in output, output


def test_every_grader_fails_on_the_stubs_with_a_plain_not_implemented(monkeypatch):
    monkeypatch.delenv('DARTS_ASSIGNMENTS', raising=False)
    failed = failures(ASSIGNMENTS)
    summary = [f'{r.nodeid} - {r.longrepr.reprcrash.message}' for r in failed]  # the lines of pytest -rf
    stubs = [re.fullmatch(r'test_a(\d)_\S+ - NotImplementedError: assignment (\d): \w+ is not implemented '
                          r'yet', line) for line in summary]
    assert len(failed) == GRADERS and sum(bool(m) and m[1] == m[2] for m in stubs) == GRADERS - 1, summary
    assert any('test_a_prediction_was_made_before_the_run - Failed: part 3: set PREDICTION' in line
               for line in summary), summary  # A6's part 3 is no stub
    output = '\n'.join(summary + [r.longreprtext for r in failed])
    assert_no_answer_in(output)
    hints = [line for name in os.listdir(os.path.join(ASSIGNMENTS, 'hints'))
             for line in open(os.path.join(ASSIGNMENTS, 'hints', name)).read().splitlines() if len(line) > 40]
    assert len(hints) > 20 and not [line for line in hints if line in output]


def test_hints_come_in_three_levels_one_at_a_time():
    stubs = sorted(f for f in os.listdir(ASSIGNMENTS) if re.fullmatch(r'a\d_\w+\.py', f))
    assert len(stubs) == 6
    for n in range(1, 7):
        levels = re.split(r'^## Level \d\n', open(os.path.join(ASSIGNMENTS, 'hints', f'a{n}.md')).read(), flags=re.M)[1:]
        assert len(levels) == 3, n
        for level in (1, 3):
            result = subprocess.run([sys.executable, os.path.join(ASSIGNMENTS, 'hints.py'), str(n), str(level)],
                                    capture_output=True, text=True, timeout=60)
            shown = [text.strip() in result.stdout for text in levels]
            assert result.returncode == 0 and shown == [k < level for k in range(3)], result.stdout
    result = subprocess.run([sys.executable, os.path.join(ASSIGNMENTS, 'hints.py'), '2', '4'], capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 2 and result.stderr == 'assignment 2 has hint levels 1 to 3\n'


def test_assignment_6s_search_command_is_a_search_of_each_w_optimizer_it_names():
    from darts_min import optimizers, search
    text = open(os.path.join(ASSIGNMENTS, 'a6_toy_to_search.py')).read().replace('\\\n', ' ')
    names, flags = re.search(r'for w in ([\w ]+); do\s+python train_search.py (.+?)\n', text).groups()
    assert set(names.split()) <= set(optimizers.REGISTRY) and len(names.split()) == 5
    for name in names.split():
        args = search.parse_args([flag.replace('$w', name) for flag in flags.split()])
        assert args.unrolled and args.w_optimizer == name and args.learning_rate == optimizers.default_lr(name, 'w')


A6_SEARCH = os.path.join(ROOT, 'docs', 'a6-search')  # part 4's searches as ANSWERS.md reads them, two seeds
A6_OPTIMIZERS = ['sgd', 'momentum', 'nesterov', 'rmsprop', 'adam']


def a6_run(seed, w, order):
    """A committed search of part 4: (its metrics.jsonl's rows, its last alphas as one tensor [cells, edges, ops])."""
    import torch
    path = os.path.join(A6_SEARCH, f'seed{seed}', f'{w}-{order}')
    metrics = [json.loads(line) for line in open(os.path.join(path, 'metrics.jsonl'))]
    return metrics, torch.tensor(json.load(open(os.path.join(path, 'alphas.json'))))


def a6_table():
    """ANSWERS.md's table of part 4, from the committed searches: each w optimizer's implicit_ratio by epoch, and how
    far second order's last alpha is from first order's (the L2 norm of the difference, both cells as one vector)."""
    lines = ['| w optimizer | implicit_ratio by epoch, seed 0 | seed 1 | alpha distance, seed 0 | seed 1 |',
             '|---|---|---|---:|---:|']
    for w in A6_OPTIMIZERS:
        ratios, distances = [], []
        for seed in (0, 1):
            (second, a2), (_, a1) = a6_run(seed, w, 'second'), a6_run(seed, w, 'first')
            ratios.append(', '.join(f"{m['implicit_ratio']:.2f}" for m in second))
            distances.append(f'{(a2 - a1).norm().item():.3f}')
        lines.append(f'| {w} | {ratios[0]} | {ratios[1]} | {distances[0]} | {distances[1]} |')
    return '\n'.join(lines)


def test_assignment_6s_answer_reads_the_committed_searches():
    """The searches are part 4's command (3 epochs on the digits, each w optimizer at its registry rate, second order
    and first), ANSWERS.md's table is theirs, and so is what the answer reads in them: alpha still all but uniform
    at the end of every search, the toy's order of implicit_ratio in every epoch of both seeds."""
    from darts_min import optimizers
    for seed in (0, 1):
        for w in A6_OPTIMIZERS:
            for order in ('second', 'first'):
                args = json.load(open(os.path.join(A6_SEARCH, f'seed{seed}', f'{w}-{order}', 'args.json')))
                assert (args['dataset'], args['image_size'], args['init_channels'], args['layers'], args['epochs'],
                        args['seed'], args['w_optimizer'], args['learning_rate'], args['unrolled']) == (
                    'digits', 8, 4, 3, 3, seed, w, optimizers.default_lr(w, 'w'), order == 'second')
                last = a6_run(seed, w, order)[0][-1]
                weights = [x for cell in ('normal', 'reduce') for edge in last[f'op_weights_{cell}'] for x in edge]
                assert max(abs(x - 1 / 8) for x in weights) < 2e-3, (seed, w, order)
        ratios = {w: [m['implicit_ratio'] for m in a6_run(seed, w, 'second')[0]] for w in A6_OPTIMIZERS}
        for r in ({w: ratio[epoch] for w, ratio in ratios.items()} for epoch in range(3)):
            assert min(r['rmsprop'], r['adam']) > r['nesterov'] > max(r['sgd'], r['momentum']), (seed, r)
    assert a6_table() in open(os.path.join(ASSIGNMENTS, 'ANSWERS.md')).read(), a6_table()

# (the misconception, the reference solution's file, [(a line of it, the line with the mistake)], what the grader's
# failure must say). Each plant changes the solution as a student's mistake would, and nothing else.
PLANTS = [
    ('A1: .backward() leaves .grad on w', 'a1_first_order',
     [('    grads = torch.autograd.grad(model._loss(x_valid, y_valid), alphas)\n',
       '    for a in alphas:\n        a.grad = None\n    model._loss(x_valid, y_valid).backward()\n'
       '    grads = [a.grad for a in alphas]\n')],
     "w's .grad was filled"),
    ('A1: the gradient added to a stale .grad', 'a1_first_order',
     [('        a.grad = g  #', '        a.grad = g if a.grad is None else a.grad + g  #')],
     'held the earlier gradient plus this one'),
    ('A1: the α optimizer not stepped', 'a1_first_order', [('    alpha_optimizer.step()\n', '')], 'α did not move'),
    ('A2: w not put back after the finite differences', 'a2_hessian_vector',
     [('            w.add_(d, alpha=eps_fd)  #', '            w.add_(d, alpha=0.0)  #')], 'w was not put back'),
    ('A2: ε_fd from per-tensor norms', 'a2_hessian_vector',
     [('                w.add_(d, alpha=step)\n', '                w.add_(d, alpha=step / eps_fd * scale / d.norm().item())\n'),
      ('            w.add_(d, alpha=eps_fd)  #', '            w.add_(d, alpha=scale / d.norm().item())  #')],
     "ε_fd was taken from each tensor's own norm"),
    ('A2: a one-sided difference', 'a2_hessian_vector',
     [('    for step in (eps_fd, -2 * eps_fd):', '    for step in (eps_fd, -eps_fd):'),
      ('            w.add_(d, alpha=eps_fd)  #', '            w.add_(d, alpha=0.0)  #'),
      ('return [(plus - minus) / (2 * eps_fd)', 'return [(plus - minus) / eps_fd')],
     'one-sided difference'),
    ('A2: the Hessian term with the wrong sign', 'a2_hessian_vector',
     [('[(plus - minus) /', '[(minus - plus) /')], 'the product has the wrong sign'),
    ('A2: the central difference divided by ε_fd', 'a2_hessian_vector',
     [('return [(plus - minus) / (2 * eps_fd)', 'return [(plus - minus) / eps_fd')], 'the divisor of the central difference'),
    ('A3: the genotype keeps none', 'a3_genotype',
     [('for k in range(len(row)) if k != none)', 'for k in range(len(row)))')], 'an edge kept `none`'),
    ('A3: edges ranked counting none', 'a3_genotype',
     [('key=lambda i: -rows[i][best[i]])', 'key=lambda i: -max(rows[i]))')], "counts `none`'s weight"),
    ('A3: the row index as the input', 'a3_genotype',
     [('(primitives[best[i]], i)', '(primitives[best[i]], start + i)')], 'not the input indices'),
    ("A4: Nesterov's Jacobian without μ's look-ahead", 'a4_nesterov',
     [('torch.full_like(w, -xi * (1 + momentum))', 'torch.full_like(w, -xi)')], "leaves out μ's look-ahead"),
    ("A4: heavy ball's step for Nesterov's", 'a4_nesterov',
     [('w_prime = w - xi * (d + momentum * b)', 'w_prime = w - xi * b')], "heavy-ball momentum's step"),
    ('A4: the weight decay left out', 'a4_nesterov', [('d = g + weight_decay * w', 'd = g')], 'L2 weight decay'),
    ('A4: the buffer changed in place', 'a4_nesterov',
     [('momentum * buf + d', 'buf.mul_(momentum).add_(d)')], 'buf was changed in place'),
    ('A5: sigmoid weights that compete', 'a5_relaxation',
     [('torch.sigmoid(alpha / temperature)', 'torch.softmax(alpha / temperature, dim=-1)')], 'still compete'),
    ('A5: the weights cut from α', 'a5_relaxation',
     [('torch.sigmoid(alpha / temperature)', 'torch.sigmoid(alpha.detach() / temperature)')], 'cut from α'),
    ('A5: the same noise at every call', 'a5_relaxation',
     [('torch.rand_like(alpha)', 'torch.rand(alpha.shape, generator=torch.Generator().manual_seed(0), dtype=alpha.dtype)')],
     'drew the same noise'),
    ('A5: noise that is not Gumbel', 'a5_relaxation',
     [('(alpha - torch.log(-torch.log(u)))', '(alpha + torch.log(-torch.log(u)))')], 'not standard Gumbel noise'),
    ("A6: Eq. 7's direct term taken at w", 'a6_toy_to_search', [('direct = w_prime - 2', 'direct = w - 2')],
     'the direct term was taken at w'),
    ("A6: the Hessian term's sign in Eq. 7", 'a6_toy_to_search', [('implicit = -xi * -2 * u', 'implicit = xi * -2 * u')],
     'the implicit term has the wrong sign'),
    ("A6: the Hessian term's sign in the settled α", 'a6_toy_to_search',
     [('2 / (1 + 2 * xi * c)', '2 / (1 - 2 * xi * c)')], 'the implicit term has the wrong sign'),
    ("A6: u without the optimizer's Jacobian", 'a6_toy_to_search', [('u = dw_dg / -xi * alpha', 'u = alpha')],
     "ignores the w optimizer's step"),
]


@pytest.mark.parametrize('plant', PLANTS, ids=[p[0] for p in PLANTS])
def test_a_planted_misconception_is_named_by_the_grader(plant, tmp_path, monkeypatch):
    _, name, edits, named = plant
    for file in os.listdir(os.path.join(ASSIGNMENTS, 'solutions')):
        shutil.copy(os.path.join(ASSIGNMENTS, 'solutions', file), tmp_path)
    path = tmp_path / f'{name}.py'
    text = path.read_text()
    for line, mistake in edits:
        assert text.count(line) == 1, f'the reference solution changed: plant {line!r} anew'
        text = text.replace(line, mistake)
    path.write_text(text)
    monkeypatch.setenv('DARTS_ASSIGNMENTS', str(tmp_path))
    failed = [r.longreprtext for r in failures(os.path.join(ASSIGNMENTS, f'test_{name}.py'))]
    assert failed and any(named in message for message in failed), failed
    assert all('\n' not in message for message in failed), failed  # one line each: fail(), no traceback
    assert_no_answer_in('\n'.join(failed))
