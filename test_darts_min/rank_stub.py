"""train_eval.py under torchrun, the other ranks held back until rank 0 has written args.json (test_cluster.py).

    python -m torch.distributed.run ... rank_stub.py FLAG_FILE train_eval.py's arguments...

Rank 0 creates FLAG_FILE right after it writes args.json; every other rank waits for it before Run.begin, so its
start at the run directory comes after rank 0's, whatever the scheduling."""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from darts_min import evaluation as train_eval  # noqa: E402
from darts_min import cli, runs  # noqa: E402

flag, argv = sys.argv[1], sys.argv[2:]
if os.environ['RANK'] == '0':
    write_json = runs.write_json

    def write_and_flag(path, obj):
        write_json(path, obj)
        if os.path.basename(path) == 'args.json':
            open(flag, 'w').close()
    runs.write_json = write_and_flag
else:
    begin = runs.Run.begin

    def begin_after_rank_0(*args, **kwargs):
        while not os.path.exists(flag):  # an event, not a duration: rank 0 must get there first
            time.sleep(0.01)
        return begin(*args, **kwargs)
    runs.Run.begin = begin_after_rank_0
cli.run(lambda: train_eval.main(argv))
