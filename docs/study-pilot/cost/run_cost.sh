#!/usr/bin/env bash
# One thread each, one at a time: the per-step cost of each method of the second study at the pilot's setting
cd /work/wt/i34  # the code that logs alpha_steps; the run directories were then copied to docs/study-pilot/cost/
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 PYTHONPATH=/work/wt/i34
PY=/work/main/.venv/bin/python
S="--dataset digits --image_size 8 --init_channels 4 --layers 3 --batch_size 16 --epochs 2 --holdout_portion 0.25 --data_on_device --workers 0 --device cpu --report_freq 1000 --seed 0 --split_seed 0 --arch_learning_rate 6e-3"
for m in darts sdarts_rs darts_minus beta_darts; do
  $PY train_search.py $S --method $m --save /tmp/cost/cost-$m > /tmp/cost/cost-$m.out 2>&1
done
$PY train_search.py $S --unrolled --save /tmp/cost/cost-darts-unrolled > /tmp/cost/cost-darts-unrolled.out 2>&1
echo done
