"""Assignment 1: the first-order alpha step (DARTS Eq. 7 with xi = 0).

First-order DARTS pretends that the best weights w*(alpha) do not move with alpha (w*(alpha) ~ w, xi = 0 in Eq. 7),
so the hypergradient is just the gradient of the validation loss with respect to alpha:

    grad_alpha L_val(w, alpha)

Task: write `first_order_alpha_step(model, alpha_optimizer, x_valid, y_valid)`, step 1 of Algorithm 1 at first
order. It takes one search-valid batch, computes that gradient for every architecture parameter
(`model.arch_parameters()`, alpha alone; `model.parameters()` is w), puts it into each alpha's `.grad` (replacing
what was there), calls `alpha_optimizer.step()` once and returns the gradients, one tensor per arch parameter. The
weights w must not change, and must not receive a `.grad`: this step is alpha's alone.

Grade it with `python -m pytest -q assignments/test_a1_first_order.py`. Hints, one level at a time:
`python assignments/hints.py 1` (then 1 2, 1 3).

Questions (answer in a sentence or two each):
  a. Why is alpha trained on the search-valid half and w on the search-train half, not both on the same data?
  b. On a real search the first-order gradient ignores the implicit term. Which term of Eq. 7 is that, and when
     would you expect it to matter most?
"""


def first_order_alpha_step(model, alpha_optimizer, x_valid, y_valid):
    raise NotImplementedError('assignment 1: first_order_alpha_step is not implemented yet')
