"""Draw a genotype's cells (as the paper's Figures 4-5): writes normal.png and reduce.png.

    python -m darts_min.visualize runs/search-XXXX          # a run directory holding genotype.json
    python -m darts_min.visualize genotype.json --out figs   # a genotype file
    python -m darts_min.visualize DARTS_V2 --out figs        # a genotype of genotypes.py

Inputs c_{k-2}, c_{k-1} on the left, intermediate nodes 0..3 in the middle, the concatenated output
c_{k} on the right; each edge carries its op. Drawn with matplotlib (`pip install matplotlib`).
"""
import os
import sys

from . import cli, genotypes
from .runs import atomic_write

COLORS = {'input': '#a6cee3', 'node': '#fdbf6f', 'output': '#b2df8a'}


def pyplot():
    try:
        import matplotlib
    except ImportError:
        raise cli.UserError('pictures and plots need matplotlib: pip install matplotlib') from None
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    return plt


def save_figure(fig, path, dpi):
    """Write `fig` as a PNG at `path` atomically (an interrupted write leaves no half picture), then close it."""
    try:
        atomic_write(path, lambda f: fig.savefig(f, format='png', dpi=dpi), mode='wb')
    except OSError as e:
        raise cli.UserError(f'cannot write {path}: {e.strerror or e}') from None
    finally:
        pyplot().close(fig)


def plot_cell(genes, concat, path, title):
    """One cell: genes = [(op, input), ...], two per intermediate node; writes the PNG at `path`."""
    plt = pyplot()
    steps = len(genes) // 2
    pos = {0: (0.0, 1.0), 1: (0.0, -1.0)}
    for i in range(steps):
        pos[2 + i] = (1.5 + 1.5 * i, 1.6 * ((i % 2) - 0.5))
    out = (1.5 + 1.5 * steps, 0.0)
    fig, ax = plt.subplots(figsize=(2.4 + 1.9 * steps, 3.6))
    ax.set_xlim(-0.7, out[0] + 0.7)
    ax.set_ylim(-1.7, 1.7)
    for k, (op, j) in enumerate(genes):
        bend = 0.25 if k % 2 else -0.25
        start, end = pos[j], pos[2 + k // 2]
        ax.annotate('', xy=end, xytext=start, arrowprops=dict(
            arrowstyle='-|>', color='#555555', shrinkA=16, shrinkB=16, connectionstyle=f'arc3,rad={bend}'))
        # the label sits on the curve, 40% of the way: arc3 is a quadratic Bezier bent in display coordinates
        (x0, y0), (x1, y1) = ax.transData.transform([start, end])
        cx, cy = (x0 + x1) / 2 + bend * (y1 - y0), (y0 + y1) / 2 - bend * (x1 - x0)
        t = 0.4
        at = [(1 - t) ** 2 * a + 2 * (1 - t) * t * c + t ** 2 * b for a, c, b in ((x0, cx, x1), (y0, cy, y1))]
        ax.text(*ax.transData.inverted().transform(at), op, fontsize=7, ha='center', va='center',
                bbox=dict(boxstyle='round', fc='white', ec='none', alpha=0.85))
    for k in concat:
        ax.annotate('', xy=out, xytext=pos[k], arrowprops=dict(arrowstyle='-|>', color='#bbbbbb', shrinkA=16, shrinkB=16))
    labels = {0: 'c_{k-2}', 1: 'c_{k-1}', **{2 + i: str(i) for i in range(steps)}}
    for node, (x, y) in pos.items():
        kind = 'input' if node < 2 else 'node'
        ax.text(x, y, f'${labels[node]}$' if node < 2 else labels[node], ha='center', va='center', fontsize=10,
                bbox=dict(boxstyle='circle' if node >= 2 else 'round', fc=COLORS[kind], ec='#333333'))
    ax.text(*out, '$c_{k}$', ha='center', va='center', fontsize=10,
            bbox=dict(boxstyle='round', fc=COLORS['output'], ec='#333333'))
    ax.set_title(title)
    ax.axis('off')
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_genotype(genotype, folder):
    """normal.png and reduce.png of `genotype` in `folder`; returns their paths."""
    try:
        os.makedirs(folder, exist_ok=True)
    except OSError as e:
        raise cli.UserError(f'cannot write pictures into {folder}: {e.strerror or e}') from None
    paths = [os.path.join(folder, f'{kind}.png') for kind in ('normal', 'reduce')]
    plot_cell(genotype.normal, genotype.normal_concat, paths[0], 'normal cell')
    plot_cell(genotype.reduce, genotype.reduce_concat, paths[1], 'reduction cell')
    return paths


def resolve(source):
    """(genotype, default output folder) from a run directory, a genotype.json, or a name in genotypes.py."""
    if source in genotypes.GENOTYPES:
        return genotypes.GENOTYPES[source], '.'
    path = os.path.join(source, 'genotype.json') if os.path.isdir(source) else source
    try:
        return genotypes.load(path), os.path.dirname(path) or '.'
    except genotypes.GenotypeError as e:
        raise cli.UserError(f'{e} (give a run directory, a genotype.json, or one of {", ".join(genotypes.GENOTYPES)})') from None


def main(argv=None):
    p = cli.ArgumentParser(prog='python -m darts_min.visualize', description='Draw the cells of a genotype.')
    p.add_argument('source', help='a run directory, a genotype.json, or a genotype name of genotypes.py')
    p.add_argument('--out', default=None, help='output folder (default: beside the genotype; . for a name)')
    args = p.parse_args(argv)
    genotype, folder = resolve(args.source)
    for path in plot_genotype(genotype, args.out or folder):
        print(path)
    return 0


if __name__ == '__main__':
    sys.argv[0] = 'python -m darts_min.visualize'
    cli.run(main)
