#!/usr/bin/env bash
# Pilot 2: alpha adam at 6e-3 and 1e-2, ~1,300 alpha steps; then momentum/rmsprop on alpha at x10/x20 their registry rates
cd /work/pilot
while [ "$(wc -l < times.txt 2>/dev/null)" -lt 2 ]; do sleep 10; done
pkill -f run_pilot1.sh; sleep 1; pkill -f "p1-adam1e-3"; sleep 2; rm -rf p1-adam1e-3-s0*
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
PY=/work/main/.venv/bin/python
S="--dataset digits --image_size 8 --init_channels 4 --layers 3 --batch_size 16 --epochs 40 --holdout_portion 0.25 --data_on_device --workers 0 --device cpu --report_freq 1000 --hessian_every 40"
run() { d=$1; shift; [ -f $d/genotype.json ] && grep -q '"epoch": 39' $d/metrics.jsonl 2>/dev/null && return
  start=$(date +%s); $PY /work/main/train_search.py $S "$@" --save $d > $d.out 2>&1; echo "$d $(( $(date +%s) - start )) s" >> times.txt; }
run p2-adam6e-3-s0 --arch_learning_rate 6e-3 --seed 0 --split_seed 0
run p2-adam6e-3-s1 --arch_learning_rate 6e-3 --seed 1 --split_seed 1
run p2-adam1e-2-s0 --arch_learning_rate 1e-2 --seed 0 --split_seed 0
run p2-rmsprop6e-3-s0 --arch_optimizer rmsprop --arch_learning_rate 6e-3 --seed 0 --split_seed 0
run p2-momentum6e-2-s0 --arch_optimizer momentum --arch_learning_rate 6e-2 --seed 0 --split_seed 0
