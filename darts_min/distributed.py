"""Several processes for train_eval.py, started by torchrun (which sets RANK, WORLD_SIZE, LOCAL_RANK).

One process per GPU with NCCL, or per CPU process with gloo; DistributedDataParallel averages the
gradients, so every rank holds the same weights after every step (checked once per epoch).
"""
import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

from .cli import UserError, resolve_device


@dataclass
class Context:
    rank: int
    world: int
    device: torch.device

    @property
    def main(self):
        return self.rank == 0


def setup(device_name):
    """Join the process group when started by torchrun; a single process otherwise."""
    if 'RANK' not in os.environ:
        return Context(0, 1, resolve_device(device_name))
    rank, world, local_rank = (int(os.environ[k]) for k in ('RANK', 'WORLD_SIZE', 'LOCAL_RANK'))
    use_cuda = device_name.startswith('cuda') or device_name == 'auto' and torch.cuda.is_available()
    device = resolve_device(f'cuda:{local_rank}' if use_cuda else 'cpu')
    if use_cuda:
        torch.cuda.set_device(device)
    dist.init_process_group('nccl' if use_cuda else 'gloo', rank=rank, world_size=world)
    return Context(rank, world, device)


def broadcast(obj, ctx):
    """Rank 0's value of a picklable object, on every rank."""
    if ctx.world == 1:
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def rank_0_first(work, ctx):
    """work() on rank 0, then, once it has succeeded, on the other ranks; each rank's result. What rank 0 decides or
    creates on disk (a run directory, a CIFAR download) is done once, before any other rank looks. A UserError of rank
    0's is raised there and ends the others with exit code 2 (rank 0 says why, once)."""
    result, error = None, None
    if ctx.main:
        try:
            result = work()
        except UserError as e:
            error = e
    if broadcast(error is not None, ctx):
        if error:
            raise error
        raise SystemExit(2)
    return result if ctx.main else work()


def all_reduce_meters(meters, ctx):
    """Sum the (sum, count) of AvgMeters over ranks, in place."""
    if ctx.world == 1:
        return meters
    t = torch.tensor([v for m in meters for v in (m.sum, m.count)], dtype=torch.float64, device=ctx.device)
    dist.all_reduce(t)
    for i, m in enumerate(meters):
        m.sum, m.count = t[2 * i].item(), int(t[2 * i + 1].item())
    return meters


def broadcast_buffers(model, ctx):
    """Rank 0's BatchNorm running statistics on every rank. DistributedDataParallel sends them before each training
    forward, but each rank's last one updates its own: evaluated with them, the ranks would not all measure the
    network that rank 0 saves."""
    if ctx.world == 1:
        return
    for buffer in model.buffers():
        dist.broadcast(buffer, src=0)


def check_weights_agree(model, ctx):
    """Raise if the ranks' weights differ (a checksum of every parameter, gathered from all ranks)."""
    if ctx.world == 1:
        return
    with torch.no_grad():
        local = torch.stack([sum(p.double().sum() for p in model.parameters()),
                             sum((p.double() ** 2).sum() for p in model.parameters())])
    gathered = [torch.empty_like(local) for _ in range(ctx.world)]
    dist.all_gather(gathered, local)
    if any(not torch.equal(g, gathered[0]) for g in gathered):
        raise RuntimeError(f'the weights of the {ctx.world} ranks differ: {[g.tolist() for g in gathered]}')


def cleanup(ctx):
    if ctx.world > 1 and dist.is_initialized():
        dist.destroy_process_group()
