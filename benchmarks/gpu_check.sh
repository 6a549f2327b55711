#!/usr/bin/env bash
# One prepared GPU session (device tool, ~9 min): the step benchmark at paper size in fp32, then with each
# GPU flag alone (bf16 autocast, channels_last) and with --checkpoint_cells, then one full first-order
# search epoch on CIFAR-10-sized fake data (25k + 25k images, 391 steps) with the data on the device, fp32.
# Output under $OUT (or /tmp/gpu_check).
set -uo pipefail
OUT=${OUT:-/tmp/gpu_check}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1
nvidia-smi -L; python3 -c "import torch; print('torch', torch.__version__)"
for flags in "" "--dtype bf16" "--channels_last" "--checkpoint_cells"; do
    name=$(echo "fp32 $flags" | tr -d '-' | tr ' ' '_')
    timeout 90 python3 benchmarks/search_step.py --device cuda --repeats 3 $flags | tee "$OUT/search_step_$name.txt"
done
timeout 330 python3 train_search.py --dataset fake --fake_size 50000 --epochs 1 --batch_size 64 --device cuda \
    --report_freq 50 --save "$OUT/epoch" | grep -v genotype
rm -f "$OUT"/*/checkpoint.pt
