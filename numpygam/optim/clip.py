"""Gradient-norm clipping, as torch.nn.utils.clip_grad_norm_."""
import numpy as np


def clip_grad_norm_(params, max_norm):
    """Scale all gradients together so their joint 2-norm is at most max_norm.

        total = sqrt(sum_p ||p.grad||^2)
        p.grad <- p.grad * min(1, max_norm / (total + 1e-6))

    Returns total, the norm before clipping.  The trailing underscore says, as
    in PyTorch, that the gradients are changed in place.
    """
    params = list(params)
    total = float(np.sqrt(sum(float(np.sum(p.grad.astype(np.float64) ** 2)) for p in params)))
    coef = max_norm / (total + 1e-6)
    if coef < 1:
        for p in params:
            p.grad = p.grad * p.grad.dtype.type(coef)
    return total
