"""DARTS architecture search (Liu et al., ICLR 2019, Algorithm 1) with a choice of optimizer for w and alpha.

    python train_search.py --unrolled --arch_optimizer rmsprop
    python train_search.py --dataset fake --epochs 2 --init_channels 8 --layers 5 --batch_size 16

Each step: one alpha step on a search-valid batch (architect), then one w step on a search-train batch.
"""
import os
import time

import torch
import torch.nn as nn

from darts_min import cli, data, genotypes, optimizers, runs
from darts_min.architect import Architect
from darts_min.model_search import Network
from darts_min.training import AvgMeter, NonFiniteLoss, accuracy, check_finite, evaluate, format_seconds, progress


def build_parser():
    p = cli.ArgumentParser(description='DARTS search: find a cell by gradient descent on alpha.', allow_abbrev=False)
    a = p.add_argument
    # the original flags and defaults
    a('--data', default='data', help='dataset folder (CIFAR is downloaded here if missing)')
    a('--batch_size', type=int, default=64)
    a('--learning_rate', type=float, default=0.025, help='initial w learning rate')
    a('--learning_rate_min', type=float, default=0.001, help='w learning rate at the end of the cosine schedule')
    a('--momentum', type=float, default=0.9, help='w momentum (momentum and nesterov optimizers)')
    a('--weight_decay', type=float, default=3e-4, help='w weight decay')
    a('--report_freq', type=int, default=50, help='log a line every this many steps')
    a('--epochs', type=int, default=50)
    a('--init_channels', type=int, default=16)
    a('--layers', type=int, default=8, help='number of cells')
    a('--cutout', action='store_true', help='cutout augmentation')
    a('--cutout_length', type=int, default=16)
    a('--seed', type=int, default=2)
    a('--grad_clip', type=float, default=5, help='clip the w gradient norm to this')
    a('--train_portion', type=float, default=0.5, help='part of the training set that trains w; the rest trains alpha')
    a('--unrolled', action='store_true', help='second-order architecture gradient (DARTS Eq. 7)')
    a('--arch_learning_rate', type=float, default=3e-4)
    a('--arch_weight_decay', type=float, default=1e-3)
    # optimizers of the study
    a('--w_optimizer', default='momentum', help=f'optimizer of w: {", ".join(optimizers.REGISTRY)}')
    a('--arch_optimizer', default='adam', help=f'optimizer of alpha: {", ".join(optimizers.REGISTRY)}')
    a('--w_optimizer_args', nargs='*', default=[], metavar='KEY=VALUE', help='override constructor arguments of w\'s optimizer')
    a('--arch_optimizer_args', nargs='*', default=[], metavar='KEY=VALUE', help='same for alpha\'s optimizer')
    # data, device and run directory
    a('--dataset', default='cifar10', help=f'one of {", ".join(data.DATASETS)}')
    a('--fake_size', type=int, default=1024, help='number of synthetic training images with --dataset fake')
    a('--image_size', type=int, default=32)
    a('--workers', type=int, default=2, help='DataLoader worker processes')
    a('--device', default='auto', help='auto, cpu, cuda or cuda:N')
    a('--save', default=None, help='run directory (default runs/search-<timestamp>)')
    a('--resume', default=None, metavar='DIR', help='continue the interrupted run in DIR with its saved arguments')
    return p


def validate(args):
    """Every impossible value, as one line (UserError)."""
    positive = ['batch_size', 'learning_rate', 'epochs', 'init_channels', 'layers', 'report_freq',
                'arch_learning_rate', 'grad_clip', 'image_size', 'fake_size', 'cutout_length']
    for name in positive:
        cli.check(getattr(args, name) > 0, f'--{name} must be positive, got {getattr(args, name)}')
    for name in ['learning_rate_min', 'weight_decay', 'arch_weight_decay', 'workers']:
        cli.check(getattr(args, name) >= 0, f'--{name} must not be negative, got {getattr(args, name)}')
    cli.check(args.image_size >= 8, f'--image_size must be at least 8 (two reductions halve it twice), got {args.image_size}')
    cli.check(args.learning_rate_min <= args.learning_rate, '--learning_rate_min must not exceed --learning_rate')
    cli.check(0 <= args.momentum < 1, f'--momentum must be in [0, 1), got {args.momentum}')
    cli.check(0 < args.train_portion < 1, f'--train_portion must be in (0, 1), got {args.train_portion}')
    cli.check(args.dataset in data.DATASETS, f'unknown dataset {args.dataset!r} (choose from {", ".join(data.DATASETS)})')
    probe = [torch.zeros(1, requires_grad=True)]  # build both optimizers once, so bad values fail here
    for side, build in (('w', optimizers.for_weights), ('arch', optimizers.for_alphas)):
        try:
            build(args, probe)
        except optimizers.OptimizerError as e:
            raise cli.UserError(f'--{side}_optimizer: {e}') from None
    cli.resolve_device(args.device)


def parse_args(argv=None):
    """The search's arguments; with --resume DIR, those saved in DIR (only --device and --workers may change)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if args.resume:
            args = resumed_args(parser, args, argv)
        validate(args)
    except cli.UserError as e:
        parser.error(str(e))
    return args


def resumed_args(parser, args, argv):
    cli.check(os.path.isdir(args.resume), f'--resume {args.resume}: no such run directory')
    given = cli.given_flags(parser, argv) - {'resume'}
    changed = given - {'device', 'workers'}
    cli.check(not changed, f'--resume continues a run with its saved arguments; drop --{", --".join(sorted(changed))} '
                           '(only --device and --workers may change)')
    saved = runs.read_json(os.path.join(args.resume, 'args.json'), 'search run (args.json)')
    cli.check(isinstance(saved, dict), f'{args.resume}/args.json does not hold the arguments of a search run')
    known = vars(parser.parse_args([]))
    merged = {**known, **{k: v for k, v in saved.items() if k in known}}
    merged.update({k: getattr(args, k) for k in given}, resume=args.resume, save=args.resume)
    return type(args)(**merged)


def train_epoch(epoch, queues, model, architect, optimizer, lr, args, device, run):
    """One pass over search-train; each step: alpha on a search-valid batch, then w on the train batch."""
    train_queue, valid_queue = queues
    valid_batches = data.cycle(valid_queue)
    loss_meter, acc_meter = AvgMeter(), AvgMeter()
    model.train()
    t0 = time.time()
    for step, (x, y) in enumerate(progress(train_queue, f'epoch {epoch}')):
        x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
        xv, yv = (t.to(device, non_blocking=True) for t in next(valid_batches))
        architect.step(x, y, xv, yv, lr, optimizer, args.unrolled)

        optimizer.zero_grad()
        logits = model(x)
        loss = model._criterion(logits, y)
        loss_value = check_finite(loss, epoch, step)
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), args.grad_clip)
        optimizer.step()

        loss_meter.update(loss_value, x.size(0))
        acc_meter.update(accuracy(logits, y), x.size(0))
        if step % args.report_freq == 0:
            elapsed = time.time() - t0
            run.log.info(f'train {step:03d}/{len(train_queue)} loss {loss_meter.avg:.4f} acc {acc_meter.avg:.2f}% '
                         f'time {format_seconds(elapsed)} epoch eta {format_seconds(elapsed / (step + 1) * (len(train_queue) - step - 1))}')
    return loss_meter.avg, acc_meter.avg


def save_checkpoint(run, epoch, model, optimizer, architect, scheduler, device):
    run.save_checkpoint({
        'epoch': epoch + 1, 'model': model.state_dict(), 'alphas': [a.detach() for a in model.arch_parameters()],
        'w_optimizer': optimizer.state_dict(), 'arch_optimizer': architect.optimizer.state_dict(),
        'scheduler': scheduler.state_dict(), 'rng_cpu': torch.get_rng_state(),
        **({'rng_cuda': torch.cuda.get_rng_state(device)} if device.type == 'cuda' else {}),
    })


def restore(state, model, optimizer, architect, scheduler, device):
    """Load a checkpoint into the freshly built objects; returns the epoch to continue from."""
    try:
        model.load_state_dict(state['model'])
        with torch.no_grad():
            for a, saved in zip(model.arch_parameters(), state['alphas'], strict=True):
                a.copy_(saved)
        optimizer.load_state_dict(state['w_optimizer'])
        architect.optimizer.load_state_dict(state['arch_optimizer'])
        scheduler.load_state_dict(state['scheduler'])
        torch.set_rng_state(state['rng_cpu'].cpu())
        if device.type == 'cuda' and 'rng_cuda' in state:
            torch.cuda.set_rng_state(state['rng_cuda'].cpu(), device)
        return int(state['epoch'])
    except (KeyError, ValueError, RuntimeError, TypeError) as e:
        raise cli.UserError(f'the checkpoint does not fit this run\'s network or optimizers '
                            f'({type(e).__name__}: {str(e).splitlines()[0]})') from None


def search(args, run, device, queues, num_classes):
    state = run.load_checkpoint(device) if args.resume else None
    cli.check(args.resume or not os.path.exists(run.file('checkpoint.pt')),
              f'{args.save} already holds a search run: continue it with --resume {args.save} or choose another --save')
    if args.resume and state is None:
        run.log.info(f'{args.save} has no checkpoint yet: starting its search from epoch 0')
    runs.write_json(run.file('args.json'), {k: v for k, v in vars(args).items() if k != 'resume'})

    cli.seed_everything(args.seed, device)
    criterion = nn.CrossEntropyLoss()
    model = Network(args.init_channels, num_classes, args.layers, criterion).to(device)
    optimizer = optimizers.for_weights(args, model.parameters())
    # DARTS appendix A.1: w's learning rate follows a cosine schedule from learning_rate to learning_rate_min
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, args.epochs, eta_min=args.learning_rate_min)
    architect = Architect(model, args)

    start = 0
    if state is not None:
        start = restore(state, model, optimizer, architect, scheduler, device)
        run.keep_metrics_before(start)
        run.log.info(f'resumed {args.save} at epoch {start}')
    else:
        run.log.info(f'args = {vars(args)}')
        run.log.info(f'param size = {sum(p.numel() for p in model.parameters()) / 1e6:.6f}M weights '
                     f'+ {sum(a.numel() for a in model.arch_parameters())} alphas; w: {optimizer.__class__.__name__}, '
                     f'alpha: {architect.optimizer.__class__.__name__}')

    began = time.time()
    for epoch in range(start, args.epochs):
        t0 = time.time()
        lr = scheduler.get_last_lr()[0]
        try:
            train_loss, train_acc = train_epoch(epoch, queues, model, architect, optimizer, lr, args, device, run)
        except NonFiniteLoss as e:
            kept = f'the checkpoint of epoch {epoch - 1} is kept' if epoch > 0 else 'no checkpoint was written'
            run.log.error(f'stopped: {e}; {kept}')
            return 3
        scheduler.step()
        valid_loss, valid_acc = evaluate(model, queues[1], criterion, device)
        genotype = model.genotype()
        seconds = time.time() - t0
        eta = (time.time() - began) / (epoch + 1 - start) * (args.epochs - epoch - 1)
        run.log.info(f'epoch {epoch + 1}/{args.epochs} lr {lr:.6f} train_acc {train_acc:.2f}% valid_acc {valid_acc:.2f}% '
                     f'time {format_seconds(seconds)} eta {format_seconds(eta)}')
        run.log.info(f'genotype = {genotype}')
        run.append_metrics({
            'epoch': epoch, 'lr': lr, 'train_loss': train_loss, 'train_acc': train_acc,
            'valid_loss': valid_loss, 'valid_acc': valid_acc, 'genotype': genotypes.to_dict(genotype),
            'alphas_normal': torch.softmax(model.alphas_normal, dim=-1).tolist(),
            'alphas_reduce': torch.softmax(model.alphas_reduce, dim=-1).tolist(),
            'seconds': seconds,
        })
        runs.write_json(run.file('genotype.json'), genotypes.to_dict(genotype))
        save_checkpoint(run, epoch, model, optimizer, architect, scheduler, device)
    run.log.info(f'done: final genotype in {run.file("genotype.json")}')
    return 0


def main(argv=None):
    args = parse_args(argv)
    device = cli.resolve_device(args.device)
    train_queue, valid_queue, num_classes = data.search_loaders(args, device)  # missing data: no run directory
    args.save = args.save or runs.default_dir('search')
    run = runs.Run(args.save, 'search')
    try:
        return search(args, run, device, (train_queue, valid_queue), num_classes)
    finally:
        run.close()


if __name__ == '__main__':
    cli.run(main)
