"""The toy bilevel problem of DARTS section 2.3 (Figure 2), solved by the project's own Architect and optimizers.

    python -m darts_min.toy                                   # SGD on both sides; xi = 0 (first order), 0.1, 0.5, 1
    python -m darts_min.toy --arch_optimizer adam --xi 0 0.5 --save toy-adam.png

    L_val(w, alpha) = alpha w - 2 alpha + 1,    L_train(w, alpha) = w^2 - 2 alpha w + alpha^2 = (w - alpha)^2,

from (alpha, w) = (2, -2). The inner problem has w*(alpha) = argmin_w L_train = alpha (the feasible set), so the
bilevel objective is L_val(w*(alpha), alpha) = (alpha - 1)^2: the optimum is (alpha, w) = (1, 1). Each step is
train_search.py's (Algorithm 1): the alpha step by `Architect.step` (first order where xi = 0, else second order
with the virtual step's learning rate xi), then one w step by the registry's w optimizer. The optimizer flags are
train_search.py's (--w_optimizer, --arch_optimizer, their learning rates, --momentum, weight decays and
--*_optimizer_args); here they default to plain SGD at learning rate 0.1 on both sides and no weight decay.
Prints where each run ended (or that it diverged) and draws the trajectories over the contours of L_val.
docs/toy.md explains what the picture shows.
"""
import math
import sys

import torch
import torch.nn as nn

from . import cli, optimizers
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


def solve(args, xi, steps, bound):
    """Algorithm 1 on the toy, in train_search.py's order: each step the alpha step on VALID (second order with
    the virtual step's learning rate xi, first order where xi = 0), then the w step on TRAIN.

    Returns (path, diverged): the (alpha, w) points from START, one per step; diverged is the step at which a
    coordinate became non-finite or left [-bound, bound] (the path stops there), else None."""
    model = Toy(*START)
    w_optimizer = optimizers.for_weights(args, model.parameters())
    architect = Architect(model, args)
    path = [model.point()]
    for step in range(1, steps + 1):
        architect.step(TRAIN, None, VALID, None, xi, w_optimizer, unrolled=xi > 0)
        with frozen(model.arch_parameters()):  # the w step of train_search.py, without its gradient clipping
            w_optimizer.zero_grad()
            model._loss(TRAIN, None).backward()
            w_optimizer.step()
        path.append(model.point())
        if not all(math.isfinite(v) and abs(v) <= bound for v in path[-1]):
            return path, step
    return path, None


def order(xi):
    return 'second order' if xi > 0 else 'first order'


def describe(xi, path, diverged):
    """One line: where the run ended, or where it diverged."""
    name = f'xi {xi:g} ({order(xi)})'
    alpha, w = path[-1]
    if diverged is not None:
        return f'{name}: diverged at step {diverged} (alpha {alpha:.4g}, w {w:.4g})'
    moved = math.dist(path[-2], path[-1]) if len(path) > 1 else 0.0
    return f'{name}: ended at alpha {alpha:.6f}, w {w:.6f} after {len(path) - 1} steps (the last moved {moved:.1e})'


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


def parse(argv):
    """(toy arguments, search arguments): the search's own parser builds and checks the optimizer flags."""
    from .sweep import load_script
    p = cli.ArgumentParser(prog='python -m darts_min.toy', description=__doc__.splitlines()[0], allow_abbrev=False,
                           epilog='It also takes the optimizer flags of train_search.py: --' + ', --'.join(OPTIMIZER_FLAGS) +
                           '; here: sgd on both sides, learning rates 0.1, no weight decay unless given.')
    p.add_argument('--xi', type=float, nargs='+', default=[0, 0.1, 0.5, 1],
                   help="learning rates of the virtual step (DARTS Eq. 6); 0: first order")
    p.add_argument('--steps', type=int, default=200, help='alpha and w steps of each run')
    p.add_argument('--bound', type=float, default=100, help='a run whose alpha or w leaves [-bound, bound] diverged')
    p.add_argument('--save', default='toy.png', help='the picture (PNG)')
    args, passthrough = p.parse_known_args(argv)
    train_search = load_script('train_search')
    other = cli.given_flags(train_search.build_parser(), passthrough) - set(OPTIMIZER_FLAGS)
    if other:
        p.error(f'--{", --".join(sorted(other))}: not a flag of the toy (of train_search.py it takes only the '
                f'optimizer flags --{", --".join(OPTIMIZER_FLAGS)})')
    if not all(0 <= xi < cli.FLOAT32_MAX for xi in args.xi):
        p.error(f'--xi must be non-negative and finite, got {" ".join(f"{xi:g}" for xi in args.xi)}')
    if args.steps < 1 or not 0 < args.bound < math.inf:
        p.error(f'--steps and --bound must be positive (and --bound finite), got {args.steps} and {args.bound}')
    return args, train_search.parse_args(DEFAULTS + passthrough)


def main(argv=None):
    args, search_args = parse(argv)
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
