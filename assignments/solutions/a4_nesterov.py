"""Reference solution of assignment 4 (students: try it yourself first): darts-min's own virtual step, torch's
update differentiated by autograd, on an optimizer holding the given state."""
import torch

from darts_min.virtual_step import next_step


def nesterov_virtual_step(w, g, buf, xi, momentum, weight_decay):
    w = w.detach().clone().requires_grad_()
    optimizer = torch.optim.SGD([w], lr=xi, momentum=momentum, nesterov=True, weight_decay=weight_decay)
    if buf is not None:
        optimizer.state[w]['momentum_buffer'] = buf.clone()
    (w_prime,), (jacobian,) = next_step(optimizer, [w], [g], xi)
    return w_prime, jacobian
