"""docs/walkthrough.md runs: every Python snippet, in order, in one namespace, with its asserts, and what each prints
is what the page shows in the ```output block below it (so the page cannot rot, and a wrong figure fails)."""
import configparser
import contextlib
import io
import os
import re
import subprocess
import sys

import pytest
import torch

from conftest import ROOT

WALKTHROUGH = os.path.join(ROOT, 'docs', 'walkthrough.md')
# a ```python block, then (after blank lines only) the ```output block of what it prints, if it prints anything
SNIPPET = re.compile(r'^```python\n(.*?)^```\n(?:\s*^```output\n(.*?)^```\n)?', flags=re.S | re.M)


def snippets(text):
    """[(code, shown output or None)] of a page, in order."""
    return [(m.group(1), m.group(2)) for m in SNIPPET.finditer(text)]


def run_snippets(text, name):
    """Run every snippet of a page in one namespace; [(shown, printed)] per snippet (shown None: no block)."""
    namespace, results = {}, []
    for k, (code, shown) in enumerate(snippets(text)):
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            exec(compile(code, f'{name}, snippet {k + 1}', 'exec'), namespace)
        results.append((shown, out.getvalue()))
    return results


@contextlib.contextmanager
def torch_settings(threads, mkldnn):
    """torch with `threads` intra-op threads and oneDNN (torch.backends.mkldnn) on or off; as before afterwards."""
    before = torch.get_num_threads(), torch.backends.mkldnn.enabled
    torch.set_num_threads(threads)
    torch.backends.mkldnn.enabled = mkldnn
    try:
        yield
    finally:
        torch.set_num_threads(before[0])
        torch.backends.mkldnn.enabled = before[1]


def check(results):
    for k, (shown, printed) in enumerate(results):
        assert printed == (shown or ''), f'snippet {k + 1} printed\n{printed}but the page shows\n{shown}'


# Rounding changes with the number of threads, with oneDNN and from one CPU to the next, and the page must print the
# same whatever they are: a figure that is rounding noise, printed digit by digit, fails here rather than on a
# reader's machine. 1 thread without oneDNN, 2 threads, the count this process started with; .ci/run runs the docs'
# tests again under a third thread count and another CPU's arithmetic (ATEN_CPU_CAPABILITY=default, MKL_CBWR).
STARTED = torch.get_num_threads()
SETTINGS = sorted({(1, False), (2, True), (STARTED, True)})


@pytest.mark.docs
@pytest.mark.parametrize('threads, mkldnn', SETTINGS, ids=[f'{n}threads' + ('' if on else '-no_mkldnn') for n, on in SETTINGS])
def test_every_snippet_of_the_walkthrough_runs_and_prints_what_the_page_shows(monkeypatch, threads, mkldnn):
    text = open(WALKTHROUGH).read()
    assert len(snippets(text)) >= 12 and text.count('```output') == sum(s is not None for _, s in snippets(text))
    monkeypatch.chdir(ROOT)  # as the page says: a session started at the root of the repository
    with torch_settings(threads, mkldnn):
        check(run_snippets(text, 'docs/walkthrough.md'))


NUMBER = re.compile(r'(?<![\w.])\d+\.\d+(?:e[-+]?\d+)?(?![\w])|(?<![\w.])\d+e[-+]?\d+(?![\w])')


def given_constants():
    """{figure as written: its value in the code} for the figures the page states that are settings, not results,
    so the page's figure is checked against the code. 1e-7 is the snippets' own radius."""
    from darts_min import optimizers
    from darts_min.architect import Architect
    from darts_min.model_search import Network
    torch.manual_seed(0)
    alpha_scale = float(f'{Network(4, 10, 3, None).alphas_normal.std().item():.0e}')  # alpha starts at 1e-3 N(0, 1)
    darts_w, darts_alpha = optimizers.REGISTRY['momentum'], optimizers.REGISTRY['adam']
    return {'0.025': darts_w.w_lr, '0.9': darts_w.defaults['momentum'], '3e-4': darts_alpha.arch_lr,
            '0.5': darts_alpha.defaults['betas'][0], '0.999': darts_alpha.defaults['betas'][1],
            '1e-8': torch.optim.Adam([torch.zeros(1)]).defaults['eps'], '0.01': Architect.fd_scale,
            '1e-2': Architect.fd_scale, '1e-3': alpha_scale, '1e-7': 1e-7}


@pytest.mark.docs
def test_every_figure_in_the_walkthroughs_text_is_printed_by_a_snippet_or_is_a_setting_of_the_code():
    text = open(WALKTHROUGH).read()
    prose = re.sub(r'^```.*?^```', '', text, flags=re.S | re.M)
    prose = re.sub(r'(sections?|Eqs?\.) \d+\.\d+', '', prose)  # the paper's section numbers
    printed = set(NUMBER.findall(' '.join(shown for _, shown in snippets(text) if shown)))
    constants = given_constants()
    for figure in NUMBER.findall(prose):
        assert figure in printed or figure in constants, f'{figure} in the text is neither printed nor a setting'
        if figure not in printed:
            assert float(figure) == pytest.approx(constants[figure], rel=1e-12), f'{figure}: the code has {constants[figure]}'


def test_the_checks_of_docs_try_md_pass_in_a_fresh_process():
    """Each "to try X, change Y" of docs/try.md makes its change at run time and asserts that the code takes it; in
    a process of its own, as the changes (a new op, a dataset, a registry entry) are global."""
    code = "import re; exec('\\n'.join(re.findall(r'^```python\\n(.*?)^```', open('docs/try.md').read(), re.S | re.M)))"
    env = {**os.environ, 'OMP_NUM_THREADS': '1', 'MKL_NUM_THREADS': '1'}
    result = subprocess.run([sys.executable, '-c', code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    assert open(os.path.join(ROOT, 'docs', 'try.md')).read().count('```python') == 6


def make_notebook():
    sys.path.insert(0, os.path.join(ROOT, 'docs'))
    try:
        import make_notebook
    finally:
        sys.path.remove(os.path.join(ROOT, 'docs'))
    return make_notebook


def test_the_committed_notebook_is_made_from_the_walkthrough():
    with open(os.path.join(ROOT, 'docs', 'walkthrough.ipynb')) as f:
        assert f.read() == make_notebook().notebook(), 'docs/walkthrough.ipynb is stale: run python docs/make_notebook.py'


def test_the_notebook_runs_in_a_kernel_with_its_figure(monkeypatch):
    import nbclient
    import nbformat
    monkeypatch.setenv('OMP_NUM_THREADS', '1')  # the kernel's threads
    nb = nbformat.reads(make_notebook().notebook(), as_version=4)
    attached = [cell for cell in nb.cells if 'attachment:search-cell.png' in cell.source]
    assert len(attached) == 1 and attached[0].attachments['search-cell.png']['image/png'].startswith('iVBORw0KGgo')  # a PNG
    # opened where it lies, in docs/, as Jupyter does; every cell runs and each snippet's asserts hold
    nbclient.NotebookClient(nb, timeout=300, kernel_name='python3',
                            resources={'metadata': {'path': os.path.join(ROOT, 'docs')}}).execute()
    printed = [''.join(o.get('text', '') for o in cell.outputs) for cell in nb.cells if cell.cell_type == 'code']
    shown = [shown or '' for _, shown in snippets(open(WALKTHROUGH).read())]
    assert printed == ['', *shown]  # the set-up cell, then what the page shows below each snippet


def test_setup_cfg_the_readme_the_ci_and_the_import_check_ask_for_the_same_torch():
    config = configparser.ConfigParser()
    config.read(os.path.join(ROOT, 'setup.cfg'))
    pins = [r for r in config['options']['install_requires'].split() if r.startswith('torch')]
    assert [p.split('==')[0] for p in pins] == ['torch', 'torchvision']  # exact versions: those the suite ran on
    install = f'{" ".join(pins)} -e ".[test]"'  # pip install [-q] ...
    for path in ('README.md', os.path.join('.ci', 'run'), os.path.join('darts_min', '__init__.py')):
        assert install in open(os.path.join(ROOT, path)).read(), path
