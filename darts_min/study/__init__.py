"""The study's tooling, above the DARTS core (darts_min/*.py), which never imports it; one file per job:

    python -m darts_min.study           the whole study in one command (command.py)
    python -m darts_min.study.sweep     a grid of searches and their evaluations (sweep.py)
    python -m darts_min.study.report    the report of a sweep's run directories (report.py)
    python -m darts_min.study.random_search   the random-search baseline (random_search.py)

grid.py       the grid's points (GridPoint), their run directories' names and how far each got
plan.py       the programs' arguments at each point, checked against the runs already there
launch.py     the jobs (submitit, requeued on SLURM) and each point's process
batched.py    K seeds of one configuration searched in one process, as one widened supernet
tuning.py     each optimizer's learning rate tuned at equal budget before the grid
results.py    the run directories read back, pooled into rows of one configuration
stats.py      paired differences to DARTS's pair, Holm's adjustment, Kendall's tau, the linear model, power
agreement.py  how many edges two seeds' or two rows' cells share, and two random cells
pilot.py      the second study's pilot read back, and its design's detectable differences and cost
plots.py      heatmaps over the optimizer grid, dynamics per epoch, each run's alpha
"""
