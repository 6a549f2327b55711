#!/usr/bin/env bash
# Pilot 1: DARTS's pair (w momentum 0.025), alpha adam at 3e-3 and 1e-3, 2 seeds, ~2,000 alpha steps
cd /work/pilot
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
PY=/work/main/.venv/bin/python
S="--dataset digits --image_size 8 --init_channels 4 --layers 3 --batch_size 16 --epochs 63 --holdout_portion 0.25 --data_on_device --workers 0 --device cpu --report_freq 1000 --hessian_every 21"
for lr in 3e-3 1e-3; do for seed in 0 1; do
  d=p1-adam$lr-s$seed
  [ -f $d/genotype.json ] && grep -q '"epoch": 62' $d/metrics.jsonl 2>/dev/null && continue
  start=$(date +%s)
  $PY /work/main/train_search.py $S --arch_learning_rate $lr --seed $seed --split_seed $seed --save $d $( [ -d $d ] && echo) > $d.out 2>&1
  echo "$d $(( $(date +%s) - start )) s rc=$?" >> times.txt
done; done
