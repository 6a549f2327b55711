"""Reference solution of assignment 4 (students: try it yourself first): torch's Nesterov update written out, and
its Jacobian derived by hand."""
import torch


def nesterov_virtual_step(w, g, buf, xi, momentum, weight_decay):
    d = g + weight_decay * w  # L2 decay added to the gradient: dd/dg = 1
    b = d if buf is None else momentum * buf + d  # the new buffer (no buffer before the first step): db'/dg = 1
    w_prime = w - xi * (d + momentum * b)  # Nesterov: the gradient plus the look-ahead mu b'
    # dw'/dg = -xi (dd/dg + mu db'/dg) = -xi (1 + mu), per element, at the first step as at any other
    return w_prime, torch.full_like(w, -xi * (1 + momentum))
