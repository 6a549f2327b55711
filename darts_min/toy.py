"""The toy bilevel problem of DARTS section 2.3 (Figure 2), solved by the project's own Architect and optimizers.

    python -m darts_min.toy                                   # SGD on both sides; xi = 0 (first order), 0.1, 0.5, 1
    python -m darts_min.toy --arch_optimizer adam --xi 0 0.5 --save toy-adam.png
    python -m darts_min.toy --grid                            # every w x alpha pair of the registry: a table, a picture

    L_val(w, alpha) = alpha w - 2 alpha + 1,    L_train(w, alpha) = w^2 - 2 alpha w + alpha^2 = (w - alpha)^2,

from (alpha, w) = (2, -2). The inner problem has w*(alpha) = argmin_w L_train = alpha (the feasible set), so the
bilevel objective is L_val(w*(alpha), alpha) = (alpha - 1)^2: the optimum is (alpha, w) = (1, 1). Each step is
train_search.py's (Algorithm 1): the alpha step by `Architect.step` (first order where xi = 0, else second order
with the virtual step's learning rate xi), then one w step by the registry's w optimizer. The optimizer flags are
train_search.py's (--w_optimizer, --arch_optimizer, their learning rates, --momentum, weight decays and
--*_optimizer_args); here they default to plain SGD at learning rate 0.1 on both sides and no weight decay.
Prints where each run ended (or that it diverged) and draws the trajectories over the contours of L_val; with
--grid, prints a table of where every pair ended and draws it. docs/toy.md explains what the pictures show and
derives where second order ends for each w optimizer: alpha = 2 / (1 + 2 xi c), c the factor of dw'/dg = -xi c.
"""
import copy
import math
import sys

import torch
import torch.nn as nn

from . import cli, optimizers
from . import search as train_search
from .architect import Architect
from .training import frozen

START = (2.0, -2.0)  # (alpha, w), as the paper's Figure 2
OPTIMUM = (1.0, 1.0)
# The data: a batch is a row of coefficients over the monomials (w^2, alpha w, alpha^2, alpha, w, 1).
TRAIN = torch.tensor([1., -2., 1., 0., 0., 0.], dtype=torch.float64)  # L_train = w^2 - 2 alpha w + alpha^2
VALID = torch.tensor([0., 1., 0., -2., 0., 1.], dtype=torch.float64)  # L_val = alpha w - 2 alpha + 1
# The flags of train_search.py that mean something here, and this problem's defaults for them.
OPTIMIZER_FLAGS = ['w_optimizer', 'arch_optimizer', 'w_optimizer_args', 'arch_optimizer_args', 'learning_rate',
                   'arch_learning_rate', 'momentum', 'weight_decay', 'arch_weight_decay']
GRID_SETS = ['w_optimizer', 'arch_optimizer', 'w_optimizer_args', 'arch_optimizer_args']  # --grid sets them per pair
DEFAULTS = ['--w_optimizer', 'sgd', '--arch_optimizer', 'sgd', '--learning_rate', '0.1', '--learning_rate_min', '0',
            '--arch_learning_rate', '0.1', '--weight_decay', '0', '--arch_weight_decay', '0']


class Toy(nn.Module):
    """A network of one weight w (an nn.Parameter, as Network's weights) and one architecture parameter alpha (a
    plain leaf tensor, as Network's alphas). Its output on a row of coefficients is the loss they define, so the
    Architect's passes, `_loss` and `functional_call` + `_criterion` alike, compute L_train on TRAIN and L_val on
    VALID."""

    def __init__(self, alpha, w):
        super().__init__()
        self.w = nn.Parameter(torch.tensor(w, dtype=torch.float64))
        self.alpha = torch.tensor(alpha, dtype=torch.float64, requires_grad=True)

    def arch_parameters(self):
        return [self.alpha]

    def forward(self, input):
        w, alpha = self.w, self.alpha
        return input @ torch.stack([w * w, alpha * w, alpha * alpha, alpha, w, torch.ones_like(w)])

    def _criterion(self, output, target):
        return output  # the output is the loss already; the toy has no labels (target is None)

    def _loss(self, input, target):
        return self._criterion(self(input), target)

    def point(self):
        return self.alpha.item(), self.w.item()


def iterate(args, xi):
    """Algorithm 1 on the toy, in train_search.py's order: each step the alpha step on VALID (second order with
    the virtual step's learning rate xi, first order where xi = 0), then the w step on TRAIN. Yields the model and
    the w optimizer after each step, without end."""
    model = Toy(*START)
    w_optimizer = optimizers.for_weights(args, model.parameters())
    architect = Architect(model, args)
    while True:
        architect.step(TRAIN, None, VALID, None, xi, w_optimizer, unrolled=xi > 0)
        with frozen(model.arch_parameters()):  # the w step of train_search.py, without its gradient clipping
            w_optimizer.zero_grad()
            model._loss(TRAIN, None).backward()
            w_optimizer.step()
        yield model, w_optimizer


def solve(args, xi, steps, bound):
    """Returns (path, diverged): the (alpha, w) points of `iterate` from START, one per step; diverged is the step at
    which a coordinate became non-finite or left [-bound, bound] (the path stops there), else None."""
    path = [START]
    for step, (model, _) in zip(range(1, steps + 1), iterate(args, xi)):
        path.append(model.point())
        if not all(math.isfinite(v) and abs(v) <= bound for v in path[-1]):
            return path, step
    return path, None


def order(xi):
    return 'second order' if xi > 0 else 'first order'


def last_move(path):
    return math.dist(path[-2], path[-1]) if len(path) > 1 else 0.0


ROUNDING = 1e-12  # a last step shorter than this is float64 rounding, whose digits differ from one CPU to the next


def moved(distance):
    return f'{distance:.1e}' if distance >= ROUNDING else f'below {ROUNDING:.0e}'


def describe(xi, path, diverged):
    """One line: where the run ended, or where it diverged."""
    name = f'xi {xi:g} ({order(xi)})'
    alpha, w = path[-1]
    if diverged is not None:
        return f'{name}: diverged at step {diverged} (alpha {alpha:.4g}, w {w:.4g})'
    return (f'{name}: ended at alpha {alpha:.6f}, w {w:.6f} after {len(path) - 1} steps '
            f'(the last moved {moved(last_move(path))})')


# c in dw'/dg = -xi c where the w step has settled: second order's fixed point is alpha = 2 / (1 + 2 xi c)
FACTOR = {'sgd': 'c = 1', 'momentum': 'c = 1', 'nesterov': 'c = 1 + μ', 'rmsprop': 'c = 1/(√s + ε): grows',
          'adam': 'c ≈ (1 − β₁)/(√v̂ + ε): grows', 'adamw': 'as adam'}
STILL_MOVING = 1e-3  # a run whose last step moved (alpha, w) farther has not settled: its end is where steps ran out


def outcome(path, diverged):
    """A run in a few words, as the grid's table prints it: '(alpha, w)', '..., still moving' or 'diverged at ...'."""
    if diverged is not None:
        return f'diverged at step {diverged}'
    alpha, w = path[-1]
    return f'({alpha:.3f}, {w:.3f})' + (', still moving' if last_move(path) > STILL_MOVING else '')


def grid(args, xis, steps, bound, pairs=None):
    """{(w optimizer, alpha optimizer): [(path, diverged) per xi]} for `pairs`, by default every pair of the
    registry; `args` gives the other optimizer flags."""
    runs = {}
    for pair in pairs or [(w, a) for w in optimizers.REGISTRY for a in optimizers.REGISTRY]:
        pair_args = copy.copy(args)
        pair_args.w_optimizer, pair_args.arch_optimizer = pair
        runs[pair] = [solve(pair_args, xi, steps, bound) for xi in xis]
    return runs


def table(runs, xis):
    """The grid as a Markdown table, one row per pair (docs/toy.md shows some of its rows)."""
    lines = ['| w | α | ' + ' | '.join(f'ξ = {xi:g}' for xi in xis) + ' |', '| --- ' * (2 + len(xis)) + '|']
    lines += [f'| {w_optimizer} | {arch_optimizer} | ' + ' | '.join(outcome(*run) for run in row) + ' |'
              for (w_optimizer, arch_optimizer), row in runs.items()]
    return '\n'.join(lines)


def plot(runs, args, path):
    """The trajectories over the contours of L_val, with the feasible set w = alpha and the optimum (1, 1)."""
    import numpy as np

    from .visualize import pyplot, save_figure
    plt = pyplot()
    finite = [p for _, points, diverged in runs if diverged is None for p in points]
    alphas, ws = zip(*finite, START, OPTIMUM, (2.0, 2.0))
    pad = 0.1 * max(max(alphas) - min(alphas), max(ws) - min(ws))
    xlim, ylim = (min(alphas) - pad, max(alphas) + pad), (min(ws) - pad, max(ws) + pad)
    fig, ax = plt.subplots(figsize=(6.4, 6.0), layout='constrained')
    A, W = np.meshgrid(np.linspace(*xlim, 200), np.linspace(*ylim, 200))
    contours = ax.contour(A, W, A * W - 2 * A + 1, levels=14, colors='0.75', linewidths=0.8)
    ax.clabel(contours, fontsize=7, fmt='%.3g')
    line = np.array([min(xlim[0], ylim[0]), max(xlim[1], ylim[1])])
    ax.plot(line, line, 'r--', lw=1.2, label='feasible set w = α (argmin of L_train)')
    ax.plot(*OPTIMUM, 'o', ms=14, mfc='none', mec='red', mew=2, zorder=5, label='bilevel optimum (1, 1)')
    ax.plot(*START, 'ks', ms=6, zorder=5, label='start (2, -2)')
    for xi, points, diverged in runs:
        a, w = zip(*points)
        end = f'diverged at step {diverged}' if diverged is not None else f'ends at ({a[-1]:.3f}, {w[-1]:.3f})'
        drawn, = ax.plot(a, w, '.-', ms=3, lw=1.2, label=f'ξ = {xi:g} ({order(xi)}): {end}')
        ax.plot(a[-1], w[-1], 'D', ms=6, color=drawn.get_color())
    ax.set_xlim(*xlim)
    ax.set_ylim(*ylim)
    ax.set_xlabel('α (architecture)')
    ax.set_ylabel('w (weight)')
    ax.set_title(f'DARTS toy problem (section 2.3): contours of L_val = αw - 2α + 1\n'
                 f'w: {args.w_optimizer} lr {args.learning_rate:g}, α: {args.arch_optimizer} lr '
                 f'{args.arch_learning_rate:g}', fontsize=10)
    fig.legend(loc='outside lower center', ncols=2, fontsize=7)
    save_figure(fig, path, dpi=90)


def plot_grid(runs, xis, steps, args, path):
    """A panel per w optimizer, a cell per (alpha optimizer, xi): where the run ended, coloured by its alpha (white:
    the bilevel optimum alpha = 1), framed in red where it reached (1, 1); grey where it diverged, '...' where it is
    still moving."""
    import matplotlib.colors
    import numpy as np

    from .visualize import pyplot, save_figure
    plt = pyplot()
    w_optimizers, arch_optimizers = list(dict.fromkeys(w for w, _ in runs)), list(dict.fromkeys(a for _, a in runs))
    columns = math.ceil(len(w_optimizers) / 2)
    fig, axes = plt.subplots(math.ceil(len(w_optimizers) / columns), columns, squeeze=False, layout='constrained',
                             figsize=(3.4 * columns, len(arch_optimizers) + 1.6))
    norm = matplotlib.colors.TwoSlopeNorm(vmin=0, vcenter=OPTIMUM[0], vmax=2 * START[0] - OPTIMUM[0])
    cmap = plt.get_cmap('RdBu_r').with_extremes(bad='0.6')  # grey: diverged
    for ax, w in zip(axes.flat, w_optimizers):
        ends = np.full((len(arch_optimizers), len(xis)), np.nan)
        for r, arch_optimizer in enumerate(arch_optimizers):
            for c, (points, diverged) in enumerate(runs[w, arch_optimizer]):
                alpha, w_end = points[-1]
                if diverged is not None:
                    text = f'diverged\nstep {diverged}'
                else:
                    ends[r, c] = alpha
                    text = f'{alpha:.3f}\n{w_end:.3f}' + (' …' if last_move(points) > STILL_MOVING else '')
                    if math.dist(points[-1], OPTIMUM) < STILL_MOVING:
                        ax.add_patch(plt.Rectangle((c - 0.45, r - 0.45), 0.9, 0.9, fill=False, ec='red', lw=2))
                dark = diverged is None and abs(norm(alpha) - 0.5) > 0.35
                ax.text(c, r, text, ha='center', va='center', fontsize=6.5, color='white' if dark else 'black')
        image = ax.imshow(np.ma.masked_invalid(ends), cmap=cmap, norm=norm, aspect='auto')
        ax.set_xticks(range(len(xis)), [f'ξ={xi:g}' for xi in xis], fontsize=7)
        ax.set_yticks(range(len(arch_optimizers)), arch_optimizers, fontsize=7)
        ax.set_title(f'w: {w}' + (f' ({FACTOR[w]})' if w in FACTOR else ''), fontsize=9)
    for ax in axes.flat[len(w_optimizers):]:
        ax.axis('off')
    fig.colorbar(image, ax=axes, shrink=0.6, label='α at the end (bilevel optimum: α = 1)')
    fig.suptitle(f'DARTS toy: where each pair ends after {steps} steps '
                 f'(cell: α, w; rows: α optimizer; red frame: the optimum (1, 1); …: still moving)\n'
                 f'learning rates: w {args.learning_rate:g}, α {args.arch_learning_rate:g}; second order settles at '
                 f'α = 2 / (1 + 2ξc), ∂w\'/∂g = −ξc (docs/toy.md)', fontsize=9)
    save_figure(fig, path, dpi=90)


def parse(argv):
    """(toy arguments, search arguments): the search's own parser builds and checks the optimizer flags."""
    p = cli.ArgumentParser(prog='python -m darts_min.toy', description=__doc__.splitlines()[0], allow_abbrev=False,
                           epilog='It also takes the optimizer flags of train_search.py: --' + ', --'.join(OPTIMIZER_FLAGS) +
                           '; here: sgd on both sides, learning rates 0.1, no weight decay unless given.')
    p.add_argument('--xi', type=float, nargs='+', default=[0, 0.1, 0.5, 1],
                   help="learning rates of the virtual step (DARTS Eq. 6); 0: first order")
    p.add_argument('--steps', type=int, default=200, help='alpha and w steps of each run')
    p.add_argument('--bound', type=float, default=100, help='a run whose alpha or w leaves [-bound, bound] diverged')
    p.add_argument('--grid', action='store_true', help='every w x alpha pair of the registry: a table and a picture')
    p.add_argument('--save', help='the picture (PNG); default toy.png, with --grid toy-grid.png')
    args, passthrough = p.parse_known_args(argv)
    args.save = args.save or ('toy-grid.png' if args.grid else 'toy.png')
    given = cli.given_flags(train_search.build_parser(), passthrough)
    other = given - set(OPTIMIZER_FLAGS)
    if other:
        p.error(f'--{", --".join(sorted(other))}: not a flag of the toy (of train_search.py it takes only the '
                f'optimizer flags --{", --".join(OPTIMIZER_FLAGS)})')
    per_pair = given & set(GRID_SETS)
    if args.grid and per_pair:
        p.error(f'--{", --".join(sorted(per_pair))}: --grid runs every pair of the registry with its own defaults')
    if not all(0 <= xi < cli.FLOAT32_MAX for xi in args.xi):
        p.error(f'--xi must be non-negative and finite, got {" ".join(f"{xi:g}" for xi in args.xi)}')
    if args.steps < 1 or not 0 < args.bound < math.inf:
        p.error(f'--steps and --bound must be positive (and --bound finite), got {args.steps} and {args.bound}')
    return args, train_search.parse_args(DEFAULTS + passthrough)


def main(argv=None):
    args, search_args = parse(argv)
    if args.grid:
        runs = grid(search_args, args.xi, args.steps, args.bound)
        print(table(runs, args.xi))
        plot_grid(runs, args.xi, args.steps, search_args, args.save)
        print(args.save)
        return 0
    runs = []
    for xi in args.xi:
        points, diverged = solve(search_args, xi, args.steps, args.bound)
        runs.append((xi, points, diverged))
        print(describe(xi, points, diverged))
    plot(runs, search_args, args.save)
    print(args.save)
    return 0


if __name__ == '__main__':
    sys.argv[0] = 'python -m darts_min.toy'
    cli.run(main)
