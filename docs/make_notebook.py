"""Make docs/walkthrough.ipynb, the notebook of docs/walkthrough.md (for Jupyter or Colab), from the page itself:

    python docs/make_notebook.py

jupytext turns the page's prose into markdown cells and its snippets into code cells; its figures are attached to
their cells (the notebook is one file, which Colab can open alone), and a first cell moves to the repository's
root, where the snippets run (on Colab, unpacked from the source archive the student uploads: SETUP). The
notebook is committed unexecuted; test_darts_min/test_docs.py checks that it is what this script makes of the page,
executes it, and runs SETUP on an archive as Colab would.
"""
import base64
import os
import re
import sys

import jupytext
import nbformat

DOCS = os.path.dirname(os.path.abspath(__file__))
PAGE, NOTEBOOK = os.path.join(DOCS, 'walkthrough.md'), os.path.join(DOCS, 'walkthrough.ipynb')
IMAGE = re.compile(r'!\[([^\]]*)\]\(([\w.-]+\.png)\)')
SETUP = """# The snippets run from the repository's root: this cell goes there. Opened in docs/ (Jupyter), it moves up.
# On Colab it asks for the repository's source archive, darts-min.zip (made in a copy of the repository by
#   git archive --format=zip --prefix=darts-min/ -o darts-min.zip HEAD
# or handed out by your course), unpacks it and moves into it. Colab has torch, torchvision and matplotlib.
import glob, os, zipfile
if not os.path.exists('train_search.py'):
    if os.path.exists(os.path.join('..', 'train_search.py')):
        os.chdir('..')
    else:
        if not glob.glob('darts-min*.zip'):
            from google.colab import files
            files.upload()  # choose darts-min.zip
        with zipfile.ZipFile(sorted(glob.glob('darts-min*.zip'))[-1]) as archive:
            archive.extractall()
        os.chdir(os.path.dirname(glob.glob(os.path.join('*', 'train_search.py'))[0]))"""


def notebook():
    nb = jupytext.reads(open(PAGE).read(), fmt='md')
    for cell in nb.cells:
        if cell.cell_type == 'markdown':
            for _, name in IMAGE.findall(cell.source):
                with open(os.path.join(DOCS, name), 'rb') as f:
                    cell.setdefault('attachments', {})[name] = {'image/png': base64.b64encode(f.read()).decode()}
            cell.source = IMAGE.sub(r'![\1](attachment:\2)', cell.source)
    nb.cells.insert(1, nbformat.v4.new_code_cell(SETUP))
    nb.metadata = {'kernelspec': {'name': 'python3', 'display_name': 'Python 3', 'language': 'python'},
                   'language_info': {'name': 'python'}}
    for k, cell in enumerate(nb.cells):
        cell.id = f'cell-{k}'  # stable ids: the same page gives the same file
    return nbformat.writes(nb) + '\n'


if __name__ == '__main__':
    sys.path.insert(0, os.path.dirname(DOCS))
    from darts_min.runs import atomic_write
    text = notebook()
    atomic_write(NOTEBOOK, lambda f: f.write(text))
    print(NOTEBOOK)
