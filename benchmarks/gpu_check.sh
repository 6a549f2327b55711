#!/usr/bin/env bash
# One prepared GPU session (device tool): the step benchmark at paper size on the GPU path (bf16 autocast,
# channels_last), then one first-order search epoch on CIFAR-10-sized fake data (25k + 25k images) with the
# data on the device. Output under $OUT (or /tmp/gpu_check).
set -uo pipefail
OUT=${OUT:-/tmp/gpu_check}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1
nvidia-smi -L; python3 -c "import torch; print('torch', torch.__version__)"
timeout 100 python3 benchmarks/search_step.py --device cuda --dtype bf16 --channels_last --repeats 3 | tee "$OUT/search_step_bf16.txt"
timeout 170 python3 train_search.py --dataset fake --fake_size 50000 --epochs 1 --batch_size 64 --device cuda \
    --report_freq 100 --workers 0 --save "$OUT/epoch" | grep -v genotype
rm -f "$OUT"/*/checkpoint.pt
