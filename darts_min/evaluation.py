"""Train a searched cell from scratch (DARTS section 3.2, appendix A.2): the evaluation of an architecture:
the program that train_eval.py starts. `train` is the loop, epoch by epoch; `train_epoch` the steps of an epoch;
`setup` builds what they use; the flags are at the end of the file (docs/flags.md).

    python train_eval.py --arch DARTS_V2 --auxiliary --cutout            # the paper's CIFAR-10 setting
    python train_eval.py --genotype runs/search-XXXX --auxiliary --cutout  # the cell a search found
    torchrun --standalone --nproc_per_node 4 train_eval.py --arch DARTS_V2 --auxiliary --cutout
"""
import math
import os
import time

import torch
import torch.nn as nn
from torch.nn.parallel import DistributedDataParallel

from . import cli, data, distributed, genotypes, optimizers, runs
from .model import NetworkCIFAR, count_parameters
from .training import AvgMeter, NonFiniteLoss, accuracy, check_finite, evaluate, log_epoch, log_step, progress


def train(args, run, ctx, genotype, queues, num_classes):
    """DARTS section 3.2 and appendix A.2, epoch by epoch: drop path's ramp, the steps, the cosine schedule, the
    held-out accuracies, the epoch's record, a checkpoint. Returns the exit code: 0, or 3 where the loss diverged."""
    net, model, optimizer, scheduler, stateful, start = setup(args, run, ctx, genotype, num_classes)
    criterion = nn.CrossEntropyLoss()
    began, held_out = time.time(), {}
    for epoch in range(start, args.epochs):
        t0 = time.time()
        lr = scheduler.get_last_lr()[0]
        net.drop_path_prob = args.drop_path_prob * epoch / args.epochs  # DARTS A.2: ramped linearly from 0
        if ctx.world > 1:
            queues[0].sampler.set_epoch(epoch)
        try:
            train_meters = train_epoch(epoch, queues[0], model, optimizer, criterion, args, ctx.device, run)
        except NonFiniteLoss as e:
            return run.diverged(epoch, f'{e}; the last checkpoint is kept', num_classes)
        scheduler.step()
        train_loss, train_acc = (m.avg for m in distributed.all_reduce_meters(train_meters, ctx))
        distributed.broadcast_buffers(net, ctx)
        held_out = evaluate_held_out(net, queues, criterion, ctx)
        test_loss = held_out['test_loss']
        if not math.isfinite(test_loss):  # weights broken by the epoch's last steps: keep the last good checkpoint
            return run.diverged(epoch, f'the test loss became {test_loss} after epoch {epoch}; the last checkpoint is kept',
                                num_classes)
        distributed.check_weights_agree(net, ctx)
        log_epoch(run, epoch, args.epochs, t0, began, start,
                  {'lr': lr, 'train_acc': train_acc, **{k: v for k, v in held_out.items() if k.endswith('acc')}})
        run.append_metrics({'epoch': epoch, 'lr': lr, 'drop_path_prob': net.drop_path_prob, 'train_loss': train_loss,
                            'train_acc': train_acc, **held_out, 'seconds': time.time() - t0})
        run.save_checkpoint(epoch, stateful, ctx.device)
    save_weights(run, net, ctx, held_out)
    return 0


def train_epoch(epoch, queue, model, optimizer, criterion, args, device, run):
    """One pass over the training set: each step, w on a batch (DARTS A.2: with the auxiliary head's loss)."""
    loss_meter, acc_meter = AvgMeter(), AvgMeter()
    model.train()
    t0 = time.time()
    for step, (x, y) in enumerate(progress(queue, f'epoch {epoch}')):
        x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
        optimizer.zero_grad()
        logits, logits_aux = model(x)
        loss = criterion(logits, y)
        if args.auxiliary:  # DARTS appendix A.2: auxiliary tower with weight 0.4
            loss = loss + args.auxiliary_weight * criterion(logits_aux, y)
        loss_meter.update(check_finite(loss, epoch, step), x.size(0))
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), args.grad_clip)
        optimizer.step()
        acc_meter.update(accuracy(logits, y), x.size(0))
        if step % args.report_freq == 0:
            log_step(run, step, len(queue), loss_meter, acc_meter, t0)
    return loss_meter, acc_meter


def evaluate_held_out(net, queues, criterion, ctx):
    """{valid_loss, valid_acc (with --valid_portion), test_loss, test_acc}, over all processes. DARTS section 3.2 picks
    among cells by validation accuracy, never by test accuracy."""
    held_out = {}
    for name, queue in (('valid', queues[1]), ('test', queues[2])):
        if queue is not None:
            loss, acc = distributed.all_reduce_meters(evaluate(net, queue, criterion, ctx.device), ctx)
            held_out.update({f'{name}_loss': loss.avg, f'{name}_acc': acc.avg})
    return held_out


def setup(args, run, ctx, genotype, num_classes):
    """The network (and its DistributedDataParallel wrapper under torchrun), its optimizer and cosine schedule;
    `stateful`, what a checkpoint holds; and the epoch to start from (after --resume, the checkpoint's)."""
    state = run.begin(args, ctx.device, lambda work: distributed.rank_0_first(work, ctx))
    run.write_json('genotype.json', genotypes.to_dict(genotype))
    cli.seed_everything(args.seed, ctx.device)  # the same initial weights on every rank
    net = NetworkCIFAR(args.init_channels, num_classes, args.layers, args.auxiliary, genotype).to(ctx.device)
    optimizer = optimizers.build('momentum', net.parameters(), args.learning_rate, args.weight_decay,
                                 {'momentum': args.momentum})
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, args.epochs)
    stateful = {'model': net, 'optimizer': optimizer, 'scheduler': scheduler}
    model = DistributedDataParallel(net) if ctx.world > 1 else net
    torch.manual_seed(args.seed + ctx.rank)  # but each rank its own drop-path masks and augmentation
    start = run.resume(state, stateful, ctx.device, args, f'genotype = {genotype}',
                       f'param size = {count_parameters(net) / 1e6:.6f}MB ({count_parameters(net)} weights '
                       f'without the auxiliary head), {ctx.world} process(es) on {ctx.device.type}')
    return net, model, optimizer, scheduler, stateful, start


def save_weights(run, net, ctx, held_out):
    """weights.pt, and the last log line: the final accuracies."""
    if run.main:
        runs.atomic_write(run.file('weights.pt'), lambda f: torch.save(net.state_dict(), f), mode='wb')
    accuracies = ', '.join(f'{name} accuracy {held_out[name + "_acc"]:.2f}%' for name in ('valid', 'test')
                           if name + '_acc' in held_out)
    run.log.info(f'done: {accuracies or "every epoch was already trained"}, weights in {run.file("weights.pt")}'
                 + (f'; weights identical on {ctx.world} ranks' if ctx.world > 1 else ''))


def main(argv=None):
    args = parse_args(argv)
    ctx = distributed.setup(args.device)
    try:
        cli.check(args.batch_size % ctx.world == 0, f'--batch_size {args.batch_size} must divide over {ctx.world} processes')
        genotype = load_genotype(args)
        # a missing CIFAR is downloaded by rank 0 alone (every rank at once would write the same files)
        train_queue, valid_queue, test_queue, num_classes = distributed.rank_0_first(
            lambda: data.eval_loaders(args, ctx.device, ctx.rank, ctx.world), ctx)
        args.save = distributed.broadcast(args.save or runs.default_dir('eval'), ctx)
        with runs.Run(args.save, 'eval', main=ctx.main) as run:
            return train(args, run, ctx, genotype, (train_queue, valid_queue, test_queue), num_classes)
    finally:
        distributed.cleanup(ctx)


# ---- the flags (docs/flags.md) ----

def build_parser():
    p = cli.ArgumentParser(description='Train a DARTS cell from scratch and report its test accuracy.',
                           allow_abbrev=False)
    a = p.add_argument
    # the original flags and defaults
    a('--batch_size', type=int, default=96, help='global batch size (split over the processes of torchrun)')
    a('--learning_rate', type=float, default=0.025, help='initial learning rate (cosine-annealed to 0)')
    a('--momentum', type=float, default=0.9)
    a('--weight_decay', type=float, default=3e-4)
    a('--report_freq', type=int, default=50, help='log a line every this many steps')
    a('--epochs', type=int, default=600)
    a('--init_channels', type=int, default=36)
    a('--layers', type=int, default=20, help='number of cells')
    a('--auxiliary', action='store_true', help='auxiliary classifier after the second reduction cell')
    a('--auxiliary_weight', type=float, default=0.4, help='weight of the auxiliary loss')
    a('--drop_path_prob', type=float, default=0.2, help='drop path probability, ramped linearly from 0 over the epochs')
    a('--seed', type=int, default=0)
    a('--grad_clip', type=float, default=5.0, help='clip the gradient norm to this')
    a('--arch', default='DARTS', help=f'a genotype of genotypes.py: {", ".join(genotypes.GENOTYPES)}')
    a('--genotype', default=None, metavar='PATH', help='a genotype.json, or a search run directory (instead of --arch)')
    a('--valid_portion', type=float, default=0.0,
      help='hold out this class-stratified share of the training set, and report its accuracy each epoch (0: none)')
    data.add_args(p)
    cli.add_run_args(p, 'eval')
    return p


def load_genotype(args):
    """The cell to train: a resumed run's own copy, --genotype (a file, or a run directory holding
    genotype.json), else --arch by name."""
    path = args.genotype
    if args.resume and os.path.exists(os.path.join(args.resume, 'genotype.json')):
        path = args.resume
    if path:
        if os.path.isdir(path):
            path = os.path.join(path, 'genotype.json')
        try:
            return genotypes.load(path)
        except genotypes.GenotypeError as e:
            raise cli.UserError(str(e)) from None
    cli.check(args.arch in genotypes.GENOTYPES,
              f'unknown --arch {args.arch!r} (known: {", ".join(genotypes.GENOTYPES)}; or give --genotype PATH)')
    return genotypes.GENOTYPES[args.arch]


def validate(args):
    cli.check_positive(args, ['batch_size', 'learning_rate', 'epochs', 'init_channels', 'layers', 'report_freq',
                              'grad_clip'])
    cli.check_non_negative(args, ['weight_decay', 'auxiliary_weight'])
    cli.check(0 <= args.momentum < 1, f'--momentum must be in [0, 1), got {args.momentum}')
    cli.check(0 <= args.drop_path_prob < 1, f'--drop_path_prob must be in [0, 1), got {args.drop_path_prob}')
    cli.check(not args.auxiliary or args.image_size >= 32,
              f'--auxiliary needs --image_size of at least 32 (its head pools an 8x8 map), got {args.image_size}')
    cli.check(0 <= args.valid_portion < 1, f'--valid_portion must be in [0, 1), got {args.valid_portion}')
    data.check_args(args)
    cli.resolve_device(args.device)
    load_genotype(args)


def parse_args(argv=None):
    return runs.parse_args(build_parser(), argv, validate, 'eval')
