"""Grader of assignment 6's toy part: Eq. 7's two terms on the toy against darts-min's Architect, the settled alpha
against the toy's runs, and that a prediction was made (what it is, the student argues)."""
import torch

from darts_min import optimizers, toy
from darts_min.architect import Architect
from darts_min.virtual_step import next_step
from grading import check, fail, load

a6 = load('a6_toy_to_search')
SIGN = ("the implicit term has the wrong sign: mind Eq. 7's −ξ and the sign of the toy's ∂²L_train/∂α∂w "
        '(docs/toy.md, "What first and second order do here")')


def direct_term(alpha, w_prime):
    """d L_val / d alpha at (w', alpha), w' held fixed: autograd on the toy's own model."""
    model = toy.Toy(alpha, w_prime)
    return torch.autograd.grad(model._loss(toy.VALID, None), model.arch_parameters())[0].item()


def states():
    """(name, xi, args, model, w optimizer) after a few steps of the toy: buffers and moments that are not zero."""
    for name, xi, steps in (('sgd', 0.1, 3), ('momentum', 0.5, 4), ('nesterov', 0.25, 5), ('adam', 0.5, 6),
                            ('rmsprop', 1.0, 2)):
        _, args = toy.parse(['--w_optimizer', name])
        for step, (model, w_optimizer) in enumerate(toy.iterate(args, xi), 1):
            if step == steps:
                yield name, xi, args, model, w_optimizer
                break


def test_the_two_terms_of_eq_7_are_the_architects():
    for name, xi, args, model, w_optimizer in states():
        alpha, w = model.point()
        g = 2 * (w - alpha)  # d L_train / dw
        (w_prime,), (dw_dg,) = next_step(w_optimizer, [model.w], [torch.tensor(g, dtype=torch.float64)], xi)
        w_prime, dw_dg = w_prime.item(), dw_dg.item()
        architect = Architect(model, args)
        architect.step(toy.TRAIN, None, toy.VALID, None, xi, w_optimizer, unrolled=True)
        hypergradient = model.alpha.grad.item()  # darts-min's Eq. 7 on the toy
        terms = a6.eq7_terms(alpha, w, w_prime, dw_dg, xi)
        check(isinstance(terms, tuple) and len(terms) == 2, 'return a pair of numbers (direct, implicit)')
        direct, implicit = map(float, terms)
        where = f'w optimizer {name}, ξ {xi:g}, at (α, w) = ({alpha:.4f}, {w:.4f})'
        if abs(direct - direct_term(alpha, w_prime)) > 1e-9:
            if abs(direct - direct_term(alpha, w)) < 1e-9:
                fail(f"{where}: the direct term was taken at w: Eq. 7 takes ∇_α L_val at the virtual step w' "
                     '(docs/notation.md, direct term)')
            fail(f"{where}: the direct term is not ∇_α L_val(w', α) of the toy's L_val (Eq. 7)")
        expected = hypergradient - direct
        if abs(implicit - expected) > 1e-6 * max(1, abs(expected)):
            if abs(implicit + expected) < 1e-6 * max(1, abs(expected)):
                fail(f'{where}: {SIGN}')
            sgd_like = 2 * xi * alpha  # the implicit term if dw'/dg were -xi whatever the optimizer
            if abs(dw_dg + xi) > 1e-3 * xi and abs(abs(implicit) - abs(sgd_like)) < 1e-9:
                fail(f"{where}: the implicit term ignores the w optimizer's step: u carries its dw'/dg "
                     '(docs/second_order.md, Eq. 7 through the optimizer\'s step)')
            fail(f'{where}: the implicit term is not −ξ ∇²_(α,w) L_train · u of the toy (Eq. 7); darts-min\'s '
                 'hypergradient minus your direct term differs from it')


def test_the_settled_alpha_is_where_the_toys_runs_stop():
    for name, c, xi in (('sgd', 1, 0.1), ('nesterov', 1.9, 0.5), ('sgd', 1, 2.0)):
        _, args = toy.parse(['--w_optimizer', name])
        ended = toy.solve(args, xi, 300, bound=100)[0][-1][0]
        got = float(a6.settled_alpha(xi, c))
        if abs(got - ended) > 1e-5:
            # at a settled point the implicit term over the direct one is -1; 2 / alpha - 1 is the implicit term's
            # factor there, so a flipped sign shows as that factor negated
            if got != 0 and abs((2 / got - 1) + (2 / ended - 1)) < 1e-4:
                fail(f'w optimizer {name}, ξ {xi:g}: {SIGN}')
            fail(f'w optimizer {name} (c = {c:g}), ξ {xi:g}: the toy\'s run stops elsewhere than your settled α '
                 "(part 2: where do the two terms of part 1 cancel, with w = w' = α?)")


def test_a_prediction_was_made_before_the_run():
    check(a6.PREDICTION in optimizers.REGISTRY, 'part 3: set PREDICTION to the registry name of the w optimizer you '
          f'predict (one of {", ".join(optimizers.REGISTRY)})')
    check(len(a6.REASON.split()) >= 5, 'part 3: say in REASON, in a sentence or two, why you predict it')
