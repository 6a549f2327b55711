"""DARTS architecture search (Liu et al., ICLR 2019, Algorithm 1) with a choice of optimizer for w and alpha:
the program that train_search.py starts.

    python train_search.py --unrolled --arch_optimizer rmsprop
    python train_search.py --dataset fake --epochs 2 --init_channels 8 --layers 5 --batch_size 16

`search` is the loop, epoch by epoch; `train_epoch` the steps of an epoch, each an alpha step on a search-valid batch
(architect.py) and then a w step on a search-train batch. `setup` builds what they use, `EpochRecord` writes what an
epoch leaves, and the flags are at the end of the file (docs/flags.md).
"""
import argparse
import math
import os
import time

import torch
import torch.nn as nn

from . import checkpointing, cli, data, data_on_device, dynamics, genotypes, methods, optimizers, runs, visualize
from .architect import UNROLLED_STEPS, Architect
from .model_nb201 import NB201Network, load_table
from .model_search import Network
from .training import (AvgMeter, NonFiniteLoss, accuracy, autocast, check_finite, evaluate, frozen, log_epoch,
                       log_step, progress)

SEARCH_SPACES = {'darts': Network, 'nb201': NB201Network}


def search(args, run, device, queues, num_classes):
    """DARTS Algorithm 1, epoch by epoch: the steps, w's learning rate schedule, the validation, the epoch's record, a
    checkpoint. Returns the exit code: 0, or 3 where the loss stopped being finite."""
    model, method, architect, optimizer, scheduler, stateful, start = setup(args, run, device, num_classes)
    record = EpochRecord(args, run, model, queues, device, start)
    for epoch in range(start, args.epochs):
        t0 = time.time()
        lr = scheduler.get_last_lr()[0]
        schedule = method.schedule(epoch)
        try:
            train_loss, train_acc = train_epoch(epoch, queues, model, architect, method, optimizer, lr, args, device, run)
        except NonFiniteLoss as e:
            return run.diverged(epoch, f'{e}; {kept(epoch)}', num_classes)
        scheduler.step()
        valid_loss, valid_acc = (m.avg for m in evaluate(model, queues[1], model._criterion, device))
        if not math.isfinite(valid_loss):  # weights broken by the epoch's last steps: keep the last good checkpoint
            return run.diverged(epoch, f'the validation loss became {valid_loss} after epoch {epoch}; {kept(epoch)}',
                                num_classes)
        record(epoch, t0, {'lr': lr, **schedule, 'train_loss': train_loss, 'train_acc': train_acc,
                           'valid_loss': valid_loss, 'valid_acc': valid_acc}, architect.epoch_stats())
        run.save_checkpoint(epoch, stateful, device)
    run.log.info(f'done: final genotype in {run.file("genotype.json")}{draw_cells(args, record.previous, run)}')
    return 0


def train_epoch(epoch, queues, model, architect, method, optimizer, lr, args, device, run):
    """One pass over search-train; each step: alpha on a search-valid batch, then w on the train batch."""
    train_queue, valid_queue = queues
    valid_batches = data.cycle(valid_queue)
    loss_meter, acc_meter = AvgMeter(), AvgMeter()
    fmt = torch.channels_last if args.channels_last else torch.contiguous_format
    model.train()
    t0 = time.time()
    for step, (x, y) in enumerate(progress(train_queue, f'epoch {epoch}')):
        x, y = x.to(device, non_blocking=True, memory_format=fmt), y.to(device, non_blocking=True)
        xv, yv = next(valid_batches)
        xv, yv = xv.to(device, non_blocking=True, memory_format=fmt), yv.to(device, non_blocking=True)
        # the alpha step (DARTS Eq. 7; --unrolled: Eqs. 6-8), xi = this epoch's w learning rate, as the original code
        architect.step(x, y, xv, yv, lr, optimizer, args.unrolled)
        # the w step (SDARTS: at perturbed op weights, methods.py); alpha frozen: the backward pass neither computes
        # nor keeps anything for alpha's gradient, which this step does not use
        with method.op_weights_for_w_step(model, x, y), frozen(model.arch_parameters()):
            optimizer.zero_grad()
            with autocast(device, args.amp):
                logits = model(x)
                loss = model._criterion(logits, y)
            loss_meter.update(check_finite(loss, epoch, step), x.size(0))
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), args.grad_clip)
            optimizer.step()
        acc_meter.update(accuracy(logits, y), x.size(0))
        if step % args.report_freq == 0:
            log_step(run, step, len(train_queue), loss_meter, acc_meter, t0)
    return loss_meter.avg, acc_meter.avg


def setup(args, run, device, num_classes):
    """The supernet and what trains it: the method, w's optimizer and its schedule, the architect (alpha's optimizer);
    `stateful`, what a checkpoint holds; and the epoch to start from (after --resume, the checkpoint's)."""
    state = run.begin(args, device)
    cli.seed_everything(args.seed, device)
    model = SEARCH_SPACES[args.search_space](args.init_channels, num_classes, args.layers, nn.CrossEntropyLoss())
    method = methods.build(args)
    method.setup(model)
    if args.relaxation:  # op weights by the given function of alpha instead of softmax (assignment 5)
        methods.relax(model, methods.load_relaxation(args.relaxation))
    checkpointing.checkpoint_edges(model, args.checkpoint_cells)
    model.to(device, memory_format=torch.channels_last if args.channels_last else torch.contiguous_format)
    optimizer = optimizers.for_weights(args, model.parameters())
    # DARTS appendix A.1: w's learning rate follows a cosine schedule from learning_rate to learning_rate_min
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, args.epochs, eta_min=args.learning_rate_min)
    architect = Architect(model, args, method.arch_regularizer)
    stateful = {'model': model, 'w_optimizer': optimizer, 'arch_optimizer': architect.optimizer, 'scheduler': scheduler,
                'alphas': runs.Tensors(model.arch_parameters())}
    start = run.resume(state, stateful, device, args,
                       f'param size = {sum(p.numel() for p in model.parameters()) / 1e6:.6f}M weights '
                       f'+ {sum(a.numel() for a in model.arch_parameters())} alphas; w: {optimizer.__class__.__name__}, '
                       f'alpha: {architect.optimizer.__class__.__name__}, method: {args.method}')
    return model, method, architect, optimizer, scheduler, stateful, start


def kept(epoch):
    """What a run that stops in `epoch` keeps."""
    return f'the checkpoint of epoch {epoch - 1} is kept' if epoch else 'no checkpoint was written'


class EpochRecord:
    """What each epoch of the search leaves: its log lines, its metrics.jsonl row (the figures of the epoch, the
    genotype, the op weights, the alpha steps so far, the search dynamics of dynamics.py), genotype.json."""

    def __init__(self, args, run, model, queues, device, start):
        self.args, self.run, self.model, self.start = args, run, model, start
        train_queue, valid_queue = queues
        self.steps_per_epoch = len(train_queue)  # Algorithm 1: one alpha step before each w step
        self.table = load_table(args.nb201_table) if args.nb201_table else None  # nb201: each cell's true accuracies
        self.hessian_batches = (fixed_batches(valid_queue, args.hessian_batches, args.seed, device)
                                if args.hessian_every else None)
        self.relaxation = methods.load_relaxation(args.relaxation)  # None: softmax
        self.previous = model.genotype(methods.op_weights(model, self.relaxation))
        self.began = time.time()

    def __call__(self, epoch, t0, figures, steps):
        """steps: the architect's figures of the epoch's alpha steps (Architect.epoch_stats)."""
        args, run, model = self.args, self.run, self.model
        weights = methods.op_weights(model, self.relaxation)  # what the supernet weighs its ops by
        genotype = model.genotype(weights)
        found = {'alpha_steps': (epoch + 1) * self.steps_per_epoch,  # so far, the resumed epochs' included
                 **dynamics.epoch_metrics(model, genotype, self.previous, weights), **steps}
        self.previous = genotype
        if self.table is not None:  # the current cell's accuracies (None: not in the table)
            truth = self.table.get(str(genotype)) or {}
            found.update({f'nb201_{k}': truth.get(k) for k in self.table.columns})
        if args.hessian_every and (epoch + 1) % args.hessian_every == 0:
            eigenvalue, iterations, converged = self.eigenvalue()
            found.update(hessian_eigenvalue=eigenvalue, hessian_iterations=iterations, hessian_tol=args.hessian_tol,
                         hessian_converged=converged)
        log_epoch(run, epoch, args.epochs, t0, self.began, self.start,
                  {k: v for k, v in figures.items() if k not in ('train_loss', 'valid_loss')})
        run.log.info(f'genotype = {genotype}')
        run.log.info('dynamics: ' + ' '.join(f'{k} {v:.6g}' if v is not None else f'{k} -' for k, v in found.items()))
        op_weights = {f'op_weights_{name}': w.tolist() for name, w in zip(model.arch_names, weights)}
        run.append_metrics({'epoch': epoch, **figures, 'genotype': genotype.to_dict(), **op_weights, **found,
                            'seconds': time.time() - t0})
        run.write_json('genotype.json', genotype.to_dict())

    def eigenvalue(self):
        """lambda_max of the alpha Hessian on the fixed batches (dynamics.py): (eigenvalue, iterations, converged)."""
        return dynamics.hessian_eigenvalue(self.model, self.hessian_batches, self.args.hessian_iters,
                                           self.args.hessian_tol)


def fixed_batches(queue, count, seed, device):
    """`count` validation batches drawn once, on a random stream of their own (the run's stream is untouched)."""
    with torch.random.fork_rng(devices=[device] if device.type == 'cuda' else []):
        torch.manual_seed(seed)
        batches = []
        for x, y in data.cycle(queue):
            batches.append((x.to(device), y.to(device)))
            if len(batches) == count:
                return batches


def draw_cells(args, genotype, run):
    """normal.png and reduce.png of the final genotype in the run directory (the darts space; matplotlib is optional):
    the words the last log line adds."""
    if args.search_space != 'darts':
        return ''
    try:
        visualize.plot_genotype(genotype, run.path)
        return ', pictures normal.png and reduce.png'
    except cli.UserError as e:
        return f' (no pictures: {e})'


def load_data(args, device):
    """(train_queue, valid_queue, num_classes): on the device (the GPU path) where asked and possible."""
    if args.data_on_device is None:  # unset: on for CUDA, off elsewhere
        args.data_on_device = device.type == 'cuda'
    dataset = data.load_dataset(args, train=True)
    on_device = data_on_device.search_device_loaders(args, device, dataset) if args.data_on_device else None
    if args.data_on_device and on_device is None:
        print(f'--data_on_device: {args.dataset} at {args.image_size} px is not held as uint8 arrays; using a DataLoader')
        args.data_on_device = False
    return on_device or data.search_loaders(args, device, dataset)


def main(argv=None):
    args = parse_args(argv)
    cli.check(int(os.environ.get('WORLD_SIZE', 1)) == 1, 'the search runs in one process on one device: start '
              'train_search.py with python, not torchrun (whose processes would all write the same run directory)')
    device = cli.resolve_device(args.device)
    train_queue, valid_queue, num_classes = load_data(args, device)  # missing data: no run directory
    args.save = args.save or runs.default_dir('search')
    with runs.Run(args.save, 'search') as run:
        return search(args, run, device, (train_queue, valid_queue), num_classes)


# ---- the flags (docs/flags.md) ----

def build_parser():
    p = cli.ArgumentParser(description='DARTS search: find a cell by gradient descent on alpha.', allow_abbrev=False)
    a = p.add_argument
    # the original flags and defaults
    a('--batch_size', type=int, default=64)
    a('--learning_rate', type=float, default=None,
      help="initial w learning rate (default: the registry's for --w_optimizer; 0.025 for DARTS's momentum)")
    a('--learning_rate_min', type=float, default=None,
      help="w learning rate at the end of the cosine schedule (default: --learning_rate x 0.001/0.025, the original's ratio)")
    a('--momentum', type=float, default=0.9, help='w momentum (momentum and nesterov optimizers)')
    a('--weight_decay', type=float, default=None,
      help="w weight decay (default: the registry's for --w_optimizer and its rate; 3e-4 for DARTS's momentum)")
    a('--report_freq', type=int, default=50, help='log a line every this many steps')
    a('--epochs', type=int, default=50)
    a('--init_channels', type=int, default=16)
    a('--layers', type=int, default=None, help='number of cells (darts: 8) or of cells per stage (nb201: 5)')
    a('--search_space', default='darts', help=f'one of {", ".join(SEARCH_SPACES)}')
    a('--nb201_table', default=None, metavar='CSV',
      help='nb201: a CSV of arch string -> test accuracies; each epoch logs those of the current genotype')
    a('--seed', type=int, default=2)
    a('--grad_clip', type=float, default=5.0, help='clip the w gradient norm to this')
    a('--train_portion', type=float, default=0.5, help='part of the training set that trains w; the rest trains alpha')
    a('--holdout_portion', type=float, default=0.0,
      help="leave out the share of the training set that train_eval.py's --valid_portion of the same value and "
           '--split_seed holds out (0: none, the original)')
    a('--unrolled', action='store_true', help='second-order architecture gradient (DARTS Eqs. 6-8)')
    a('--arch_learning_rate', type=float, default=None,
      help="alpha learning rate (default: the registry's for --arch_optimizer; 3e-4 for DARTS's adam)")
    a('--arch_weight_decay', type=float, default=None,
      help="alpha weight decay (default: the registry's for --arch_optimizer and its rate; 1e-3 for DARTS's adam)")
    # optimizers of the study
    a('--w_optimizer', default='momentum', help=f'optimizer of w: {", ".join(optimizers.REGISTRY)}')
    a('--arch_optimizer', default='adam', help=f'optimizer of alpha: {", ".join(optimizers.REGISTRY)}')
    a('--w_optimizer_args', nargs='*', default=[], metavar='KEY=VALUE', help='override constructor arguments of w\'s optimizer')
    a('--arch_optimizer_args', nargs='*', default=[], metavar='KEY=VALUE', help='same for alpha\'s optimizer')
    a('--unrolled_step', default='optimizer', help="with --unrolled, the virtual step w': optimizer (the w optimizer's "
      "own next step) or gradient (w - xi (g + wd w) whatever the w optimizer, Eq. 6 as printed)")
    # the variants (darts_min/methods.py)
    a('--method', default='darts', help=f'one of {", ".join(methods.METHODS)}')
    a('--epsilon_alpha', type=float, default=0.3, help='SDARTS: final perturbation radius (grows from 0.03)')
    a('--aux_skip_beta', type=float, default=1.0, help='DARTS-: initial weight of the auxiliary skip (decays to 0)')
    a('--aux_skip_decay', default='linear', help='DARTS-: linear or cosine decay of the auxiliary skip')
    a('--beta_decay_weight', type=float, default=50.0, help='beta-DARTS: final weight of the beta-decay term')
    a('--relaxation', default=None, metavar='MODULE:FUNCTION',
      help='op weights by this function of alpha instead of softmax (DARTS Eq. 2), imported by name, e.g. '
           'assignments.a5_relaxation:sigmoid_relaxation; the metrics then describe its op weights')
    # search dynamics (darts_min/dynamics.py); skip counts, entropy and genotype changes are always logged
    a('--hessian_every', type=int, default=0, help='every N epochs, the largest eigenvalue of the alpha Hessian (0: never)')
    a('--hessian_batches', type=int, default=2, help='fixed validation batches the Hessian is taken over')
    a('--hessian_iters', type=int, default=20,
      help='most power iterations for the eigenvalue (twice as many where the Hessian is indefinite)')
    a('--hessian_tol', type=float, default=1e-3, help='stop when the eigenvalue changes by less than this, relatively')
    # speed (BENCHMARKS.md): the data on the device by default on CUDA; bf16 and channels_last only when asked,
    # as they measured slower on an H200 for this network of many small kernels
    a('--amp', action=argparse.BooleanOptionalAction, default=False,
      help='bf16 autocast for the forward passes; alpha, the virtual step and the finite differences stay fp32')
    a('--channels_last', action=argparse.BooleanOptionalAction, default=False, help='channels-last memory format')
    a('--data_on_device', action=argparse.BooleanOptionalAction, default=None,
      help='dataset on the device as uint8, augmented there in batches (CIFAR, digits, fake data); default: on for CUDA')
    a('--checkpoint_cells', action='store_true',
      help="recompute each edge's ops with weights in the backward pass: ~0.3x the step memory, ~1.2x the time on CPU")
    data.add_args(p)
    cli.add_run_args(p, 'search')
    return p


def resolve_learning_rates(args):
    """Fill the learning rates not given: the registry's for the chosen optimizers, the floor at the original's ratio;
    and the weight decays not given: the registry's for each optimizer at its rate (optimizers.default_weight_decay)."""
    for side, name, flag, decay in (('w', args.w_optimizer, 'learning_rate', 'weight_decay'),
                                    ('arch', args.arch_optimizer, 'arch_learning_rate', 'arch_weight_decay')):
        try:
            if getattr(args, flag) is None:
                setattr(args, flag, optimizers.default_lr(name, side))
            if getattr(args, decay) is None and getattr(args, flag) > 0:  # a rate <= 0 is refused just after
                setattr(args, decay, optimizers.default_weight_decay(name, side, getattr(args, flag)))
        except optimizers.OptimizerError as e:
            raise cli.UserError(f'--{side}_optimizer: {e}') from None
    if args.learning_rate_min is None:  # the original code anneals 0.025 to 0.001 (the paper: to zero)
        args.learning_rate_min = args.learning_rate * (0.001 / 0.025)


def validate(args):
    """Every impossible value, as one line (UserError)."""
    cli.check(args.search_space in SEARCH_SPACES,
              f'unknown search space {args.search_space!r} (choose from {", ".join(SEARCH_SPACES)})')
    if args.layers is None:
        args.layers = 8 if args.search_space == 'darts' else 5
    cli.check(args.search_space != 'darts' or args.layers >= 3,
              f'--layers must be at least 3 in the darts space (normal cells besides the two reduction cells), got {args.layers}')
    cli.check(args.search_space == 'nb201' or not args.nb201_table, '--nb201_table goes with --search_space nb201')
    cli.check(args.search_space == 'darts' or not args.checkpoint_cells, '--checkpoint_cells is for the darts space')
    if args.nb201_table:
        try:
            load_table(args.nb201_table)
        except genotypes.GenotypeError as e:
            raise cli.UserError(str(e)) from None
    resolve_learning_rates(args)
    cli.check_positive(args, ['batch_size', 'learning_rate', 'epochs', 'init_channels', 'layers', 'report_freq',
                              'arch_learning_rate', 'grad_clip'])
    cli.check_non_negative(args, ['learning_rate_min', 'weight_decay', 'arch_weight_decay'])
    cli.check(args.learning_rate_min <= args.learning_rate,
              f'--learning_rate_min {args.learning_rate_min:g} exceeds the initial w learning rate {args.learning_rate:g}: '
              'the cosine schedule would rise')
    cli.check(0 <= args.momentum < 1, f'--momentum must be in [0, 1), got {args.momentum}')
    cli.check(0 < args.train_portion < 1, f'--train_portion must be in (0, 1), got {args.train_portion}')
    cli.check(0 <= args.holdout_portion < 1, f'--holdout_portion must be in [0, 1), got {args.holdout_portion}')
    cli.check(args.method in methods.METHODS, f'unknown method {args.method!r} (choose from {", ".join(methods.METHODS)})')
    cli.check(not args.unrolled or methods.METHODS[args.method].second_order,
              f'--method {args.method} defines no second-order (--unrolled) search: drop --unrolled')
    cli.check(args.unrolled_step in UNROLLED_STEPS,
              f'--unrolled_step must be one of {", ".join(UNROLLED_STEPS)}, got {args.unrolled_step!r}')
    cli.check(args.unrolled or args.unrolled_step == 'optimizer', '--unrolled_step goes with --unrolled')
    methods.load_relaxation(args.relaxation)
    perturbs = methods.METHODS[args.method].op_weights_for_w_step is not methods.Method.op_weights_for_w_step
    cli.check(not (args.relaxation and perturbs),
              f'--relaxation goes with a method that trains w at the op weights themselves, not --method {args.method}')
    cli.check(args.epsilon_alpha >= 0.03, f'--epsilon_alpha must be at least its starting 0.03, got {args.epsilon_alpha}')
    cli.check_non_negative(args, ['aux_skip_beta', 'beta_decay_weight', 'hessian_every'])
    cli.check_positive(args, ['hessian_batches', 'hessian_iters', 'hessian_tol'])
    cli.check(args.hessian_every <= args.epochs,
              f'--hessian_every {args.hessian_every} is beyond --epochs {args.epochs}: no eigenvalue would be logged')
    cli.check(args.aux_skip_decay in ('linear', 'cosine'), f'--aux_skip_decay must be linear or cosine, got {args.aux_skip_decay!r}')
    probe = [torch.zeros(1, requires_grad=True)]  # build both optimizers once, so bad values fail here
    for side, build in (('w', optimizers.for_weights), ('arch', optimizers.for_alphas)):
        try:
            build(args, probe)
        except optimizers.OptimizerError as e:
            raise cli.UserError(f'--{side}_optimizer: {e}') from None
    data.check_args(args)
    cli.resolve_device(args.device)


def parse_args(argv=None):
    """The search's arguments; with --resume DIR, those saved in DIR (only --device and --workers may change)."""
    return runs.parse_args(build_parser(), argv, validate, 'search')
