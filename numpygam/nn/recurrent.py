"""nn.GRUCell and nn.GRU with PyTorch's parameter names and semantics (batch-first)."""
import math

import numpy as np

from .. import functional as F
from . import init
from .module import Module, Parameter, add_grads, data, positive_ints


def _gru_params(module, suffix, input_size, hidden_size, bias, dtype, rng):
    """weight_ih{suffix} (3H, In), weight_hh{suffix} (3H, H), biases: U(-1/sqrt(H), 1/sqrt(H))."""
    bound = 1 / math.sqrt(hidden_size)
    shapes = {"weight_ih": (3 * hidden_size, input_size), "weight_hh": (3 * hidden_size, hidden_size)}
    if bias:
        shapes.update(bias_ih=(3 * hidden_size,), bias_hh=(3 * hidden_size,))
    for name, shape in shapes.items():
        setattr(module, name + suffix, Parameter(init.uniform(shape, bound, rng, dtype)))
    if not bias:
        setattr(module, "bias_ih" + suffix, None)
        setattr(module, "bias_hh" + suffix, None)


GRU_PARAMS = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")


def _weights(module, suffix):
    return [data(getattr(module, n + suffix)) for n in GRU_PARAMS]


def _add_grads(module, suffix, grads):
    add_grads(*((getattr(module, n + suffix), g) for n, g in zip(GRU_PARAMS, grads)))


class GRUCell(Module):
    """One GRU step.  forward(x (B, In), h (B, H)) -> h' (B, H); backward(dh') -> (dx, dh).

    Parameters weight_ih, weight_hh, bias_ih, bias_hh, as torch.nn.GRUCell.
    """

    def __init__(self, input_size, hidden_size, bias=True, dtype=np.float32, rng=None):
        positive_ints(type(self).__name__, input_size=input_size, hidden_size=hidden_size)
        self.input_size, self.hidden_size = input_size, hidden_size
        _gru_params(self, "", input_size, hidden_size, bias, dtype, rng)

    def forward(self, x, h):
        h_new, cache = F.gru_cell_forward(x, h, *_weights(self, ""))
        self.push_cache(cache)
        return h_new

    def backward(self, dh_new):
        dx, dh, *grads = F.gru_cell_backward(dh_new, self.pop_cache())
        _add_grads(self, "", grads)
        return dx, dh

    def extra_repr(self):
        return f"{self.input_size}, {self.hidden_size}"


class GRU(Module):
    """A one-layer GRU over padded batch-first sequences, optionally bidirectional.

    forward(x (B, T, In), h0 (D, B, H) or None, lengths (B,) or None)
        -> output (B, T, D*H), h_n (D, B, H);  D = 2 if bidirectional else 1.
    Padded steps (t >= lengths[b]) give zero outputs and leave the state alone,
    as PyTorch's packed sequences do; the backward direction starts at each
    sequence's last real token.
    backward(doutput, dh_n=None) -> dx, or (dx, dh0) when h0 was given.
    Parameter names: weight_ih_l0, weight_hh_l0, bias_ih_l0, bias_hh_l0, and
    the same with _reverse, so a torch.nn.GRU(batch_first=True) state_dict loads.
    """

    def __init__(self, input_size, hidden_size, bidirectional=False, bias=True,
                 dtype=np.float32, rng=None):
        positive_ints(type(self).__name__, input_size=input_size, hidden_size=hidden_size)
        self.input_size, self.hidden_size = input_size, hidden_size
        self.directions = ["_l0", "_l0_reverse"] if bidirectional else ["_l0"]
        for suffix in self.directions:
            _gru_params(self, suffix, input_size, hidden_size, bias, dtype, rng)

    def forward(self, x, h0=None, lengths=None):
        outs, finals, caches = [], [], []
        for d, suffix in enumerate(self.directions):
            (out, h_n), cache = F.gru_forward(x, None if h0 is None else h0[d],
                                              *_weights(self, suffix), lengths=lengths,
                                              reverse=suffix.endswith("reverse"))
            outs.append(out)
            finals.append(h_n)
            caches.append(cache)
        self.push_cache((caches, h0 is not None))
        return np.concatenate(outs, axis=-1), np.stack(finals)

    def backward(self, doutput, dh_n=None):
        caches, h0_given = self.pop_cache()
        H = self.hidden_size
        dx, dh0 = 0, []
        for d, suffix in enumerate(self.directions):
            dx_d, dh0_d, *grads = F.gru_backward(
                (doutput[..., d * H:(d + 1) * H], None if dh_n is None else dh_n[d]),
                caches[d])
            _add_grads(self, suffix, grads)
            dx = dx + dx_d
            dh0.append(dh0_d)
        return (dx, np.stack(dh0)) if h0_given else dx

    def extra_repr(self):
        return f"{self.input_size}, {self.hidden_size}, bidirectional={len(self.directions) == 2}"
