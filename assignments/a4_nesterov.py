"""Assignment 4: the virtual step of Nesterov SGD, and its Jacobian.

Second-order DARTS differentiates L_val(w', alpha) through a virtual step w' of the weights. The paper writes it
for plain gradient descent (Eq. 6, w' = w - xi g) and says that with momentum it is "modified accordingly": in
darts-min w' is the step the w optimizer itself would take next, at learning rate xi. The chain rule then needs
dw'/dg, g = grad_w L_train(w, alpha): for plain SGD it is -xi, and Eq. 7 follows. Here you work it out for
torch.optim.SGD(momentum=mu, nesterov=True, weight_decay=lam), darts-min's `nesterov` w optimizer.

torch's SGD (dampening 0, which Nesterov requires), from the momentum buffer b of the previous steps:
    d = g + lam w                   (L2 weight decay added to the gradient)
    b' = mu b + d                   (b' = d at the very first step: there is no buffer yet)
    w' = w - xi (d + mu b')         (Nesterov: the gradient plus the look-ahead of the new buffer)

Task: write `nesterov_virtual_step(w, g, buf, xi, momentum, weight_decay)` returning (w', dw'/dg).
  w, g: tensors of one shape; buf: the momentum buffer b (a tensor of that shape), or None before the first step.
  w' must be what torch.optim.SGD(nesterov=True).step() would make of w with gradient g (the grader compares
  them), without changing w, g or buf. dw'/dg is diagonal (the update is elementwise): return its diagonal, a
  tensor of w's shape. The grader checks it against autograd through torch's own step.

Grade it with `python -m pytest -q assignments/test_a4_nesterov.py`. Hints, one level at a time:
`python assignments/hints.py 4` (then 4 2, 4 3).

Questions:
  a. What is dw'/dg, and how does it compare with plain SGD's -xi? What does that do to the implicit term of
     Eq. 7 for the same xi?
  b. In the toy problem of docs/toy.md, second-order DARTS with plain SGD ends at the bilevel optimum alpha = 1
     for xi = 0.5. Which xi does the same for Nesterov (mu = 0.9)?
  c. Why must the Jacobian of the *first* step not be computed by autograd through torch's step as is? (Look at
     how torch creates the buffer at the first step.)
"""


def nesterov_virtual_step(w, g, buf, xi, momentum, weight_decay):
    raise NotImplementedError('assignment 4: nesterov_virtual_step is not implemented yet')
