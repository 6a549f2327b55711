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
  registry name and REASON to a sentence or two. Then run the toy as a real search runs it (docs/toy.md, "As a
  real search runs it"):
      python -m darts_min.toy --grid --rates registry --xi 0 lr --steps 600
      python -m darts_min.toy --rates registry --xi 0 lr --w_optimizer rmsprop --arch_optimizer adam --steps 20000
  and compare. Is each run settled where you read it? Where the toy disagrees with you, say why in
  ANSWER_AFTER_THE_RUN. The grader checks that you predicted, not what.
Part 4 (not graded): look for it in a real search. Each epoch metrics.jsonl logs implicit_ratio, the mean over the
  epoch's alpha steps of ||implicit term|| / ||direct term|| of Eq. 7, and alpha_step, the mean size of the alpha
  step (docs/flags.md). Run a short second-order search for each w optimizer on scikit-learn's digits (pip install
  -e ".[digits]"), the same seed, each optimizer at its registry rate (about 5 minutes on two CPU cores):
      for w in sgd momentum nesterov rmsprop adam; do
          python train_search.py --dataset digits --image_size 8 --init_channels 4 --layers 3 --epochs 3 \
              --workers 0 --seed 0 --unrolled --w_optimizer $w --save runs/a6-$w
      done
      grep -o '"implicit_ratio": [^,]*' runs/a6-*/metrics.jsonl
  Which w optimizer's implicit term is largest next to its direct term, and how does that change over the epochs?
  Does it agree with your prediction, and with your answer to b? How far that moves alpha: run each search again
  without --unrolled (--save runs/a6-$w-first) and compare the alphas of the two checkpoints
  (torch.load(path, weights_only=True)['alphas']). Write what you see in ANSWER_AFTER_THE_SEARCH.

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
ANSWER_AFTER_THE_SEARCH = ''


def eq7_terms(alpha, w, w_prime, dw_dg, xi):
    raise NotImplementedError('assignment 6: eq7_terms is not implemented yet')


def settled_alpha(xi, c):
    raise NotImplementedError('assignment 6: settled_alpha is not implemented yet')
