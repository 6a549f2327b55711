"""Reference solution of assignment 2 (students: try it yourself first)."""
import torch


def fd_hessian_vector_product(loss_fn, weights, alphas, u, scale=0.01):
    # DARTS section 2.3: eps_fd = 0.01 / ||u||, the norm of the whole vector u (all its tensors together)
    eps_fd = (scale / torch.cat([x.flatten() for x in u]).norm()).item()
    grads = []
    for step in (eps_fd, -2 * eps_fd):  # to w + eps_fd u, then from there to w - eps_fd u
        with torch.no_grad():
            for w, d in zip(weights, u):
                w.add_(d, alpha=step)
        grads.append(torch.autograd.grad(loss_fn(), alphas))  # grad_alpha L_train at w +- eps_fd u
    with torch.no_grad():
        for w, d in zip(weights, u):
            w.add_(d, alpha=eps_fd)  # back to w: the search goes on from there
    # DARTS Eq. 8: the central difference, the two points 2 eps_fd apart along u
    return [(plus - minus) / (2 * eps_fd) for plus, minus in zip(*grads)]
