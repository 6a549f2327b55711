#!/usr/bin/env bash
# The prepared GPU session (device tool), in two calls that each fit its 600 s limit:
#   bash benchmarks/gpu_check.sh steps   # ~5 min: the paper-size step in fp32, then with bf16 autocast alone,
#                                        # channels_last alone and --checkpoint_cells
#   bash benchmarks/gpu_check.sh epoch   # ~5 min: one full first-order search epoch on CIFAR-10-sized fake data
#                                        # (25k + 25k images, 391 steps), data on the device, fp32
# Output under $OUT (or /tmp/gpu_check).
set -uo pipefail
[[ "${1:-}" == steps || "${1:-}" == epoch ]] || { echo "usage: bash benchmarks/gpu_check.sh steps|epoch" >&2; exit 2; }
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
esac
