"""The study's report of a sweep: one table and the plots, from the run directories' files alone.

    python -m darts_min.report runs/sweep         # writes runs/sweep/report.md and runs/sweep/plots/*.png

Table: method x w optimizer x alpha optimizer -> final genotype, skip connections, supernet valid
accuracy, final Hessian eigenvalue, NB201 test accuracy where the runs logged one; mean +- std over seeds.
Plots (matplotlib): per run the softmax(alpha) trajectory of every edge, the eigenvalue and the skip
counts per epoch; per method heatmaps of accuracy and skip count over the optimizer grid.
"""
import json
import os
import statistics
import sys
from collections import defaultdict

from . import cli, genotypes
from .model_nb201 import NB201_PRIMITIVES
from .runs import atomic_write, read_metrics
from .visualize import pyplot

ABBREVIATIONS = {'none': 'no', 'max_pool_3x3': 'mp', 'avg_pool_3x3': 'ap', 'skip_connect': 'sk',
                 'sep_conv_3x3': 's3', 'sep_conv_5x5': 's5', 'dil_conv_3x3': 'd3', 'dil_conv_5x5': 'd5'}


def load_runs(sweep_dir):
    """[(name, args, metrics)] of every search run directory in sweep_dir with at least one finished epoch."""
    runs = []
    for name in sorted(os.listdir(sweep_dir)):
        path = os.path.join(sweep_dir, name)
        try:
            with open(os.path.join(path, 'args.json')) as f:
                args = json.load(f)
        except (OSError, ValueError):
            continue
        metrics = read_metrics(os.path.join(path, 'metrics.jsonl'))
        if not (isinstance(args, dict) and 'w_optimizer' in args and metrics):
            continue
        problem = _problem(metrics[-1])
        if problem:
            print(f'report: leaving out {name}: {problem}', file=sys.stderr)
            continue
        runs.append((name, args, metrics))
    return runs


def _problem(last):
    """Why a run's last metrics line cannot be reported, or None."""
    try:
        short(last['genotype'])
    except (KeyError, TypeError, genotypes.GenotypeError) as e:
        return f'its genotype is unreadable ({e})'
    numbers = [last.get(k) for k in ('valid_acc', 'skip_normal', 'skip_reduce', 'hessian_eigenvalue')]
    if any(v is not None and (isinstance(v, bool) or not isinstance(v, (int, float))) for v in numbers):
        return 'a figure of its last epoch is not a number'
    return None


def short(genotype):
    """A genotype in one line: normal | reduce, each edge as op/input (an NB201 cell: its arch string)."""
    if 'arch' in genotype:
        return genotype['arch']
    g = genotypes.from_dict(genotype)
    cell = lambda genes: ' '.join(f'{ABBREVIATIONS.get(op, op)}/{j}' for op, j in genes)
    return f'{cell(g.normal)} \\| {cell(g.reduce)}'


def mean_std(values):
    values = [v for v in values if v is not None]
    if not values:
        return '–'
    if len(values) == 1:
        return f'{values[0]:.4g}'
    return f'{statistics.mean(values):.4g} ± {statistics.stdev(values):.2g}'


def last_value(metrics, key):
    return next((m[key] for m in reversed(metrics) if key in m), None)


def table(runs):
    groups = defaultdict(list)
    for name, args, metrics in runs:
        groups[(args.get('method', 'darts'), args['w_optimizer'], args['arch_optimizer'])].append((name, args, metrics))
    extra = sorted({k for _, _, metrics in runs for k in metrics[-1] if k.startswith('nb201_')})
    head = ['method', 'w optimizer', 'α optimizer', 'seeds', 'final genotype (first seed; normal \\| reduce)',
            'distinct genotypes', 'skip normal', 'skip reduce', 'valid acc %', 'Hessian eigenvalue', *extra]
    lines = ['| ' + ' | '.join(head) + ' |', '|' + '---|' * len(head)]
    rows = {}
    for key in sorted(groups):
        members = groups[key]
        finals = [metrics[-1] for _, _, metrics in members]
        distinct = len({json.dumps(f['genotype'], sort_keys=True) for f in finals})
        cells = [*key, str(len(members)), short(finals[0]['genotype']), str(distinct),
                 mean_std([f.get('skip_normal') for f in finals]), mean_std([f.get('skip_reduce') for f in finals]),
                 mean_std([f.get('valid_acc') for f in finals]),
                 mean_std([last_value(metrics, 'hessian_eigenvalue') for _, _, metrics in members]),
                 *[mean_std([f.get(k) for f in finals]) for k in extra]]
        lines.append('| ' + ' | '.join(cells) + ' |')
        rows[key] = finals
    return '\n'.join(lines), rows


def plot_run(plt, name, metrics, folder):
    """<name>_alphas.png (softmax(alpha) of every edge over the epochs) and <name>_dynamics.png."""
    epochs = [m['epoch'] for m in metrics]
    paths = []
    cells = [k for k in ('alphas_normal', 'alphas_reduce') if k in metrics[0]]
    edges, ops = len(metrics[0][cells[0]]), len(metrics[0][cells[0]][0])
    names = genotypes.PRIMITIVES if ops == len(genotypes.PRIMITIVES) else NB201_PRIMITIVES
    fig, axes = plt.subplots(len(cells), edges, figsize=(2 * edges, 2.25 * len(cells)), sharex=True, sharey=True,
                             squeeze=False)
    for row, cell in enumerate(cells):
        for edge in range(edges):
            ax = axes[row][edge]
            for k, op in enumerate(names):
                ax.plot(epochs, [m[cell][edge][k] for m in metrics], label=op)
            ax.set_title(f'{cell[7:]} e{edge}', fontsize=7)
            ax.tick_params(labelsize=6)
    axes[0][0].legend(fontsize=5, loc='upper left')
    fig.suptitle(f'{name}: softmax(alpha) per edge')
    fig.tight_layout()
    paths.append(os.path.join(folder, f'{name}_alphas.png'))
    fig.savefig(paths[-1], dpi=80)
    plt.close(fig)

    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.2))
    hessian = [(m['epoch'], m['hessian_eigenvalue']) for m in metrics if 'hessian_eigenvalue' in m]
    if hessian:
        left.plot(*zip(*hessian), marker='o')
    left.set_title('Hessian eigenvalue' + ('' if hessian else ' (not logged: --hessian_every)'))
    left.set_xlabel('epoch')
    for key in ('skip_normal', 'skip_reduce'):
        right.plot(epochs, [m.get(key, 0) for m in metrics], marker='o', label=key)
    right.set_title('skip connections')
    right.set_xlabel('epoch')
    right.legend()
    fig.tight_layout()
    paths.append(os.path.join(folder, f'{name}_dynamics.png'))
    fig.savefig(paths[-1], dpi=80)
    plt.close(fig)
    return paths


def plot_heatmaps(plt, rows, folder):
    """heatmap_<method>.png: mean valid accuracy and mean normal-cell skip count over the optimizer grid."""
    paths = []
    for method in sorted({m for m, _, _ in rows} - {'random'}):  # random search has no optimizer grid
        ws = sorted({w for m, w, _ in rows if m == method})
        arches = sorted({a for m, _, a in rows if m == method})
        fig, axes = plt.subplots(1, 2, figsize=(4 + 1.6 * len(arches), 1.5 + 0.8 * len(ws)))
        for ax, key, title in ((axes[0], 'valid_acc', 'valid acc %'), (axes[1], 'skip_normal', 'skip (normal)')):
            grid = [[statistics.mean(f.get(key) or 0 for f in rows[(method, w, a)]) if (method, w, a) in rows
                     else float('nan') for a in arches] for w in ws]
            im = ax.imshow(grid, cmap='viridis')
            ax.set_xticks(range(len(arches)), arches, rotation=30)
            ax.set_yticks(range(len(ws)), ws)
            ax.set_xlabel('α optimizer')
            ax.set_ylabel('w optimizer')
            ax.set_title(f'{method}: {title}')
            for i, row in enumerate(grid):
                for j, v in enumerate(row):
                    ax.text(j, i, f'{v:.3g}', ha='center', va='center', color='white', fontsize=8)
            fig.colorbar(im, ax=ax)
        fig.tight_layout()
        paths.append(os.path.join(folder, f'heatmap_{method}.png'))
        fig.savefig(paths[-1], dpi=90)
        plt.close(fig)
    return paths


def main(argv=None):
    p = cli.ArgumentParser(prog='python -m darts_min.report', description='Report of a sweep.')
    p.add_argument('sweep_dir')
    p.add_argument('--no_plots', action='store_true', help='the table only')
    args = p.parse_args(argv)
    cli.check(os.path.isdir(args.sweep_dir), f'no sweep directory {args.sweep_dir}')
    runs = load_runs(args.sweep_dir)
    cli.check(runs, f'{args.sweep_dir} holds no search run with a finished epoch')
    text, rows = table(runs)
    lines = [f'# Report of {args.sweep_dir}', '', f'{len(runs)} runs; mean ± std over seeds of the last epoch.', '',
             text, '']
    if not args.no_plots:
        plt = pyplot()
        folder = os.path.join(args.sweep_dir, 'plots')
        try:
            os.makedirs(folder, exist_ok=True)
        except OSError as e:
            raise cli.UserError(f'cannot write the plots into {folder}: {e.strerror or e}') from None
        lines += ['## Optimizer grids', '']
        lines += [f'![{os.path.basename(x)}](plots/{os.path.basename(x)})' for x in plot_heatmaps(plt, rows, folder)]
        lines += ['', '## Runs', '']
        for name, _, metrics in runs:
            if 'alphas_normal' in metrics[0]:  # a search (random search has no alpha)
                lines += [f'### {name}', ''] + [f'![{os.path.basename(x)}](plots/{os.path.basename(x)})'
                                                for x in plot_run(plt, name, metrics, folder)] + ['']
    path = os.path.join(args.sweep_dir, 'report.md')
    atomic_write(path, lambda f: f.write('\n'.join(lines) + '\n'))
    print(path)
    return 0


if __name__ == '__main__':
    sys.argv[0] = 'python -m darts_min.report'
    cli.run(main)
