"""Assignment 6: from the toy to a search. Which w optimizer moves second order's alpha furthest from first order's?

On the toy of docs/toy.md, L_val(w, alpha) = alpha w - 2 alpha + 1 and L_train(w, alpha) = (w - alpha)^2, the alpha
step of second-order DARTS follows Eq. 7 through the virtual step w' of the w optimizer (docs/second_order.md):

    hypergradient = grad_alpha L_val(w', alpha)  -  xi grad2_{alpha,w} L_train(w, alpha) . u,
                    u = ((dw'/dg) / (-xi)) grad_w' L_val(w', alpha),    g = grad_w L_train(w, alpha)

The first term is the direct term, the second the implicit term (docs/notation.md). First order keeps the direct
term alone, taken at w. Where a second-order run settles the two terms cancel, and how large the implicit term is
next to the direct one decides how far second order's alpha ends from first order's alpha = 2.

Part 1 (graded). Write `eq7_terms(alpha, w, w_prime, dw_dg, xi)`: the two terms, (direct, implicit), as numbers, at
  the toy's point (alpha, w), for a virtual step that took w to w_prime with derivative dw_dg = dw'/dg (the toy has
  one weight, so a number: -xi for plain SGD, something else for other optimizers, as in assignment 4). Work the
  derivatives of the toy's two losses out by hand. The grader compares your terms with darts-min's Architect on
  the toy, for several w optimizers and states.
Part 2 (graded). Write `settled_alpha(xi, c)`: where a second-order run stops when the w step has settled (g = 0,
  w = w' = alpha, nothing left in a momentum buffer) and its virtual step has dw'/dg = -xi c. Use part 1.
Part 3 (your prediction, before any run). A real search passes w's learning rate as xi and gives each optimizer its
  own rate (README.md, "The optimizers": the registry). With part 2 and the factor c of each w optimizer
  (docs/toy.md, "The w optimizer moves second order's answer"), predict which w optimizer of the registry moves
  second order's alpha furthest from first order's when xi is its own registry rate. Set PREDICTION to its
  registry name and REASON to a sentence or two. Then run the toy as a real search runs it:
      python -m darts_min.toy --grid --rates registry --xi 0 lr --steps 3000
  (docs/toy.md, "As a real search runs it") and compare. Is the run settled where you read it? Where the toy
  disagrees with you, say why in ANSWER_AFTER_THE_RUN. The grader checks that you predicted, not what.

Grade it with `python -m pytest -q assignments/test_a6_toy_to_search.py`. Hints, one level at a time:
`python assignments/hints.py 6` (then 6 2, 6 3).

Questions:
  a. Part 1's implicit term does not depend on xi once dw'/dg is given. Why, and what does xi still change?
  b. The toy's gradients fade as the run settles; a real search's do not (each batch is another sample). What does
     that change for Adam's or RMSprop's c, and so for your prediction on a real search?
"""

PREDICTION = ''  # a registry name: sgd, momentum, nesterov, rmsprop, adam or adamw
REASON = ''
ANSWER_AFTER_THE_RUN = ''


def eq7_terms(alpha, w, w_prime, dw_dg, xi):
    raise NotImplementedError('assignment 6: eq7_terms is not implemented yet')


def settled_alpha(xi, c):
    raise NotImplementedError('assignment 6: settled_alpha is not implemented yet')
