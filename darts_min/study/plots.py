"""The report's pictures: per method the optimizer grid's heatmaps and its dynamics over the epochs, per run its alpha
and dynamics plots (matplotlib)."""
import math
import os
import statistics
from collections import defaultdict

from .. import genotypes
from ..model_nb201 import NB201_PRIMITIVES
from ..visualize import save_figure
from .results import varying_settings


def plot_run(plt, name, metrics, folder):
    """<name>_alphas.png (softmax(alpha) of every edge over the epochs) and <name>_dynamics.png."""
    epochs = [m['epoch'] for m in metrics]
    paths = []
    cells = [k for k in ('op_weights_normal', 'op_weights_reduce') if k in metrics[0]]
    edges, ops = len(metrics[0][cells[0]]), len(metrics[0][cells[0]][0])
    names = genotypes.PRIMITIVES if ops == len(genotypes.PRIMITIVES) else NB201_PRIMITIVES
    fig, axes = plt.subplots(len(cells), edges, figsize=(2 * edges, 2.25 * len(cells)), sharex=True, sharey=True,
                             squeeze=False)
    for row, cell in enumerate(cells):
        for edge in range(edges):
            ax = axes[row][edge]
            for k, op in enumerate(names):
                ax.plot(epochs, [m[cell][edge][k] for m in metrics], label=op)
            ax.set_title(f'{cell.removeprefix("op_weights_")} e{edge}', fontsize=7)
            ax.tick_params(labelsize=6)
    axes[0][0].legend(fontsize=5, loc='upper left')
    fig.suptitle(f'{name}: softmax(alpha) per edge')
    fig.tight_layout()
    paths.append(os.path.join(folder, f'{name}_alphas.png'))
    save_figure(fig, paths[-1], dpi=80)

    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.2))
    hessian = [(m['epoch'], m['hessian_eigenvalue']) for m in metrics if m.get('hessian_eigenvalue') is not None]
    if hessian:
        left.plot(*zip(*hessian), marker='o')
    left.set_title('Hessian eigenvalue' + ('' if hessian else ' (not logged: --hessian_every)'))
    left.set_xlabel('epoch')
    for key in ('skip_normal', 'skip_reduce'):  # a value not logged is a gap, not a 0
        right.plot(epochs, [m[key] if m.get(key) is not None else math.nan for m in metrics], marker='o', label=key)
    right.set_title('skip connections')
    right.set_xlabel('epoch')
    right.legend()
    fig.tight_layout()
    paths.append(os.path.join(folder, f'{name}_dynamics.png'))
    save_figure(fig, paths[-1], dpi=80)
    return paths


def heatmap_grid(rows, keys, figure):
    """(w labels, alpha labels, grid): the mean of a figure over the seeds of each (w, rate) x (alpha, rate) of
    `keys`; NaN where the grid has no row or the row no value."""
    ws = sorted({(k.w_optimizer, k.w_lr) for k in keys})
    arches = sorted({(k.arch_optimizer, k.arch_lr) for k in keys})
    row_of = {((k.w_optimizer, k.w_lr), (k.arch_optimizer, k.arch_lr)): k for k in keys}
    grid = []
    for w in ws:
        grid.append([])
        for a in arches:
            values = [r.figure(figure) for r in rows[row_of[w, a]]] if (w, a) in row_of else []
            values = [v for v in values if v is not None]
            grid[-1].append(statistics.mean(values) if values else math.nan)
    label = lambda name, lr: name if lr is None else f'{name} {lr:g}'
    return [label(*w) for w in ws], [label(*a) for a in arches], grid


def grids(rows):
    """(file name suffix, title, keys) of each optimizer grid of the rows: one per method (random search has none) and
    combination of its other settings."""
    settings = varying_settings(rows)
    for method in sorted({k.method for k in rows} - {'random'}):
        variants = sorted({(k.settings, k.evaluation) for k in rows if k.method == method})
        for n, variant in enumerate(variants):
            keys = [k for k in rows if k.method == method and (k.settings, k.evaluation) == variant]
            yield (f'{method}{f"-{n + 1}" if len(variants) > 1 else ""}',
                   method + (f' ({settings[keys[0]]})' if settings[keys[0]] else ''), keys)


def plot_heatmaps(plt, rows, folder):
    """heatmap_<method>[-<n>].png: over the optimizer grid of each method (and other settings), the mean evaluated
    validation accuracy, the supernet's accuracy and the normal cell's skip count. No value: a hatched blank."""
    import numpy as np
    from matplotlib.patches import Rectangle
    paths = []
    for suffix, title, keys in grids(rows):
        panels = [('valid_acc', 'cell valid acc % (evaluated)'), ('supernet_acc', 'supernet acc %'),
                  ('skip_normal', 'skip (normal)')]
        ws, arches, _ = heatmap_grid(rows, keys, 'valid_acc')
        fig, axes = plt.subplots(1, len(panels), figsize=(len(panels) * (2.6 + 0.9 * len(arches)), 1.8 + 0.5 * len(ws)))
        for ax, (figure, label) in zip(axes, panels):
            _, _, grid = heatmap_grid(rows, keys, figure)
            values = np.ma.masked_invalid(np.array(grid, dtype=float))
            im = ax.imshow(values, cmap=plt.get_cmap('viridis').with_extremes(bad='white'), aspect='auto')
            for i, row in enumerate(grid):
                for j, v in enumerate(row):
                    if math.isnan(v):
                        ax.add_patch(Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False, hatch='///', edgecolor='#bbbbbb'))
                    ax.text(j, i, '–' if math.isnan(v) else f'{v:.3g}', ha='center', va='center', fontsize=8,
                            bbox=dict(boxstyle='round', fc='white', ec='none', alpha=0.7))
            ax.set_xticks(range(len(arches)), arches, rotation=30, ha='right')
            ax.set_yticks(range(len(ws)), ws if ax is axes[0] else [])
            ax.set_xlabel('α optimizer')
            if ax is axes[0]:
                ax.set_ylabel('w optimizer')
            ax.set_title(label, fontsize=9)
            if values.count():
                fig.colorbar(im, ax=ax)
        fig.suptitle(title)
        fig.tight_layout()
        paths.append(os.path.join(folder, f'heatmap_{suffix}.png'))
        save_figure(fig, paths[-1], dpi=90)
    return paths


def epoch_means(results, name):
    """([epoch], [mean over the finished runs that logged `name` at that epoch])."""
    values = defaultdict(list)
    for r in results:
        for m in r.metrics if r.status == 'finished' else []:
            if m.get(name) is not None:
                values[m['epoch']].append(m[name])
    epochs = sorted(values)
    return epochs, [statistics.mean(values[e]) for e in epochs]


def plot_grid_dynamics(plt, rows, folder):
    """dynamics_<method>[-<n>].png: a column per w optimizer of each grid, a line per alpha optimizer, the mean over the
    seeds per epoch of how far alpha moved from uniform (1 - normalised entropy of softmax(alpha), log scale), the
    normal cell's skip count and the supernet's accuracy."""
    panels = [('entropy_normal', '1 − entropy of softmax(α), normal'), ('skip_normal', 'skip (normal)'),
              ('valid_acc', 'supernet acc %')]
    paths = []
    for suffix, title, keys in grids(rows):
        ws = sorted({(k.w_optimizer, k.w_lr) for k in keys})
        fig, axes = plt.subplots(len(panels), len(ws), figsize=(2.6 * len(ws), 2.2 * len(panels)), sharex=True,
                                 sharey='row', squeeze=False)
        for column, w in enumerate(ws):
            column_keys = [k for k in keys if (k.w_optimizer, k.w_lr) == w]
            for k in column_keys:
                for row, (name, _) in enumerate(panels):
                    epochs, means = epoch_means(rows[k], name)
                    if name.startswith('entropy'):
                        means = [1 - v for v in means]
                    axes[row][column].plot(epochs, means, marker='.', label=k.label()[1])
            axes[0][column].set_title(f'w: {column_keys[0].label()[0]}', fontsize=9)
            axes[-1][column].set_xlabel('epoch')
        for row, (name, label) in enumerate(panels):
            axes[row][0].set_ylabel(label, fontsize=8)
            if name.startswith('entropy'):
                axes[row][0].set_yscale('log')
        axes[0][-1].legend(title='α optimizer', fontsize=6, title_fontsize=7)
        fig.suptitle(f'{title}: the searches per epoch, mean over the seeds')
        fig.tight_layout()
        paths.append(os.path.join(folder, f'dynamics_{suffix}.png'))
        save_figure(fig, paths[-1], dpi=80)
    return paths
