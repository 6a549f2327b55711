"""One registry of torch.optim optimizers, used for both the weights w and the architecture alpha.

Each name maps to a torch.optim class, the defaults it is built with, and a default learning rate for
each side. The learning rate and weight decay come from the side's flags (`--learning_rate/--weight_decay`
for w, `--arch_learning_rate/--arch_weight_decay` for alpha; a learning rate not given is the registry's
for the chosen optimizer); `--momentum` sets the momentum of the w side where the entry has one;
`--{w,arch}_optimizer_args key=value ...` overrides any other constructor argument last.
`python -m darts_min.optimizers` prints the table.
"""
import inspect
import math
from typing import NamedTuple

import torch


class Entry(NamedTuple):
    cls: type
    defaults: dict  # constructor arguments besides lr and weight_decay; the rest are torch.optim's own
    w_lr: float  # default initial learning rate of w (--learning_rate)
    arch_lr: float  # default learning rate of alpha (--arch_learning_rate)
    note: str


# Where each default learning rate comes from (docs/study.md, "Learning rates per optimizer"):
#   DARTS: Liu et al., ICLR 2019, appendix A.1: w by momentum SGD at 0.025, alpha by Adam at 3e-4.
#   NB201: NAS-Bench-201's DARTS search (Dong & Yang, ICLR 2020; configs/nas-benchmark/algos/DARTS.config of
#          its code): w by Nesterov SGD at 0.025.
#   calibrated: benchmarks/lr_calibration.py, a tiny search against DARTS's pair, rounded to one digit: alpha
#          travels as far per step as under Adam at 3e-4 (alpha side); the search-train loss falls as low as
#          under momentum at 0.025 (w side). The measured rate follows each figure.
REGISTRY = {
    'sgd': Entry(torch.optim.SGD, {}, 0.025,  # w: DARTS's SGD rate, without its momentum
                 0.03, 'plain SGD, no momentum'),  # alpha: calibrated, 0.0306
    'momentum': Entry(torch.optim.SGD, {'momentum': 0.9}, 0.025,  # w: DARTS
                      0.003, "SGD with heavy-ball momentum: DARTS's w optimizer"),  # alpha: calibrated, 0.00318
    'nesterov': Entry(torch.optim.SGD, {'momentum': 0.9, 'nesterov': True}, 0.025,  # w: NB201
                      0.003, 'SGD with Nesterov momentum'),  # alpha: calibrated, 0.00317
    'rmsprop': Entry(torch.optim.RMSprop, {'alpha': 0.99, 'eps': 1e-8}, 9e-4,  # w: calibrated, 0.000866
                     3e-4, 'RMSProp (Tieleman & Hinton 2012)'),  # alpha: calibrated, 0.000254
    'adam': Entry(torch.optim.Adam, {'betas': (0.5, 0.999)}, 2e-3,  # w: calibrated, 0.00158
                  3e-4, "Adam, L2 weight decay, DARTS's alpha optimizer"),  # alpha: DARTS
    'adamw': Entry(torch.optim.AdamW, {'betas': (0.5, 0.999)}, 2e-3,  # w: calibrated, 0.00161
                   3e-4, 'Adam with decoupled weight decay'),  # alpha: calibrated, 0.000299
}
# Weight decay (Loshchilov & Hutter, Decoupled Weight Decay Regularization, ICLR 2019, sections 2-3). All entries
# but adamw add the L2 term wd * theta to the gradient (coupled): the same coefficient is the same regularised
# objective whatever the optimizer, so they keep DARTS's (w 3e-4, alpha 1e-3; appendix A.1). AdamW shrinks
# theta by lr * wd per step outside the gradient (decoupled), which for SGD equals L2 with wd' = wd / lr (their
# Proposition 1): its decay is set so that lr * wd equals the reference's nominal per-step shrinkage on that side,
# lr * L2 of DARTS's optimizer there: w 0.025 * 3e-4 = 7.5e-6 (momentum SGD; its heavy ball makes the steady
# shrinkage about ten times that), alpha 3e-4 * 1e-3 = 3e-7 (Adam, whose normalisation makes its L2 shrinkage
# no fixed figure: the nominal one is the convention here). So adamw: w 7.5e-6 / 2e-3 = 3.75e-3, alpha 1e-3; and at a
# tuned rate its decay follows the rate by the same rule (default_weight_decay).
L2 = {'w': 3e-4, 'arch': 1e-3}  # DARTS's coupled L2 coefficients, --weight_decay and --arch_weight_decay
REFERENCE_SHRINKAGE = {'w': 0.025 * L2['w'], 'arch': 3e-4 * L2['arch']}  # lr * L2 of momentum (w) and adam (alpha)
DECOUPLED = {'adamw'}
OWN_FLAGS = {'lr': '--learning_rate (w) or --arch_learning_rate (alpha)',
             'weight_decay': '--weight_decay (w) or --arch_weight_decay (alpha)'}


class OptimizerError(ValueError):
    """An unknown optimizer name, an unknown argument, or a value torch.optim refuses."""


def check_name(name):
    if name not in REGISTRY:
        raise OptimizerError(f"unknown optimizer {name!r} (choose from {', '.join(REGISTRY)})")


def default_lr(name, side):
    """The registry's default learning rate of optimizer `name` for side 'w' or 'arch'."""
    check_name(name)
    return REGISTRY[name].w_lr if side == 'w' else REGISTRY[name].arch_lr


def default_weight_decay(name, side, lr):
    """The weight decay of optimizer `name` on side 'w' or 'arch' at learning rate `lr`: DARTS's L2 coefficient for
    a coupled decay, the reference's per-step shrinkage over `lr` for a decoupled one (the rule above)."""
    check_name(name)
    return float(f'{REFERENCE_SHRINKAGE[side] / lr:.6g}') if name in DECOUPLED else L2[side]  # 6 digits: 3.75e-3, not 3.7500000000000003e-3


def constructor_args(name):
    """The keyword arguments of the optimizer named `name` that --*_optimizer_args may set: all but lr and
    weight_decay (their own flags) and the implementation switches capturable, differentiable and fused,
    which need a GPU or a graph that the search does not build."""
    return [p for p in inspect.signature(REGISTRY[name].cls.__init__).parameters
            if p not in ('self', 'params', 'capturable', 'differentiable', 'fused', *OWN_FLAGS)]


def parse_value(text):
    """'true'/'false' -> bool, '0.9,0.999' -> tuple of floats, '5' -> int, '1e-3' -> float."""
    low = text.strip().lower()
    if low in ('true', 'false'):
        return low == 'true'
    if ',' in text:
        return tuple(float(v) for v in text.split(','))
    try:
        return int(text)
    except ValueError:
        return float(text)


def parse_overrides(name, pairs):
    """['momentum=0.5', 'nesterov=true'] -> {'momentum': 0.5, 'nesterov': True}, checked against the constructor."""
    check_name(name)
    valid = constructor_args(name)
    overrides = {}
    for pair in pairs or []:
        key, sep, text = pair.partition('=')
        if not sep or not key:
            raise OptimizerError(f'{pair!r} is not key=value')
        if key in OWN_FLAGS:
            raise OptimizerError(f'{key} is set by its own flag, {OWN_FLAGS[key]}, not in --*_optimizer_args')
        if key not in valid:
            raise OptimizerError(f"{name} has no argument {key!r} (valid: {', '.join(valid)})")
        try:
            overrides[key] = parse_value(text)
        except ValueError:
            raise OptimizerError(f'{name}: {key}={text!r} is not a number, a comma-separated list or true/false') from None
        values = overrides[key] if isinstance(overrides[key], tuple) else (overrides[key],)
        if not all(math.isfinite(v) and abs(v) < 3.4e38 for v in values):
            raise OptimizerError(f'{name}: {key}={text} is not finite')
        default = inspect.signature(REGISTRY[name].cls.__init__).parameters[key].default
        if isinstance(default, (bool, int, float)) and isinstance(overrides[key], bool) != isinstance(default, bool):
            raise OptimizerError(f'{name}: {key}={text}: a {"true/false" if isinstance(default, bool) else "number"} is expected')
        if isinstance(default, tuple) and len(values) != len(default):  # torch would only fail at its first step
            raise OptimizerError(f'{name}: {key}={text}: {len(default)} comma-separated numbers are expected')
    return overrides


def build(name, params, lr, weight_decay, overrides=None):
    """Build the optimizer `name`: registry defaults < lr, weight_decay < overrides."""
    check_name(name)
    cls, defaults = REGISTRY[name].cls, REGISTRY[name].defaults
    kwargs = {**defaults, 'lr': lr, 'weight_decay': weight_decay, **(overrides or {})}
    try:
        return cls(params, **kwargs)
    except (ValueError, TypeError, RuntimeError) as e:
        raise OptimizerError(f'{name}({", ".join(f"{k}={v}" for k, v in kwargs.items())}): {e}') from None


def for_weights(args, params):
    """The w optimizer of a search: --w_optimizer, --learning_rate, --weight_decay, --momentum, --w_optimizer_args."""
    overrides = parse_overrides(args.w_optimizer, args.w_optimizer_args)
    if 'momentum' in REGISTRY[args.w_optimizer].defaults:
        overrides = {'momentum': args.momentum, **overrides}
    return build(args.w_optimizer, params, args.learning_rate, args.weight_decay, overrides)


def for_alphas(args, params):
    """The alpha optimizer of a search: --arch_optimizer, --arch_learning_rate, --arch_weight_decay, --arch_optimizer_args."""
    overrides = parse_overrides(args.arch_optimizer, args.arch_optimizer_args)
    return build(args.arch_optimizer, params, args.arch_learning_rate, args.arch_weight_decay, overrides)


def table():
    rows = [('name', 'torch.optim', 'defaults besides lr and weight_decay', 'w lr', 'w wd', 'alpha lr', 'alpha wd', 'note')]
    for name, e in REGISTRY.items():
        rows.append((name, e.cls.__name__, ', '.join(f'{k}={v}' for k, v in e.defaults.items()) or '-', f'{e.w_lr:g}',
                     f'{default_weight_decay(name, "w", e.w_lr):g}', f'{e.arch_lr:g}',
                     f'{default_weight_decay(name, "arch", e.arch_lr):g}', e.note))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ['  '.join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows]
    lines.insert(1, '  '.join('-' * w for w in widths))
    return '\n'.join(lines)


if __name__ == '__main__':
    print(table())
