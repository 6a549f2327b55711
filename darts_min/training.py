"""Small pieces of the training loops that both programs use: meters, accuracy, progress, loss checks."""
import contextlib
import math
import sys
import time

import torch


class AvgMeter:
    def __init__(self):
        self.sum, self.count = 0.0, 0

    def update(self, value, n=1):
        self.sum += value * n
        self.count += n

    @property
    def avg(self):
        return self.sum / max(self.count, 1)


def accuracy(logits, target):
    """Top-1 accuracy in percent."""
    return (logits.argmax(dim=1) == target).float().mean().item() * 100.0


class NonFiniteLoss(Exception):
    def __init__(self, epoch, step, value):
        super().__init__(f'the loss became {value} at epoch {epoch}, step {step}')


def check_finite(loss, epoch, step):
    """The loss as a float; NonFiniteLoss if it is nan or inf (the run stops, the last checkpoint stays)."""
    value = loss.item()
    if not math.isfinite(value):
        raise NonFiniteLoss(epoch, step, value)
    return value


def autocast(device, enabled):
    """bf16 autocast for forward passes (the GPU path's --amp): no loss scaling needed with bf16's range."""
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=bool(enabled))


@contextlib.contextmanager
def frozen(tensors):
    """Inside, these tensors are constants to autograd: a pass that needs only alpha's gradient freezes w, the
    weight step freezes alpha, so autograd neither stores nor computes what the other gradient would need."""
    done = []
    try:
        for t in tensors:
            if t.requires_grad:
                t.requires_grad_(False)
                done.append(t)
        yield
    finally:
        for t in done:
            t.requires_grad_(True)


def progress(iterable, desc):
    """A progress bar over the steps of an epoch on a terminal; the plain iterable elsewhere (logs, CI)."""
    if not sys.stderr.isatty():
        return iterable
    from tqdm import tqdm
    return tqdm(iterable, desc=desc, leave=False, dynamic_ncols=True)


def format_seconds(s):
    s = int(round(s))
    return f'{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}'


def log_step(run, step, steps, loss, acc, t0):
    """The line of every --report_freq steps: running loss and accuracy, time and ETA of the epoch."""
    elapsed = time.time() - t0
    run.log.info(f'train {step:03d}/{steps} loss {loss.avg:.4f} acc {acc.avg:.2f}% time {format_seconds(elapsed)} '
                 f'epoch eta {format_seconds(elapsed / (step + 1) * (steps - step - 1))}')


def log_epoch(run, epoch, epochs, t0, began, start, figures):
    """The line of every epoch: its figures, its time and the ETA of the run."""
    eta = (time.time() - began) / (epoch + 1 - start) * (epochs - epoch - 1)
    text = ' '.join(f'{k} {v:.2f}%' if k.endswith('acc') else f'{k} {v:.6g}' for k, v in figures.items())
    run.log.info(f'epoch {epoch + 1}/{epochs} {text} time {format_seconds(time.time() - t0)} eta {format_seconds(eta)}')


@torch.no_grad()
def evaluate(model, queue, criterion, device):
    """(loss, top-1 %) meters of `model` in eval mode over `queue`."""
    model.eval()
    loss, acc = AvgMeter(), AvgMeter()
    for x, y in queue:
        x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
        logits = model(x)
        if isinstance(logits, tuple):  # evaluation networks return (logits, auxiliary logits)
            logits = logits[0]
        loss.update(criterion(logits, y).item(), x.size(0))
        acc.update(accuracy(logits, y), x.size(0))
    return loss, acc
