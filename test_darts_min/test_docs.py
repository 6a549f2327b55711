"""docs/walkthrough.md runs: every Python snippet, in order, in one namespace, with its asserts (so the page cannot rot)."""
import os
import re

from conftest import ROOT


def test_every_snippet_of_the_walkthrough_runs_and_its_asserts_hold(monkeypatch):
    text = open(os.path.join(ROOT, 'docs', 'walkthrough.md')).read()
    snippets = re.findall(r'^```python\n(.*?)^```', text, flags=re.S | re.M)
    assert len(snippets) >= 10
    monkeypatch.chdir(ROOT)  # as the page says: a session started at the root of the repository
    namespace = {}
    for k, snippet in enumerate(snippets):
        exec(compile(snippet, f'docs/walkthrough.md, snippet {k + 1}', 'exec'), namespace)
