#!/usr/bin/env bash
# Pilot 3: the proxy on the pilot's cells and on 6 random cells (seed-to-seed sd of the response)
cd /work/pilot
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
PY=/work/main/.venv/bin/python
E="--dataset digits --image_size 8 --init_channels 8 --layers 4 --batch_size 64 --epochs 10 --valid_portion 0.25 --workers 0 --device cpu --report_freq 1000"
[ -d rand ] || $PY -m darts_min.random_search --samples 6 --seed 0 --save rand --evaluated > rand.out 2>&1
ev() { d=$1; shift; [ -f $d/metrics.jsonl ] && grep -q test $d/metrics.jsonl && return
  start=$(date +%s); $PY /work/main/train_eval.py $E "$@" --save $d > $d.out 2>&1; echo "$d $(( $(date +%s) - start )) s" >> times.txt; }
for s in p1-adam3e-3-s0 p1-adam3e-3-s1 p2-adam6e-3-s0 p2-adam6e-3-s1 p2-adam1e-2-s0 p2-rmsprop6e-3-s0 p2-momentum6e-2-s0; do
  seed=${s##*-s}; ev $s-eval --genotype $s --seed $seed --split_seed $seed; done
for k in 0 1 2 3 4 5; do ev rand-$k-eval --genotype rand/samples/$k/genotype.json --seed 0 --split_seed 0; done
# the same cell trained with 3 seeds (training noise alone)
for seed in 1 2; do ev p2-adam6e-3-s0-eval-seed$seed --genotype p2-adam6e-3-s0 --seed $seed --split_seed 0; done
