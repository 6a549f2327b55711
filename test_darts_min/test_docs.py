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

from conftest import ROOT, STARTED_THREADS, threads

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
def torch_settings(n, mkldnn):
    """torch with `n` intra-op threads (conftest.threads) and oneDNN (torch.backends.mkldnn) on or off; as before
    afterwards."""
    before = torch.backends.mkldnn.enabled
    torch.backends.mkldnn.enabled = mkldnn
    try:
        with threads(n):
            yield
    finally:
        torch.backends.mkldnn.enabled = before


def check(results):
    for k, (shown, printed) in enumerate(results):
        assert printed == (shown or ''), f'snippet {k + 1} printed\n{printed}but the page shows\n{shown}'


# Rounding changes with the number of threads, with oneDNN and from one CPU to the next, and the page must print the
# same whatever they are: a figure that is rounding noise, printed digit by digit, fails here rather than on a
# reader's machine. 1 thread without oneDNN, 2 threads, the count this process started with (before a worker of
# pytest -n took its share: conftest); .ci/run runs the docs' tests again under a third thread count and another CPU's
# arithmetic (ATEN_CPU_CAPABILITY=default, MKL_CBWR).
SETTINGS = sorted({(1, False), (2, True), (STARTED_THREADS, True)})


@pytest.mark.docs
@pytest.mark.parametrize('n, mkldnn', SETTINGS, ids=[f'{n}threads' + ('' if on else '-no_mkldnn') for n, on in SETTINGS])
def test_every_snippet_of_the_walkthrough_runs_and_prints_what_the_page_shows(monkeypatch, n, mkldnn):
    text = open(WALKTHROUGH).read()
    assert len(snippets(text)) >= 12 and text.count('```output') == sum(s is not None for _, s in snippets(text))
    monkeypatch.chdir(ROOT)  # as the page says: a session started at the root of the repository
    with torch_settings(n, mkldnn):
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


def test_the_notebooks_set_up_cell_unpacks_the_source_archive_or_moves_up(tmp_path):
    """On Colab the set-up cell unpacks the uploaded darts-min.zip (git archive --prefix=darts-min/ lays it out so) and
    moves to its root; in Jupyter, opened in docs/, it moves up. Either way the snippets then find train_search.py."""
    import zipfile
    with zipfile.ZipFile(tmp_path / 'darts-min.zip', 'w') as archive:
        archive.writestr('darts-min/train_search.py', '')
        archive.writestr('darts-min/darts_min/__init__.py', '')
    code = make_notebook().SETUP + '\nprint(os.getcwd())'
    for cwd, root in ((tmp_path, tmp_path / 'darts-min'), (os.path.join(ROOT, 'docs'), ROOT)):
        result = subprocess.run([sys.executable, '-c', code], cwd=cwd, capture_output=True, text=True, timeout=60)
        assert result.returncode == 0 and result.stdout.strip() == str(root), result.stderr


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


def second_order_parts(w_optimizer):
    """One second-order α gradient of the Architect on a tiny network (float64, the w optimizer's first step):
    (xi, the hypergradient, the direct term grad_alpha L_val(w', alpha), grad_w' L_val, and the u and the product
    `fd_alpha_w_hessian_product` was called with)."""
    from conftest import batch, tiny_network
    from darts_min import optimizers, search as train_search
    from darts_min.architect import Architect
    model = tiny_network(dtype=torch.float64, steps=2)
    (xt, yt), (xv, yv) = batch(dtype=torch.float64, seed=1), batch(dtype=torch.float64, seed=2)
    args = train_search.parse_args(['--w_optimizer', w_optimizer])
    w_optimizer, architect, xi, calls = optimizers.for_weights(args, model.parameters()), Architect(model, args), 0.025, []
    architect.fd_scale = 1e-7  # a radius too small to cross a kink: the product is exact to rounding
    product = architect.fd_alpha_w_hessian_product

    def recording_product(u, x, y):
        calls.append((u, product(u, x, y)))
        return calls[-1][1]

    architect.fd_alpha_w_hessian_product = recording_product
    hypergradient = architect.unrolled_grad(xt, yt, xv, yv, xi, w_optimizer)
    w_prime = {n: t.detach().requires_grad_() for n, t in architect.virtual_step(xt, yt, xi, w_optimizer)[0].items()}
    grads = torch.autograd.grad(architect._loss(xv, yv, weights=w_prime), [*model.arch_parameters(), *w_prime.values()])
    (u, fd_product), = calls
    grad_w = torch.autograd.grad(model._loss(xt, yt), list(model.parameters()), create_graph=True)
    exact = torch.autograd.grad(sum((g * v).sum() for g, v in zip(grad_w, u)), model.arch_parameters())
    return xi, hypergradient, grads[:2], grads[2:], u, fd_product, exact


@pytest.mark.parametrize('w_optimizer', ['sgd', 'nesterov'])
def test_notation_md_the_implicit_variable_is_the_bare_product(w_optimizer):
    # docs/notation.md: `implicit` in unrolled_grad holds grad2_{alpha,w} L_train . u, and Eq. 7 applies -xi after
    xi, hypergradient, direct, _, _, implicit, exact = second_order_parts(w_optimizer)
    for h, d, i, e in zip(hypergradient, direct, implicit, exact):
        torch.testing.assert_close(i, e, rtol=1e-5, atol=1e-12)  # the product itself, not -xi times it
        torch.testing.assert_close(h, d - xi * i, rtol=1e-10, atol=1e-14)


def test_differences_md_eps_fd_divides_by_the_norm_of_the_rescaled_u():
    # docs/differences.md: u = grad_w' L_val for SGD (and heavy-ball momentum); for any other w optimizer u is rescaled
    # by (dw'/dg) / (-xi), 1 + mu for Nesterov's first step, and eps_fd = 0.01 / ||u|| of that u
    for w_optimizer, factor in (('sgd', 1), ('nesterov', 1.9)):
        _, _, _, grad_w_prime, u, _, _ = second_order_parts(w_optimizer)
        for a, b in zip(u, grad_w_prime):
            torch.testing.assert_close(a, factor * b, rtol=1e-9, atol=1e-14)


def test_setup_cfg_the_readme_the_ci_and_the_import_check_ask_for_the_same_torch():
    config = configparser.ConfigParser()
    config.read(os.path.join(ROOT, 'setup.cfg'))
    pins = [r for r in config['options']['install_requires'].split() if r.startswith('torch')]
    assert [p.split('==')[0] for p in pins] == ['torch', 'torchvision']  # exact versions: those the suite ran on
    install = f'{" ".join(pins)} -e ".[test]"'  # pip install [-q] ...
    for path in ('README.md', os.path.join('.ci', 'run'), os.path.join('darts_min', '__init__.py')):
        assert install in open(os.path.join(ROOT, path)).read(), path
