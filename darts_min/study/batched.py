"""K searches of one configuration (K seeds) in one process, each kernel serving all K.

    python -m darts_min.study.batched --seeds 0 1 2 3 --save runs/b --dataset digits --image_size 8 \\
        --init_channels 4 --layers 3 --batch_size 16 --data_on_device --workers 0 --epochs 25

On a CPU a tiny supernet's step costs its calls, not its arithmetic: a convolution on a 16 x 32 x 8 x 8 batch
takes about as long as one on 16 x 4 x 8 x 8 (BENCHMARKS.md). So the K supernets become one (`widen`): each
parameter and buffer holds the K seeds' tensors one after the other along its first dimension, each convolution is
grouped K-fold, each BatchNorm has K times the channels, and a tensor between two ops is [batch, K x channels, H, W],
seed after seed. Where an op mixes channels (Eq. 2's weighting, the concatenations, the classifier) it gets a
forward of its own here; everything else runs on the wide supernet as the core has it: Architect's math, the
optimizers (torch.optim's updates are elementwise, so one optimizer over the wide tensors steps each seed as its own
would), the methods, the dynamics. The convolutions compute the same sums without the products that are always zero
and without dilation, which oneDNN runs several times slower (`dense_conv`).

What is per model becomes per seed: the loss (the sum of the seeds' own means, so that each seed's gradient is its
own), gradient clipping's norm, eps_fd of Eq. 8, lambda_max's power iteration, the random streams (each seed's
state of the global generators is swapped in around its draws, so that it draws its batches, crops and SDARTS noise
as it would alone), and divergence (a seed whose loss is not finite stops alone, the others go on). Each seed's run
directory is the one train_search.py writes for that seed (args.json, log.txt, metrics.jsonl, genotype.json, a
checkpoint.pt that `train_search.py --resume` continues alone), equal to it up to float32 rounding
(test_darts_min/test_batched.py: the tolerance and why). SDARTS-ADV, --checkpoint_cells, --amp, --channels_last and
the NB201 space are not batched: train_search.py runs them.
"""
import contextlib
import copy
import functools
import math
import os
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

from .. import cli, data, dynamics, methods, optimizers, runs, search, visualize
from ..architect import Architect
from ..model_search import Cell, MixedOp, Network
from ..operations import FactorizedReduce, Zero
from ..training import AvgMeter, NonFiniteLoss, frozen, log_step

# what may differ between the searches of a batch; everything else is one configuration
PER_SEED = ('seed', 'split_seed', 'save', 'resume')


# ---- the wide supernet: K seeds' networks as one ----

def seeds_cat(tensors, K):
    """torch.cat(tensors, dim=1) within each seed: [B, K x C_i, H, W] -> [B, K x sum C_i, H, W]."""
    return torch.cat([t.unflatten(1, (K, -1)) for t in tensors], dim=2).flatten(1, 2)


def factorized_reduce(m, K, x):
    x = m.relu(x)
    return m.bn(seeds_cat([m.conv_1(x), m.conv_2(x[:, :, 1:, 1:])], K))


def mixed_op(m, K, x, op_weights):
    """DARTS Eq. 2 for each seed: op_weights [K, ops], seed k's row weighting seed k's channels (`none` skipped)."""
    return sum(w.view(K, 1, 1, 1) * op(x).unflatten(1, (K, -1))
               for w, op in zip(op_weights.unbind(1), m._ops) if not isinstance(op, Zero)).flatten(1, 2)


def cell(m, K, s0, s1, op_weights):
    """DARTS Eq. 1 for each seed, as Cell.forward: x_j = sum_{i<j} o_bar^(i,j)(x_i); op_weights [K, edges, ops]."""
    states = [m.preprocess0(s0), m.preprocess1(s1)]
    offset = 0
    for _ in range(m._steps):
        x_j = sum(m._ops[offset + i](x_i, op_weights[:, offset + i]) for i, x_i in enumerate(states))
        offset += len(states)
        states.append(x_j)
    return seeds_cat(states[-m._multiplier:], K)


def classifier(m, K, x):
    """Each seed's nn.Linear: [B, K x features] -> logits [B, K, classes]."""
    weight, bias = m.weight.unflatten(0, (K, -1)), m.bias.unflatten(0, (K, -1))
    return torch.einsum('bkf,kcf->bkc', x.unflatten(1, (K, -1)), weight) + bias


WIDE_FORWARD = {Cell: cell, MixedOp: mixed_op, FactorizedReduce: factorized_reduce, nn.Linear: classifier}


@functools.lru_cache(maxsize=None)
def taps_in_use(size, k, stride, padding, dilation):
    """(first, end, padding): the kernel taps of one dimension that read the map somewhere, and the padding that keeps
    the output's size without the others. On an 8 px image's 2 x 2 maps a dilated 5 x 5 kernel reads the map with its
    centre only: its other taps only ever multiply the zero padding. All of them where the kept ones are not centred."""
    out = (size + 2 * padding - dilation * (k - 1) - 1) // stride + 1
    used = [a for a in range(k) if any(0 <= i * stride + a * dilation - padding < size for i in range(out))]
    first, last = used[0], used[-1]
    if first != k - 1 - last or padding < first * dilation:
        return 0, k, padding
    return first, last + 1, padding - first * dilation


def dense_conv(m, x):
    """m(x), the same sums without the products that are zero and without dilation, with which oneDNN's depthwise
    kernels run several times slower (BENCHMARKS.md: up to 50 times on these maps). The taps that only see padding
    are dropped (`taps_in_use`); then a convolution of dilation d and stride d reads every d-th row and column of the
    map only, and one of dilation d and stride 1 is the same dense convolution of the map's d x d phases
    (x[i::d, j::d], the padding divided by d), run as one batch and interleaved back."""
    (kh, kw), (sh, sw), (ph, pw), (dh, dw) = m.kernel_size, m.stride, m.padding, m.dilation
    N, C, H, W = x.shape
    h0, h1, ph = taps_in_use(H, kh, sh, ph, dh)
    w0, w1, pw = taps_in_use(W, kw, sw, pw, dw)
    weight = m.weight[:, :, h0:h1, w0:w1]
    dh, dw = dh if h1 - h0 > 1 else 1, dw if w1 - w0 > 1 else 1  # a single tap has no dilation
    d = dh
    if d == 1 or dw != d or ph % d or pw % d or H % d or W % d or sh != sw or sh not in (1, d):
        return F.conv2d(x, weight, m.bias, (sh, sw), (ph, pw), (dh, dw), m.groups)
    if sh == d:
        return F.conv2d(x[:, :, ::d, ::d], weight, m.bias, 1, (ph // d, pw // d), 1, m.groups)
    phases = x.permute(0, 2, 3, 1).unflatten(1, (H // d, d)).unflatten(3, (W // d, d))  # N, H/d, i, W/d, j, C
    phases = phases.permute(2, 4, 0, 1, 3, 5).reshape(d * d * N, H // d, W // d, C).permute(0, 3, 1, 2)
    y = F.conv2d(phases, weight, m.bias, 1, (ph // d, pw // d), 1, m.groups)
    Hy, Wy = y.shape[2:]
    y = y.permute(0, 2, 3, 1).unflatten(0, (d, d, N))  # i, j, N, Hy, Wy, C
    return y.permute(2, 3, 0, 4, 1, 5).reshape(N, Hy * d, Wy * d, -1).permute(0, 3, 1, 2)


def seed_losses(logits, target):
    """Each seed's nn.CrossEntropyLoss (the mean over its batch): logits [B, K, classes], target [B, K] -> [K]."""
    return F.cross_entropy(logits.transpose(1, 2), target, reduction='none').mean(0)


class SummedLoss(nn.Module):
    """The wide supernet's criterion: the sum of the seeds' losses, whose gradient in a seed's tensors is its own."""

    def forward(self, logits, target):
        return seed_losses(logits, target).sum()


def widen(nets):
    """One module computing the networks `nets` (one architecture, K seeds) side by side. Every parameter and buffer
    is theirs concatenated along the first dimension, a convolution's output channels being its first: grouped
    K-fold, it convolves each seed's channels with that seed's filters. A scalar buffer (BatchNorm's batch count,
    the same for every seed) is kept once. The alphas are stacked: [K, edges, ops]."""
    K = len(nets)
    wide = copy.deepcopy(nets[0])
    for name, module in wide.named_modules():
        parts = [net.get_submodule(name) for net in nets]
        for key, p in module._parameters.items():
            if p is not None:
                module._parameters[key] = nn.Parameter(torch.cat([q._parameters[key].detach() for q in parts]))
        for key, b in module._buffers.items():
            if b is not None and b.dim():
                module._buffers[key] = torch.cat([q._buffers[key] for q in parts])
        if isinstance(module, nn.Conv2d):
            module.in_channels, module.out_channels, module.groups = (K * module.in_channels, K * module.out_channels,
                                                                      K * module.groups)
        elif isinstance(module, nn.BatchNorm2d):
            module.num_features *= K
        if type(module) in WIDE_FORWARD:
            module.forward = functools.partial(WIDE_FORWARD[type(module)], module, K)
        elif isinstance(module, nn.Conv2d) and module.kernel_size != (1, 1):
            module.forward = functools.partial(dense_conv, module)
    wide.alphas_normal = torch.stack([net.alphas_normal.detach() for net in nets]).requires_grad_()
    wide.alphas_reduce = torch.stack([net.alphas_reduce.detach() for net in nets]).requires_grad_()
    wide._criterion = SummedLoss()
    wide.seeds = K
    return wide


def wide_batch(batches):
    """[(x, y)] of the K seeds -> (x [B, K x 3, H, W], y [B, K])."""
    xs, ys = zip(*batches)
    return torch.stack(xs, 1).flatten(1, 2), torch.stack(ys, 1)


def per_seed(t, K):
    """The wide tensor t [K x n, ...] as [K, n, ...]: a view, whatever t's memory format."""
    return t.unflatten(0, (K, -1))


def seed_norms(tensors, K):
    """Each seed's norm of the concatenated `tensors`: [K]."""
    return torch.stack([torch.linalg.vector_norm(per_seed(t, K), dim=tuple(range(1, t.dim() + 1)))
                        for t in tensors]).norm(dim=0)


def seed_scalars(c, t, K):
    """The K seeds' numbers c [K], shaped to multiply per_seed(t, K)."""
    return c.view(K, *[1] * t.dim())


def seed_part(t, shape, k, K):
    """Seed k's tensor of shape `shape` in the wide tensor t (a scalar is every seed's)."""
    return t.view(K, *shape)[k].clone(memory_format=torch.contiguous_format) if t.dim() else t.clone()


def stacked(tensors, like):
    """The seeds' tensors as one wide tensor shaped like `like` (a scalar, a step count, is every seed's)."""
    return torch.stack(list(tensors)).view(like.shape) if tensors[0].dim() else tensors[0].clone()


def seed_optimizer_state(state, shapes, k, K):
    """Seed k's part of a wide optimizer's state_dict; shapes: the seed's parameters' shapes, in order. Per-element
    state (moments, momentum buffers) is sliced; a step count is every seed's."""
    return {'state': {i: {key: seed_part(v, shapes[i], k, K) if torch.is_tensor(v) else v for key, v in s.items()}
                      for i, s in state['state'].items()},
            'param_groups': copy.deepcopy(state['param_groups'])}


def wide_optimizer_state(states, params):
    """The inverse of seed_optimizer_state: the seeds' state_dicts as one, for an optimizer over `params`."""
    first = states[0]
    return {'state': {i: {key: stacked([s['state'][i][key] for s in states], params[i]) if torch.is_tensor(v) else v
                          for key, v in entry.items()} for i, entry in first['state'].items()},
            'param_groups': copy.deepcopy(first['param_groups'])}


def clip_grad_norms(params, max_norm, K):
    """torch.nn.utils.clip_grad_norm_ for each seed: each seed's whole gradient scaled to a norm of at most max_norm."""
    grads = [p.grad for p in params if p.grad is not None]
    coef = (max_norm / (seed_norms(grads, K) + 1e-6)).clamp(max=1.0)
    for g in grads:
        per_seed(g, K).mul_(seed_scalars(coef, g, K))


class SeedsArchitect(Architect):
    """Architect on the wide supernet: its math as it is, with Eq. 8's eps_fd per seed."""

    def fd_epsilon(self, u):
        """Each seed's eps_fd as Architect computes it alone, shaped [K, 1, 1] to divide alpha [K, ...]."""
        K = self.model.seeds
        eps = [super(SeedsArchitect, self).fd_epsilon([per_seed(x, K)[k] for x in u]) for k in range(K)]
        return torch.tensor(eps, device=u[0].device).view(K, 1, 1)

    def norm(self, tensors):
        """Each seed's L2 norm of its part of the alpha-shaped `tensors` [K, ...]: [K]."""
        return seed_norms([t.detach() for t in tensors], self.model.seeds)

    def shift(self, weights, u, eps):
        """Each seed's w moved by its own eps_fd, as Architect moves it alone."""
        K = self.model.seeds
        for k, e in enumerate(eps.flatten().tolist()):
            super().shift([per_seed(w, K)[k] for w in weights], [per_seed(d, K)[k] for d in u], e)


def seeds_regularizer(regularizer, K, alphas):
    """A method's term of alpha (beta-DARTS's) for each seed, summed: each seed's gradient is its own term's."""
    return sum(regularizer([a[k] for a in alphas]) for k in range(K))


def power_iterations(product, v, iters, tol, K):
    """dynamics.power_iteration for each seed at once: [(eigenvalue, iterations, converged)], each seed stopping at
    the iteration where it alone would (the others' products go on; its figures are kept)."""
    value, result = None, [None] * K
    for it in range(1, iters + 1):
        norm = torch.sqrt(sum((x * x).flatten(1).sum(1) for x in v))
        v = [x / norm.view(K, 1, 1) for x in v]
        hv = product(v)
        new = sum((x * h).flatten(1).sum(1) for x, h in zip(v, hv)).tolist()
        for k in range(K):
            if result[k] is None and value is not None and abs(new[k] - value[k]) <= tol * abs(new[k]):
                result[k] = (new[k], it, True)
        if all(result):
            break
        value, v = new, hv
    return [r or (value[k], iters, False) for k, r in enumerate(result)]


def hessian_eigenvalues(model, batches, iters, tol):
    """dynamics.hessian_eigenvalue of each seed (lambda_max of grad2_alpha L_val): its power iterations on the exact
    Hessian-vector products of dynamics, from the same start, each seed's stopping rule and shift its own."""
    K = model.seeds
    g = torch.Generator(device='cpu').manual_seed(0)  # dynamics.hessian_eigenvalue's start, the same for every seed

    def start():
        return [torch.randn(a.shape[1:], generator=g, dtype=a.dtype).to(a.device).expand_as(a).clone()
                for a in model.arch_parameters()]

    with dynamics.measuring(model):
        hessian = dynamics.alpha_hessian(model, batches)
        results = power_iterations(hessian, start(), iters, tol, K)
        second = start()  # the start a seed alone draws next, where its eigenvalue is negative
        if any(value < 0 for value, _, _ in results):  # lambda_max - lambda_min: the top eigenvalue of H - lambda_min I
            lowest = torch.tensor([min(value, 0.0) for value, _, _ in results], device=second[0].device).view(K, 1, 1)
            tops = power_iterations(lambda v: [h - lowest * x for h, x in zip(hessian(v), v)], second, iters, tol, K)
            results = [(value + top, it + more, conv and top_conv) if value < 0 else (value, it, conv)
                       for (value, it, conv), (top, more, top_conv) in zip(results, tops)]
    return results


# ---- the seeds of a batch ----

class SeedRecord(search.EpochRecord):
    """search.EpochRecord of one seed, its lambda_max computed with the batch's others (`hessian_eigenvalues`)."""
    eigen = None

    def eigenvalue(self):
        return self.eigen


class Seed:
    """One search of the batch: its arguments, run directory, loaders, random stream, and what search.setup builds for
    it alone (its Network, optimizers, schedule), which hold its state between epochs: the checkpoint, the genotype and
    the epoch's record are taken from them as search.py takes them."""

    def __init__(self, args, run, device, queues, num_classes):
        self.args, self.run, self.device, self.num_classes = args, run, device, num_classes
        self.train_queue, self.valid_queue = queues
        self.rng, self.code = None, None

    @contextlib.contextmanager
    def stream(self):
        """The global random generators hold this seed's stream inside (the CPU's, and the GPU's on CUDA)."""
        cuda = self.device.type == 'cuda'
        if self.rng is not None:
            torch.set_rng_state(self.rng[0])
            if cuda:
                torch.cuda.set_rng_state(self.rng[1], self.device)
        try:
            yield
        finally:
            self.rng = (torch.get_rng_state(), torch.cuda.get_rng_state(self.device) if cuda else None)

    def begin(self):
        """search.search's start for this seed (search.setup on its stream): args.json, the log's first lines, its
        Network under its seed, or the checkpoint it continues."""
        with self.stream():
            self.net, _, architect, self.optimizer, self.scheduler, self.stateful, self.start = search.setup(
                self.args, self.run, self.device, self.num_classes)
        self.arch_optimizer = architect.optimizer
        self.record = SeedRecord(self.args, self.run, self.net, (self.train_queue, self.valid_queue), self.device,
                                 self.start)


class Batch:
    """The wide supernet of `seeds`, its w optimizer, schedule and architect, built from the seeds' own Networks and
    optimizers (`unstack` puts their state back)."""

    def __init__(self, seeds, args, device):
        self.seeds, self.K = seeds, len(seeds)
        # channels-last: 4-7 % faster on this CPU (BENCHMARKS.md); on a GPU the depthwise kernels were slower with it
        self.memory_format = torch.channels_last if device.type == 'cpu' else torch.contiguous_format
        self.model = widen([s.net for s in seeds]).to(device, memory_format=self.memory_format)
        self.method = methods.build(args)
        self.method.setup(self.model)  # DARTS-: finds the wide supernet's auxiliary skips
        self.optimizer = optimizers.for_weights(args, self.model.parameters())
        self.scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(self.optimizer, args.epochs,
                                                                    eta_min=args.learning_rate_min)
        regularizer = self.method.arch_regularizer
        if regularizer is not None:  # beta-DARTS: the sum of each seed's own term
            regularizer = functools.partial(seeds_regularizer, regularizer, self.K)
        self.architect = SeedsArchitect(self.model, args, regularizer)
        self.optimizer.load_state_dict(wide_optimizer_state([s.optimizer.state_dict() for s in seeds],
                                                            list(self.model.parameters())))
        self.architect.optimizer.load_state_dict(wide_optimizer_state([s.arch_optimizer.state_dict() for s in seeds],
                                                                      self.model.arch_parameters()))
        self.scheduler.load_state_dict(seeds[0].scheduler.state_dict())

    def unstack(self):
        """Put each seed's part of the wide tensors and optimizer states back into the seed's Network and optimizers."""
        K, model_state = self.K, self.model.state_dict()
        w_state, arch_state = self.optimizer.state_dict(), self.architect.optimizer.state_dict()
        for k, s in enumerate(self.seeds):
            own = s.net.state_dict()
            s.net.load_state_dict({key: seed_part(t, own[key].shape, k, K) for key, t in model_state.items()})
            with torch.no_grad():
                for a, wide in zip(s.net.arch_parameters(), self.model.arch_parameters()):
                    a.copy_(wide[k])
            s.optimizer.load_state_dict(seed_optimizer_state(w_state, [p.shape for p in s.net.parameters()], k, K))
            s.arch_optimizer.load_state_dict(seed_optimizer_state(arch_state, [a.shape for a in s.net.arch_parameters()],
                                                                  k, K))
            s.scheduler.load_state_dict(self.scheduler.state_dict())

    def draw(self, iterators):
        """The next batch of each seed's iterator, drawn on its own stream, as one wide batch on the device."""
        batches = []
        for s, it in zip(self.seeds, iterators):
            with s.stream():
                x, y = next(it)
            batches.append((x.to(s.device, non_blocking=True), y.to(s.device, non_blocking=True)))
        return self.wide(batches)

    def wide(self, batches):
        x, y = wide_batch(batches)
        return x.contiguous(memory_format=self.memory_format), y

    def w_step(self, x, y, grad_clip):
        """The w step of every seed (search.train_epoch's, alpha frozen); the seeds' losses and accuracies, as floats."""
        perturbed = contextlib.nullcontext()
        if isinstance(self.method, methods.SDARTSRS):  # each seed's noise, drawn on its own stream
            abars = [torch.softmax(a.detach(), dim=-1) for a in self.model.arch_parameters()]
            draws = []
            for k, s in enumerate(self.seeds):
                with s.stream():
                    draws.append(self.method.perturb(None, None, None, [a[k] for a in abars]))
            perturbed = methods.use_op_weights(self.model, [torch.stack(parts) for parts in zip(*draws)])
        with perturbed, frozen(self.model.arch_parameters()):
            self.optimizer.zero_grad()
            logits = self.model(x)
            losses = seed_losses(logits, y)
            values = losses.tolist()
            losses.sum().backward()  # each seed's gradient is its own, even where another's loss is not finite
            clip_grad_norms(self.model.parameters(), grad_clip, self.K)
            self.optimizer.step()
        correct = (logits.detach().argmax(-1) == y).float().mean(0).tolist()
        return values, [c * 100.0 for c in correct]

    @torch.no_grad()
    def evaluate(self, chunk=512):
        """training.evaluate for each seed on its valid queue: [(loss meter, accuracy meter)]. The batches are drawn
        one by one, as training.evaluate draws them, but passed through the network `chunk` images at a time: in eval
        mode an image's output does not depend on the others', and a few large calls cost less than many small."""
        self.model.eval()
        meters = [(AvgMeter(), AvgMeter()) for _ in self.seeds]
        iterators = []
        for s in self.seeds:
            with s.stream():
                iterators.append(iter(s.valid_queue))
        drawn = [self.draw(iterators) for _ in range(len(self.seeds[0].valid_queue))]
        x, y = (torch.cat(parts) for parts in zip(*drawn))
        for xc, yc in zip(x.split(chunk), y.split(chunk)):
            logits = self.model(xc)
            losses = seed_losses(logits, yc).tolist()
            correct = (logits.argmax(-1) == yc).float().mean(0).tolist()
            for (loss, acc), value, c in zip(meters, losses, correct):
                loss.update(value, yc.size(0))
                acc.update(c * 100.0, yc.size(0))
        return meters


# ---- the search ----

def train_epoch(batch, epoch, lr, args):
    """search.train_epoch for every seed of the batch; a seed whose loss is not finite leaves it (its run
    records why, as train_search's does). Returns the batch of the seeds left."""
    iterators, valid = [], []
    for s in batch.seeds:
        with s.stream():
            iterators.append(iter(s.train_queue))
        valid.append(data.cycle(s.valid_queue))
        s.loss, s.acc = AvgMeter(), AvgMeter()
    batch.model.train()
    t0 = time.time()
    steps = len(batch.seeds[0].train_queue)
    for step in range(steps):
        x, y = batch.draw(iterators)
        xv, yv = batch.draw(valid)
        batch.architect.step(x, y, xv, yv, lr, batch.optimizer, args.unrolled)
        losses, accs = batch.w_step(x, y, args.grad_clip)
        for s, loss, acc in zip(batch.seeds, losses, accs):
            if math.isfinite(loss):
                s.loss.update(loss, y.size(0))
                s.acc.update(acc, y.size(0))
            elif s.code is None:
                s.code = s.run.diverged(epoch, f'{NonFiniteLoss(epoch, step, loss)}; {search.kept(epoch)}',
                                        s.num_classes)
            if step % args.report_freq == 0 and s.code is None:
                log_step(s.run, step, steps, s.loss, s.acc, t0)
        if any(s.code is not None for s in batch.seeds):
            alive = [i for i, s in enumerate(batch.seeds) if s.code is None]
            batch = narrowed(batch, alive, args, epoch)
            iterators, valid = [iterators[i] for i in alive], [valid[i] for i in alive]
            if batch is None:
                return None
    return batch


def narrowed(batch, keep, args, epoch):
    """The batch of the seeds at the indices `keep` (None if none), their state carried over."""
    batch.unstack()
    if not keep:
        return None
    narrow = Batch([batch.seeds[i] for i in keep], args, batch.model.alphas_normal.device)
    narrow.architect.tallies = {key: [t[keep] for t in v] for key, v in batch.architect.tallies.items()}  # the epoch's
    narrow.method.schedule(epoch)
    return narrow


def end_epoch(batch, epoch, lr, schedule, args, t0):
    """search.search's end of an epoch, for each seed: validation, the epoch's record (genotype, dynamics, lambda_max,
    the log, the metrics), the checkpoint. Returns the batch of the seeds left."""
    meters, steps = batch.evaluate(), batch.architect.epoch_stats()  # steps: each figure's K seeds, or None
    eigen = [None] * batch.K
    if args.hessian_every and (epoch + 1) % args.hessian_every == 0:
        hessian_batches = [batch.wide(parts) for parts in zip(*(s.record.hessian_batches for s in batch.seeds))]
        eigen = hessian_eigenvalues(batch.model, hessian_batches, args.hessian_iters, args.hessian_tol)
    batch.unstack()
    for k, s in enumerate(batch.seeds):
        (valid_loss, valid_acc), s.record.eigen = (meter.avg for meter in meters[k]), eigen[k]
        if not math.isfinite(valid_loss):
            s.code = s.run.diverged(epoch, f'the validation loss became {valid_loss} after epoch {epoch}; '
                                           f'{search.kept(epoch)}', s.num_classes)
            continue
        s.record(epoch, t0, {'lr': lr, **schedule, 'train_loss': s.loss.avg, 'train_acc': s.acc.avg,
                             'valid_loss': valid_loss, 'valid_acc': valid_acc},
                 {key: v if v is None else v[k] for key, v in steps.items()})
        with s.stream():  # the checkpoint holds this seed's random state
            s.run.save_checkpoint(epoch, s.stateful, s.device)
    alive = [k for k, s in enumerate(batch.seeds) if s.code is None]
    return batch if len(alive) == batch.K else narrowed(batch, alive, args, epoch + 1)


def run_epochs(seeds, start, end, args, device):
    """Epochs start .. end - 1 of the seeds, all at epoch `start`, as one batch."""
    batch = Batch(seeds, args, device)
    for epoch in range(start, end):
        t0 = time.time()
        lr = batch.scheduler.get_last_lr()[0]
        schedule = batch.method.schedule(epoch)
        batch = train_epoch(batch, epoch, lr, args)
        if batch is None:
            return
        batch.scheduler.step()
        batch = end_epoch(batch, epoch, lr, schedule, args, t0)
        if batch is None:
            return
    batch.unstack()


def unsupported(args):
    """Why the batched search cannot run a search of these arguments (train_search.py runs it); None where it can."""
    if args.search_space != 'darts':
        return f'the batched search is for the darts search space (train_search.py runs {args.search_space})'
    if args.method == 'sdarts_adv':
        return 'SDARTS-ADV is not batched: run it with train_search.py'
    for flag in ('checkpoint_cells', 'amp', 'channels_last', 'relaxation'):
        if getattr(args, flag):
            return f'--{flag} is not batched: run it with train_search.py'
    return None


def check_batchable(all_args):
    """One configuration (all but PER_SEED alike) that the batched search supports; else UserError."""
    first = {k: v for k, v in vars(all_args[0]).items() if k not in PER_SEED}
    for args in all_args[1:]:
        differ = sorted(k for k, v in vars(args).items() if k not in PER_SEED and first.get(k) != v)
        cli.check(not differ, f'the searches of a batch differ in --{", --".join(differ)}: one configuration a batch')
    reason = unsupported(all_args[0])
    cli.check(reason is None, reason)
    seeds = [a.seed for a in all_args]
    cli.check(len(set(seeds)) == len(seeds) and len({a.save for a in all_args}) == len(seeds),
              'each search of a batch needs its own --seed and --save')


def run(argvs):
    """Run the train_search.py searches `argvs` (lists of its arguments, one configuration, each its own --seed and
    --save, or --resume DIR) as one batch. Returns each one's exit code: 0 done, 3 diverged (as train_search.py)."""
    all_args = [search.parse_args(argv) for argv in argvs]
    device = cli.resolve_device(all_args[0].device)
    data = [search.load_data(a, device) for a in all_args]  # resolves --data_on_device; missing data: no run directory
    check_batchable(all_args)
    cli.check(len({len(train_queue) for train_queue, _, _ in data}) == 1, 'the searches of a batch need splits of one size')
    args = all_args[0]
    with contextlib.ExitStack() as stack:
        seeds = [Seed(a, stack.enter_context(runs.Run(a.save, 'search')), device, (train_queue, valid_queue), classes)
                 for a, (train_queue, valid_queue, classes) in zip(all_args, data)]
        for s in seeds:
            s.begin()
        # a batch killed between two seeds' checkpoints resumes at different epochs: the seeds behind catch up first
        starts = sorted({s.start for s in seeds})
        for i, start in enumerate(starts):
            group = [s for s in seeds if s.start <= start and s.code is None]
            end = starts[i + 1] if i + 1 < len(starts) else args.epochs
            if group and start < end:
                run_epochs(group, start, end, args, device)
        for s in seeds:
            if s.code is None:
                finish(s)
        return [s.code or 0 for s in seeds]


def finish(s):
    """search.search's last line: where the genotype is, and the pictures of the cell where matplotlib is installed."""
    pictures = search.draw_cells(s.args, s.record.previous, s.run)  # the last epoch's genotype
    s.run.log.info(f'done: final genotype in {s.run.file("genotype.json")}{pictures}')


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    p = cli.ArgumentParser(prog='python -m darts_min.study.batched', allow_abbrev=False,
                           description='K first- or second-order searches of one configuration in one process.')
    p.add_argument('--seeds', nargs='+', type=int, required=True)
    p.add_argument('--save', required=True, help='the seeds\' run directories are SAVE/seed<seed>')
    p.add_argument('--resume', action='store_true', help='continue each seed\'s run directory')
    own, passthrough = p.parse_known_args(argv)
    own_split = '--split_seed' not in passthrough  # each seed's data split its own, as a sweep's cells, unless given
    argvs = []
    for seed in own.seeds:
        path = os.path.join(own.save, f'seed{seed}')
        split = ['--split_seed', str(seed)] if own_split else []
        argvs.append(['--resume', path] if own.resume else [*passthrough, '--seed', str(seed), *split, '--save', path])
    return max(run(argvs))


if __name__ == '__main__':
    cli.run(main)
