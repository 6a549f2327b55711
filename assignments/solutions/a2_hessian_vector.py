"""Reference solution of assignment 2 (students: try it yourself first)."""
import torch


def fd_hessian_vector_product(loss_fn, weights, alphas, u, scale=0.01):
    eps_fd = (scale / torch.cat([x.flatten() for x in u]).norm()).item()  # DARTS section 2.3: eps_fd = 0.01 / ||u||
    grads = []
    for step in (eps_fd, -2 * eps_fd):  # to w + eps_fd u, then to w - eps_fd u
        with torch.no_grad():
            torch._foreach_add_(weights, u, alpha=step)
        grads.append(torch.autograd.grad(loss_fn(), alphas))
    with torch.no_grad():
        torch._foreach_add_(weights, u, alpha=eps_fd)  # back to w
    # DARTS Eq. 8: the central difference of grad_alpha L_train
    return [(p - n) / (2 * eps_fd) for p, n in zip(*grads)]
