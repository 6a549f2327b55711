"""Assignment 5 (open-ended): another relaxation than softmax in the mixed op.

DARTS weighs the candidate ops of an edge by softmax(alpha^(i,j)) (Eq. 2): the ops compete for one unit of weight.
Two known alternatives:
  - sigmoid: each op gets sigmoid(alpha_o / T) on its own, in (0, 1), independent of the others (FairDARTS,
    Chu et al., ECCV 2020): no competition, so a skip connection no longer crowds out the convolutions.
  - Gumbel-softmax: softmax((alpha + G) / T) with G_o = -log(-log U_o), U_o ~ U(0, 1) drawn anew at each call
    (GDAS, SNAS): a noisy, nearly one-hot sample whose expectation tracks softmax(alpha); T anneals toward 0.

Task, part 1 (graded): write `relaxed_op_weights(alpha, kind, temperature=1.0)` for kind 'sigmoid' and 'gumbel':
  alpha: a (num_edges, num_ops) tensor; return a tensor of the same shape, every value strictly in (0, 1),
  differentiable in alpha (the gradient of a loss must reach alpha); for 'gumbel' every row sums to 1 and each call
  draws new noise (from torch's global generator). Another kind: ValueError.
Part 2: plug it into the supernet. `Network.forward` turns alpha into op weights by softmax, once per cell;
  `plug_in(model, kind, temperature)` below makes one model's cells take yours instead (by forward pre-hooks,
  `methods.swap_op_weights`, as SDARTS swaps its perturbed weights in; the grader checks that a loss's gradient then
  reaches alpha).
Part 3 (not graded; write a short report): run searches with each relaxation next to softmax (the same seeds, a
  small network on `--dataset fake` or scikit-learn's digits, or CIFAR-10 on a GPU) and measure
  - the skip connections in the normal cell along the search (`skip_normal` in metrics.jsonl): does the collapse
    of docs/study.md appear, and when?
  - the entropy of the op weights per edge (`dynamics.py`): how decided is each edge at the end?
  - how often the genotype changes in the last epochs (stability), and across seeds;
  - the discretization gap: the supernet's validation accuracy against the derived cell's accuracy trained from
    scratch (`train_eval.py --genotype RUN`). With sigmoid, is top-2-by-weight still the right way to derive a
    cell (think about `none` and about two ops on one edge that both have weight near 1)?
  For Gumbel-softmax, also vary the temperature schedule (e.g. 10 -> 0.1) and explain what you see.

Grade part 1 and 2 with `python -m pytest -q assignments/test_a5_relaxation.py`.
"""
from darts_min import methods


def relaxed_op_weights(alpha, kind, temperature=1.0):
    raise NotImplementedError(
        "assignment 5: 'sigmoid': torch.sigmoid(alpha / temperature); 'gumbel': u = torch.rand_like(alpha), "
        "g = -log(-log u) (keep u away from 0 and 1), softmax((alpha + g) / temperature, dim=-1); else ValueError")


def plug_in(model, kind, temperature=1.0):
    """Make `model` (a darts_min Network) use `relaxed_op_weights` instead of softmax for its mixed ops."""
    methods.swap_op_weights(model, lambda index: relaxed_op_weights(model.arch_parameters()[index], kind, temperature))
