"""Reference solution of assignment 2 (students: try it yourself first)."""
import torch


def fd_hessian_vector_product(loss_fn, weights, alphas, vector, scale=0.01):
    eps = (scale / torch.cat([v.flatten() for v in vector]).norm()).item()  # DARTS section 2.3: eps = 0.01 / ||v||
    grads = []
    for step in (eps, -2 * eps):  # to w + eps v, then to w - eps v
        with torch.no_grad():
            torch._foreach_add_(weights, vector, alpha=step)
        grads.append(torch.autograd.grad(loss_fn(), alphas))
    with torch.no_grad():
        torch._foreach_add_(weights, vector, alpha=eps)  # back to w
    # DARTS Eq. 8: the central difference of grad_alpha L_train
    return [(p - n) / (2 * eps) for p, n in zip(*grads)]
