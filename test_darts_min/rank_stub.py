"""train_eval.py under torchrun, started several times in the same processes (test_cluster.py): one torchrun, whose
start costs seconds, for a test's sequence of starts. Each rank prints the exit codes of its starts.

    python -m torch.distributed.run ... rank_stub.py [--hold FLAG_FILE] ARGS [--then [--hold FLAG_FILE] ARGS ...]

A start with --hold holds the other ranks back until rank 0 has written args.json: rank 0 creates FLAG_FILE right after
it writes args.json (or when its start ends, if it wrote none); every other rank waits for it before Run.begin, so its
start at the run directory comes after rank 0's, whatever the scheduling. Without, the ranks race as they come."""
import os
import sys
import time

import torch.distributed as dist

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from darts_min import evaluation as train_eval  # noqa: E402
from darts_min import cli, runs  # noqa: E402

starts = [[]]
for token in sys.argv[1:]:
    if token == '--then':
        starts.append([])
    else:
        starts[-1].append(token)
rank_0, flag, k = os.environ['RANK'] == '0', None, 0

if rank_0:
    write_json = runs.write_json

    def write_and_flag(path, obj):
        write_json(path, obj)
        if flag and os.path.basename(path) == 'args.json':
            open(flag, 'w').close()
    runs.write_json = write_and_flag
else:
    begin = runs.Run.begin

    def begin_after_rank_0(*args, **kwargs):
        while flag and not os.path.exists(flag):  # an event, not a duration: rank 0 must get there first
            time.sleep(0.01)
        return begin(*args, **kwargs)
    runs.Run.begin = begin_after_rank_0

init_process_group = dist.init_process_group


def init_under_keys_of_its_own(backend, rank, world_size):
    """The k-th start's process group, met under store keys of its own: one made again in the same processes under the
    same keys would find the last one's addresses there."""
    store, _, _ = next(dist.rendezvous('env://', rank, world_size))
    return init_process_group(backend, rank=rank, world_size=world_size, store=dist.PrefixStore(f'start{k}', store))


dist.init_process_group = init_under_keys_of_its_own
sys.argv[0] = 'train_eval.py'  # the program cli.run names in its one-line errors
codes = []
for k, start in enumerate(starts):
    flag, argv = (start[1], start[2:]) if start[:1] == ['--hold'] else (None, start)
    try:
        cli.run(lambda: train_eval.main(argv))
    except SystemExit as e:
        codes.append(e.code)
    finally:
        if flag and rank_0:
            open(flag, 'a').close()
os.write(1, f'rank {os.environ["RANK"]} exit codes {codes}\n'.encode())  # one write: the ranks' lines do not mix
