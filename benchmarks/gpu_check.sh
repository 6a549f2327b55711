#!/usr/bin/env bash
# One prepared GPU session (device tool): the step benchmark at paper size, then real searches on fake
# data through train_search.py on CUDA, first and second order, and a resume. Output under $OUT (or /tmp).
set -uo pipefail
OUT=${OUT:-/tmp/gpu_check}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1
nvidia-smi -L; python3 -c "import torch; print('torch', torch.__version__)"
python3 benchmarks/search_step.py --device cuda --repeats 10 | tee "$OUT/search_step_paper.txt"
python3 benchmarks/search_step.py --device cuda --init_channels 8 --layers 5 --batch_size 16 --repeats 10 | tee "$OUT/search_step_small.txt"
common="--dataset fake --fake_size 4096 --batch_size 64 --workers 8 --device cuda --report_freq 16"
python3 train_search.py $common --epochs 2 --save "$OUT/first" | tail -4
python3 train_search.py $common --epochs 1 --unrolled --arch_optimizer rmsprop --save "$OUT/second" | tail -3
timeout -s KILL 25 python3 train_search.py $common --epochs 6 --save "$OUT/killed" > /dev/null
python3 train_search.py --resume "$OUT/killed" | grep -E "resumed|epoch 6/6|done"
python3 -c "import json,sys; print([m['epoch'] for m in map(json.loads, open(sys.argv[1]))])" "$OUT/killed/metrics.jsonl"
rm -f "$OUT"/*/checkpoint.pt
