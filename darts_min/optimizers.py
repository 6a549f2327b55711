"""One registry of torch.optim optimizers, used for both the weights w and the architecture alpha.

Each name maps to a torch.optim class and the defaults it is built with. The learning rate and
weight decay come from the side's flags (`--learning_rate/--weight_decay` for w,
`--arch_learning_rate/--arch_weight_decay` for alpha); `--momentum` sets the momentum of the w side
where the entry has one; `--{w,arch}_optimizer_args key=value ...` overrides any constructor
argument last. `python -m darts_min.optimizers` prints the table.
"""
import inspect
import math

import torch

# name: (class, defaults, note). Values not listed are torch.optim's own defaults.
REGISTRY = {
    'sgd': (torch.optim.SGD, {}, 'plain SGD, no momentum'),
    'momentum': (torch.optim.SGD, {'momentum': 0.9}, 'SGD with heavy-ball momentum: DARTS\'s w optimizer'),
    'nesterov': (torch.optim.SGD, {'momentum': 0.9, 'nesterov': True}, 'SGD with Nesterov momentum'),
    'rmsprop': (torch.optim.RMSprop, {'alpha': 0.99, 'eps': 1e-8}, 'RMSProp (Tieleman & Hinton 2012)'),
    'adam': (torch.optim.Adam, {'betas': (0.5, 0.999)}, 'Adam, L2 weight decay, DARTS\'s alpha optimizer'),
    'adamw': (torch.optim.AdamW, {'betas': (0.5, 0.999)}, 'Adam with decoupled weight decay'),
}


class OptimizerError(ValueError):
    """An unknown optimizer name, an unknown argument, or a value torch.optim refuses."""


def constructor_args(name):
    """The keyword arguments that the optimizer named `name` accepts (without the implementation switches
    capturable, differentiable and fused, which need a GPU or a graph that the search does not build)."""
    cls = REGISTRY[name][0]
    return [p for p in inspect.signature(cls.__init__).parameters
            if p not in ('self', 'params', 'capturable', 'differentiable', 'fused')]


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
    if name not in REGISTRY:
        raise OptimizerError(f"unknown optimizer {name!r} (choose from {', '.join(REGISTRY)})")
    valid = constructor_args(name)
    overrides = {}
    for pair in pairs or []:
        key, sep, text = pair.partition('=')
        if not sep or not key:
            raise OptimizerError(f'{pair!r} is not key=value')
        if key not in valid:
            raise OptimizerError(f"{name} has no argument {key!r} (valid: {', '.join(valid)})")
        try:
            overrides[key] = parse_value(text)
        except ValueError:
            raise OptimizerError(f'{name}: {key}={text!r} is not a number, a comma-separated list or true/false') from None
        values = overrides[key] if isinstance(overrides[key], tuple) else (overrides[key],)
        if not all(math.isfinite(v) and abs(v) < 3.4e38 for v in values):
            raise OptimizerError(f'{name}: {key}={text} is not finite')
        default = inspect.signature(REGISTRY[name][0].__init__).parameters[key].default
        if isinstance(default, (bool, int, float)) and isinstance(overrides[key], bool) != isinstance(default, bool):
            raise OptimizerError(f'{name}: {key}={text}: a {"true/false" if isinstance(default, bool) else "number"} is expected')
        if isinstance(default, tuple) and len(values) != len(default):  # torch would only fail at its first step
            raise OptimizerError(f'{name}: {key}={text}: {len(default)} comma-separated numbers are expected')
    return overrides


def build(name, params, lr, weight_decay, overrides=None):
    """Build the optimizer `name`: registry defaults < lr, weight_decay < overrides."""
    if name not in REGISTRY:
        raise OptimizerError(f"unknown optimizer {name!r} (choose from {', '.join(REGISTRY)})")
    cls, defaults, _ = REGISTRY[name]
    kwargs = {**defaults, 'lr': lr, 'weight_decay': weight_decay, **(overrides or {})}
    try:
        return cls(params, **kwargs)
    except (ValueError, TypeError, RuntimeError) as e:
        raise OptimizerError(f'{name}({", ".join(f"{k}={v}" for k, v in kwargs.items())}): {e}') from None


def for_weights(args, params):
    """The w optimizer of a search: --w_optimizer, --learning_rate, --weight_decay, --momentum, --w_optimizer_args."""
    overrides = parse_overrides(args.w_optimizer, args.w_optimizer_args)
    if 'momentum' in REGISTRY[args.w_optimizer][1]:
        overrides = {'momentum': args.momentum, **overrides}
    return build(args.w_optimizer, params, args.learning_rate, args.weight_decay, overrides)


def for_alphas(args, params):
    """The alpha optimizer of a search: --arch_optimizer, --arch_learning_rate, --arch_weight_decay, --arch_optimizer_args."""
    overrides = parse_overrides(args.arch_optimizer, args.arch_optimizer_args)
    return build(args.arch_optimizer, params, args.arch_learning_rate, args.arch_weight_decay, overrides)


def table():
    rows = [('name', 'torch.optim', 'defaults besides lr and weight_decay', 'note')]
    for name, (cls, defaults, note) in REGISTRY.items():
        rows.append((name, cls.__name__, ', '.join(f'{k}={v}' for k, v in defaults.items()) or '-', note))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    lines = ['  '.join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows]
    lines.insert(1, '  '.join('-' * w for w in widths))
    return '\n'.join(lines)


if __name__ == '__main__':
    print(table())
