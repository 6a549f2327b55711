#!/usr/bin/env bash
# The prepared GPU session (device tool), in two calls that each fit its 600 s limit:
#   bash benchmarks/gpu_check.sh steps   # ~5 min: the paper-size step in fp32, then with bf16 autocast alone,
#                                        # channels_last alone and --checkpoint_cells
#   bash benchmarks/gpu_check.sh epoch   # ~5 min: one full first-order search epoch on CIFAR-10-sized fake data
#                                        # (25k + 25k images, 391 steps), data on the device, fp32
#   bash benchmarks/gpu_check.sh study   # ~6 min: what the study's costs are made of: the paper-size step (fp32,
#                                        # w momentum, then adam), K = 1, 2, 4 searches at once, the evaluation step
# Output under $OUT (or /tmp/gpu_check).
set -uo pipefail
[[ "${1:-}" =~ ^(steps|epoch|study)$ ]] || { echo "usage: bash benchmarks/gpu_check.sh steps|epoch|study" >&2; exit 2; }
OUT=${OUT:-/tmp/gpu_check}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1
nvidia-smi -L; python3 -c "import torch; print('torch', torch.__version__)"
case "${1:-}" in
steps)
    for flags in "" "--dtype bf16" "--channels_last" "--checkpoint_cells"; do
        name=$(echo "${flags:-fp32}" | sed 's/--dtype //; s/--//')
        timeout 100 python3 benchmarks/search_step.py --device cuda --repeats 3 $flags | tee "$OUT/search_step_$name.txt"
    done ;;
epoch)
    timeout 500 python3 train_search.py --dataset fake --fake_size 50000 --epochs 1 --batch_size 64 --device cuda \
        --report_freq 50 --save "$OUT/epoch" | grep -v genotype
    rm -f "$OUT"/*/checkpoint.pt ;;
study)
    timeout 150 python3 benchmarks/search_step.py --device cuda --repeats 5 | tee "$OUT/search_step_momentum.txt"
    timeout 170 python3 benchmarks/concurrent_searches.py --device cuda --jobs 1 2 4 --seconds 20 | tee "$OUT/concurrent.txt"
    timeout 60 python3 benchmarks/eval_step.py --device cuda --repeats 5 | tee "$OUT/eval_step.txt"
    timeout 150 python3 benchmarks/search_step.py --device cuda --repeats 3 --w_optimizer adam | tee "$OUT/search_step_adam.txt" ;;
esac
