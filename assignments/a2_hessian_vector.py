"""Assignment 2: the finite-difference Hessian-vector product of DARTS Eq. 8.

Second-order DARTS needs grad2_{alpha,w} L_train(w, alpha) . u, a product of the |alpha| x |w| matrix of mixed second
derivatives with a vector u the size of w, without ever forming the matrix. With f(w) = grad_alpha L_train(w, alpha),
a Taylor expansion along u on both sides of w gives the central difference (Eq. 8)

    (grad_alpha L_train(w + eps_fd u, alpha) - grad_alpha L_train(w - eps_fd u, alpha)) / (2 eps_fd)
        = grad2_{alpha,w} L_train(w, alpha) . u + O(eps_fd^2),     eps_fd = scale / ||u||   (DARTS: scale = 0.01)

where ||u|| is the norm of all of u's tensors together. In DARTS u is grad_w' L_val (Eq. 7; darts-min's
`grad_w_prime`), but any vector the size of w will do here.

Task: write `fd_hessian_vector_product(loss_fn, weights, alphas, u, scale=0.01)`.
  loss_fn(): returns L_train at the current values of `weights` and `alphas` (it reads the tensors themselves).
  weights: the list of weight tensors w (leaf tensors that require grad); move them in place, within
      `torch.no_grad()`, to w + eps_fd u and to w - eps_fd u, and leave them as they were when you return.
  alphas: the list of architecture tensors alpha.
  u: one tensor per weight, of the same shapes.
Return the product, one tensor per alpha, of alpha's shapes. Two forward and two backward passes in all.

Grade it with `python -m pytest -q assignments/test_a2_hessian_vector.py`: on a smooth model (tanh, softplus) the
grader compares your product with the exact one, computed by double backpropagation, and checks that the error
falls like eps_fd^2. Hints, one level at a time: `python assignments/hints.py 2` (then 2 2, 2 3).

Questions:
  a. Why is the error O(eps_fd^2) and not O(eps_fd)? What would a one-sided difference give?
  b. On the DARTS supernet (ReLU, max-pooling) the product at the paper's scale 0.01 can be off by more than its
     own size (docs/walkthrough.md, exercise 2), while scale 1e-7 is exact to 1e-8. Why? Why is a smaller scale
     not always the answer in float32?
  c. How many passes and how much memory does the exact product by double backpropagation cost instead?
"""


def fd_hessian_vector_product(loss_fn, weights, alphas, u, scale=0.01):
    raise NotImplementedError('assignment 2: fd_hessian_vector_product is not implemented yet')
